#pragma once
// bfloat16: the upper 16 bits of an IEEE f32 (8 exponent bits, 7 mantissa bits), the
// storage type of --precision bf16 activations on CUDA. Arithmetic is never done in it:
// kernels convert to float, compute, and round back, on host and device alike, so the
// CPU tests check the rounding the GPU does.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MMP_BF16_HD __host__ __device__ __forceinline__
#else
#define MMP_BF16_HD inline
#endif

namespace mmp {

struct bf16 {
  uint16_t bits = 0;

  bf16() = default;
  // Round to nearest, ties to even (as __float2bfloat16_rn and torch.bfloat16); NaN stays NaN.
  MMP_BF16_HD explicit bf16(float value) : bits(round(value)) {}
  MMP_BF16_HD operator float() const { return from_bits(static_cast<uint32_t>(bits) << 16); }

  MMP_BF16_HD static uint16_t round(float value) {
    const uint32_t u = to_bits(value);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    const uint32_t lsb = (u >> 16) & 1u;
    return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
  }

 private:
  MMP_BF16_HD static uint32_t to_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
#endif
  }
  MMP_BF16_HD static float from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
  }
};
static_assert(sizeof(bf16) == 2, "bf16 is two bytes");

// The type kernels compute a storage type in: float for bf16, the type itself otherwise.
template <class T> struct ComputeTypeOf { using type = T; };
template <> struct ComputeTypeOf<bf16> { using type = float; };
template <class T> using compute_t = typename ComputeTypeOf<T>::type;

}  // namespace mmp
