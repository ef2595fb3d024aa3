// CPU optimizer updates over the shared rules of engine/optim_math.h, and the
// integrators' per-segment scaling.
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

void CpuBackend::sgd_step(const std::vector<OptimizerTensors>& tensors, const SgdParams& o) {
  for (const OptimizerTensors& t : tensors)
    MMP_DISPATCH_FLOATING(t.param.dtype(), "sgd", [&] {
      scalar_t* p = static_cast<scalar_t*>(t.param.raw_data());
      const scalar_t* g = static_cast<const scalar_t*>(t.grad.raw_data());
      scalar_t* buf = t.state1.defined() ? static_cast<scalar_t*>(t.state1.raw_data()) : nullptr;
      parallel_for(t.param.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
        scalar_t unused = 0;
        for (int64_t i = b; i < e; ++i) sgd_update(p[i], g[i], buf ? buf[i] : unused, o);
      });
    });
}

void CpuBackend::adam_step(const std::vector<OptimizerTensors>& tensors, const AdamParams& o) {
  const double bias1 = 1 - std::pow(o.beta1, static_cast<double>(o.step));
  const double bias2_sqrt = std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step)));
  for (const OptimizerTensors& t : tensors)
    MMP_DISPATCH_FLOATING(t.param.dtype(), "adam", [&] {
      scalar_t* p = static_cast<scalar_t*>(t.param.raw_data());
      const scalar_t* g = static_cast<const scalar_t*>(t.grad.raw_data());
      scalar_t* m = static_cast<scalar_t*>(t.state1.raw_data());
      scalar_t* v = static_cast<scalar_t*>(t.state2.raw_data());
      parallel_for(t.param.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) adam_update(p[i], g[i], m[i], v[i], o, bias1, bias2_sqrt);
      });
    });
}

void CpuBackend::scale_segments(const Tensor& flat, const std::vector<int64_t>& offsets,
                                const std::vector<int64_t>& counts, const std::vector<double>& factors) {
  MMP_DISPATCH_FLOATING(flat.dtype(), "scale_segments", [&] {
    scalar_t* x = static_cast<scalar_t*>(flat.raw_data());
    for (size_t s = 0; s < offsets.size(); ++s) {
      scalar_t* part = x + offsets[s];
      const scalar_t f = static_cast<scalar_t>(factors[s]);
      parallel_for(counts[s], kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) part[i] *= f;
      });
    }
  });
}

}  // namespace mmp::cpu
