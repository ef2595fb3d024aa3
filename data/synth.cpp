#include "data/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/dataset_index.h"
#include "data/media_writer.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace mmp {
namespace {

struct Random {
  uint64_t key, counter = 0;
  double uniform() { return Philox4x32(key, counter++).uniform0(); }
  double normal() { return philox_normal(key, counter++, 0.0, 1.0); }
};

constexpr double kPi = 3.14159265358979323846;

// A voiced sound whose pitch and harmonics depend on the class, with noise.
std::vector<float> class_audio(int label, double seconds, int rate, Random& rng) {
  const int n = static_cast<int>(seconds * rate);
  const double f0 = 140.0 * (1.0 + 0.3 * label) * (1.0 + 0.03 * (rng.uniform() - 0.5));
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double envelope = std::min(1.0, t * 8) * std::min(1.0, (seconds - t) * 8);
    double v = 0;
    for (int h = 1; h <= 3; ++h) v += std::sin(2 * kPi * f0 * h * t) / h;
    x[i] = static_cast<float>(0.3 * envelope * v + 0.03 * rng.normal());
  }
  return x;
}

// A disc of the class's colour drifting over a slowly moving smooth pattern, with mild
// sensor noise. The amount of detail sets the cost of every codec downstream: at
// 480x360 the FLV takes ~0.8 Mbit/s and a frame ~55 KB as JPEG at quality 95, near
// CREMA-D's own clips (266-336 KB of FLV for 2-3 s). Independent noise of sigma 20 per
// pixel, used before, took 4 Mbit/s and 118 KB per frame: JPEG decoding then weighed
// several times what it does on camera video in every benchmark.
std::vector<Image> class_video(int label, int classes, double seconds, const SynthOptions& o, Random& rng) {
  const int n = static_cast<int>(seconds * o.fps);
  const double hue = 2 * kPi * label / classes;
  const double colour[3] = {127 + 120 * std::cos(hue), 127 + 120 * std::cos(hue + 2.09), 127 + 120 * std::cos(hue + 4.19)};
  double cx = o.width * (0.3 + 0.4 * rng.uniform()), cy = o.height * (0.3 + 0.4 * rng.uniform());
  const double vx = (rng.uniform() - 0.5) * 2, vy = (rng.uniform() - 0.5) * 2, radius = o.height * 0.2;
  std::vector<Image> frames(n);
  for (int f = 0; f < n; ++f) {
    Image& img = frames[f];
    img.width = o.width;
    img.height = o.height;
    img.rgb.resize(static_cast<size_t>(o.width) * o.height * 3);
    cx += vx;
    cy += vy;
    for (int y = 0; y < o.height; ++y)
      for (int x = 0; x < o.width; ++x) {
        const bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius;
        const double background = 110.0 + 40.0 * std::sin(x / 23.0 + 0.1 * f) * std::cos(y / 31.0);
        const double noise = 3 * rng.normal();
        for (int ch = 0; ch < 3; ++ch) {
          const double v = (inside ? colour[ch] : background) + noise;
          img.rgb[(static_cast<size_t>(y) * o.width + x) * 3 + ch] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
        }
      }
  }
  return frames;
}

// Where a layout keeps each clip's files, and what its clips and labels are called.
struct Layout {
  std::vector<std::string> classes;
  std::string audio_dir, video_dir, frames_dir;

  static Layout named(const std::string& name) {
    if (name == "cremad") return {kCremadClasses, "AudioWAV", "VideoFlash", "Image-01-FPS"};
    MMP_CHECK(name == "kinetics-sounds" || name == "ave", "synth: unknown layout '", name,
              "': expected cremad, kinetics-sounds or ave");
    Layout l{{}, "audio", "video", "frames"};
    const int classes = name == "kinetics-sounds" ? 31 : 28;
    for (int c = 0; c < classes; ++c) {
      char label[32];
      std::snprintf(label, sizeof label, "class_%02d", c);
      l.classes.emplace_back(label);
    }
    return l;
  }
};

}  // namespace

int synthesize_dataset(const std::string& dir, const SynthOptions& o) {
  namespace fs = std::filesystem;
  MMP_CHECK(o.clips_per_class >= 2, "synth: at least two clips per class (one to train on, one to test)");
  const Layout layout = Layout::named(o.layout);
  const bool cremad = o.layout == "cremad";
  fs::create_directories(fs::path(dir) / layout.audio_dir);
  fs::create_directories(fs::path(dir) / layout.video_dir);
  std::ofstream train(fs::path(dir) / "train.csv"), test(fs::path(dir) / "test.csv");
  MMP_CHECK(train.good() && test.good(), dir, ": cannot write the split files");
  const int classes = static_cast<int>(layout.classes.size());
  const int clips = classes * o.clips_per_class;
  // At least one test clip per class, fewer than all.
  const int test_per_class = std::clamp(static_cast<int>(std::lround(o.clips_per_class * o.test_share)), 1,
                                        std::max(1, o.clips_per_class - 1));
  for (int i = 0; i < clips; ++i) {
    const int label = i % classes;
    Random rng{o.seed * 1000003 + static_cast<uint64_t>(i)};
    const double seconds = o.min_seconds + (o.max_seconds - o.min_seconds) * rng.uniform();
    // CREMA-D names: actor_sentence_emotion_level; the others: YouTube id and seconds.
    char name[64];
    if (cremad) std::snprintf(name, sizeof name, "%04d_DFA_%s_XX", 1001 + i, layout.classes[label].c_str());
    else std::snprintf(name, sizeof name, "synth%06d_%06d_%06d", i, 10 * i, 10 * i + 10);
    write_wav((fs::path(dir) / layout.audio_dir / (std::string(name) + ".wav")).string(),
              class_audio(label, seconds, o.sample_rate, rng), o.sample_rate);
    const std::vector<Image> frames = class_video(label, classes, seconds, o, rng);
    write_video((fs::path(dir) / layout.video_dir / (std::string(name) + ".flv")).string(), frames, o.fps);
    if (o.frame_folders) {
      const fs::path folder = fs::path(dir) / layout.frames_dir / name;
      fs::create_directories(folder);
      for (int s = 0; s * o.fps < static_cast<int>(frames.size()); ++s) {
        char file[32];
        std::snprintf(file, sizeof file, "frame_%05d.jpg", s + 1);
        write_jpeg((folder / file).string(), frames[s * o.fps], 95);
      }
    }
    const bool is_test = (i / classes) >= o.clips_per_class - test_per_class;
    (is_test ? test : train) << name << "," << layout.classes[label] << "\n";
  }
  return clips;
}

}  // namespace mmp
