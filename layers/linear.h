#pragma once
// nn.Linear with PyTorch's default initialisation.
#include "layers/module.h"

namespace mmp {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
};

}  // namespace mmp
