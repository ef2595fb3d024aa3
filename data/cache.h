#pragma once
// The prepared cache: a raw dataset decoded once (`mmp prepare`) into one file of
// audio features, one file of frames (JPEG or raw RGB) and a manifest, read by
// training through memory maps.
//
// Preparing is parallel, resumable and safe to interrupt: each sample is written to
// OUT/.partial/ as it finishes (atomically), a rerun skips the finished ones, and the
// cache's files appear (the manifest last) only when every sample is done.
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/dataset_index.h"

namespace mmp {

inline constexpr int kCacheVersion = 1;

struct PrepareOptions {
  std::string audio = "stft";        // stft (OGM-GE, 257x188) or fbank (MMPareto, 1024x128)
  double frames_per_second = 1.0;    // frames taken from videos
  int frame_short_side = 256;        // larger frames shrunk to this shorter side; 0 keeps them
  std::string frame_format = "jpeg"; // jpeg (compact) or raw (RGB8, no decoding when training)
  int jpeg_quality = 90;
  int workers = 0;                   // 0: one per core
  bool skip_bad_samples = false;     // --on-bad-sample skip (else fail)
  bool progress = true;
};

struct PrepareReport {
  int64_t prepared = 0;  // in this run
  int64_t resumed = 0;   // finished by an earlier run
  std::vector<std::pair<std::string, std::string>> skipped;  // sample, reason
  bool already_complete = false;
};

PrepareReport prepare_cache(const DatasetIndex& index, const std::string& out_dir, const PrepareOptions& options);

struct CacheReadOptions {
  std::string split = "train";  // train or test
  bool augment = true;          // RandomResizedCrop + flip and a random frame per segment; else Resize + middle frame
  int frames = 2;               // T frames per clip
  int image_size = 224;
  uint64_t seed = 0;
};

// A split of a prepared cache as a Dataset (samples are read through memory maps and
// transformed on the caller's thread: the loader runs it on its workers).
class CacheDataset : public Dataset {
 public:
  CacheDataset(const std::string& cache_dir, const CacheReadOptions& options);
  ~CacheDataset() override;
  std::string name() const override;
  // The split, the reading options and the manifest's preparation options (among them
  // a fingerprint of the sample list), not the folder.
  std::string identity() const override;
  int64_t size() const override;
  int64_t classes() const override;
  Shape audio_shape() const override;
  Shape visual_shape() const override;
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override;
  const std::vector<std::string>& class_names() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmp
