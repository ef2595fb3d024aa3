#include "data/cache_record.h"

#include <cstring>

#include "engine/error.h"

namespace mmp {
namespace {

constexpr char kMagic[4] = {'M', 'M', 'P', 'R'};

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

std::string serialize(const Record& r) {
  std::string out(kMagic, 4);
  put(out, r.label);
  put(out, static_cast<int64_t>(r.audio.size()));
  out.append(reinterpret_cast<const char*>(r.audio.data()), r.audio.size() * sizeof(float));
  put(out, static_cast<int32_t>(r.frames.size()));
  for (const FrameBlob& f : r.frames) {
    put(out, f.width);
    put(out, f.height);
    put(out, static_cast<int64_t>(f.bytes.size()));
    out.append(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
  }
  return out;
}

Record deserialize(const std::string& bytes, const std::string& path) {
  size_t at = 0;
  auto get = [&](void* dst, size_t n) {
    MMP_CHECK(n <= bytes.size() - at, path, ": truncated record");
    if (n > 0) std::memcpy(dst, bytes.data() + at, n);
    at += n;
  };
  // A count of items of `item_bytes` each that the rest of the record can hold.
  auto check_count = [&](int64_t count, size_t item_bytes, const char* what) {
    MMP_CHECK(count >= 0 && static_cast<uint64_t>(count) <= (bytes.size() - at) / item_bytes, path, ": ", what,
              " count ", count, " does not fit in the record (truncated or corrupt)");
  };
  char magic[4];
  get(magic, 4);
  MMP_CHECK(std::memcmp(magic, kMagic, 4) == 0, path, ": not a cache record");
  Record r;
  int64_t audio = 0;
  get(&r.label, 8);
  get(&audio, 8);
  check_count(audio, sizeof(float), "audio value");
  r.audio.resize(audio);
  get(r.audio.data(), audio * sizeof(float));
  int32_t frames = 0;
  get(&frames, 4);
  check_count(frames, 16, "frame");  // each frame's header alone is 16 bytes
  r.frames.resize(frames);
  for (FrameBlob& f : r.frames) {
    int64_t n = 0;
    get(&f.width, 4);
    get(&f.height, 4);
    get(&n, 8);
    MMP_CHECK(f.width > 0 && f.height > 0, path, ": a frame of ", f.width, "x", f.height, " pixels (corrupt)");
    check_count(n, 1, "frame byte");
    f.bytes.resize(n);
    get(f.bytes.data(), n);
  }
  MMP_CHECK(at == bytes.size(), path, ": ", bytes.size() - at, " bytes after the record's end (corrupt)");
  return r;
}

}  // namespace mmp
