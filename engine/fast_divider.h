#pragma once
// n / d for a divisor fixed before a kernel runs, by a multiply-high, an add and a shift
// instead of a division, which the GPU lacks (a 32-bit one costs about 20 instructions):
// Granlund and Montgomery's method, as PyTorch's IntDivider. Exact for 0 <= n < 2^31 and
// 1 <= d < 2^31. Kernels that split every element's index into coordinates by runtime
// sizes (pooling) spend most of their time there otherwise. Host code (the tests) uses it
// alike.
#include <cstdint>

#include "engine/division_cursor.h"  // MMP_HOST_DEVICE

namespace mmp {

class FastDivider {
 public:
  FastDivider() = default;
  // The caller checks 1 <= divisor < 2^31.
  explicit FastDivider(uint32_t divisor) : divisor_(divisor) {
    while ((uint64_t{1} << shift_) < divisor) ++shift_;  // ceil(log2(divisor))
    // Below 2^32: (2^shift - d) / d < 1 for 2^(shift-1) < d <= 2^shift.
    multiplier_ = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift_) - divisor)) / divisor + 1);
  }

  MMP_HOST_DEVICE uint32_t divisor() const { return divisor_; }

  // n / divisor for n < 2^31 (high + n then stays below 2^32: high < n).
  MMP_HOST_DEVICE uint32_t divide(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t high = __umulhi(n, multiplier_);
#else
    const uint32_t high = static_cast<uint32_t>((uint64_t{n} * multiplier_) >> 32);
#endif
    return (high + n) >> shift_;
  }

 private:
  uint32_t divisor_ = 1, multiplier_ = 1, shift_ = 0;
};

}  // namespace mmp
