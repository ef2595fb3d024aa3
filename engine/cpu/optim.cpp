// CPU optimizer updates over the shared rules of engine/optim_math.h.
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

void CpuBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdParams& o) {
  MMP_DISPATCH_FLOATING(param.dtype(), "sgd", [&] {
    scalar_t* p = static_cast<scalar_t*>(param.raw_data());
    const scalar_t* g = static_cast<const scalar_t*>(grad.raw_data());
    scalar_t* buf = momentum_buffer.defined() ? static_cast<scalar_t*>(momentum_buffer.raw_data()) : nullptr;
    parallel_for(param.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
      scalar_t unused = 0;
      for (int64_t i = b; i < e; ++i) sgd_update(p[i], g[i], buf ? buf[i] : unused, o);
    });
  });
}

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                           const AdamParams& o) {
  const double bias1 = 1 - std::pow(o.beta1, static_cast<double>(o.step));
  const double bias2_sqrt = std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step)));
  MMP_DISPATCH_FLOATING(param.dtype(), "adam", [&] {
    scalar_t* p = static_cast<scalar_t*>(param.raw_data());
    const scalar_t* g = static_cast<const scalar_t*>(grad.raw_data());
    scalar_t* m = static_cast<scalar_t*>(exp_avg.raw_data());
    scalar_t* v = static_cast<scalar_t*>(exp_avg_sq.raw_data());
    parallel_for(param.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) adam_update(p[i], g[i], m[i], v[i], o, bias1, bias2_sqrt);
    });
  });
}

}  // namespace mmp::cpu
