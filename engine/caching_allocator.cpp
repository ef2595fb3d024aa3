#include "engine/caching_allocator.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/error.h"

namespace mmp {
namespace {

constexpr size_t kRound = 512;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kSmallRequest = kMiB;       // at most this comes from small segments
constexpr size_t kSmallSegment = 2 * kMiB;
constexpr size_t kMediumSegment = 20 * kMiB;  // for requests under kLargeRequest
constexpr size_t kLargeRequest = 10 * kMiB;
constexpr size_t kSegmentRound = 2 * kMiB;

size_t round_up(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

size_t rounded(size_t bytes) { return bytes == 0 ? kRound : round_up(bytes, kRound); }

std::string gib(size_t bytes) { return str(static_cast<double>(bytes) / (1u << 30), " GiB"); }

}  // namespace

CachingAllocator::FreeBlocks& CachingAllocator::free_blocks(int pool) {
  return pool < 0 ? shared_ : pools_.at(pool);
}

CachingAllocator::Block* CachingAllocator::take(FreeBlocks& blocks, size_t size, bool small, int pool) {
  auto& candidates = small ? blocks.small : blocks.large;
  Block key;
  key.size = size;
  const auto it = candidates.lower_bound(&key);
  if (it == candidates.end()) return nullptr;
  Block* b = *it;
  candidates.erase(it);
  claim(b, size, pool);
  return b;
}

void CachingAllocator::claim(Block* b, size_t size, int pool) {
  const size_t rest = b->size - size;
  // A large block's remainder of 1 MiB or less stays with it: small requests never
  // take large blocks, and a sliver between two tensors would only fragment the segment.
  if (rest >= (b->small ? kRound : kSmallRequest + 1)) {
    auto remainder = std::make_unique<Block>();
    remainder->address = b->address + size;
    remainder->size = rest;
    remainder->small = b->small;
    remainder->pool = b->pool;  // a shared block joining a pool leaves its rest shared
    remainder->prev = b;
    remainder->next = b->next;
    if (b->next != nullptr) b->next->prev = remainder.get();
    b->next = remainder.get();
    b->size = size;
    free_blocks(remainder->pool).of(remainder.get()).insert(remainder.get());
    blocks_.emplace(remainder->address, std::move(remainder));
  }
  b->free = false;
  b->pool = pool;
  stats_.bytes_cached -= b->size;
  stats_.bytes_in_use += b->size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
}

int CachingAllocator::current_pool() const {
  const auto it = current_pool_.find(std::this_thread::get_id());
  return it == current_pool_.end() ? -1 : it->second;
}

void* CachingAllocator::allocate(size_t requested) {
  MMP_CHECK(requested <= SIZE_MAX - kSegmentRound, "cannot allocate ", requested, " bytes on ", source_->name());
  const size_t size = rounded(requested);
  const bool small = size <= kSmallRequest;
  std::lock_guard<std::mutex> lock(mutex_);
  const int pool = current_pool();
  Block* b = pool >= 0 ? take(pools_.at(pool), size, small, pool) : nullptr;
  // A block of the shared cache may join a pool: no live tensor holds it, and the work
  // that used it is queued before anything the pool's graph does.
  if (b == nullptr) b = take(shared_, size, small, pool);
  if (b == nullptr) {
    b = new_segment(size, small, requested, pool);
    free_blocks(pool).of(b).erase(b);
    claim(b, size, pool);
  }
  return b->address;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool small, size_t requested, int pool) {
  const size_t minimal = small ? kSmallSegment : round_up(size, kSegmentRound);
  const size_t preferred = small ? kSmallSegment : size < kLargeRequest ? kMediumSegment : minimal;
  size_t segment = preferred;
  auto try_source = [&] {
    void* ptr = source_->allocate(preferred);
    if (ptr == nullptr && minimal != preferred) {
      ptr = source_->allocate(minimal);
      segment = minimal;
    }
    return ptr;
  };
  void* ptr = try_source();
  // Giving segments back waits for the device, which no thread may do during a capture.
  if (ptr == nullptr && current_pool_.empty() && release_free_segments()) {
    segment = preferred;
    ptr = try_source();
  }
  if (ptr == nullptr) {
    const BlockSource::Room room = source_->room();
    MMP_THROW("out of memory on ", source_->name(), " allocating ", gib(requested), " (", requested,
              " bytes): the device has ", gib(room.free), " free of ", gib(room.total), "; this process holds ",
              gib(stats_.bytes_in_use), " in tensors and ", gib(stats_.bytes_cached),
              current_pool_.empty()
                  ? " cached (its free segments were given back and the allocation tried again)"
                  : " cached (while a CUDA graph was captured, when nothing can be given back: try without "
                    "--cuda-graph)",
              "; a smaller --batch needs less");
  }
  ++stats_.device_allocations;
  auto block = std::make_unique<Block>();
  block->address = static_cast<char*>(ptr);
  block->size = segment;
  block->small = small;
  block->pool = pool;
  Block* b = block.get();
  blocks_.emplace(b->address, std::move(block));
  free_blocks(pool).of(b).insert(b);
  stats_.bytes_cached += segment;
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_in_use + stats_.bytes_cached);
  return b;
}

void CachingAllocator::deallocate(void* ptr) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = blocks_.find(ptr);
  if (it == blocks_.end() || it->second->free) return;  // not ours: nothing sane to do in a destructor
  Block* b = it->second.get();
  b->free = true;
  stats_.bytes_in_use -= b->size;
  stats_.bytes_cached += b->size;
  FreeBlocks& blocks = free_blocks(b->pool);
  // Merges `next` into `first`, both free blocks of one owner, `next` off its list.
  auto merge = [&](Block* first, Block* next) {
    first->size += next->size;
    first->next = next->next;
    if (next->next != nullptr) next->next->prev = first;
    blocks_.erase(next->address);
  };
  if (Block* next = b->next; next != nullptr && next->free && next->pool == b->pool) {
    blocks.of(next).erase(next);
    merge(b, next);
  }
  if (Block* prev = b->prev; prev != nullptr && prev->free && prev->pool == b->pool) {
    blocks.of(prev).erase(prev);
    merge(prev, b);
    b = prev;
  }
  blocks.of(b).insert(b);
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
  std::vector<void*> freed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    // Every block of the pool becomes shared; the free ones are handed out of the pool
    // and freed again below, which merges them with their shared neighbours.
    for (auto& [address, b] : blocks_) {
      if (b->pool != pool) continue;
      if (b->free) {
        it->second.of(b.get()).erase(b.get());
        b->free = false;
        stats_.bytes_cached -= b->size;
        stats_.bytes_in_use += b->size;
        freed.push_back(address);
      }
      b->pool = -1;
    }
    pools_.erase(it);
    for (auto c = current_pool_.begin(); c != current_pool_.end();)
      c = c->second == pool ? current_pool_.erase(c) : std::next(c);
  }
  for (void* address : freed) deallocate(address);
}

bool CachingAllocator::release_free_segments() {
  std::vector<Block*> whole;
  for (const auto* list : {&shared_.small, &shared_.large})
    for (Block* b : *list)
      if (b->prev == nullptr && b->next == nullptr) whole.push_back(b);
  if (whole.empty()) return false;
  // Blocks may still be read by queued kernels: wait for them before handing memory back.
  source_->synchronize();
  for (Block* b : whole) {
    shared_.of(b).erase(b);
    source_->release(b->address);
    stats_.bytes_cached -= b->size;
    blocks_.erase(b->address);
  }
  return true;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!current_pool_.empty()) return;  // a capture is under way: the device may not synchronize
  release_free_segments();
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
