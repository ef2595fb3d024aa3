// Events between the compute and copy streams, and asynchronous uploads, for
// engine/device_queue.cpp (which has no CUDA types).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

cudaStream_t queue_stream(int device, bool copy_queue) { return copy_queue ? copy_stream(device) : stream(device); }

}  // namespace

void* compute_stream_handle(int device) { return stream(device); }

void* event_create(int device) {
  DeviceGuard guard(device);
  cudaEvent_t event = nullptr;
  MMP_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}

void event_destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

void event_record(void* event, int device, bool copy_queue) {
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), queue_stream(device, copy_queue)));
}

void event_wait(void* event, int device, bool copy_queue) {
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaStreamWaitEvent(queue_stream(device, copy_queue), static_cast<cudaEvent_t>(event), 0));
}

void event_synchronize(void* event) { MMP_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

void copy_to_device_async(const void* src, void* dst, size_t bytes, int device, bool copy_queue) {
  if (bytes == 0) return;
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, queue_stream(device, copy_queue)));
}

}  // namespace mmp::cuda
