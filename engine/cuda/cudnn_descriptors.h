#pragma once
// RAII owners of cuDNN descriptors (Flashlight's pattern): created configured,
// destroyed with their owner, never leaked on an exception.
//
// The convolution and batch-norm calls are cuDNN's v7-style API, deprecated in
// cuDNN 9 but shipped and supported by it; the deprecation warnings are silenced
// in the two files that use it.
#include <cudnn.h>

#include "engine/backend.h"
#include "engine/cuda/cuda_check.h"

namespace mmp::cuda {

inline cudnnDataType_t cudnn_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::F64: return CUDNN_DATA_DOUBLE;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    default: MMP_THROW("cuDNN: dtype ", dtype_name(dtype), " is not supported");
  }
}

// cuDNN reads alpha/beta as double for double data and as float otherwise.
struct CudnnScale {
  float f;
  double d;
  const void* for_type(DType t) const { return t == DType::F64 ? static_cast<const void*>(&d) : &f; }
};
inline constexpr CudnnScale kCudnnOne{1.0f, 1.0}, kCudnnZero{0.0f, 0.0};

class TensorDescriptor {
 public:
  TensorDescriptor(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, bool channels_last = false) {
    MMP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    MMP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                               cudnn_type(dtype), static_cast<int>(n), static_cast<int>(c),
                                               static_cast<int>(h), static_cast<int>(w)));
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

}  // namespace mmp::cuda
