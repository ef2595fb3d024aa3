#pragma once
// The kernel interface every backend implements. Ops (ops/*.cpp) check shapes,
// allocate outputs and record autograd; a Backend only computes. Kernels receive
// tensors already on the backend's device.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/functors.h"
#include "engine/optim_math.h"
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
  bool allow_tf32 = false;  // f32 products may use TF32 tensor cores (--precision tf32)
};

// The sizes of a 2-d convolution or pooling window over [N, C, H, W] tensors, laid out
// NCHW (contiguous) or, with channels_last, NHWC (CUDA only).
struct ConvGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t co = 0, kh = 0, kw = 0;      // filters (co = c for pooling)
  int64_t stride = 1, pad = 0;
  int64_t ho = 0, wo = 0;              // output
  bool allow_tf32 = false;             // f32 convolutions may use TF32 tensor cores (--precision tf32)
  bool channels_last = false;          // inputs, outputs, filters and gradients are NHWC (KRSC)
};

// Data a convolution's forward leaves for its backward on the same backend (the CPU
// keeps its Winograd-transformed filters here); opaque to the op that holds it.
using ConvState = std::shared_ptr<void>;

// One parameter of an optimizer update: the parameter, its gradient, and its state (SGD:
// the momentum buffer in state1; Adam: the moments in state1 and state2).
// What a training-mode batch norm may fuse after itself: y = relu(bn(x) + residual),
// the end of a ResNet block. Forward reads `residual` (undefined: none) and `relu`;
// backward reads `relu` and `output` (the forward's y, whose sign masks the gradient)
// and writes `grad_residual` (the masked gradient; undefined: not wanted). A forward
// that packs the ReLU's verdicts into bits (one per element in memory order, the lowest
// index in a byte's lowest bit) sets `relu_mask`; the backward then reads them instead of
// `output`.
struct BatchNormEpilogue {
  Tensor residual;
  bool relu = false;
  Tensor output;
  Tensor grad_residual;
  Tensor relu_mask;
  bool any() const { return relu || residual.defined() || grad_residual.defined(); }
};

struct OptimizerTensors {
  Tensor param, grad, state1, state2;
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
  // out (scalar) = -mean_i logp[i, labels[i]]. A label outside [0, cols): the CPU throws
  // naming it; CUDA makes out NaN (knowing more would make the host wait for the device
  // in the middle of a step; TrainStep then names the label).
  virtual void nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) = 0;
  // grad_logp = 0 except grad_logp[i, labels[i]] = -grad_out / rows.
  virtual void nll_loss_backward(const Tensor& grad_out, const Tensor& labels,
                                 const Tensor& grad_logp) = 0;

  // ---- convolution (NCHW input and output, [co, c, kh, kw] filters, no bias) ----
  virtual void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& out, const ConvGeometry& g,
                              ConvState& state) = 0;
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                     const ConvGeometry& g, ConvState& state) = 0;
  virtual void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_weight,
                                      const ConvGeometry& g) = 0;

  // ---- batch normalisation over (N, H, W) per channel of NCHW tensors ----
  // Training: normalises with the batch statistics, saves mean and 1/sqrt(var + eps)
  // for backward, updates the running statistics in place (unbiased variance), and
  // applies the epilogue (residual and tensors of the epilogue laid out as x).
  virtual void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                                const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                                BatchNormEpilogue& epilogue) = 0;
  // Whether batch_norm_train/backward take an epilogue for this input (else the op
  // composes batch norm, add and ReLU).
  virtual bool fuses_batch_norm_epilogue(const Tensor& x) const = 0;
  // Gradients of a training-mode batch norm and its epilogue; grad_x, grad_weight and
  // grad_bias may be undefined.
  virtual void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                   const Tensor& grad_weight, const Tensor& grad_bias, double eps,
                                   const BatchNormEpilogue& epilogue) = 0;

  // ---- max pooling (NCHW); indices (i32) are positions within each input plane ----
  virtual void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                                  const ConvGeometry& g) = 0;
  virtual void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                   const ConvGeometry& g) = 0;

  // ---- optimizer updates, in place, on every parameter of a list at once (one launch
  // on CUDA): contiguous tensors of one dtype; `state` the momentum buffer (SGD; may be
  // undefined without momentum) or the two moments (Adam) ----
  virtual void sgd_step(const std::vector<OptimizerTensors>& tensors, const SgdParams& p) = 0;
  virtual void adam_step(const std::vector<OptimizerTensors>& tensors, const AdamParams& p) = 0;

  // flat[offsets[i] .. offsets[i] + counts[i]) *= factors[i], for all segments at once
  // (the integrators' per-tensor rescaling of a group's gradient buffer).
  virtual void scale_segments(const Tensor& flat, const std::vector<int64_t>& offsets,
                              const std::vector<int64_t>& counts, const std::vector<double>& factors) = 0;

  // ---- random numbers: Philox4x32-10 keyed by seed, counter from offset ----
  virtual void fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) = 0;
  virtual void fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) = 0;
};

// The backend of a device; throws if this build or machine has none for it.
Backend& backend(Device device);

// Copies between two devices (host<->CUDA, CUDA<->CUDA); both contiguous, same dtype.
void copy_between_devices(const Tensor& src, const Tensor& dst);

}  // namespace mmp
