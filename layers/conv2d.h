#pragma once
// nn.Conv2d with square stride and padding, initialised as the official code does
// (kaiming normal, fan_out, relu).
#include "layers/module.h"

namespace mmp {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, bool bias,
         Generator& gen);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
  int64_t stride, padding;
};

}  // namespace mmp
