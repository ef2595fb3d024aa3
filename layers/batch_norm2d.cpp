#include "layers/batch_norm2d.h"

namespace mmp {

BatchNorm2d::BatchNorm2d(int64_t channels, Generator& gen, double momentum_, double eps_)
    : momentum(momentum_), eps(eps_) {
  weight = Tensor::empty({channels});
  normal_(weight, gen, 1.0, 0.02);
  bias = zeros({channels});
  running_mean = zeros({channels});
  running_var = ones({channels});
  num_batches_tracked = zeros({}, DType::I64);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (is_training()) ++batches_tracked_;
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Tensor BatchNorm2d::forward_relu(const Tensor& x, const Tensor& residual) {
  if (is_training()) ++batches_tracked_;
  return batch_norm_relu(x, weight, bias, running_mean, running_var, residual, is_training(), momentum, eps);
}

void BatchNorm2d::on_state_loaded() { batches_tracked_ = static_cast<int64_t>(num_batches_tracked.item()); }

void BatchNorm2d::on_state_read() const { num_batches_tracked.fill_(static_cast<double>(batches_tracked_)); }

void BatchNorm2d::on_forward_replayed() {
  if (is_training()) ++batches_tracked_;
}

}  // namespace mmp
