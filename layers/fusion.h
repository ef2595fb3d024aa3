#pragma once
// Fusion of the two modalities' features into the multimodal logits, as the OGM-GE
// code's fusion modules. The module is registered as `head`, so its parameters are
// head.weight/head.bias for concat (the official AVClassifier's names) and
// head.fc_x.*, head.fc_y.*, head.fc.*, head.fc_out.* for the others.
#include <memory>
#include <string>

#include "layers/linear.h"

namespace mmp {

enum class FusionKind { Concat, Sum, FiLM, Gated };
FusionKind parse_fusion(const std::string& name);  // concat, sum, film, gated
const char* fusion_name(FusionKind kind);

class Fusion : public Module {
 public:
  // a, v: [B, dim] features of the first (audio) and second (visual) modality.
  virtual Tensor forward(const Tensor& a, const Tensor& v) = 0;
  // The logits each modality alone contributes, where the fusion is additive in them.
  virtual std::pair<Tensor, Tensor> modality_logits(const Tensor& a, const Tensor& v) const;
};

std::unique_ptr<Fusion> make_fusion(FusionKind kind, int64_t dim, int64_t classes, Generator& gen);

}  // namespace mmp
