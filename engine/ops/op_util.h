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

// What a backward closure keeps of a tensor: its data, not its place in the graph
// (keeping an op's own output with its grad_fn would be a reference cycle).
inline Tensor saved(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

inline bool should_record(const std::vector<Tensor>& inputs) {
  return grad_mode_enabled() && any_requires_grad(inputs);
}

}  // namespace mmp::detail
