#include "layers/fusion.h"

#include "layers/init.h"

namespace mmp {
namespace {

// Linear on cat(a, v): the official head, nn.Linear(2 * dim, classes).
class ConcatFusion : public Fusion {
 public:
  ConcatFusion(int64_t dim, int64_t classes, Generator& gen) {
    weight = Tensor::empty({classes, 2 * dim});
    bias = Tensor::empty({classes});
    init::linear_default(weight, bias, gen);
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
  }
  Tensor forward(const Tensor& a, const Tensor& v) override { return linear(cat({a, v}, 1), weight, bias); }
  std::pair<Tensor, Tensor> modality_logits(const Tensor& a, const Tensor& v) const override {
    const int64_t d = a.shape()[1];
    const Tensor half_bias = mul_scalar(bias, 0.5);
    return {linear(a, slice(weight, 1, 0, d), half_bias), linear(v, slice(weight, 1, d, 2 * d), half_bias)};
  }
  Tensor weight, bias;
};

// fc_x(a) + fc_y(v).
class SumFusion : public Fusion {
 public:
  SumFusion(int64_t dim, int64_t classes, Generator& gen) : fc_x_(dim, classes, gen), fc_y_(dim, classes, gen) {
    register_module("fc_x", &fc_x_);
    register_module("fc_y", &fc_y_);
  }
  Tensor forward(const Tensor& a, const Tensor& v) override { return add(fc_x_.forward(a), fc_y_.forward(v)); }
  // As the official OGM-GE code scores them: each head with half its bias.
  std::pair<Tensor, Tensor> modality_logits(const Tensor& a, const Tensor& v) const override {
    return {linear(a, fc_x_.weight, mul_scalar(fc_x_.bias, 0.5)),
            linear(v, fc_y_.weight, mul_scalar(fc_y_.bias, 0.5))};
  }

 private:
  Linear fc_x_, fc_y_;
};

// FiLM (Perez et al. 2018): the audio feature gives a scale and shift for the visual one.
class FiLMFusion : public Fusion {
 public:
  FiLMFusion(int64_t dim, int64_t classes, Generator& gen) : dim_(dim), fc_(dim, 2 * dim, gen), fc_out_(dim, classes, gen) {
    register_module("fc", &fc_);
    register_module("fc_out", &fc_out_);
  }
  Tensor forward(const Tensor& a, const Tensor& v) override {
    const Tensor film = fc_.forward(a);
    const Tensor gamma = slice(film, 1, 0, dim_), beta = slice(film, 1, dim_, 2 * dim_);
    return fc_out_.forward(add(mul(gamma, v), beta));
  }

 private:
  int64_t dim_;
  Linear fc_, fc_out_;
};

// Gated: sigmoid(fc_x(a)) gates fc_y(v).
class GatedFusion : public Fusion {
 public:
  GatedFusion(int64_t dim, int64_t classes, Generator& gen)
      : fc_x_(dim, dim, gen), fc_y_(dim, dim, gen), fc_out_(dim, classes, gen) {
    register_module("fc_x", &fc_x_);
    register_module("fc_y", &fc_y_);
    register_module("fc_out", &fc_out_);
  }
  Tensor forward(const Tensor& a, const Tensor& v) override {
    return fc_out_.forward(mul(sigmoid(fc_x_.forward(a)), fc_y_.forward(v)));
  }

 private:
  Linear fc_x_, fc_y_, fc_out_;
};

}  // namespace

std::pair<Tensor, Tensor> Fusion::modality_logits(const Tensor&, const Tensor&) const {
  MMP_THROW("this fusion mixes the modalities inside the head: no per-modality logits (use concat or sum)");
}

FusionKind parse_fusion(const std::string& name) {
  if (name == "concat") return FusionKind::Concat;
  if (name == "sum") return FusionKind::Sum;
  if (name == "film") return FusionKind::FiLM;
  if (name == "gated") return FusionKind::Gated;
  MMP_THROW("unknown fusion '", name, "': expected concat, sum, film or gated");
}

const char* fusion_name(FusionKind kind) {
  switch (kind) {
    case FusionKind::Concat: return "concat";
    case FusionKind::Sum: return "sum";
    case FusionKind::FiLM: return "film";
    case FusionKind::Gated: return "gated";
  }
  return "?";
}

std::unique_ptr<Fusion> make_fusion(FusionKind kind, int64_t dim, int64_t classes, Generator& gen) {
  switch (kind) {
    case FusionKind::Concat: return std::make_unique<ConcatFusion>(dim, classes, gen);
    case FusionKind::Sum: return std::make_unique<SumFusion>(dim, classes, gen);
    case FusionKind::FiLM: return std::make_unique<FiLMFusion>(dim, classes, gen);
    case FusionKind::Gated: return std::make_unique<GatedFusion>(dim, classes, gen);
  }
  MMP_THROW("unknown fusion");
}

}  // namespace mmp
