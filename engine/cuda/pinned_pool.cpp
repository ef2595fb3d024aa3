// Page-locked host memory, kept and handed out again for requests of about the same
// size: the loader builds every batch of a run in blocks of a few shapes, and
// cudaMallocHost / cudaFreeHost cost milliseconds each (and cudaFreeHost waits for the
// device). Blocks go back to the driver at exit (release_all in runtime.cpp).
#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

struct PinnedPool {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;
  std::unordered_map<void*, size_t> sizes;  // every block we own, free or not
  bool released = false;
};

PinnedPool& pool() {
  static PinnedPool* p = new PinnedPool;  // never destroyed: storages may die during exit
  return *p;
}

}  // namespace

void* pinned_allocate(size_t bytes, int device) {
  const size_t size = std::max<size_t>((bytes + 4095) / 4096 * 4096, 4096);
  PinnedPool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  MMP_CHECK(!p.released, "page-locked memory requested after the process released its devices");
  // Best fit, never more than twice the request.
  auto it = p.free_blocks.lower_bound(size);
  if (it != p.free_blocks.end() && it->first <= 2 * size) {
    void* ptr = it->second;
    p.free_blocks.erase(it);
    return ptr;
  }
  // In the training device's context (a loader thread's current device is 0 otherwise),
  // usable from any context (portable). Out of page-locked memory, the cached blocks go
  // back to the system and the allocation is tried once more.
  DeviceGuard guard(device);
  void* ptr = nullptr;
  cudaError_t status = cudaHostAlloc(&ptr, size, cudaHostAllocPortable);
  if (status != cudaSuccess) {
    cudaGetLastError();
    for (auto& [block_size, block] : p.free_blocks) {
      cudaFreeHost(block);
      p.sizes.erase(block);
    }
    p.free_blocks.clear();
    status = cudaHostAlloc(&ptr, size, cudaHostAllocPortable);
  }
  MMP_CHECK(status == cudaSuccess, "out of page-locked host memory allocating ", size, " bytes for batches (",
            cudaGetErrorString(status), "); a smaller --batch or fewer --loader-workers needs less");
  p.sizes[ptr] = size;
  return ptr;
}

void pinned_free(void* ptr) {
  PinnedPool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.sizes.find(ptr);
  if (it == p.sizes.end() || p.released) return;
  p.free_blocks.emplace(it->second, ptr);
}

void release_pinned_pool() {
  PinnedPool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (auto& [size, ptr] : p.free_blocks) {
    cudaFreeHost(ptr);
    p.sizes.erase(ptr);
  }
  p.free_blocks.clear();
  p.released = true;
}

}  // namespace mmp::cuda
