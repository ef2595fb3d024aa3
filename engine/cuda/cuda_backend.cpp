// The CUDA backend's host-side parts: the registry, transfers, and cuBLAS GEMM.
#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {

CudaBackend& backend(int device) {
  static std::array<std::unique_ptr<CudaBackend>, 16> backends;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  MMP_CHECK(device >= 0 && device < device_count(), "cuda:", device, " is not available (",
            device_count(), " CUDA devices visible",
            device_count() == 0 ? "; is there a GPU and a driver on this machine?" : "", ")");
  if (!backends[device]) backends[device] = std::make_unique<CudaBackend>(device);
  return *backends[device];
}

void CudaBackend::synchronize() { cuda::synchronize(device_); }

std::string device_name(int device) {
  cudaDeviceProp props{};
  MMP_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  return props.name;
}

Tensor device_scratch(size_t bytes, int device) {
  return Tensor::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, DType::U8, Device::cuda(device));
}

void copy_between_devices(const Tensor& src, const Tensor& dst) {
  const size_t bytes = src.numel() * dtype_size(src.dtype());
  if (bytes == 0) return;
  const Device from = src.device(), to = dst.device();
  if (from.is_cpu() && to.is_cuda()) {
    DeviceGuard guard(to.index);
    MMP_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyHostToDevice, stream(to.index)));
    // The host buffer may be freed as soon as we return.
    synchronize(to.index);
  } else if (from.is_cuda() && to.is_cpu()) {
    DeviceGuard guard(from.index);
    MMP_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToHost, stream(from.index)));
    synchronize(from.index);
  } else {
    // Device to device: order after the source's queued work, then let the target's queue wait.
    synchronize(from.index);
    DeviceGuard guard(to.index);
    MMP_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), to.index, src.raw_data(), from.index, bytes, stream(to.index)));
    synchronize(to.index);
  }
}

void CudaBackend::gemm(const GemmArgs& g) {
  // cuBLAS is column-major: a row-major [r, c] matrix is its column-major transpose,
  // so C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped.
  DeviceGuard guard(device_);
  cublasHandle_t handle = cublas(device_);
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(g.n), n = static_cast<int>(g.m), k = static_cast<int>(g.k);
  const int lda = static_cast<int>(g.ldb), ldb = static_cast<int>(g.lda), ldc = static_cast<int>(g.ldc);
  if (g.dtype == DType::BF16 || (g.dtype == DType::F32 && g.allow_tf32)) {
    // bf16 operands and results, f32 accumulation; or f32 with TF32 tensor-core products.
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    const cudaDataType_t type = g.dtype == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t compute = g.dtype == DType::BF16 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    MMP_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, g.b, type, lda, g.stride_b, g.a,
                                                type, ldb, g.stride_a, &beta, g.c, type, ldc, g.stride_c,
                                                static_cast<int>(g.batch), compute, CUBLAS_GEMM_DEFAULT));
  } else if (g.dtype == DType::F32) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    MMP_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, m, n, k, &alpha,
                                               static_cast<const float*>(g.b), lda, g.stride_b,
                                               static_cast<const float*>(g.a), ldb, g.stride_a, &beta,
                                               static_cast<float*>(g.c), ldc, g.stride_c, static_cast<int>(g.batch)));
  } else if (g.dtype == DType::F64) {
    const double alpha = g.alpha, beta = g.beta;
    MMP_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, op_b, op_a, m, n, k, &alpha,
                                               static_cast<const double*>(g.b), lda, g.stride_b,
                                               static_cast<const double*>(g.a), ldb, g.stride_a, &beta,
                                               static_cast<double*>(g.c), ldc, g.stride_c, static_cast<int>(g.batch)));
  } else {
    MMP_THROW("gemm on CUDA: dtype ", dtype_name(g.dtype), " is not supported");
  }
}

}  // namespace mmp::cuda
