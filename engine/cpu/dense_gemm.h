#pragma once
// The GEMM the convolution kernels call on dense row-major matrices: the project's
// sgemm for f32 (packing and writing C its own way), Eigen for f64 (gradient checks).
#include "engine/cpu/eigen_gemm.h"
#include "engine/cpu/sgemm.h"

namespace mmp::cpu {

// c[m, n] = op(a) · op(b), or c += ... when accumulate.
inline void dense_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                       float* c, bool accumulate = false) {
  sgemm_dense(trans_a, trans_b, m, n, k, a, b, c, accumulate);
}

inline void dense_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, const double* b,
                       double* c, bool accumulate = false) {
  GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.beta = accumulate ? 1.0 : 0.0;
  g.lda = trans_a ? m : k;
  g.ldb = trans_b ? k : n;
  g.ldc = n;
  eigen_gemm<double>(g, a, b, c);
}

}  // namespace mmp::cpu
