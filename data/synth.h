#pragma once
// `mmp synth`: a small dataset of real media files with class-dependent content, laid
// out as `mmp prepare` reads a dataset (data/dataset_index.h), for tests and demos of
// the data path: CREMA-D's published layout (AudioWAV/*.wav, VideoFlash/*.flv,
// Image-01-FPS/<clip>/frame_*.jpg, train.csv and test.csv with its 6 labels), or
// Kinetics-Sounds' (31 classes) and AVE's (28) split-CSV layout (audio/<clip>.wav,
// video/<clip>.flv, frames/<clip>/*.jpg).
#include <cstdint>
#include <string>

namespace mmp {

struct SynthOptions {
  std::string layout = "cremad";  // cremad, kinetics-sounds or ave
  int clips_per_class = 6;
  double test_share = 0.25;
  uint64_t seed = 0;
  int sample_rate = 16000;         // CREMA-D's WAV files
  int width = 160, height = 120;   // video frames
  int fps = 15;
  double min_seconds = 1.6, max_seconds = 3.2;
  bool frame_folders = true;       // also extracted 1 fps JPEG frames
};

// Writes the dataset under `dir` and returns the number of clips.
int synthesize_dataset(const std::string& dir, const SynthOptions& options);

}  // namespace mmp
