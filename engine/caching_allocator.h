#pragma once
// Device memory for tensors, held in segments taken from the device and cut into blocks
// as PyTorch's caching allocator does: a request takes the smallest free block that
// fits, and the rest of that block stays free for others; a freed block merges with its
// free neighbours. So a training step that repeats its shapes stops calling
// cudaMalloc/cudaFree after the first step, and memory freed as one large tensor serves
// several smaller ones. (Replaying the allocations of a batch-64 MMPareto step, recorded
// on the CPU: 5631 MiB live at most, 6276 MiB held; whole blocks reused only for requests
// of at least half their size held 6749 MiB.)
// All work runs on the device's one stream (cuda/runtime.h), so a block freed by the
// host may be reused at once: later kernels are queued after the ones that used it.
//
// Sizes: requests are rounded to 512 bytes. Those of at most 1 MiB share 2 MiB
// segments; larger ones take 20 MiB segments below 10 MiB and their size rounded to
// 2 MiB above, and a large block is split only when more than 1 MiB would be left over.
//
// The policy (reuse, giving the cache back and trying once more when the device is out
// of memory, the error that says what to do) is apart from the device calls, which a
// BlockSource makes: CUDA's in cuda/device_blocks.cpp, a bounded fake in the CPU tests.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
    size_t bytes_in_use = 0;  // in blocks handed out (requests rounded as above)
    size_t bytes_cached = 0;  // in free blocks of the segments held
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
  // Returns every wholly free segment of the shared cache to the source (a pool's stay).
  void empty_cache();
  Stats stats();
  // The peaks start again from what is held now (`mmp train --compare`: one per method).
  void reset_peaks();

  // Private pools, for CUDA graph capture: while a pool is current on a thread, that
  // thread's allocations take blocks for the pool and its frees return them to it, never
  // to the shared cache, so the addresses a captured graph reads and writes stay its own
  // for as long as the graph may be replayed. A pool's blocks merge only with its own. No
  // segment is given back to the source while a pool is current (the device may not
  // synchronize during a capture).
  int create_pool();
  void begin_pool(int pool);  // current for the calling thread
  void end_pool();
  // The pool's free blocks join the shared cache; those still in use join it when freed.
  void release_pool(int pool);

 private:
  struct Block {
    char* address = nullptr;
    size_t size = 0;
    bool free = true;
    bool small = false;  // of a 2 MiB segment
    int pool = -1;       // -1: the shared cache
    Block* prev = nullptr;  // the neighbours in the same segment
    Block* next = nullptr;
  };
  struct BySizeThenAddress {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->address < b->address;
    }
  };
  struct FreeBlocks {
    std::set<Block*, BySizeThenAddress> small, large;
    std::set<Block*, BySizeThenAddress>& of(const Block* b) { return b->small ? small : large; }
  };

  // The free blocks a block of `pool` goes to (-1: the shared cache).
  FreeBlocks& free_blocks(int pool);
  // The smallest free block of `blocks` that holds `size`, claimed for `pool`; null if none.
  Block* take(FreeBlocks& blocks, size_t size, bool small, int pool);
  // Hands out the first `size` bytes of free block `b` (already off its list) to `pool`,
  // leaving the rest free when it is worth keeping.
  void claim(Block* b, size_t size, int pool);
  // A new segment holding at least `size`, as one free block of `pool`; out of room, the
  // shared cache goes back first, and failing that the error says what to do.
  Block* new_segment(size_t size, bool small, size_t requested, int pool);
  // Gives the shared cache's wholly free segments back (with mutex_ held); false if none.
  bool release_free_segments();
  int current_pool() const;       // with mutex_ held; -1: none

  std::unique_ptr<BlockSource> source_;
  std::mutex mutex_;
  FreeBlocks shared_;                                      // the shared cache
  std::map<int, FreeBlocks> pools_;                        // each live pool's free blocks
  std::unordered_map<void*, std::unique_ptr<Block>> blocks_;  // every block, by address
  std::unordered_map<std::thread::id, int> current_pool_;
  int next_pool_ = 0;
  Stats stats_;
};

}  // namespace mmp
