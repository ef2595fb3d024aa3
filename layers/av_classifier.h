#pragma once
// The audio-visual classifier of the paper (the official AVClassifier): a ResNet-18
// per modality, global average pooling (2-d for the spectrogram, over T, H and W for
// the frames), a fused multimodal head and one linear head per modality.
#include <memory>
#include <string>

#include "layers/fusion.h"
#include "layers/resnet.h"

namespace mmp {

struct AVClassifierConfig {
  int64_t classes = 6;
  FusionKind fusion = FusionKind::Concat;
  int64_t width = 64;            // ResNet width; features are 8 * width wide
  int64_t audio_channels = 1;    // spectrogram
  int64_t visual_channels = 3;   // RGB frames (2 for optical flow)
};

struct AVOutputs {
  Tensor out, out_audio, out_visual;       // logits [B, classes]
  Tensor audio_feature, visual_feature;    // pooled features [B, 8 * width]
};

// The configuration a state dict was saved from: classes, width, fusion and input
// channels read off the tensors' names and shapes. Throws naming `source` when the
// names are not an AVClassifier's.
AVClassifierConfig infer_config(const NamedTensors& state, const std::string& source);

class AVClassifier : public Module {
 public:
  AVClassifier(const AVClassifierConfig& config, Generator& gen);
  // audio [B, Ca, F, T], visual [B, T, Cv, H, W]
  AVOutputs forward(const Tensor& audio, const Tensor& visual);
  const AVClassifierConfig& config() const { return config_; }
  // Each modality's contribution to the fused logits, for modality-balancing methods
  // (OGM-GE): for concat, a·W[:, :d]ᵀ + b/2 and v·W[:, d:]ᵀ + b/2; for sum, fc_x(a), fc_y(v).
  // Other fusions mix the modalities inside the head and have none; they throw.
  std::pair<Tensor, Tensor> modality_logits(const Tensor& audio_feature, const Tensor& visual_feature) const;

  // The parameters of each part, for per-part gradient treatment.
  NamedTensors audio_encoder_parameters() const { return prefixed("audio_net.", audio_net_.named_parameters()); }
  NamedTensors visual_encoder_parameters() const { return prefixed("visual_net.", visual_net_.named_parameters()); }

 private:
  static NamedTensors prefixed(const std::string& prefix, NamedTensors params);

  AVClassifierConfig config_;
  ResNet18 audio_net_, visual_net_;
  std::unique_ptr<Fusion> head_;
  Linear head_audio_, head_video_;
};

}  // namespace mmp
