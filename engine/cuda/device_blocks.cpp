#include "engine/cuda/device_blocks.h"

#include <array>
#include <cuda_runtime_api.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

class CudaBlocks : public BlockSource {
 public:
  explicit CudaBlocks(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    DeviceGuard guard(device_);
    void* ptr = nullptr;
    // During a graph capture cudaMalloc counts as unsafe (it is not queued, so a replay
    // would not repeat it); the block belongs to the graph's pool, so it is safe here.
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    MMP_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    const cudaError_t status = cudaMalloc(&ptr, bytes);
    MMP_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it so later calls do not report it
      return nullptr;
    }
    MMP_CUDA_CHECK(status);
    return ptr;
  }
  void release(void* block) override {
    DeviceGuard guard(device_);
    cudaFree(block);
  }
  void synchronize() override { cudaStreamSynchronize(stream(device_)); }
  Room room() override {
    DeviceGuard guard(device_);
    Room r;
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;  // allowed during a capture too
    cudaThreadExchangeStreamCaptureMode(&mode);
    if (cudaMemGetInfo(&r.free, &r.total) != cudaSuccess) cudaGetLastError();
    cudaThreadExchangeStreamCaptureMode(&mode);
    return r;
  }
  std::string name() const override { return str("cuda:", device_); }

 private:
  int device_;
};

}  // namespace

CachingAllocator& device_allocator(int device) {
  // Never destroyed: freeing device memory during process exit races the driver's teardown.
  static std::array<CachingAllocator*, 16> allocators{};
  static std::mutex creation;
  std::lock_guard<std::mutex> lock(creation);
  MMP_CHECK(device >= 0 && device < device_count(), "cuda:", device, " does not exist (",
            device_count(), " CUDA devices visible)");
  if (!allocators[device]) allocators[device] = new CachingAllocator(std::make_unique<CudaBlocks>(device));
  return *allocators[device];
}

}  // namespace mmp::cuda
