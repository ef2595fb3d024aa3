#include "layers/init.h"

#include <cmath>

namespace mmp::init {

void kaiming_normal_fan_out(const Tensor& w, Generator& gen) {
  int64_t fan_out = w.shape()[0];
  for (int d = 2; d < w.ndim(); ++d) fan_out *= w.shape()[d];
  normal_(w, gen, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
}

void linear_default(const Tensor& weight, const Tensor& bias, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.shape()[1]));
  uniform_(weight, gen, -bound, bound);
  if (bias.defined()) uniform_(bias, gen, -bound, bound);
}

}  // namespace mmp::init
