#pragma once
// Helpers shared by the op definitions in this folder (not part of the public API).
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/tensor.h"

namespace mmp::detail {

// Throws unless every defined input is on one device with one dtype.
void check_same_device_and_dtype(const char* op, const std::vector<Tensor>& inputs);
void check_floating(const char* op, const Tensor& x);

// A raw view of x broadcast to `shape` (stride 0 on broadcast dims), no autograd.
Tensor broadcast_view(const Tensor& x, const Shape& shape);

// An output of `shape` laid out as the inputs among `like` of that shape are: channels-
// last when one of them is (NHWC activations stay NHWC through elementwise ops), else
// contiguous.
Tensor empty_in_layout_of(const Shape& shape, DType dtype, Device device, std::initializer_list<Tensor> like);
// Whether a 4-d activation on x's device runs channels-last: on CUDA under tf32 or bf16
// (the tensor-core precisions; fp32 keeps NCHW, the exact mode's proven layout).
bool wants_channels_last(const Tensor& x);

// Autocast (engine/precision.h): under bf16 on a CUDA device, an f32 input of a
// convolution or matrix product becomes bf16 (a differentiable cast); else x itself.
Tensor autocast(const Tensor& x);
// Whether an f32 product on x's device may use TF32 (--precision tf32 on CUDA).
bool tf32_allowed(const Tensor& x);
// An elementwise op's operands in one dtype: a bf16 one meets an f32 or f64 one by
// becoming it, as PyTorch promotes (differentiable casts).
std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b);

// What a backward closure keeps of a tensor: its data, not its place in the graph
// (keeping an op's own output with its grad_fn would be a reference cycle).
inline Tensor saved(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

inline bool should_record(const std::vector<Tensor>& inputs) {
  return grad_mode_enabled() && any_requires_grad(inputs);
}

}  // namespace mmp::detail
