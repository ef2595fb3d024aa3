#pragma once
// Device memory for tensors. Freed blocks are kept and handed out again for requests
// of about their size, so a training step that repeats its shapes stops calling
// cudaMalloc/cudaFree after the first step. All work runs on the device's one
// stream (cuda/runtime.h), so a block freed by the host may be reused at once: later
// kernels are queued after the ones that used it.
//
// The policy (reuse, giving the cache back and trying once more when the device is out
// of memory, the error that says what to do) is apart from the device calls, which a
// BlockSource makes: CUDA's in cuda/device_blocks.cpp, a bounded fake in the CPU tests.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mmp {

// Where the allocator's blocks come from.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // A block of `bytes`, or null when the device has no room for it (any other failure throws).
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* block) = 0;
  // Waits until no queued work can still use a block the host has freed.
  virtual void synchronize() = 0;
  struct Room {
    size_t free = 0, total = 0;
  };
  virtual Room room() = 0;
  virtual std::string name() const = 0;  // "cuda:0", for errors
};

class CachingAllocator {
 public:
  struct Stats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;  // held in free blocks
    size_t peak_bytes_in_use = 0;
    size_t peak_bytes_reserved = 0;  // in use + cached: what the process holds on the device
    size_t device_allocations = 0;  // blocks taken from the source so far
  };

  explicit CachingAllocator(std::unique_ptr<BlockSource> source) : source_(std::move(source)) {}
  // Out of room, the cached blocks go back to the source and the allocation is tried once
  // more; failing again throws an error naming the size, the device's free and total bytes,
  // what this process holds, and that a smaller --batch needs less.
  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  // Returns every free block to the source.
  void empty_cache();
  Stats stats();
  // The peaks start again from what is held now (`mmp train --compare`: one per method).
  void reset_peaks();

 private:
  void release_free_blocks();  // with mutex_ held

  std::unique_ptr<BlockSource> source_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;
  std::unordered_map<void*, size_t> block_sizes_;  // every block we own, free or not
  Stats stats_;
};

}  // namespace mmp
