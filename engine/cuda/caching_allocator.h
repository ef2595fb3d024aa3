#pragma once
// Device memory for tensors. Freed blocks are kept and handed out again for requests
// of about their size, so a training step that repeats its shapes stops calling
// cudaMalloc/cudaFree after the first step. All work runs on the device's one
// stream (runtime.h), so a block freed by the host may be reused at once: later
// kernels are queued after the ones that used it.
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace mmp::cuda {

class CachingAllocator {
 public:
  struct Stats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;  // held in free blocks
    size_t peak_bytes_in_use = 0;
    size_t peak_bytes_reserved = 0;  // in use + cached: what the process holds on the device
    size_t device_allocations = 0;  // cudaMalloc calls so far
  };

  static CachingAllocator& get(int device);
  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  // Returns every free block to the driver.
  void empty_cache();
  Stats stats();
  // The peaks start again from what is held now (`mmp train --compare`: one per method).
  void reset_peaks();

 private:
  explicit CachingAllocator(int device) : device_(device) {}
  void release_free_blocks();  // with mutex_ held

  int device_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;
  std::unordered_map<void*, size_t> block_sizes_;  // every block we own, free or not
  Stats stats_;
};

}  // namespace mmp::cuda
