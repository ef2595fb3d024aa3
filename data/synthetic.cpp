#include "data/synthetic.h"

#include <cmath>

#include "engine/philox.h"

namespace mmp {
namespace {

// Independent random streams per sample and purpose, from one seed.
struct SampleRandom {
  uint64_t key;
  uint64_t counter = 0;
  double uniform() { return Philox4x32(key, counter++).uniform0(); }
  double normal() { return philox_normal(key, counter++, 0.0, 1.0); }
};

}  // namespace

SyntheticAV::SyntheticAV(SyntheticOptions options) : o_(options) {
  MMP_CHECK(o_.samples > 0 && o_.classes >= 2, "synthetic data: needs samples and at least 2 classes");
  MMP_CHECK(o_.frequency_bins >= 2 * o_.classes, "synthetic data: ", o_.frequency_bins, " frequency bins cannot hold ",
            o_.classes, " class bands");
  MMP_CHECK(o_.image_size >= 8 && o_.frames >= 1, "synthetic data: images of at least 8x8 and one frame");
}

int64_t SyntheticAV::load(int64_t index, int epoch, float* audio, float* visual) const {
  const int64_t sample = o_.first_index + index;
  SampleRandom label_rng{o_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(sample) * 3 + 1};
  const int64_t label = static_cast<int64_t>(label_rng.uniform() * static_cast<double>(o_.classes));
  // The noise is fresh each epoch for training samples, the class content fixed.
  SampleRandom rng{o_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(sample) * 3 + 2,
                   static_cast<uint64_t>(epoch) << 40};

  // Audio: unit noise, plus the class's band of frequency bins modulated in time.
  const int64_t f = o_.frequency_bins, t = o_.time_steps;
  const int64_t band_width = f / o_.classes, band = label * band_width;
  const double phase = rng.uniform() * 6.283185307179586;
  for (int64_t i = 0; i < f; ++i)
    for (int64_t j = 0; j < t; ++j) {
      double v = rng.normal();
      if (i >= band && i < band + band_width)
        v += o_.audio_strength * (1.0 + 0.5 * std::sin(phase + 0.4 * static_cast<double>(j)));
      audio[i * t + j] = static_cast<float>(v);
    }

  // Visual: unit noise per frame, plus a faint blob in the class's colour at a
  // position drawn around the class's place.
  const int64_t s = o_.image_size;
  const double angle = 6.283185307179586 * static_cast<double>(label) / static_cast<double>(o_.classes);
  const double colour[3] = {std::cos(angle), std::cos(angle + 2.094), std::cos(angle + 4.189)};
  for (int64_t frame = 0; frame < o_.frames; ++frame) {
    const double cy = s * (0.5 + 0.25 * std::sin(angle)) + (rng.uniform() - 0.5) * s * 0.25;
    const double cx = s * (0.5 + 0.25 * std::cos(angle)) + (rng.uniform() - 0.5) * s * 0.25;
    const double radius = s * 0.18;
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < s; ++y)
        for (int64_t x = 0; x < s; ++x) {
          const double d2 = ((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (radius * radius);
          const double v = rng.normal() + o_.visual_strength * colour[ch] * std::exp(-d2);
          visual[((frame * 3 + ch) * s + y) * s + x] = static_cast<float>(v);
        }
  }
  return label;
}

}  // namespace mmp
