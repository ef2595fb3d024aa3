#include "layers/av_classifier.h"

namespace mmp {

AVClassifier::AVClassifier(const AVClassifierConfig& config, Generator& gen)
    : config_(config),
      audio_net_(config.audio_channels, gen, config.width),
      visual_net_(config.visual_channels, gen, config.width),
      head_(make_fusion(config.fusion, 8 * config.width, config.classes, gen)),
      head_audio_(8 * config.width, config.classes, gen),
      head_video_(8 * config.width, config.classes, gen) {
  MMP_CHECK(config.classes >= 2, "AVClassifier needs at least 2 classes, got ", config.classes);
  MMP_CHECK(config.width >= 1, "AVClassifier: bad ResNet width ", config.width);
  register_module("audio_net", &audio_net_);
  register_module("visual_net", &visual_net_);
  register_module("head", head_.get());
  register_module("head_audio", &head_audio_);
  register_module("head_video", &head_video_);
}

AVOutputs AVClassifier::forward(const Tensor& audio, const Tensor& visual) {
  MMP_CHECK(audio.ndim() == 4 && audio.shape()[1] == config_.audio_channels, "audio input must be [B, ",
            config_.audio_channels, ", F, T], got ", audio.str());
  MMP_CHECK(visual.ndim() == 5 && visual.shape()[2] == config_.visual_channels, "visual input must be [B, T, ",
            config_.visual_channels, ", H, W], got ", visual.str());
  MMP_CHECK(audio.shape()[0] == visual.shape()[0], "audio batch ", audio.shape()[0], " and visual batch ",
            visual.shape()[0], " differ");
  const int64_t b = visual.shape()[0], t = visual.shape()[1];
  const Shape& vs = visual.shape();
  const Tensor a = audio_net_.forward(audio);
  const Tensor v = visual_net_.forward(reshape(visual, {b * t, vs[2], vs[3], vs[4]}));
  AVOutputs out;
  out.audio_feature = mean(a, {2, 3});
  // [B*T, C, h, w] -> [B, T, C, h, w], averaged over T, h and w (adaptive_avg_pool3d to 1).
  out.visual_feature = mean(reshape(v, {b, t, v.shape()[1], v.shape()[2], v.shape()[3]}), {1, 3, 4});
  out.out = head_->forward(out.audio_feature, out.visual_feature);
  out.out_audio = head_audio_.forward(out.audio_feature);
  out.out_visual = head_video_.forward(out.visual_feature);
  return out;
}

AVClassifierConfig infer_config(const NamedTensors& state, const std::string& source) {
  auto find = [&](const std::string& name) -> const Tensor* {
    for (const auto& [n, t] : state)
      if (n == name || n == "module." + name) return &t;
    return nullptr;
  };
  const Tensor* audio_stem = find("audio_net.conv1.weight");
  const Tensor* visual_stem = find("visual_net.conv1.weight");
  const Tensor* head_audio = find("head_audio.weight");
  MMP_CHECK(audio_stem && visual_stem && head_audio && audio_stem->ndim() == 4 && visual_stem->ndim() == 4 &&
                head_audio->ndim() == 2,
            source, " does not hold an AVClassifier (audio_net.conv1.weight, visual_net.conv1.weight or "
                    "head_audio.weight missing or misshaped)");
  AVClassifierConfig c;
  c.width = audio_stem->shape()[0];
  c.audio_channels = audio_stem->shape()[1];
  c.visual_channels = visual_stem->shape()[1];
  c.classes = head_audio->shape()[0];
  if (find("head.weight")) c.fusion = FusionKind::Concat;
  else if (find("head.fc.weight")) c.fusion = FusionKind::FiLM;
  else if (find("head.fc_out.weight")) c.fusion = FusionKind::Gated;
  else if (find("head.fc_x.weight")) c.fusion = FusionKind::Sum;
  else MMP_THROW(source, ": cannot tell the fusion from the head's parameters");
  return c;
}

std::pair<Tensor, Tensor> AVClassifier::modality_logits(const Tensor& audio_feature, const Tensor& visual_feature) const {
  return head_->modality_logits(audio_feature, visual_feature);
}

NamedTensors AVClassifier::prefixed(const std::string& prefix, NamedTensors params) {
  for (auto& [name, t] : params) name = prefix + name;
  return params;
}

}  // namespace mmp
