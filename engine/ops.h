#pragma once
// The differentiable ops. Each is defined once (shape rules, backward rule, in
// engine/ops/) and runs on whichever backend holds its inputs. All inputs of an
// op must be on one device; results are new tensors (views share storage).
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace mmp {

// ---- copies between layouts, devices and dtypes ----------------------------
Tensor contiguous(const Tensor& x);
// x laid out channels-last (NHWC in memory; 4-d only), copied if it is not already.
Tensor to_channels_last(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_device(const Tensor& x, Device device);
Tensor to_dtype(const Tensor& x, DType dtype);

// ---- elementwise, with numpy broadcasting ---------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
// a + alpha * b (same shapes or broadcast), one pass.
Tensor add_scaled(const Tensor& a, const Tensor& b, double alpha);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }

// ---- reductions ------------------------------------------------------------
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor sum(const Tensor& x);  // all elements, a scalar
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
// Index of the first maximum along dim (i64, no gradient).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Sum of a * b over all elements (same shapes), a scalar.
Tensor dot(const Tensor& a, const Tensor& b);
// Euclidean norm over all elements, a scalar.
Tensor norm(const Tensor& x);
// Without gradient, in one pass on the device: out[i] = <a[i], b[i]> as f64 [n].
// For the integrators: norms (a = b) and cosines of many tensors or buffers at once.
Tensor dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b);
Tensor squared_norms(const std::vector<Tensor>& xs);

// ---- linear algebra ------------------------------------------------------------
// [m,k]·[k,n], or batched [b,m,k]·[b,k,n]. Transposed views go to the GEMM without copies.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [.., in] · weight[out, in]ᵀ + bias[out] (bias may be undefined), as torch.nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- shapes (views where the strides allow) -----------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one size may be -1
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Elements start, start+step, ... < end along dim (negative start/end count from the end).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);  // drops dim
Tensor expand(const Tensor& x, const Shape& shape);          // size-1 dims broadcast
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
// Sums x over the dims that broadcasting expanded from `shape` (a broadcast's backward).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- layers' functional forms, NCHW as PyTorch ---------------------------------
// torch.nn.functional.conv2d with one stride and padding for both spatial dims; bias may be undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);
// torch.nn.functional.batch_norm over [N, C, H, W] (or [N, C]). In training, normalises
// with the batch statistics and updates running_mean/running_var in place (unbiased
// variance, as PyTorch); in eval, uses them.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// relu(batch_norm(x, ...) + residual) (residual may be undefined): a ResNet block's end.
// In training, one fused kernel pass forward and backward where the backend takes it
// (the CPU; CUDA's own kernels, for bf16 and NHWC activations); else the three ops.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, const Tensor& residual, bool training, double momentum = 0.1,
                       double eps = 1e-5);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding);

// ---- losses ----------------------------------------------------------------------
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor softmax(const Tensor& x, int64_t dim);
// Mean negative log-likelihood of integer labels (i64 or i32 [N]) under log-probs [N, C].
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels);
// torch.nn.functional.cross_entropy(logits [N, C], labels [N]) with mean reduction.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

// ---- random numbers (Philox; the same seed gives the same values on every device) ----
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  // Reserves `n` counters and returns the first.
  uint64_t advance(uint64_t n);
  // The next counter, and moving to one (a resumed run continues the same stream).
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};
void uniform_(const Tensor& t, Generator& gen, double lo = 0, double hi = 1);
void normal_(const Tensor& t, Generator& gen, double mean = 0, double std = 1);
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::F32, Device device = Device::cpu());
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::F32, Device device = Device::cpu());

}  // namespace mmp
