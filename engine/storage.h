#pragma once
// A block of device or host memory shared by every tensor that views it.
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

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  std::function<void(void*)> release_;
};

// Host allocation aligned for AVX-512 loads.
void* cpu_allocate(size_t bytes);
void cpu_deallocate(void* ptr);

}  // namespace mmp
