#pragma once
// bfloat16: the upper 16 bits of an IEEE f32 (8 exponent bits, 7 mantissa bits), the
// storage type of --precision bf16 activations on CUDA. Arithmetic is never done in it:
// kernels convert to float, compute, and round back, on host and device alike, so the
// CPU tests check the rounding the GPU does.
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define MMP_BF16_HD __host__ __device__ __forceinline__
#else
#define MMP_BF16_HD inline
#endif

namespace mmp {

struct bf16 {
  uint16_t bits = 0;

  bf16() = default;
  // Round to nearest, ties to even (as __float2bfloat16_rn and torch.bfloat16); NaN stays
  // NaN. From double (and integers, through double) the rounding is direct, not via a
  // float rounded first (which could round twice).
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  MMP_BF16_HD explicit bf16(T value)
      : bits(std::is_same_v<T, float> ? round(static_cast<float>(value)) : round_double(static_cast<double>(value))) {}
  MMP_BF16_HD operator float() const { return from_bits(static_cast<uint32_t>(bits) << 16); }

  MMP_BF16_HD static uint16_t round(float value) {
    const uint32_t u = to_bits(value);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    const uint32_t lsb = (u >> 16) & 1u;
    return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
  }

  // double -> float rounded to odd (toward zero, then the last bit set: the value was
  // inexact), then to bf16: float keeps 24 bits, more than 2 * 8 + 2, so this is the
  // correctly rounded result.
  MMP_BF16_HD static uint16_t round_double(double value) {
    const float f = static_cast<float>(value);
    if (value != value || static_cast<double>(f) == value) return round(f);  // NaN, or exact
    uint32_t u = to_bits(f);
    const double magnitude = value < 0 ? -value : value, rounded = f < 0 ? -static_cast<double>(f) : f;
    if (rounded > magnitude) u -= 1;  // rounded away from zero (to infinity, say): one step back
    return round(from_bits(u | 1u));
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
