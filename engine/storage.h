#pragma once
// A block of device or host memory shared by every tensor that views it.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "engine/device.h"

namespace mmp {

class Storage {
 public:
  // Allocates `bytes` on `device` through that device's allocator.
  Storage(size_t bytes, Device device);
  // Wraps memory owned elsewhere (a memory-mapped file, say); `release` runs when the last view dies.
  Storage(void* data, size_t bytes, Device device, std::function<void(void*)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  // Counts the in-place writes made through the Tensor API (copy_, fill_, the random
  // fills), by optimizer steps and to batch norm's running statistics, for every view
  // of this memory: autograd checks that what a backward saved has not been written
  // since, as PyTorch's version counter.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> version_{0};
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  std::function<void(void*)> release_;
};

// Host allocation aligned for AVX-512 loads.
void* cpu_allocate(size_t bytes);
void cpu_deallocate(void* ptr);

}  // namespace mmp
