#pragma once
// f32 GEMM for the convolution kernels (see sgemm.cpp).
#include <cstdint>

namespace mmp::cpu {

// C[m, n] (row stride ldc) = op(A)[m, k] · op(B)[k, n], or C += ... when accumulate.
// Row-major A is [m, k] (or [k, m] when trans_a) with row stride lda; B likewise.
struct SgemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
};

void sgemm(const SgemmArgs& args);

// Dense operands: lda/ldb/ldc follow from the shapes.
inline void sgemm_dense(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                        float* c, bool accumulate = false) {
  sgemm({trans_a, trans_b, m, n, k, a, trans_a ? m : k, b, trans_b ? k : n, c, n, accumulate});
}

}  // namespace mmp::cpu
