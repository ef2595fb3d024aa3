// A prepared cache as training reads it: manifest.json, audio.f32 and frames.bin (JPEG
// or raw frames), every sample loaded with and without augmentation. Input: the length
// of audio.f32 (4 bytes, little-endian; its bytes are zeros), the manifest's length (4
// bytes), the manifest, then frames.bin.
#include <algorithm>
#include <cstring>
#include <vector>

#include "data/cache.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint32_t audio_bytes, manifest_bytes;
  std::memcpy(&audio_bytes, data, 4);
  std::memcpy(&manifest_bytes, data + 4, 4);
  if (audio_bytes > (4u << 20) || manifest_bytes > size - 8) return 0;
  const std::filesystem::path dir = mmp::fuzz::scratch() / "cache";
  std::filesystem::create_directories(dir);
  mmp::fuzz::write_bytes(dir / "manifest.json", data + 8, manifest_bytes);
  const std::vector<uint8_t> zeros(audio_bytes);
  mmp::fuzz::write_bytes(dir / "audio.f32", zeros.data(), zeros.size());
  mmp::fuzz::write_bytes(dir / "frames.bin", data + 8 + manifest_bytes, size - 8 - manifest_bytes);
  for (const bool augment : {false, true}) {
    mmp::fuzz::read_or_refuse([&] {
      mmp::CacheReadOptions options;
      options.split = augment ? "train" : "test";
      options.frames = 2;
      options.image_size = 16;
      options.augment = augment;
      const mmp::CacheDataset cache(dir.string(), options);
      const mmp::Shape a = cache.audio_shape(), v = cache.visual_shape();
      std::vector<float> audio(mmp::numel(a)), visual(mmp::numel(v));
      for (int64_t i = 0; i < std::min<int64_t>(cache.size(), 8); ++i) {
        const int64_t label = cache.load(i, 0, audio.data(), visual.data());
        if (label < 0 || label >= cache.classes()) std::abort();
      }
    });
  }
  return 0;
}
