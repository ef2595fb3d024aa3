#pragma once
// The CPU backend: Eigen for GEMM, OpenMP loops over the shared functors elsewhere.
#include "engine/backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

class CpuBackend final : public Backend {
 public:
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void synchronize() override {}
  void unary(UnaryKind kind, ScalarParams p, const Tensor& x, const Tensor& out) override;
  void binary(BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void sum(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) override;
  void argmax(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) override;
  void dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const Tensor& out) override;
  void gemm(const GemmArgs& args) override;
  void log_softmax(const Tensor& x, const Tensor& out) override;
  void nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) override;
  void nll_loss_backward(const Tensor& grad_out, const Tensor& labels, const Tensor& grad_logp) override;
  void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& out, const ConvGeometry& g,
                      ConvState& state) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                             const ConvGeometry& g, ConvState& state) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_weight,
                              const ConvGeometry& g) override;
  void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const Tensor& y, const Tensor& save_mean,
                        const Tensor& save_invstd, double momentum, double eps,
                        BatchNormEpilogue& epilogue) override;
  bool fuses_batch_norm_epilogue(const Tensor& x) const override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& grad_x, const Tensor& grad_weight,
                           const Tensor& grad_bias, double eps, const BatchNormEpilogue& epilogue) override;
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) override;
  void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                           const ConvGeometry& g) override;
  void sgd_step(const std::vector<OptimizerTensors>& tensors, const SgdParams& p) override;
  void adam_step(const std::vector<OptimizerTensors>& tensors, const AdamParams& p) override;
  void scale_segments(const Tensor& flat, const std::vector<int64_t>& offsets, const std::vector<int64_t>& counts,
                      const std::vector<double>& factors) override;
  void fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) override;
  void fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) override;
};

CpuBackend& backend();

}  // namespace mmp::cpu
