#pragma once
// The iteration plan of an elementwise loop over N strided operands of one shape:
// size-1 dims dropped, the dims walked in the first operand's (the output's) memory
// order, and adjacent dims merged wherever every operand allows, so a dense tensor of
// any layout (row-major or channels-last) becomes one flat run. Planned on the host,
// read by both backends.
#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>

#include "engine/functors.h"
#include "engine/shape.h"

namespace mmp {

template <int N>
struct LoopPlan {
  int ndim = 1;  // innermost dim last
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  // Element offsets of each operand at a linear index into the (collapsed) shape.
  MMP_HD void offsets(int64_t linear, int64_t* out) const {
    for (int k = 0; k < N; ++k) out[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < N; ++k) out[k] += i * strides[k][d];
    }
  }
  // True when every operand is one dense run (the fast path).
  MMP_HD bool flat() const {
    if (ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

template <int N>
LoopPlan<N> plan_loop(const Shape& shape, const std::array<const Strides*, N>& strides) {
  LoopPlan<N> plan;
  plan.numel = numel(shape);
  // Outermost first by the output's strides (a stable sort keeps row-major order for
  // row-major outputs); every element is visited once whatever the order.
  std::array<int, kMaxDims> order{};
  MMP_CHECK(shape.size() <= kMaxDims, "tensor with more than ", kMaxDims, " dims");
  std::iota(order.begin(), order.begin() + shape.size(), 0);
  std::stable_sort(order.begin(), order.begin() + shape.size(),
                   [&](int a, int b) { return (*strides[0])[a] > (*strides[0])[b]; });
  int nd = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int d = order[i];
    if (shape[d] == 1) continue;
    if (nd > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        mergeable = mergeable && plan.strides[k][nd - 1] == (*strides[k])[d] * shape[d];
      if (mergeable) {
        plan.sizes[nd - 1] *= shape[d];
        for (int k = 0; k < N; ++k) plan.strides[k][nd - 1] = (*strides[k])[d];
        continue;
      }
    }
    MMP_CHECK(nd < kMaxDims, "tensor with more than ", kMaxDims, " dims");
    plan.sizes[nd] = shape[d];
    for (int k = 0; k < N; ++k) plan.strides[k][nd] = (*strides[k])[d];
    ++nd;
  }
  if (nd == 0) {  // a scalar or all-ones shape: one element
    plan.sizes[0] = 1;
    for (int k = 0; k < N; ++k) plan.strides[k][0] = 1;
    nd = 1;
  }
  plan.ndim = nd;
  return plan;
}

}  // namespace mmp
