// `mmp synth` and `mmp prepare`: making a small real-media dataset, and decoding a raw
// dataset once into a cache for training.
#include <cstdio>

#include "data/cache.h"
#include "data/synth.h"
#include "tools/commands.h"

namespace mmp::cli {

void add_synth_command(CLI::App& app) {
  static std::string out;
  static SynthOptions o;
  CLI::App* cmd = app.add_subcommand("synth", "Write a small dataset in a real dataset's layout as real media files");
  cmd->add_option("--out", out, "folder to create")->required();
  cmd->add_option("--layout", o.layout, "cremad (6 classes), kinetics-sounds (31) or ave (28): as mmp prepare --dataset "
                                        "reads them")
      ->capture_default_str();
  cmd->add_option("--clips-per-class", o.clips_per_class, "clips of each class")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the content")->capture_default_str();
  cmd->add_flag("!--no-frames", o.frame_folders, "no frame folders (Image-01-FPS/, frames/), videos only");
  cmd->add_option("--width", o.width, "video width (CREMA-D: 480)")->capture_default_str();
  cmd->add_option("--height", o.height, "video height (CREMA-D: 360)")->capture_default_str();
  cmd->callback([] {
    const int clips = synthesize_dataset(out, o);
    if (o.layout == "cremad")
      std::printf("%s: %d clips in CREMA-D's layout (AudioWAV/*.wav, VideoFlash/*.flv%s, train.csv, test.csv)\n",
                  out.c_str(), clips, o.frame_folders ? ", Image-01-FPS/<clip>/frame_*.jpg" : "");
    else
      std::printf("%s: %d clips in the %s layout (audio/*.wav, video/*.flv%s, train.csv, test.csv)\n", out.c_str(),
                  clips, o.layout.c_str(), o.frame_folders ? ", frames/<clip>/frame_*.jpg" : "");
  });
}

void add_prepare_command(CLI::App& app) {
  static std::string dataset = "cremad", root, out, visual = "auto", on_bad = "fail";
  static PrepareOptions o;
  CLI::App* cmd = app.add_subcommand("prepare", "Decode a raw dataset once into a cache for training");
  cmd->add_option("--dataset", dataset, "cremad, kinetics-sounds, ave or folder")->capture_default_str();
  cmd->add_option("--root", root, "the dataset's folder")->required();
  cmd->add_option("--out", out, "the cache folder to write")->required();
  cmd->add_option("--audio", o.audio, "stft (OGM-GE spectrogram) or fbank (MMPareto Kaldi fbank)")->capture_default_str();
  cmd->add_option("--visual", visual, "auto, frames (extracted folders) or video")->capture_default_str();
  cmd->add_option("--fps", o.frames_per_second, "frames per second taken from videos")->capture_default_str();
  cmd->add_option("--frame-short-side", o.frame_short_side, "shrink larger frames to this shorter side (0: keep)")
      ->capture_default_str();
  cmd->add_option("--frame-format", o.frame_format, "jpeg or raw")->capture_default_str();
  cmd->add_option("--jpeg-quality", o.jpeg_quality, "JPEG quality")->capture_default_str();
  cmd->add_option("--workers", o.workers, "threads (0: one per core)")->capture_default_str();
  cmd->add_option("--on-bad-sample", on_bad, "skip (report and leave out) or fail")->capture_default_str();
  cmd->add_flag("!--no-progress", o.progress, "no progress line");
  cmd->callback([] {
    MMP_CHECK(on_bad == "skip" || on_bad == "fail", "--on-bad-sample must be skip or fail, got '", on_bad, "'");
    o.skip_bad_samples = on_bad == "skip";
    const DatasetIndex index = index_dataset(dataset, root, visual);
    const PrepareReport r = prepare_cache(index, out, o);
    if (r.already_complete) {
      std::printf("%s: already prepared with these options\n", out.c_str());
      return;
    }
    std::printf("%s: %zu train + %zu test clips, %lld prepared now, %lld from an earlier run, %zu skipped\n",
                out.c_str(), index.train.size(), index.test.size(), static_cast<long long>(r.prepared),
                static_cast<long long>(r.resumed), r.skipped.size());
    for (const auto& [name, reason] : r.skipped) std::printf("  skipped %s: %s\n", name.c_str(), reason.c_str());
  });
}

}  // namespace mmp::cli
