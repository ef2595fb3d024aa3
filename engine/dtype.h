#pragma once
// Element types. f32 is the working type; f64 exists on CPU (and CUDA) for
// gradient checks; bf16 holds activations under --precision bf16 on CUDA (the CPU
// converts it, nothing more); integers hold labels and indices; u8 holds pixels.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/bf16.h"

namespace mmp {

enum class DType : uint8_t { F32, F64, I32, I64, U8, BF16 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "f64", ...
bool is_floating(DType dtype);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<bf16> { static constexpr DType value = DType::BF16; };
template <class T> inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace mmp

// Calls the lambda-like body with `scalar_t` bound to the C++ type of a floating dtype.
#define MMP_DISPATCH_FLOATING(dtype, op_name, ...)                                        \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      case ::mmp::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }            \
      case ::mmp::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }           \
      default: MMP_THROW(op_name, ": dtype ", ::mmp::dtype_name(dtype), " is not supported (f32 or f64 expected)"); \
    }                                                                                      \
  }()

#define MMP_DISPATCH_ALL(dtype, op_name, ...)                                              \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      case ::mmp::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }            \
      case ::mmp::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }           \
      case ::mmp::DType::I32: { using scalar_t = int32_t; return __VA_ARGS__(); }          \
      case ::mmp::DType::I64: { using scalar_t = int64_t; return __VA_ARGS__(); }          \
      case ::mmp::DType::U8: { using scalar_t = uint8_t; return __VA_ARGS__(); }           \
      case ::mmp::DType::BF16: { using scalar_t = ::mmp::bf16; return __VA_ARGS__(); }     \
    }                                                                                      \
    MMP_THROW(op_name, ": unknown dtype");                                                 \
  }()

// The floating dtypes with bf16 too, for the CUDA kernels that run --precision bf16;
// they compute in compute_t<scalar_t> (float for bf16).
#define MMP_DISPATCH_FLOATING_BF16(dtype, op_name, ...)                                   \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      case ::mmp::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }            \
      case ::mmp::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }           \
      case ::mmp::DType::BF16: { using scalar_t = ::mmp::bf16; return __VA_ARGS__(); }     \
      default: MMP_THROW(op_name, ": dtype ", ::mmp::dtype_name(dtype), " is not supported (f32, f64 or bf16 expected)"); \
    }                                                                                      \
  }()
