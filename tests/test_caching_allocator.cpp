// The caching allocator's policy against a bounded fake device: segments cut into blocks
// and merged again, giving the cache back and trying once more when out of memory, and the error that
// follows when even that fails. The CUDA source of blocks is checked on a GPU
// (tests/cuda/test_cuda_ops.cpp); the policy is the same code.
#include <catch2/catch.hpp>
#include <cstdint>
#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "engine/caching_allocator.h"
#include "engine/error.h"

using namespace mmp;
using Catch::Matchers::Contains;

namespace {

// A device of `capacity` bytes that records what is asked of it.
struct FakeDevice {
  size_t capacity = 0, used = 0;
  std::vector<std::string> calls;  // "allocate", "release", "synchronize", in order
};

class FakeBlocks : public BlockSource {
 public:
  explicit FakeBlocks(FakeDevice& device) : device_(device) {}
  void* allocate(size_t bytes) override {
    device_.calls.push_back("allocate");
    if (bytes > device_.capacity - device_.used) return nullptr;
    // Addresses only: the allocator never touches the memory, so none is taken.
    void* block = reinterpret_cast<void*>(next_address_);
    next_address_ += bytes;
    sizes_[block] = bytes;
    device_.used += bytes;
    return block;
  }
  void release(void* block) override {
    device_.calls.push_back("release");
    const auto it = sizes_.find(block);
    REQUIRE(it != sizes_.end());  // a block of this source, given back once
    device_.used -= it->second;
    sizes_.erase(it);
  }
  void synchronize() override { device_.calls.push_back("synchronize"); }
  Room room() override { return {device_.capacity - device_.used, device_.capacity}; }
  std::string name() const override { return "fake:0"; }

 private:
  FakeDevice& device_;
  std::map<void*, size_t> sizes_;
  uintptr_t next_address_ = 4096;
};

constexpr size_t kMiB = size_t{1} << 20, kGiB = size_t{1} << 30;

}  // namespace

TEST_CASE("the caching allocator cuts segments into blocks and merges freed neighbours", "[unit][engine]") {
  FakeDevice device;
  device.capacity = 256 * kMiB;
  CachingAllocator allocator(std::make_unique<FakeBlocks>(device));
  auto at = [](void* base, size_t offset) { return static_cast<void*>(static_cast<char*>(base) + offset); };

  SECTION("requests up to 1 MiB share 2 MiB segments, rounded to 512 bytes") {
    void* a = allocator.allocate(256 * 1024);
    void* b = allocator.allocate(1000);
    CHECK(b == at(a, 256 * 1024));
    CHECK(allocator.stats().bytes_in_use == 256 * 1024 + 1024);
    CHECK(allocator.stats().bytes_cached == 2 * kMiB - 256 * 1024 - 1024);
    CHECK(device.used == 2 * kMiB);
    allocator.deallocate(a);
    allocator.deallocate(b);
    CHECK(allocator.allocate(kMiB) == a);  // the two merged with the rest of the segment
    CHECK(allocator.stats().device_allocations == 1);
    allocator.deallocate(a);
  }
  SECTION("memory freed as one large tensor serves several smaller ones") {
    void* big = allocator.allocate(40 * kMiB);
    allocator.deallocate(big);
    void* first = allocator.allocate(16 * kMiB);
    void* second = allocator.allocate(24 * kMiB);
    CHECK(first == big);
    CHECK(second == at(big, 16 * kMiB));
    CHECK(allocator.stats().device_allocations == 1);
    allocator.deallocate(second);
    allocator.deallocate(first);
    CHECK(allocator.allocate(40 * kMiB) == big);  // merged again, whatever the order of the frees
    allocator.deallocate(big);
  }
  SECTION("requests under 10 MiB take 20 MiB segments, larger ones their size rounded to 2 MiB") {
    void* large = allocator.allocate(11 * kMiB + 1);
    CHECK(device.used == 12 * kMiB);
    void* medium = allocator.allocate(3 * kMiB);
    CHECK(device.used == 32 * kMiB);
    void* later = allocator.allocate(15 * kMiB);  // the rest of the 20 MiB serves any large request
    CHECK(later == static_cast<char*>(medium) + 3 * kMiB);
    CHECK(allocator.stats().device_allocations == 2);
    allocator.deallocate(later);
    allocator.deallocate(medium);
    allocator.deallocate(large);
  }
  SECTION("a large block is split only when more than 1 MiB is left over, and small requests keep out") {
    void* block = allocator.allocate(12 * kMiB);
    allocator.deallocate(block);
    CHECK(allocator.allocate(11 * kMiB) == block);
    CHECK(allocator.stats().bytes_in_use == 12 * kMiB);  // its last MiB was not worth a block
    allocator.deallocate(block);
    void* small = allocator.allocate(kMiB);
    CHECK(small != block);  // a small request does not pin a large block
    CHECK(allocator.stats().device_allocations == 2);
    allocator.deallocate(small);
  }
  SECTION("only wholly free segments are given back") {
    void* a = allocator.allocate(4 * kMiB);
    void* b = allocator.allocate(4 * kMiB);
    CHECK(b == at(a, 4 * kMiB));
    allocator.deallocate(a);
    allocator.empty_cache();
    CHECK(device.used == 20 * kMiB);  // b still lies in the segment
    CHECK(allocator.stats().peak_bytes_in_use == 8 * kMiB);
    CHECK(allocator.stats().peak_bytes_reserved == 20 * kMiB);
    allocator.reset_peaks();
    CHECK(allocator.stats().peak_bytes_in_use == 4 * kMiB);
    allocator.deallocate(b);
  }
  allocator.deallocate(reinterpret_cast<void*>(1));  // not a block of ours: ignored
  CHECK(allocator.stats().bytes_in_use == 0);
  allocator.empty_cache();
  CHECK(device.used == 0);
  CHECK(allocator.stats().bytes_cached == 0);
  CHECK(device.calls.back() == "release");
}

TEST_CASE("out of device memory: the cache is given back, then the allocation is tried again",
          "[unit][engine]") {
  FakeDevice device;
  device.capacity = 10 * kGiB;
  CachingAllocator allocator(std::make_unique<FakeBlocks>(device));
  void* held = allocator.allocate(2 * kGiB);
  allocator.deallocate(allocator.allocate(3 * kGiB));
  allocator.deallocate(allocator.allocate(3 * kGiB + 512));  // 6 GiB cached, none fits 7 GiB
  REQUIRE(allocator.stats().bytes_cached > 6 * kGiB);
  device.calls.clear();

  SECTION("the retry fits once the cache is gone") {
    void* big = allocator.allocate(7 * kGiB);
    CHECK(big != nullptr);
    // Failed, waited for queued work, gave both cached blocks back, tried again.
    CHECK(device.calls == std::vector<std::string>{"allocate", "synchronize", "release", "release", "allocate"});
    CHECK(allocator.stats().bytes_cached == 0);
    CHECK(allocator.stats().bytes_in_use == 9 * kGiB);
    allocator.deallocate(big);
  }
  SECTION("still too large: the error names the size, the device's room, what is held, and --batch") {
    CHECK_THROWS_WITH(allocator.allocate(9 * kGiB),
                      Contains("out of memory on fake:0 allocating 9 GiB (9663676416 bytes)") &&
                          Contains("the device has 8 GiB free of 10 GiB") &&
                          Contains("this process holds 2 GiB in tensors and 0 GiB cached") &&
                          Contains("a smaller --batch"));
    CHECK(device.calls == std::vector<std::string>{"allocate", "synchronize", "release", "release", "allocate"});
    // Nothing was lost: the held block is still in use, and a fitting request works.
    CHECK(allocator.stats().bytes_in_use == 2 * kGiB);
    allocator.deallocate(allocator.allocate(kGiB));
  }
  SECTION("with nothing cached there is nothing to give back: one try") {
    allocator.empty_cache();
    device.calls.clear();
    CHECK_THROWS_WITH(allocator.allocate(9 * kGiB), Contains("out of memory on fake:0"));
    CHECK(device.calls == std::vector<std::string>{"allocate"});
  }
  allocator.deallocate(held);
  allocator.empty_cache();
  CHECK(device.used == 0);
}

TEST_CASE("a private pool keeps a captured graph's blocks apart from the shared cache", "[unit][engine]") {
  FakeDevice device;
  device.capacity = 128 * kMiB;
  CachingAllocator allocator(std::make_unique<FakeBlocks>(device));
  auto at = [](void* base, size_t offset) { return static_cast<void*>(static_cast<char*>(base) + offset); };
  void* before = allocator.allocate(kMiB);
  allocator.deallocate(before);  // in the shared cache: a free 2 MiB segment

  const int pool = allocator.create_pool();
  allocator.begin_pool(pool);
  void* joined = allocator.allocate(kMiB);  // a shared free block may join the pool
  CHECK(joined == before);
  void* temporary = allocator.allocate(2 * kMiB);  // a new 20 MiB segment of the pool
  void* output = allocator.allocate(4 * kMiB);
  CHECK(output == at(temporary, 2 * kMiB));
  allocator.deallocate(temporary);
  void* reused = allocator.allocate(2 * kMiB);  // within the pool
  CHECK(reused == temporary);
  allocator.deallocate(reused);
  allocator.deallocate(joined);
  // No thread may make the device synchronize during a capture: nothing is given back.
  allocator.empty_cache();
  CHECK(std::count(device.calls.begin(), device.calls.end(), "release") == 0);
  allocator.end_pool();

  // Outside the pool, its free blocks are not handed out: a replay still writes them.
  void* outside = allocator.allocate(2 * kMiB);
  CHECK(outside != temporary);
  void* small = allocator.allocate(kMiB);
  CHECK(small == at(before, kMiB));  // the rest of the joined block's segment stayed shared
  allocator.deallocate(outside);
  allocator.deallocate(small);
  allocator.empty_cache();  // gives back the shared segments only
  CHECK(device.used == 22 * kMiB);  // the pool's 20 MiB and the 2 MiB the joined block lies in

  // Another thread's allocations during the capture use the shared cache.
  allocator.begin_pool(pool);
  void* other_thread = nullptr;
  std::thread([&] { other_thread = allocator.allocate(2 * kMiB); }).join();
  CHECK(other_thread != temporary);
  CHECK(device.used == 42 * kMiB);
  allocator.end_pool();
  allocator.deallocate(other_thread);

  // Released, the pool's free blocks join the shared cache (merged with their shared
  // neighbours); the block still in use joins it when freed.
  allocator.release_pool(pool);
  const size_t allocations = allocator.stats().device_allocations;
  CHECK(allocator.allocate(kMiB) == before);
  CHECK(allocator.allocate(2 * kMiB) == temporary);
  CHECK(allocator.stats().device_allocations == allocations);
  allocator.deallocate(before);
  allocator.deallocate(temporary);
  allocator.deallocate(output);
  CHECK(allocator.stats().bytes_in_use == 0);
  allocator.empty_cache();  // every segment is whole again: the joined block merged with its shared rest
  CHECK(device.used == 0);
  CHECK(allocator.stats().bytes_cached == 0);
  CHECK_THROWS_WITH(allocator.begin_pool(pool), Contains("no memory pool"));
}

TEST_CASE("out of memory during a capture: nothing is given back, and the error says so", "[unit][engine]") {
  FakeDevice device;
  device.capacity = 8 * kMiB;
  CachingAllocator allocator(std::make_unique<FakeBlocks>(device));
  allocator.deallocate(allocator.allocate(4 * kMiB));  // a 4 MiB segment (20 do not fit), too small for 6 MiB
  const int pool = allocator.create_pool();
  allocator.begin_pool(pool);
  CHECK_THROWS_WITH(allocator.allocate(6 * kMiB), Contains("while a CUDA graph was captured") &&
                                                       Contains("without --cuda-graph"));
  CHECK(std::count(device.calls.begin(), device.calls.end(), "synchronize") == 0);
  allocator.end_pool();
  allocator.release_pool(pool);
  allocator.deallocate(allocator.allocate(6 * kMiB));  // outside the capture the retry works
  allocator.empty_cache();
  CHECK(device.used == 0);
}
