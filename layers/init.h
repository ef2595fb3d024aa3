#pragma once
// Parameter initialisers with PyTorch's formulas, drawn from our Philox generator
// (so a seed gives the same weights on every device, not PyTorch's numbers).
#include "engine/ops.h"

namespace mmp::init {

// torch.nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"): N(0, 2 / fan_out).
void kaiming_normal_fan_out(const Tensor& w, Generator& gen);
// nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
void linear_default(const Tensor& weight, const Tensor& bias, Generator& gen);

}  // namespace mmp::init
