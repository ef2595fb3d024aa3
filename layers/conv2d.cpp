#include "layers/conv2d.h"

#include "layers/init.h"

namespace mmp {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride_, int64_t padding_,
               bool with_bias, Generator& gen)
    : stride(stride_), padding(padding_) {
  weight = Tensor::empty({out_channels, in_channels, kernel, kernel});
  init::kaiming_normal_fan_out(weight, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = zeros({out_channels});
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, stride, padding); }

}  // namespace mmp
