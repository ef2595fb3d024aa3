// CPU GEMM through Eigen (its own blocked kernels, threaded with OpenMP).
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/eigen_gemm.h"

namespace mmp::cpu {

void CpuBackend::gemm(const GemmArgs& args) {
  MMP_DISPATCH_FLOATING(args.dtype, "gemm", [&] {
    const scalar_t* a = static_cast<const scalar_t*>(args.a);
    const scalar_t* b = static_cast<const scalar_t*>(args.b);
    scalar_t* c = static_cast<scalar_t*>(args.c);
    for (int64_t i = 0; i < args.batch; ++i)
      eigen_gemm<scalar_t>(args, a + i * args.stride_a, b + i * args.stride_b, c + i * args.stride_c);
  });
}

}  // namespace mmp::cpu
