// OGM-GE (Peng et al., "Balanced Multimodal Learning via On-the-fly Gradient
// Modulation", CVPR 2022), as its official code: each modality's share of the fused
// prediction is scored, the dominant modality's encoder gradient (of the multimodal
// loss only) is damped by 1 - tanh(alpha * ratio), and Gaussian noise with the
// gradient's own std is added (the GE), on convolution weights, between two epochs.
#include <cmath>

#include "layers/av_classifier.h"
#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

class OgmGe : public Integrator {
 public:
  explicit OgmGe(const IntegratorOptions& o) : options_(o) {}
  std::string name() const override { return "ogm-ge"; }

  void begin_step(StepContext& ctx) override {
    MMP_CHECK(ctx.outputs && ctx.labels && ctx.model, "ogm-ge needs the step's outputs, labels and model");
    // Each modality's logits as the fused head sees them: for concat, its weight's
    // audio and visual halves with half the bias each (the official decomposition).
    const AVOutputs& out = *ctx.outputs;
    const auto [audio_logits, visual_logits] = ctx.model->modality_logits(out.audio_feature, out.visual_feature);
    double score_a = label_probability_sum(audio_logits, *ctx.labels);
    double score_v = label_probability_sum(visual_logits, *ctx.labels);
    if (ctx.comm) {  // the scores of the global batch
      const Tensor scores = from_vector<double>({score_a, score_v}, {2});
      ctx.comm->all_reduce_sum(scores);
      score_a = scores.to_vector<double>()[0];
      score_v = scores.to_vector<double>()[1];
    }
    const double ratio_v = score_v / score_a, ratio_a = 1.0 / ratio_v;
    coeff_audio_ = coeff_visual_ = 1.0;
    if (ratio_v > 1) {
      coeff_visual_ = 1.0 - std::tanh(options_.ogm_alpha * std::max(ratio_v, 0.0));
    } else {
      coeff_audio_ = 1.0 - std::tanh(options_.ogm_alpha * std::max(ratio_a, 0.0));
    }
    active_ = ctx.epoch >= options_.ogm_start_epoch && ctx.epoch <= options_.ogm_end_epoch;
  }

  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext& ctx) override {
    GroupReport r = start_report(group);
    const double coeff = group.group == "audio" ? coeff_audio_ : group.group == "visual" ? coeff_visual_ : 1.0;
    r.weights.assign(group.gradients.size(), 0.0);
    r.weights[0] = active_ ? coeff : 1.0;
    out.copy_(group.gradients[0]);
    double final_sq = 0;
    const std::vector<double> sq = segment_squared_norms(out, group);
    for (size_t i = 0; i < group.shapes.size(); ++i) {
      if (!active_ || group.shapes[i].size() != 4) {  // the official code modulates conv weights only
        final_sq += sq[i];
        continue;
      }
      const Tensor part = segment(out, group, i);
      Tensor modulated = mul_scalar(part, coeff);
      if (options_.ogm_noise) {
        MMP_CHECK(ctx.rng, "ogm-ge needs a random generator for its Gaussian enhancement");
        // torch.zeros_like(g).normal_(0, g.std().item() + 1e-8), the unbiased std
        const double n = static_cast<double>(part.numel());
        const double mean = sum(part).item() / n;
        const double var = n > 1 ? std::max(sq[i] - n * mean * mean, 0.0) / (n - 1) : 0.0;
        Tensor noise = Tensor::empty(part.shape(), part.dtype(), part.device());
        normal_(noise, *ctx.rng, 0.0, std::sqrt(var) + 1e-8);
        modulated = add(modulated, noise);
      }
      part.copy_(modulated);
      final_sq += squared_norms({part}).to_vector<double>()[0];
    }
    r.scale = active_ ? coeff : 1.0;
    r.norm_final = std::sqrt(final_sq);
    return r;
  }

  double coefficient(const std::string& group) const { return group == "audio" ? coeff_audio_ : coeff_visual_; }

 private:
  static double label_probability_sum(const Tensor& logits, const Tensor& labels) {
    const Tensor p = softmax(logits.detach(), 1).to(Device::cpu()).to(DType::F64);
    const auto probs = p.to_vector<double>();
    const auto y = labels.to_vector<int64_t>();
    const int64_t classes = logits.shape()[1];
    double total = 0;
    for (size_t i = 0; i < y.size(); ++i) total += probs[i * classes + y[i]];
    return total;
  }

  IntegratorOptions options_;
  double coeff_audio_ = 1, coeff_visual_ = 1;
  bool active_ = false;
};

}  // namespace

std::unique_ptr<Integrator> ogm_ge(const IntegratorOptions& options) { return std::make_unique<OgmGe>(options); }

}  // namespace mmp::integrators
