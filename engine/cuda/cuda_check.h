#pragma once
// One checking macro per CUDA library: every return code is checked and a failure
// becomes an mmp::Error naming the call and the library's own message.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "engine/error.h"

namespace mmp::cuda {
const char* cublas_status_name(cublasStatus_t status);
}

#define MMP_CUDA_CHECK(call)                                                                \
  do {                                                                                      \
    const cudaError_t mmp_status_ = (call);                                                 \
    if (mmp_status_ != cudaSuccess) [[unlikely]]                                            \
      MMP_THROW("CUDA error in ", #call, ": ", cudaGetErrorString(mmp_status_));            \
  } while (0)

// After a kernel launch: reports bad launch configurations at once.
#define MMP_CUDA_CHECK_LAUNCH() MMP_CUDA_CHECK(cudaGetLastError())

#define MMP_CUBLAS_CHECK(call)                                                              \
  do {                                                                                      \
    const cublasStatus_t mmp_status_ = (call);                                              \
    if (mmp_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                  \
      MMP_THROW("cuBLAS error in ", #call, ": ", ::mmp::cuda::cublas_status_name(mmp_status_)); \
  } while (0)

#define MMP_CUDNN_CHECK(call)                                                               \
  do {                                                                                      \
    const cudnnStatus_t mmp_status_ = (call);                                               \
    if (mmp_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                   \
      MMP_THROW("cuDNN error in ", #call, ": ", cudnnGetErrorString(mmp_status_));          \
  } while (0)
