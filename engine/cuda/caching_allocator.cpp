#include "engine/cuda/caching_allocator.h"

#include <array>
#include <cuda_runtime_api.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

constexpr size_t kRound = 512;

size_t rounded(size_t bytes) { return bytes == 0 ? kRound : (bytes + kRound - 1) / kRound * kRound; }

}  // namespace

CachingAllocator& CachingAllocator::get(int device) {
  // Never destroyed: freeing device memory during process exit races the driver's teardown.
  static std::array<CachingAllocator*, 16> allocators{};
  static std::mutex creation;
  std::lock_guard<std::mutex> lock(creation);
  MMP_CHECK(device >= 0 && device < device_count(), "cuda:", device, " does not exist (",
            device_count(), " CUDA devices visible)");
  if (!allocators[device]) allocators[device] = new CachingAllocator(device);
  return *allocators[device];
}

void* CachingAllocator::allocate(size_t requested) {
  const size_t size = rounded(requested);
  std::lock_guard<std::mutex> lock(mutex_);
  // Best fit, but never more than twice the request: a small tensor must not pin a large block.
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    void* ptr = it->second;
    stats_.bytes_cached -= it->first;
    stats_.bytes_in_use += it->first;
    free_blocks_.erase(it);
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return ptr;
  }
  DeviceGuard guard(device_);
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, size);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    release_free_blocks();
    status = cudaMalloc(&ptr, size);
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) cudaGetLastError();
    const auto gib = [](size_t bytes) { return str(static_cast<double>(bytes) / (1u << 30), " GiB"); };
    MMP_THROW("out of memory on cuda:", device_, " allocating ", gib(requested), " (", requested,
              " bytes): the device has ", gib(free), " free of ", gib(total), "; this process holds ",
              gib(stats_.bytes_in_use), " in tensors and ", gib(stats_.bytes_cached),
              " cached (its free blocks were given back and the allocation tried again); a smaller --batch needs "
              "less (", cudaGetErrorString(status), ")");
  }
  ++stats_.device_allocations;
  block_sizes_[ptr] = size;
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_in_use + stats_.bytes_cached);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = block_sizes_.find(ptr);
  if (it == block_sizes_.end()) return;  // not ours: nothing sane to do in a destructor
  stats_.bytes_in_use -= it->second;
  stats_.bytes_cached += it->second;
  free_blocks_.emplace(it->second, ptr);
}

void CachingAllocator::release_free_blocks() {
  // Blocks may still be read by queued kernels: wait for them before handing memory back.
  cudaStreamSynchronize(stream(device_));
  for (auto& [size, ptr] : free_blocks_) {
    cudaFree(ptr);
    block_sizes_.erase(ptr);
    stats_.bytes_cached -= size;
  }
  free_blocks_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceGuard guard(device_);
  release_free_blocks();
}

void CachingAllocator::reset_peaks() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_in_use + stats_.bytes_cached;
}

CachingAllocator::Stats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace mmp::cuda
