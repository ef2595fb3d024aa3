// Events between the compute, copy and communication streams, and asynchronous uploads, for
// engine/device_queue.cpp (which has no CUDA types).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

cudaStream_t queue_stream(int device, int queue) {
  switch (queue) {
    case 1: return copy_stream(device);
    case 2: return communication_stream(device);
    default: return stream(device);
  }
}

}  // namespace

void* queue_stream_handle(int device, int queue) { return queue_stream(device, queue); }

void* event_create(int device) {
  DeviceGuard guard(device);
  cudaEvent_t event = nullptr;
  MMP_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}

void event_destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

void event_record(void* event, int device, int queue) {
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), queue_stream(device, queue)));
}

void event_wait(void* event, int device, int queue) {
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaStreamWaitEvent(queue_stream(device, queue), static_cast<cudaEvent_t>(event), 0));
}

void event_synchronize(void* event) { MMP_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

void copy_to_device_async(const void* src, void* dst, size_t bytes, int device, int queue) {
  if (bytes == 0) return;
  DeviceGuard guard(device);
  MMP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, queue_stream(device, queue)));
}

}  // namespace mmp::cuda
