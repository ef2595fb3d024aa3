// CPU Philox fills: element i uses counter offset + i, as on every backend.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"
#include "engine/philox.h"

namespace mmp::cpu {

void CpuBackend::fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  MMP_DISPATCH_FLOATING(out.dtype(), "uniform_", [&] {
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    parallel_for(out.numel(), kParallelGrain / 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = static_cast<scalar_t>(philox_uniform(seed, offset + i, lo, hi));
    });
  });
}

void CpuBackend::fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  MMP_DISPATCH_FLOATING(out.dtype(), "normal_", [&] {
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    parallel_for(out.numel(), kParallelGrain / 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = static_cast<scalar_t>(philox_normal(seed, offset + i, mean, std));
    });
  });
}

}  // namespace mmp::cpu
