#pragma once
// nn.BatchNorm2d (momentum 0.1, eps 1e-5, affine, running statistics), with the
// official code's initialisation: weight N(1, 0.02), bias 0.
#include "layers/module.h"

namespace mmp {

class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, Generator& gen, double momentum = 0.1, double eps = 1e-5);
  // Batch statistics (and a running-statistics update) in training mode, running ones in eval.
  Tensor forward(const Tensor& x);
  // relu(forward(x) + residual) (residual may be undefined), fused where the backend can.
  Tensor forward_relu(const Tensor& x, const Tensor& residual = Tensor());

  // num_batches_tracked is written from the host's count when the state is read
  // (named_buffers, state_dict): a forward queues no work for it, and a replayed CUDA
  // graph of a step counts through forward_replayed().
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double momentum, eps;

 private:
  void on_state_loaded() override;
  void on_state_read() const override;
  void on_forward_replayed() override;
  int64_t batches_tracked_ = 0;
};

}  // namespace mmp
