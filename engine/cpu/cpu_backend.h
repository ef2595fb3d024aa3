#pragma once
// The CPU backend: Eigen for GEMM, OpenMP loops over the shared functors elsewhere.
#include "engine/backend.h"

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
  void fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) override;
  void fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) override;
};

CpuBackend& backend();

// Work below this many elements runs on one thread: spawning costs more.
inline constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace mmp::cpu
