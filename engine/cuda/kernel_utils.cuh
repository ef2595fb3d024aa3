#pragma once
// Helpers shared by the CUDA kernels of the engine.
#include <cuda_runtime.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {

inline constexpr int kThreads = 256;

#define MMP_GRID_STRIDE_LOOP(i, n) \
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<long long>(blockDim.x) * gridDim.x)

// Sum of `value` over the block; the result is valid in thread 0. blockDim.x must be kThreads.
template <class T>
__device__ T block_sum(T value) {
  __shared__ T partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  value = threadIdx.x < kThreads / 32 ? partial[threadIdx.x] : T(0);
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  __syncthreads();  // partial[] may be reused by a following call
  return value;
}

template <class T>
__device__ T block_max(T value) {
  __shared__ T partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value = max(value, __shfl_down_sync(0xffffffffu, value, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  value = threadIdx.x < kThreads / 32 ? partial[threadIdx.x] : partial[0];
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) value = max(value, __shfl_down_sync(0xffffffffu, value, offset));
  __syncthreads();
  return value;
}

}  // namespace mmp::cuda
