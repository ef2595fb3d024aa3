#include "layers/linear.h"

#include "layers/init.h"

namespace mmp {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen) {
  weight = Tensor::empty({out_features, in_features});
  bias = Tensor::empty({out_features});
  init::linear_default(weight, bias, gen);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

}  // namespace mmp
