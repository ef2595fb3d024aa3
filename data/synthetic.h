#pragma once
// A built-in audio-visual dataset made procedurally from a seed (no files): each
// class has a frequency band in the "spectrogram" and a coloured blob in the
// "frames". The audio cue is strong and the visual one faint, which reproduces the
// modality imbalance MMPareto studies: joint training leans on audio and leaves
// the visual encoder under-trained.
#include "data/dataset.h"

namespace mmp {

struct SyntheticOptions {
  int64_t samples = 1200;
  int64_t classes = 6;
  int64_t frequency_bins = 32, time_steps = 32;  // audio [1, F, T]
  int64_t frames = 2, image_size = 32;           // visual [T, 3, H, W]
  double audio_strength = 0.45;                    // band amplitude over unit noise
  double visual_strength = 0.2;                  // blob amplitude over unit noise
  uint64_t seed = 0;
  int64_t first_index = 0;  // test and train splits draw disjoint index ranges
};

class SyntheticAV : public Dataset {
 public:
  explicit SyntheticAV(SyntheticOptions options);
  std::string name() const override { return "synthetic"; }
  int64_t size() const override { return o_.samples; }
  int64_t classes() const override { return o_.classes; }
  Shape audio_shape() const override { return {1, o_.frequency_bins, o_.time_steps}; }
  Shape visual_shape() const override { return {o_.frames, 3, o_.image_size, o_.image_size}; }
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override;

 private:
  SyntheticOptions o_;
};

}  // namespace mmp
