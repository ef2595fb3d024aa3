// CUDA log_softmax and negative log-likelihood kernels.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/functors.h"

namespace mmp::cuda {
namespace {

// One block per row.
template <class T>
__global__ void log_softmax_kernel(const T* x, T* out, long long cols) {
  const T* row = x + blockIdx.x * cols;
  T* orow = out + blockIdx.x * cols;
  double max = -INFINITY;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) max = fmax(max, static_cast<double>(row[j]));
  max = block_max(max);
  __shared__ double shared_max, shared_lse;
  if (threadIdx.x == 0) shared_max = max;
  __syncthreads();
  max = shared_max;
  double total = 0;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) total += ::exp(static_cast<double>(row[j]) - max);
  total = block_sum(total);
  if (threadIdx.x == 0) shared_lse = max + ::log(total);
  __syncthreads();
  const double lse = shared_lse;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = static_cast<T>(row[j] - lse);
}

// One block; a label out of range is not read, and makes the loss NaN.
template <class T>
__global__ void nll_loss_kernel(const T* logp, const int64_t* labels, T* out, long long rows, long long cols) {
  __shared__ int any_bad;
  if (threadIdx.x == 0) any_bad = 0;
  __syncthreads();
  double acc = 0;
  for (long long i = threadIdx.x; i < rows; i += blockDim.x) {
    const int64_t y = labels[i];
    if (y < 0 || y >= cols) {
      any_bad = 1;
      continue;
    }
    acc -= static_cast<double>(logp[i * cols + y]);
  }
  acc = block_sum(acc);  // synchronises the block: any_bad is final
  if (threadIdx.x == 0) *out = any_bad ? static_cast<T>(nan("")) : static_cast<T>(acc / static_cast<double>(rows));
}

template <class T>
__global__ void nll_loss_backward_kernel(const T* grad_out, const int64_t* labels, T* grad, long long rows,
                                         long long cols) {
  const T value = -*grad_out / static_cast<T>(rows);
  MMP_GRID_STRIDE_LOOP(t, rows * cols) {
    const long long i = t / cols, j = t % cols;
    grad[t] = labels[i] == j ? value : T(0);
  }
}

}  // namespace

void CudaBackend::log_softmax(const Tensor& x, const Tensor& out) {
  DeviceGuard guard(device_);
  const int64_t rows = x.shape()[0], cols = x.shape()[1];
  MMP_DISPATCH_FLOATING(x.dtype(), "log_softmax", [&] {
    log_softmax_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(x.raw_data()), static_cast<scalar_t*>(out.raw_data()), cols);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) {
  DeviceGuard guard(device_);
  const int64_t rows = logp.shape()[0], cols = logp.shape()[1];
  MMP_DISPATCH_FLOATING(logp.dtype(), "nll_loss", [&] {
    nll_loss_kernel<<<1, kThreads, 0, stream(device_)>>>(static_cast<const scalar_t*>(logp.raw_data()),
                                                         labels.data<int64_t>(),
                                                         static_cast<scalar_t*>(out.raw_data()), rows, cols);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::nll_loss_backward(const Tensor& grad_out, const Tensor& labels, const Tensor& grad_logp) {
  DeviceGuard guard(device_);
  const int64_t rows = grad_logp.shape()[0], cols = grad_logp.shape()[1];
  MMP_DISPATCH_FLOATING(grad_logp.dtype(), "nll_loss_backward", [&] {
    nll_loss_backward_kernel<<<grid_for(rows * cols, kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(grad_out.raw_data()), labels.data<int64_t>(),
        static_cast<scalar_t*>(grad_logp.raw_data()), rows, cols);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
