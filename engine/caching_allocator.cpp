#include "engine/caching_allocator.h"

#include <algorithm>
#include <cstdint>

#include "engine/error.h"

namespace mmp {
namespace {

constexpr size_t kRound = 512;

size_t rounded(size_t bytes) { return bytes == 0 ? kRound : (bytes + kRound - 1) / kRound * kRound; }

std::string gib(size_t bytes) { return str(static_cast<double>(bytes) / (1u << 30), " GiB"); }

}  // namespace

void* CachingAllocator::allocate(size_t requested) {
  MMP_CHECK(requested <= SIZE_MAX - kRound, "cannot allocate ", requested, " bytes on ", source_->name());
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
  void* ptr = source_->allocate(size);
  if (ptr == nullptr && !free_blocks_.empty()) {
    release_free_blocks();
    ptr = source_->allocate(size);
  }
  if (ptr == nullptr) {
    const BlockSource::Room room = source_->room();
    MMP_THROW("out of memory on ", source_->name(), " allocating ", gib(requested), " (", requested,
              " bytes): the device has ", gib(room.free), " free of ", gib(room.total), "; this process holds ",
              gib(stats_.bytes_in_use), " in tensors and ", gib(stats_.bytes_cached),
              " cached (its free blocks were given back and the allocation tried again); a smaller --batch needs "
              "less");
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
