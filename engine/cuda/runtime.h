#pragma once
// The CUDA runtime state of the process, in one place: per device a compute stream
// (every kernel, copy and library call of the engine is queued on it, so memory freed
// to the caching allocator can be reused at once), a copy stream (host-to-device
// uploads of the next batch while a step computes), a communication stream (NCCL's
// all-reduces beside the next backward sweep), ordered with events
// (engine/device_queue.h), and the library handles bound to the compute stream.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

namespace mmp::cuda {

int device_count();  // 0 when there is no driver or no device; never throws
cudaStream_t stream(int device);
cudaStream_t copy_stream(int device);
cudaStream_t communication_stream(int device);
cublasHandle_t cublas(int device);
cudnnHandle_t cudnn(int device);
void synchronize(int device);
int multiprocessor_count(int device);

// Makes `device` current for the scope.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// Grid size for a grid-stride loop over n elements.
int grid_for(long long n, int threads, int device);

// How many blocks of `threads` threads of `kernel` (a __global__ function's address) one
// multiprocessor of `device` holds at once, given the kernel's registers and shared
// memory; asked of the driver once per kernel and device.
int resident_blocks(const void* kernel, int threads, int device);

}  // namespace mmp::cuda
