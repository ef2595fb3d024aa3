#include "engine/storage.h"

#include <malloc.h>

#include <cstdlib>

#include "engine/error.h"

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/caching_allocator.h"
#endif

namespace mmp {

void* cpu_allocate(size_t bytes) {
  // Activations of tens of MB are freed and allocated again every step. glibc maps
  // such blocks afresh each time (and the kernel zeroes every page on first touch);
  // keeping them on the heap lets the next step reuse them, as a caching allocator.
  static const bool tuned = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)tuned;
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* ptr = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  MMP_CHECK(ptr != nullptr, "out of host memory allocating ", bytes, " bytes");
  return ptr;
}

void cpu_deallocate(void* ptr) { std::free(ptr); }

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.is_cpu()) {
    data_ = cpu_allocate(bytes);
    return;
  }
#ifdef MMP_HAVE_CUDA
  data_ = cuda::CachingAllocator::get(device.index).allocate(bytes);
#else
  MMP_THROW("cannot allocate on ", device.str(), ": this build has no CUDA backend");
#endif
}

Storage::Storage(void* data, size_t bytes, Device device, std::function<void(void*)> release)
    : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_) {
    release_(data_);
    return;
  }
  if (device_.is_cpu()) {
    cpu_deallocate(data_);
    return;
  }
#ifdef MMP_HAVE_CUDA
  cuda::CachingAllocator::get(device_.index).deallocate(data_);
#endif
}

}  // namespace mmp
