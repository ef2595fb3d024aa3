#pragma once
// The kernel interface every backend implements. Ops (ops/*.cpp) check shapes,
// allocate outputs and record autograd; a Backend only computes. Kernels receive
// tensors already on the backend's device.
#include <cstdint>
#include <vector>

#include "engine/functors.h"
#include "engine/tensor.h"

namespace mmp {

// C = alpha * op(A) · op(B) + beta * C, row-major, with op(A) of shape [m, k] and
// op(B) [k, n]. A is stored [m, k] (or [k, m] when trans_a) with row stride lda.
// `batch` products are done with element strides stride_a/b/c between them.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1, beta = 0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  DType dtype = DType::F32;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- memory movement ----
  // dst = src elementwise: same shape, any strides, dtype converted. Same device.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // Waits for every queued kernel (no-op on CPU).
  virtual void synchronize() = 0;

  // ---- elementwise (inputs already broadcast to out's shape, zero strides allowed) ----
  virtual void unary(UnaryKind kind, ScalarParams p, const Tensor& x, const Tensor& out) = 0;
  virtual void binary(BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b,
                      const Tensor& out) = 0;

  // ---- reductions over the middle axis of a contiguous [outer, r, inner] view ----
  virtual void sum(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) = 0;
  // out (i64) = index of the first maximum along r.
  virtual void argmax(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) = 0;
  // out[i] = sum(a[i] * b[i]) in f64, for many pairs of contiguous tensors at once.
  virtual void dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const Tensor& out) = 0;

  // ---- dense linear algebra ----
  virtual void gemm(const GemmArgs& args) = 0;

  // ---- losses ----
  // Rows of a contiguous [rows, cols] tensor.
  virtual void log_softmax(const Tensor& x, const Tensor& out) = 0;
  // out (scalar) = -mean_i logp[i, labels[i]]; throws if a label is outside [0, cols).
  virtual void nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) = 0;
  // grad_logp = 0 except grad_logp[i, labels[i]] = -grad_out / rows.
  virtual void nll_loss_backward(const Tensor& grad_out, const Tensor& labels,
                                 const Tensor& grad_logp) = 0;

  // ---- random numbers: Philox4x32-10 keyed by seed, counter from offset ----
  virtual void fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) = 0;
  virtual void fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) = 0;
};

// The backend of a device; throws if this build or machine has none for it.
Backend& backend(Device device);

// Copies between two devices (host<->CUDA, CUDA<->CUDA); both contiguous, same dtype.
void copy_between_devices(const Tensor& src, const Tensor& dst);

}  // namespace mmp
