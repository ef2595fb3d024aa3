#pragma once
// i / divisor and i % divisor followed along i, i + step, i + 2 step, ... with additions
// only. GPU kernels that visit every element in a grid-stride loop and need its channel
// ((i / (H * W)) % C in NCHW, i % C in NHWC) would otherwise spend most of their time in
// 64-bit divisions, which the GPU has no instruction for. Host code (the tests) uses it
// alike.
#include <cstdint>

#if defined(__CUDACC__)
#define MMP_HOST_DEVICE __host__ __device__
#else
#define MMP_HOST_DEVICE
#endif

namespace mmp {

class DivisionCursor {
 public:
  // The quotient wraps at `wrap` ((i / divisor) % wrap) when wrap > 0. divisor >= 1.
  MMP_HOST_DEVICE DivisionCursor(int64_t first, int64_t step, int64_t divisor, int64_t wrap)
      : divisor_(divisor),
        wrap_(wrap),
        step_quotient_(wrap > 0 ? (step / divisor) % wrap : step / divisor),
        step_remainder_(step % divisor),
        quotient_(wrap > 0 ? (first / divisor) % wrap : first / divisor),
        remainder_(first % divisor) {}

  MMP_HOST_DEVICE int64_t quotient() const { return quotient_; }
  MMP_HOST_DEVICE int64_t remainder() const { return remainder_; }

  // To i + step. Both parts stay in range with one correction each: the remainders add
  // to less than 2 divisor, the wrapped quotients to less than 2 wrap.
  MMP_HOST_DEVICE void advance() {
    remainder_ += step_remainder_;
    quotient_ += step_quotient_;
    if (remainder_ >= divisor_) {
      remainder_ -= divisor_;
      ++quotient_;
    }
    if (wrap_ > 0 && quotient_ >= wrap_) quotient_ -= wrap_;
  }

 private:
  int64_t divisor_, wrap_, step_quotient_, step_remainder_, quotient_, remainder_;
};

}  // namespace mmp
