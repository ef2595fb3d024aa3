#pragma once
// One row-major GEMM through Eigen, shared by the GEMM and convolution kernels.
#include <Eigen/Core>

#include "engine/backend.h"

namespace mmp::cpu {

// c = alpha * op(a) · op(b) + beta * c for the sizes and strides in g (batch ignored).
template <class T>
void eigen_gemm(const GemmArgs& g, const T* pa, const T* pb, T* pc) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  const Eigen::Map<const Matrix, 0, Stride> a(pa, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, Stride(g.lda));
  const Eigen::Map<const Matrix, 0, Stride> b(pb, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, Stride(g.ldb));
  Eigen::Map<Matrix, 0, Stride> c(pc, g.m, g.n, Stride(g.ldc));
  const T alpha = static_cast<T>(g.alpha);
  if (g.beta == 0) {
    c.setZero();
  } else if (g.beta != 1) {
    c *= static_cast<T>(g.beta);
  }
  // Eigen picks its GEMM kernel for each transpose combination at compile time.
  if (!g.trans_a && !g.trans_b) c.noalias() += alpha * a * b;
  if (!g.trans_a && g.trans_b) c.noalias() += alpha * a * b.transpose();
  if (g.trans_a && !g.trans_b) c.noalias() += alpha * a.transpose() * b;
  if (g.trans_a && g.trans_b) c.noalias() += alpha * a.transpose() * b.transpose();
}

}  // namespace mmp::cpu
