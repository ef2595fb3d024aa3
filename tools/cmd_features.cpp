// `mmp features`: the audio feature of one media file, for inspection and checks.
#include <cstdio>

#include "data/audio_features.h"
#include "data/media.h"
#include "engine/safetensors.h"
#include "tools/commands.h"

namespace mmp::cli {

void add_features_command(CLI::App& app) {
  static std::string kind = "stft", input, output;
  static FbankOptions fbank;
  CLI::App* cmd = app.add_subcommand("features", "Write the audio feature of one media file (key 'feature')");
  cmd->add_option("input", input, "audio or video file (anything FFmpeg reads)")->required();
  cmd->add_option("--out", output, "output .safetensors")->required();
  cmd->add_option("--kind", kind, "stft: OGM-GE's 257x188 log spectrogram (22050 Hz); "
                                  "fbank: the MMPareto release's 1024x128 Kaldi fbank")
      ->capture_default_str();
  cmd->add_option("--sample-rate", fbank.sample_rate, "fbank: sample rate to decode at")->capture_default_str();
  cmd->callback([] {
    Tensor feature;
    if (kind == "stft") {
      feature = ogm_spectrogram(decode_audio(input, 22050));
    } else if (kind == "fbank") {
      feature = kaldi_fbank(decode_audio(input, static_cast<int>(fbank.sample_rate)), fbank);
    } else {
      MMP_THROW("--kind must be stft or fbank, got '", kind, "'");
    }
    save_safetensors(output, {{"feature", feature}}, {{"kind", kind}, {"input", input}});
    std::printf("%s: %s %s -> %s\n", input.c_str(), kind.c_str(), shape_str(feature.shape()).c_str(), output.c_str());
  });
}

}  // namespace mmp::cli
