// `mmp bench data`: decoding raw clips (audio to spectrogram, frames to 224x224) and
// loading augmented batches from a prepared cache; tools/bench/data.py does the same
// in Python.
#include <omp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "data/audio_features.h"
#include "data/cache.h"
#include "data/image_transforms.h"
#include "data/loader.h"
#include "data/media.h"
#include "engine/backend.h"
#include "engine/progress.h"
#include "tools/commands.h"
#include "tools/timing.h"

namespace mmp::cli {
namespace {

void bench_decoding(const std::string& root, int repeats) {
  const DatasetIndex index = index_dataset("cremad", root, "frames");
  std::vector<MediaSample> clips = index.train;
  clips.insert(clips.end(), index.test.begin(), index.test.end());
  std::printf("# decoding: %zu clips of %s on one thread\n", clips.size(), root.c_str());
  ProgressDisplay display;
  int run = 0;
  const auto start = std::chrono::steady_clock::now();
  const Timing decode = time_median(
      [&] {
        ++run;
        for (size_t i = 0; i < clips.size(); ++i) {
          const MediaSample& s = clips[i];
          const Tensor spec = ogm_spectrogram(decode_audio(s.audio, 22050));
          for (const std::string& f : list_frame_files(s.frames)) resize_bilinear(load_image(f), 224, 224);
          display.show("bench data: decoding, run " + std::to_string(run) + " of " + std::to_string(repeats + 1) +
                       " (the first a warm-up) " + progress_bar(static_cast<double>(i + 1) / clips.size()));
        }
      },
      1, repeats, 0);
  display.finish("bench data: decoded " + std::to_string(run) + " times in " +
                 clock_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  std::printf("%-34s %12.1f %12s\n", "decode + spectrogram + frames", clips.size() / decode.median_s, "clips");
}

// A cache's training samples over and over, `samples` of them per epoch: a small cache
// then gives epochs long enough to time the loader's steady pace, not its start.
class CyclingSamples : public Dataset {
 public:
  CyclingSamples(const Dataset& data, int64_t samples) : data_(data), samples_(samples) {}
  std::string name() const override { return data_.name(); }
  int64_t size() const override { return samples_; }
  int64_t classes() const override { return data_.classes(); }
  Shape audio_shape() const override { return data_.audio_shape(); }
  Shape visual_shape() const override { return data_.visual_shape(); }
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override {
    return data_.load(index % data_.size(), epoch + static_cast<int>(index / data_.size()), audio, visual);
  }

 private:
  const Dataset& data_;
  int64_t samples_;
};

void bench_loading(const std::string& cache, int threads, int64_t batch, int64_t samples, Device device, int repeats) {
  const CacheDataset cached(cache, CacheReadOptions{});
  const CyclingSamples data(cached, samples > 0 ? samples : cached.size());
  std::printf("# loading: %s, %lld samples an epoch, %d loader thread(s), batches of %lld to %s\n", cache.c_str(),
              static_cast<long long>(data.size()), threads, static_cast<long long>(batch), device.str().c_str());
  LoaderOptions lo;
  lo.batch_size = batch;
  lo.workers = threads;
  lo.prefetch = 2 * threads;
  lo.drop_last = true;  // as tools/bench/data.py
  lo.device = device;
  DataLoader loader(data, lo);
  int epoch = 0;
  ProgressDisplay display;
  const Timing load = time_median(
      [&] {
        loader.start_epoch(epoch++);
        for (Batch b; loader.next(b);) {
        }
        if (device.is_cuda()) backend(device).synchronize();  // the last upload has landed
      },
      1, repeats, 2.0,  // an epoch of the bench's cache takes tens of ms: many of them, for a stable median
      [&](int runs) { display.show("bench data: loading, " + std::to_string(runs) + " epochs (at least 2 s)"); });
  display.finish("bench data: loaded " + std::to_string(epoch) + " epochs");
  const double batches = static_cast<double>(loader.batches_per_epoch());
  std::printf("%-34s %12.2f %12s\n", "cache -> augmented batches", batches / load.median_s, "batches");
  std::printf("%-34s %12.1f %12s\n", "cache -> augmented batches", batches * batch / load.median_s, "samples");
}

}  // namespace

void add_bench_data_subcommand(CLI::App& bench) {
  CLI::App* data = bench.add_subcommand("data", "Decoding raw clips and loading batches from a cache");
  static std::string root, cache;
  static int threads = 1, data_repeats = 3;
  static int64_t data_batch = 16, samples = 0;
  static std::string device = "cpu";
  data->add_option("--root", root,
                   "a CREMA-D-layout folder with frame folders (mmp synth makes one): times decoding it (needs FFmpeg)");
  data->add_option("--cache", cache, "a prepared cache (mmp prepare): times loading augmented batches from it");
  data->add_option("--threads", threads, "loader threads")->capture_default_str();
  data->add_option("--batch", data_batch, "batch size")->capture_default_str();
  data->add_option("--samples", samples, "samples an epoch, the cache's cycled through (0: the cache's own)")
      ->capture_default_str();
  data->add_option("--device", device, "where the loader delivers batches: cpu, or cuda[:N] (uploaded as in training)")
      ->capture_default_str();
  data->add_option("--repeats", data_repeats, "timed repeats (median reported)")->capture_default_str();
  data->callback([] {
    MMP_CHECK(!root.empty() || !cache.empty(), "bench data: give --root, --cache or both");
    omp_set_num_threads(1);  // the kernels stay on the calling thread: per-core numbers
    std::printf("%-34s %12s %12s\n", "stage", "per second", "unit");
    if (!root.empty()) bench_decoding(root, data_repeats);
    if (!cache.empty()) bench_loading(cache, threads, data_batch, samples, parse_device(device), data_repeats);
  });
}

}  // namespace mmp::cli
