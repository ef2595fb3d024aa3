// CUDA Philox fills: the same counters and arithmetic as the CPU (engine/philox.h).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/philox.h"

namespace mmp::cuda {
namespace {

template <class T>
__global__ void uniform_kernel(T* out, long long n, uint64_t seed, uint64_t offset, double lo, double hi) {
  MMP_GRID_STRIDE_LOOP(i, n) out[i] = static_cast<T>(philox_uniform(seed, offset + i, lo, hi));
}

template <class T>
__global__ void normal_kernel(T* out, long long n, uint64_t seed, uint64_t offset, double mean, double std) {
  MMP_GRID_STRIDE_LOOP(i, n) out[i] = static_cast<T>(philox_normal(seed, offset + i, mean, std));
}

}  // namespace

void CudaBackend::fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING(out.dtype(), "uniform_", [&] {
    uniform_kernel<<<grid_for(out.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<scalar_t*>(out.raw_data()), out.numel(), seed, offset, lo, hi);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING(out.dtype(), "normal_", [&] {
    normal_kernel<<<grid_for(out.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<scalar_t*>(out.raw_data()), out.numel(), seed, offset, mean, std);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
