#include "engine/caching_allocator.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "engine/error.h"

namespace mmp {
namespace {

constexpr size_t kRound = 512;

size_t rounded(size_t bytes) { return bytes == 0 ? kRound : (bytes + kRound - 1) / kRound * kRound; }

std::string gib(size_t bytes) { return str(static_cast<double>(bytes) / (1u << 30), " GiB"); }

}  // namespace

void* CachingAllocator::take(FreeBlocks& blocks, size_t size) {
  auto it = blocks.lower_bound(size);
  if (it == blocks.end() || it->first > 2 * size) return nullptr;
  void* ptr = it->second;
  stats_.bytes_cached -= it->first;
  stats_.bytes_in_use += it->first;
  blocks.erase(it);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return ptr;
}

int CachingAllocator::current_pool() const {
  const auto it = current_pool_.find(std::this_thread::get_id());
  return it == current_pool_.end() ? -1 : it->second;
}

void* CachingAllocator::allocate(size_t requested) {
  MMP_CHECK(requested <= SIZE_MAX - kRound, "cannot allocate ", requested, " bytes on ", source_->name());
  const size_t size = rounded(requested);
  std::lock_guard<std::mutex> lock(mutex_);
  const int pool = current_pool();
  void* ptr = pool >= 0 ? take(pools_.at(pool), size) : nullptr;
  // A block of the shared cache may join a pool: no live tensor holds it, and the work
  // that used it is queued before anything the pool's graph does.
  if (ptr == nullptr) ptr = take(free_blocks_, size);
  if (ptr == nullptr) ptr = allocate_from_source(size, requested);
  if (pool >= 0) block_pool_[ptr] = pool;
  return ptr;
}

void* CachingAllocator::allocate_from_source(size_t size, size_t requested) {
  void* ptr = source_->allocate(size);
  // Giving blocks back waits for the device, which no thread may do during a capture.
  if (ptr == nullptr && current_pool_.empty() && !free_blocks_.empty()) {
    release_free_blocks();
    ptr = source_->allocate(size);
  }
  if (ptr == nullptr) {
    const BlockSource::Room room = source_->room();
    MMP_THROW("out of memory on ", source_->name(), " allocating ", gib(requested), " (", requested,
              " bytes): the device has ", gib(room.free), " free of ", gib(room.total), "; this process holds ",
              gib(stats_.bytes_in_use), " in tensors and ", gib(stats_.bytes_cached),
              current_pool_.empty()
                  ? " cached (its free blocks were given back and the allocation tried again)"
                  : " cached (while a CUDA graph was captured, when nothing can be given back: try without "
                    "--cuda-graph)",
              "; a smaller --batch needs less");
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
  const auto owner = block_pool_.find(ptr);
  (owner == block_pool_.end() ? free_blocks_ : pools_.at(owner->second)).emplace(it->second, ptr);
}

int CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  pools_[next_pool_];
  return next_pool_++;
}

void CachingAllocator::begin_pool(int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  MMP_CHECK(pools_.count(pool) == 1, "no memory pool ", pool, " on ", source_->name());
  MMP_CHECK(current_pool() < 0, "a memory pool is already current on this thread (", source_->name(), ")");
  current_pool_[std::this_thread::get_id()] = pool;
}

void CachingAllocator::end_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  current_pool_.erase(std::this_thread::get_id());
}

void CachingAllocator::release_pool(int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  free_blocks_.insert(it->second.begin(), it->second.end());
  pools_.erase(it);
  for (auto b = block_pool_.begin(); b != block_pool_.end();) b = b->second == pool ? block_pool_.erase(b) : std::next(b);
  for (auto c = current_pool_.begin(); c != current_pool_.end();)
    c = c->second == pool ? current_pool_.erase(c) : std::next(c);
}

void CachingAllocator::release_free_blocks() {
  // Blocks may still be read by queued kernels: wait for them before handing memory back.
  source_->synchronize();
  for (auto& [size, ptr] : free_blocks_) {
    source_->release(ptr);
    block_sizes_.erase(ptr);
    stats_.bytes_cached -= size;
  }
  free_blocks_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!current_pool_.empty()) return;  // a capture is under way: the device may not synchronize
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

}  // namespace mmp
