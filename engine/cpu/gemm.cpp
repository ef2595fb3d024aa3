// CPU GEMM through Eigen (its own blocked kernels, threaded with OpenMP).
#include <Eigen/Core>

#include "engine/cpu/cpu_backend.h"

namespace mmp::cpu {
namespace {

template <class T>
void gemm_one(const GemmArgs& g, const T* pa, const T* pb, T* pc) {
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

}  // namespace

void CpuBackend::gemm(const GemmArgs& args) {
  MMP_DISPATCH_FLOATING(args.dtype, "gemm", [&] {
    const scalar_t* a = static_cast<const scalar_t*>(args.a);
    const scalar_t* b = static_cast<const scalar_t*>(args.b);
    scalar_t* c = static_cast<scalar_t*>(args.c);
    for (int64_t i = 0; i < args.batch; ++i)
      gemm_one<scalar_t>(args, a + i * args.stride_a, b + i * args.stride_b, c + i * args.stride_c);
  });
}

}  // namespace mmp::cpu
