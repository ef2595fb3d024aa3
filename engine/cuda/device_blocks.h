#pragma once
// Each CUDA device's caching allocator (engine/caching_allocator.h), taking its blocks
// from cudaMalloc.
#include "engine/caching_allocator.h"

namespace mmp::cuda {

CachingAllocator& device_allocator(int device);

}  // namespace mmp::cuda
