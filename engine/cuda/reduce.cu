// CUDA reductions: sums and argmax over [outer, r, inner], and many dot products at
// once. Sums accumulate in double, as on the CPU (bf16 inputs too).
#include <algorithm>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

// inner == 1: one block per row.
template <class T>
__global__ void sum_rows_kernel(const T* x, T* out, long long r) {
  const T* row = x + blockIdx.x * r;
  double acc = 0;
  for (long long j = threadIdx.x; j < r; j += blockDim.x) acc += static_cast<double>(row[j]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<T>(acc);
}

// inner > 1: one thread per output, reading coalesced across inner.
template <class T>
__global__ void sum_columns_kernel(const T* x, T* out, long long outer, long long r, long long inner) {
  MMP_GRID_STRIDE_LOOP(t, outer * inner) {
    const T* p = x + (t / inner) * r * inner + t % inner;
    double acc = 0;
    for (long long j = 0; j < r; ++j) acc += static_cast<double>(p[j * inner]);
    out[t] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void argmax_kernel(const T* x, int64_t* out, long long outer, long long r, long long inner) {
  using C = compute_t<T>;
  MMP_GRID_STRIDE_LOOP(t, outer * inner) {
    const T* p = x + (t / inner) * r * inner + t % inner;
    long long best = 0;
    C best_value = static_cast<C>(p[0]);
    for (long long j = 1; j < r; ++j) {
      const C v = static_cast<C>(p[j * inner]);
      if (v > best_value || (v != v && best_value == best_value)) {  // NaN is the maximum, as in PyTorch
        best = j;
        best_value = v;
      }
    }
    out[t] = best;
  }
}

constexpr int kMaxPairsPerLaunch = 512;  // 12 KB of kernel parameters (CUDA 12.1+ takes 32 KB)
struct PairList {
  const void* a[kMaxPairsPerLaunch];
  const void* b[kMaxPairsPerLaunch];
  long long n[kMaxPairsPerLaunch];
};

// blockIdx.y picks the pair; the blocks along x split its elements.
template <class T>
__global__ void dots_kernel(PairList pairs, double* out) {
  const int p = blockIdx.y;
  const T* a = static_cast<const T*>(pairs.a[p]);
  const T* b = static_cast<const T*>(pairs.b[p]);
  double acc = 0;
  MMP_GRID_STRIDE_LOOP(i, pairs.n[p]) acc += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) atomicAdd(out + p, acc);
}

}  // namespace

void CudaBackend::sum(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "sum", [&] {
    const scalar_t* in = static_cast<const scalar_t*>(x.raw_data());
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    if (inner == 1) {
      sum_rows_kernel<<<static_cast<unsigned>(outer), kThreads, 0, stream(device_)>>>(in, o, r);
    } else {
      sum_columns_kernel<<<grid_for(outer * inner, kThreads, device_), kThreads, 0, stream(device_)>>>(
          in, o, outer, r, inner);
    }
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::argmax(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "argmax", [&] {
    argmax_kernel<<<grid_for(outer * inner, kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(x.raw_data()), out.data<int64_t>(), outer, r, inner);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const Tensor& out) {
  DeviceGuard guard(device_);
  double* o = out.data<double>();
  MMP_CUDA_CHECK(cudaMemsetAsync(o, 0, a.size() * sizeof(double), stream(device_)));
  for (size_t first = 0; first < a.size(); first += kMaxPairsPerLaunch) {
    const size_t count = std::min<size_t>(kMaxPairsPerLaunch, a.size() - first);
    PairList pairs{};
    long long largest = 1;
    for (size_t i = 0; i < count; ++i) {
      pairs.a[i] = a[first + i].raw_data();
      pairs.b[i] = b[first + i].raw_data();
      pairs.n[i] = a[first + i].numel();
      largest = std::max(largest, pairs.n[i]);
    }
    // Enough blocks along x for the largest tensor, about the machine's width in all.
    const int blocks = std::max(1, std::min(grid_for(largest, kThreads, device_),
                                            static_cast<int>(multiprocessor_count(device_) * 32 / count) + 1));
    const dim3 grid(blocks, static_cast<unsigned>(count));
    MMP_DISPATCH_FLOATING_BF16(a[first].dtype(), "dots", [&] {
      dots_kernel<scalar_t><<<grid, kThreads, 0, stream(device_)>>>(pairs, o + first);
    });
    MMP_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace mmp::cuda
