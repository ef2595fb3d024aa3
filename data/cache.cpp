#include "data/cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/audio_features.h"
#include "data/cache_record.h"
#include "data/image_transforms.h"
#include "data/jpeg_decoder.h"
#include "data/media.h"
#include "data/media_writer.h"
#include "engine/atomic_file.h"
#include "engine/philox.h"
#include "engine/progress.h"

namespace mmp {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

Shape feature_shape(const std::string& kind) {
  if (kind == "stft") return {257, 188};
  if (kind == "fbank") return {1024, 128};
  MMP_THROW("audio feature must be stft or fbank, got '", kind, "'");
}

Record process_sample(const MediaSample& s, const PrepareOptions& o) {
  Record r;
  r.label = s.label;
  const Tensor feature = o.audio == "stft" ? ogm_spectrogram(decode_audio(s.audio, 22050))
                                           : kaldi_fbank(decode_audio(s.audio, 16000));
  r.audio = feature.to_vector<float>();
  for (float v : r.audio) MMP_CHECK(std::isfinite(v), s.audio, ": the audio feature has non-finite values");
  std::vector<Image> images;
  if (!s.frames.empty()) {
    for (const std::string& f : list_frame_files(s.frames)) images.push_back(load_image(f));
  } else {
    images = decode_video_frames(s.video, o.frames_per_second);
  }
  for (const Image& img : images) {
    Image stored = img;
    if (o.frame_short_side > 0 && std::min(img.width, img.height) > o.frame_short_side) {  // shrink only
      const double scale = static_cast<double>(o.frame_short_side) / std::min(img.width, img.height);
      stored = resize_bilinear(img, std::max(1, static_cast<int>(std::lround(img.width * scale))),
                               std::max(1, static_cast<int>(std::lround(img.height * scale))));
    }
    FrameBlob blob;
    blob.width = stored.width;
    blob.height = stored.height;
    blob.bytes = o.frame_format == "raw" ? stored.rgb : encode_jpeg(stored, o.jpeg_quality);
    r.frames.push_back(std::move(blob));
  }
  return r;
}

// A fingerprint of the sample list (splits, order, names, labels, files): records are
// named by position, so a resumed run must see the same list. FNV-1a, stable across
// builds and machines.
std::string samples_fingerprint(const DatasetIndex& index) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&](const std::string& field) {
    for (const char c : field + '\0') h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  };
  for (const auto* split : {&index.train, &index.test}) {
    add("|");
    for (const MediaSample& s : *split) {
      add(s.name);
      add(std::to_string(s.label));
      add(s.audio);
      add(s.video);
      add(s.frames);
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

json options_json(const PrepareOptions& o, const DatasetIndex& index) {
  return {{"samples", samples_fingerprint(index)},
          {"audio", o.audio},
          {"frames_per_second", o.frames_per_second},
          {"frame_short_side", o.frame_short_side},
          {"frame_format", o.frame_format},
          {"jpeg_quality", o.jpeg_quality},
          {"dataset", index.dataset},
          {"classes", index.classes}};
}

// "prepare |####      |  40% 120/300 clips  45.1 clips/s  ETA 0:04  0 skipped"
class PrepareProgress {
 public:
  PrepareProgress(int64_t total, bool enabled) : total_(total), display_(enabled) {}
  void update(int64_t done, size_t skipped, bool final = false) {
    if (!final && !display_.due()) return;
    const std::string line = "prepare " + progress_bar(total_ ? static_cast<double>(done) / total_ : 1.0) + " " +
                             progress_counts(done, total_, "clips", start_) + "  " + std::to_string(skipped) +
                             " skipped";
    if (final) display_.finish(line);
    else display_.show(line);
  }

 private:
  int64_t total_;
  ProgressDisplay display_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

PrepareReport prepare_cache(const DatasetIndex& index, const std::string& out_dir, const PrepareOptions& o) {
  feature_shape(o.audio);
  MMP_CHECK(o.frame_format == "jpeg" || o.frame_format == "raw", "frame format must be jpeg or raw, got '",
            o.frame_format, "'");
  MMP_CHECK(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, "JPEG quality must be in 1..100, got ", o.jpeg_quality);
  MMP_CHECK(o.frames_per_second > 0, "frames per second must be positive, got ", o.frames_per_second);
  const fs::path out(out_dir), partial = out / ".partial";
  const json options = options_json(o, index);
  PrepareReport report;
  // The temporary of a manifest whose writer was killed.
  if (fs::is_directory(out)) remove_interrupted_writes(out.string());
  if (fs::exists(out / "manifest.json")) {
    json manifest;
    try {
      manifest = json::parse(read_file((out / "manifest.json").string()));
    } catch (const json::exception& e) {
      MMP_THROW(out_dir, "/manifest.json: malformed (", e.what(), "); remove the folder and prepare again");
    }
    const json version = manifest.is_object() ? manifest.value("version", json()) : json();
    MMP_CHECK(version == kCacheVersion, out_dir, ": a cache of format ", version.dump(),
              " is there, this mmp writes format ", kCacheVersion, " (remove it and prepare again)");
    MMP_CHECK(manifest.value("options", json()) == options, out_dir, ": a cache made with other options or samples is already "
                                                        "there (remove it, or prepare into another folder)");
    // A preparation killed after its manifest landed leaves its records behind.
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    report.already_complete = true;
    return report;
  }
  fs::create_directories(partial);
  // Temporary files of records whose writer was killed: their samples are done again.
  remove_interrupted_writes(partial.string());
  if (fs::exists(partial / "options.json")) {
    MMP_CHECK(json::parse(read_file((partial / "options.json").string())) == options, out_dir,
              ": an interrupted preparation with other options or samples is there (remove ", partial.string(),
              " or use the same options and split files)");
  } else {
    write_file_atomically((partial / "options.json").string(), options.dump());
  }

  // Every sample of both splits, with its record's name.
  struct Job {
    const MediaSample* sample;
    std::string split;
    size_t position;
  };
  std::vector<Job> jobs;
  for (size_t i = 0; i < index.train.size(); ++i) jobs.push_back({&index.train[i], "train", i});
  for (size_t i = 0; i < index.test.size(); ++i) jobs.push_back({&index.test[i], "test", i});
  auto record_path = [&](const Job& j, const char* ext) {
    return partial / (j.split + "_" + std::to_string(j.position) + ext);
  };

  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  std::atomic<size_t> skipped_now{0};
  std::mutex mutex;
  std::string failure;
  PrepareProgress progress(static_cast<int64_t>(jobs.size()), o.progress);
  auto work = [&] {
    for (size_t i; !stop && (i = next++) < jobs.size();) {
      const Job& job = jobs[i];
      // A sample that does not decode is a bad sample (skipped or fatal, as asked); a
      // failure to write the cache's own files always stops, and never escapes the thread.
      try {
        if (fs::exists(record_path(job, ".rec")) || fs::exists(record_path(job, ".skip"))) {
          std::lock_guard<std::mutex> lock(mutex);
          ++report.resumed;
        } else {
          std::string record, bad;
          try {
            record = serialize(process_sample(*job.sample, o));
          } catch (const std::exception& e) {
            bad = e.what();
          }
          if (bad.empty()) {
            write_file_atomically(record_path(job, ".rec").string(), record);
          } else if (o.skip_bad_samples) {
            write_file_atomically(record_path(job, ".skip").string(), bad);
          }
          std::lock_guard<std::mutex> lock(mutex);
          if (!bad.empty() && !o.skip_bad_samples) {
            failure = str("sample ", job.sample->name, ": ", bad, " (--on-bad-sample skip would leave it out)");
            stop = true;
            break;
          }
          ++report.prepared;
          skipped_now += !bad.empty();
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure.empty()) failure = e.what();  // it names the file
        stop = true;
        break;
      }
      ++done;
      std::lock_guard<std::mutex> lock(mutex);
      progress.update(done, skipped_now);
    }
  };
  const int workers = o.workers > 0 ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  MMP_CHECK(failure.empty(), failure, "; the ", done.load(), " finished samples are kept, and a rerun resumes");

  // Consolidate: the data files first, the manifest last.
  const Shape shape = feature_shape(o.audio);
  json manifest{{"format", "mmp-cache"},
                {"version", kCacheVersion},
                {"dataset", index.dataset},
                {"classes", index.classes},
                {"audio", {{"kind", o.audio}, {"shape", shape}}},
                {"frames", {{"format", o.frame_format}, {"short_side", o.frame_short_side}}},
                {"options", options}};
  json samples = json::array(), skipped = json::array(), splits = {{"train", json::array()}, {"test", json::array()}};
  std::vector<char> skipped_job(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) skipped_job[i] = fs::exists(record_path(jobs[i], ".skip"));
  MMP_CHECK(std::count(skipped_job.begin(), skipped_job.end(), 1) < static_cast<std::ptrdiff_t>(jobs.size()), out_dir,
            ": every sample was skipped; nothing to cache");
  const fs::path audio_tmp = out / "audio.f32.tmp", frames_tmp = out / "frames.bin.tmp";
  try {
    std::ofstream audio(audio_tmp, std::ios::binary | std::ios::trunc),
        frames(frames_tmp, std::ios::binary | std::ios::trunc);
    // errno is read at once: the next read of a record may change it.
    auto check_written = [](const std::ofstream& stream, const fs::path& path) {
      MMP_CHECK(stream.good(), path.string(), ": write failed (", std::strerror(errno), ")");
    };
    check_written(audio, audio_tmp);
    check_written(frames, frames_tmp);
    int64_t frame_offset = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const Job& job = jobs[i];
      if (skipped_job[i]) {
        const std::string reason = read_file(record_path(job, ".skip").string());
        skipped.push_back({{"name", job.sample->name}, {"split", job.split}, {"reason", reason}});
        report.skipped.emplace_back(job.sample->name, reason);
        continue;
      }
      const Record r = deserialize(read_file(record_path(job, ".rec").string()), record_path(job, ".rec").string());
      MMP_CHECK(static_cast<int64_t>(r.audio.size()) == numel(shape), record_path(job, ".rec").string(),
                ": audio feature of the wrong size");
      audio.write(reinterpret_cast<const char*>(r.audio.data()), static_cast<std::streamsize>(r.audio.size() * 4));
      check_written(audio, audio_tmp);
      json frame_list = json::array();
      for (const FrameBlob& f : r.frames) {
        frames.write(reinterpret_cast<const char*>(f.bytes.data()), static_cast<std::streamsize>(f.bytes.size()));
        check_written(frames, frames_tmp);
        frame_list.push_back({frame_offset, static_cast<int64_t>(f.bytes.size()), f.width, f.height});
        frame_offset += static_cast<int64_t>(f.bytes.size());
      }
      splits[job.split].push_back(samples.size());
      samples.push_back({{"name", job.sample->name}, {"label", r.label}, {"frames", frame_list}});
    }
    audio.close();
    check_written(audio, audio_tmp);
    frames.close();
    check_written(frames, frames_tmp);
    manifest["samples"] = samples;
    manifest["splits"] = splits;
    manifest["skipped"] = skipped;
    sync_file(audio_tmp.string());
    sync_file(frames_tmp.string());
    fs::rename(audio_tmp, out / "audio.f32");
    fs::rename(frames_tmp, out / "frames.bin");
    write_file_atomically((out / "manifest.json").string(), manifest.dump());
  } catch (const std::exception& e) {
    // The records stay: once there is room, a rerun only writes the cache's files again.
    std::error_code ignored;
    fs::remove(audio_tmp, ignored);
    fs::remove(frames_tmp, ignored);
    MMP_THROW(e.what(), "; the ", jobs.size(), " prepared samples are kept in ", partial.string(),
              ", and a rerun writes only the cache's files");
  }
  fs::remove_all(partial);
  progress.update(done, report.skipped.size(), true);
  return report;
}

// ---- reading ---------------------------------------------------------------------------

namespace {

// A read-only memory map of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDONLY);
    MMP_CHECK(fd_ >= 0, path.string(), ": cannot open (", std::strerror(errno), ")");
    struct stat st {};
    ::fstat(fd_, &st);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
      MMP_CHECK(data_ != MAP_FAILED, path.string(), ": cannot map (", std::strerror(errno), ")");
    }
  }
  ~MappedFile() {
    if (data_ && data_ != MAP_FAILED) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
};

struct SampleRandom : UniformSource {
  uint64_t key, counter;
  SampleRandom(uint64_t k, uint64_t c) : key(k), counter(c) {}
  double next() override { return Philox4x32(key, counter++).uniform0(); }
};

}  // namespace

// A frame in frames.bin, and a sample, as the manifest lists them (checked on opening).
struct StoredFrame {
  int64_t offset, bytes;
  int width, height;
};
struct StoredSample {
  std::string name;
  int64_t label;
  std::vector<StoredFrame> frames;
};

struct CacheDataset::Impl {
  std::string dir;
  CacheReadOptions options;
  json manifest;
  std::vector<StoredSample> stored;  // every sample of the cache, both splits
  std::vector<int64_t> samples;      // positions in `stored` of this split
  std::vector<std::string> classes;
  Shape feature;
  std::unique_ptr<MappedFile> audio, frames;
  bool jpeg = true;
};

namespace {

// The manifest's samples, each checked: a cache from elsewhere may be damaged or hostile,
// and a sample is read on a loader thread, where nothing should be left to find out.
std::vector<StoredSample> stored_samples(const json& samples, bool jpeg, int64_t classes, const std::string& where) {
  MMP_CHECK(samples.is_array(), where, ": \"samples\" is not a list");
  std::vector<StoredSample> out;
  out.reserve(samples.size());
  for (const json& sample : samples) {
    const std::string at = str(where, ": sample ", out.size());
    MMP_CHECK(sample.is_object() && sample.contains("name") && sample["name"].is_string() && sample.contains("label") &&
                  sample["label"].is_number_integer() && sample.contains("frames") && sample["frames"].is_array(),
              at, " lacks a name, an integer label or a list of frames");
    StoredSample s{sample["name"].get<std::string>(), sample["label"].get<int64_t>(), {}};
    MMP_CHECK(0 <= s.label && s.label < classes, at, ": label ", s.label, " is not one of the ", classes, " classes");
    MMP_CHECK(!sample["frames"].empty(), at, " (", printable(s.name), ") has no frames");
    for (const json& f : sample["frames"]) {
      MMP_CHECK(f.is_array() && f.size() == 4 && std::all_of(f.begin(), f.end(), [](const json& v) {
                  return v.is_number_integer();
                }),
                at, ": a frame is not [offset, bytes, width, height]");
      const int64_t offset = f[0], bytes = f[1], width = f[2], height = f[3];
      constexpr int64_t kMaxSide = 1 << 15;
      MMP_CHECK(offset >= 0 && bytes >= 0 && offset <= (int64_t{1} << 50) && bytes <= (int64_t{1} << 40), at,
                ": a frame at offset ", offset, " of ", bytes, " bytes");
      MMP_CHECK(0 < width && width <= kMaxSide && 0 < height && height <= kMaxSide, at, ": a frame of ", width, "x",
                height, " pixels");
      MMP_CHECK(jpeg || bytes == width * height * 3, at, ": a raw frame of ", bytes, " bytes is not ", width, "x",
                height, " RGB");
      s.frames.push_back({offset, bytes, static_cast<int>(width), static_cast<int>(height)});
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

CacheDataset::CacheDataset(const std::string& cache_dir, const CacheReadOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.dir = cache_dir;
  m.options = options;
  const fs::path dir(cache_dir);
  MMP_CHECK(fs::exists(dir / "manifest.json"), cache_dir, ": not a prepared cache (no manifest.json; run mmp prepare,"
                                                          " or finish an interrupted one by running it again)");
  try {
    m.manifest = json::parse(read_file((dir / "manifest.json").string()));
  } catch (const json::exception& e) {
    MMP_THROW(cache_dir, "/manifest.json: malformed (", e.what(), ")");
  }
  const std::string manifest_path = cache_dir + "/manifest.json";
  MMP_CHECK(m.manifest.is_object() && m.manifest.value("format", json()) == "mmp-cache", manifest_path,
            ": not the manifest of an mmp cache");
  const json version = m.manifest.value("version", json());
  MMP_CHECK(version == kCacheVersion, cache_dir, ": cache format ", version.dump(), ", this mmp reads version ",
            kCacheVersion, " (prepare it again)");
  MMP_CHECK(options.split == "train" || options.split == "test", "cache split must be train or test, got '",
            options.split, "'");
  MMP_CHECK(options.frames >= 1 && options.image_size >= 8, "cache reading: bad frame count or image size");
  MMP_CHECK(m.manifest.contains("options"), manifest_path, ": no \"options\" (the preparation's settings)");
  try {
    m.classes = m.manifest.at("classes").get<std::vector<std::string>>();
    m.feature = m.manifest.at("audio").at("shape").get<Shape>();
    m.jpeg = m.manifest.at("frames").at("format") == "jpeg";
    m.samples = m.manifest.at("splits").at(options.split).get<std::vector<int64_t>>();
    m.stored = stored_samples(m.manifest.at("samples"), m.jpeg, static_cast<int64_t>(m.classes.size()), manifest_path);
  } catch (const json::exception& e) {
    MMP_THROW(manifest_path, ": malformed (", e.what(), ")");
  }
  MMP_CHECK(!m.classes.empty(), manifest_path, ": no classes");
  MMP_CHECK(m.feature.size() == 2 && m.feature[0] > 0 && m.feature[1] > 0 && m.feature[0] <= (1 << 16) &&
                m.feature[1] <= (1 << 16),
            manifest_path, ": audio feature shape ", shape_str(m.feature), " is not two sizes");
  MMP_CHECK(!m.samples.empty(), cache_dir, ": the ", options.split, " split is empty");
  for (const int64_t position : m.samples)
    MMP_CHECK(0 <= position && position < static_cast<int64_t>(m.stored.size()), manifest_path, ": the ", options.split,
              " split names sample ", position, " of ", m.stored.size());
  int64_t frames_end = 0;  // where the last frame ends in frames.bin
  for (const StoredSample& s : m.stored)
    for (const StoredFrame& f : s.frames) frames_end = std::max(frames_end, f.offset + f.bytes);
  m.audio = std::make_unique<MappedFile>(dir / "audio.f32");
  m.frames = std::make_unique<MappedFile>(dir / "frames.bin");
  const uint64_t audio_bytes = m.stored.size() * static_cast<uint64_t>(numel(m.feature)) * sizeof(float);
  MMP_CHECK(m.audio->size() == audio_bytes, cache_dir, "/audio.f32: ", m.audio->size(), " bytes, the manifest needs ",
            audio_bytes, " (truncated?)");
  MMP_CHECK(static_cast<int64_t>(m.frames->size()) >= frames_end, cache_dir, "/frames.bin: ", m.frames->size(),
            " bytes, the manifest's frames need ", frames_end, " (truncated?)");
}

CacheDataset::~CacheDataset() = default;

std::string CacheDataset::name() const { return impl_->dir + " (" + impl_->options.split + ")"; }
std::string CacheDataset::identity() const {
  const CacheReadOptions& o = impl_->options;
  return str("mmp-cache ", impl_->manifest.at("options").dump(), " split ", o.split, ", ", o.frames, " frames of ",
             o.image_size, (o.augment ? ", augmented" : ""), ", seed ", o.seed);
}
int64_t CacheDataset::size() const { return static_cast<int64_t>(impl_->samples.size()); }
int64_t CacheDataset::classes() const { return static_cast<int64_t>(impl_->classes.size()); }
const std::vector<std::string>& CacheDataset::class_names() const { return impl_->classes; }
Shape CacheDataset::audio_shape() const { return {1, impl_->feature[0], impl_->feature[1]}; }
Shape CacheDataset::visual_shape() const {
  return {impl_->options.frames, 3, impl_->options.image_size, impl_->options.image_size};
}

int64_t CacheDataset::load(int64_t index, int epoch, float* audio, float* visual) const {
  const Impl& m = *impl_;
  const int64_t position = m.samples.at(index);
  const StoredSample& sample = m.stored[position];
  const int64_t feature = numel(m.feature);
  std::memcpy(audio, m.audio->data() + position * feature * sizeof(float), feature * sizeof(float));

  // Randomness per (seed, sample, epoch): the same whatever thread loads it.
  SampleRandom rng(m.options.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(position),
                   static_cast<uint64_t>(epoch) << 32);
  const std::vector<int> picked =
      pick_frames(static_cast<int>(sample.frames.size()), m.options.frames, m.options.augment, rng);
  const int size = m.options.image_size;
  for (int t = 0; t < m.options.frames; ++t) {
    const StoredFrame& f = sample.frames[picked[t]];
    // A raw frame is read straight out of the mapped file; a JPEG one is decoded into this
    // thread's frame memory: for training only the random crop of it.
    const uint8_t* stored = m.frames->data() + f.offset;
    const CropBox box =
        m.options.augment ? random_resized_crop_box(f.width, f.height, rng) : CropBox{0, 0, f.height, f.width};
    thread_local Image decoded;
    const PixelRegion region =
        m.jpeg ? decode_jpeg_box(stored, static_cast<size_t>(f.bytes), f.width, f.height, box, m.dir + "/frames.bin",
                                 decoded)
               : PixelRegion{stored, f.width, f.height, static_cast<size_t>(f.width) * 3}.crop(box);
    float* out = visual + static_cast<int64_t>(t) * 3 * size * size;
    resize_to_normalized_chw(region, size, size, m.options.augment && rng.next() < 0.5, out);
  }
  return sample.label;
}

}  // namespace mmp
