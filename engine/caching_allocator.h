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
#include <thread>
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
  // Returns every free block of the shared cache to the source (a pool's stay).
  void empty_cache();
  Stats stats();
  // The peaks start again from what is held now (`mmp train --compare`: one per method).
  void reset_peaks();

  // Private pools, for CUDA graph capture: while a pool is current on a thread, that
  // thread's allocations take blocks for the pool and its frees return them to it, never
  // to the shared cache, so the addresses a captured graph reads and writes stay its own
  // for as long as the graph may be replayed. Within the pool blocks are reused in
  // allocation order, which a replay repeats. No block is given back to the source while
  // a pool is current (the device may not synchronize during a capture).
  int create_pool();
  void begin_pool(int pool);  // current for the calling thread
  void end_pool();
  // The pool's free blocks join the shared cache; those still in use join it when freed.
  void release_pool(int pool);

 private:
  void release_free_blocks();  // with mutex_ held

  using FreeBlocks = std::multimap<size_t, void*>;
  // Takes a block of `size` from `blocks`: the best fit, never more than twice the size
  // (a small tensor must not pin a large block). Null if none fits.
  void* take(FreeBlocks& blocks, size_t size);
  // A new block of `size` (`requested` by the caller) from the source; out of room, the
  // shared cache goes back first, and failing that the error says what to do.
  void* allocate_from_source(size_t size, size_t requested);
  int current_pool() const;  // with mutex_ held; -1: none

  std::unique_ptr<BlockSource> source_;
  std::mutex mutex_;
  FreeBlocks free_blocks_;                         // the shared cache
  std::unordered_map<void*, size_t> block_sizes_;  // every block we own, free or not
  std::map<int, FreeBlocks> pools_;                // each live pool's free blocks
  std::unordered_map<void*, int> block_pool_;      // blocks that belong to a live pool
  std::unordered_map<std::thread::id, int> current_pool_;
  int next_pool_ = 0;
  Stats stats_;
};

}  // namespace mmp
