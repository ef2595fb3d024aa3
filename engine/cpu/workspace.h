#pragma once
// Scratch memory for CPU kernels (im2col columns, packed GEMM panels, ...), kept per
// thread and per slot and grown as needed, so a training step does not map fresh
// pages for every convolution.
#include <cstddef>
#include <memory>

#include "engine/storage.h"

namespace mmp::cpu {

// Who uses which buffer: kernels that run nested (a GEMM inside a convolution) need
// different slots.
enum WorkspaceSlot {
  kConvColumns, kConvOutputColumns, kConvWeightPartial,              // conv.cpp
  kWinogradFilter, kWinogradData, kWinogradGrad, kWinogradProduct, kWinogradScratch,  // winograd.cpp
  kPackA, kPackB,                                                    // sgemm.cpp
  kWorkspaceSlots
};

template <class T>
T* workspace(WorkspaceSlot slot, size_t elements) {
  struct Buffer {
    std::unique_ptr<void, void (*)(void*)> data{nullptr, cpu_deallocate};
    size_t bytes = 0;
  };
  thread_local Buffer buffers[kWorkspaceSlots];
  Buffer& b = buffers[slot];
  const size_t bytes = elements * sizeof(T);
  if (b.bytes < bytes) {
    b.data.reset(cpu_allocate(bytes));
    b.bytes = bytes;
  }
  return static_cast<T*>(b.data.get());
}

}  // namespace mmp::cpu
