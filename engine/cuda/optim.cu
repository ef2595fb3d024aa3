// CUDA optimizer updates over the shared rules of engine/optim_math.h.
#include <cmath>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, long long n, SgdParams o) {
  MMP_GRID_STRIDE_LOOP(i, n) {
    T unused = 0;
    sgd_update(p[i], g[i], buf ? buf[i] : unused, o);
  }
}

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, long long n, AdamParams o, double bias1, double bias2_sqrt) {
  MMP_GRID_STRIDE_LOOP(i, n) adam_update(p[i], g[i], m[i], v[i], o, bias1, bias2_sqrt);
}

}  // namespace

void CudaBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdParams& o) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING(param.dtype(), "sgd", [&] {
    sgd_kernel<<<grid_for(param.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<scalar_t*>(param.raw_data()), static_cast<const scalar_t*>(grad.raw_data()),
        momentum_buffer.defined() ? static_cast<scalar_t*>(momentum_buffer.raw_data()) : nullptr, param.numel(), o);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const AdamParams& o) {
  DeviceGuard guard(device_);
  const double bias1 = 1 - std::pow(o.beta1, static_cast<double>(o.step));
  const double bias2_sqrt = std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step)));
  MMP_DISPATCH_FLOATING(param.dtype(), "adam", [&] {
    adam_kernel<<<grid_for(param.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<scalar_t*>(param.raw_data()), static_cast<const scalar_t*>(grad.raw_data()),
        static_cast<scalar_t*>(exp_avg.raw_data()), static_cast<scalar_t*>(exp_avg_sq.raw_data()), param.numel(), o,
        bias1, bias2_sqrt);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
