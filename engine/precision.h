#pragma once
// The arithmetic precision of convolutions and matrix products on CUDA devices, as a
// policy set for a scope (PyTorch's autocast and allow_tf32, in one setting):
//   fp32  f32 inputs, f32 products: the exact mode, results equal the CPU's to f32 rounding;
//   tf32  f32 inputs, products on tensor cores with 10-bit mantissas (PyTorch's default
//         for convolutions);
//   bf16  autocast: convolutions and matrix products cast their inputs to bf16 and
//         accumulate in f32; batch norm keeps f32 statistics and parameters; losses,
//         reductions of gradients, integrators, the optimizer and the master weights
//         stay f32.
// Only those ops read it (conv2d, matmul and linear, and the casts at their edges); the
// CPU always computes in the tensors' own dtype.
#include <cstdint>
#include <string>

namespace mmp {

enum class Precision : uint8_t { fp32, tf32, bf16 };

Precision parse_precision(const std::string& text);  // "fp32", "tf32" or "bf16"; else mmp::Error
const char* precision_name(Precision p);

// The policy of this thread: fp32 unless a PrecisionScope says otherwise.
Precision current_precision();

class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

}  // namespace mmp
