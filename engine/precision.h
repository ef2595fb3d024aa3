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
#include <optional>
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

// The CPU's 3x3 stride-1 convolutions (most of ResNet-18's work), a policy of this
// thread like the precision above:
//   winograd  Winograd F(4x4, 3x3): MMPareto steps about 1.7x faster; in f32 its rounding errors
//             are a few times PyTorch's, so ReLU masks flip more often and an f32 step
//             can land 10-25x further from the float64 step than PyTorch's does
//             (docs/architecture.md); training is unaffected;
//   exact     im2col + GEMM: f32 steps as close to float64 as PyTorch's.
// f64 is exact either way.
enum class CpuConvolution : uint8_t { winograd, exact };

CpuConvolution parse_cpu_convolution(const std::string& text);  // "winograd" or "exact"; else mmp::Error
const char* cpu_convolution_name(CpuConvolution c);
CpuConvolution current_cpu_convolution();  // winograd unless a scope says otherwise

class CpuConvolutionScope {
 public:
  explicit CpuConvolutionScope(CpuConvolution c);
  ~CpuConvolutionScope();
  CpuConvolutionScope(const CpuConvolutionScope&) = delete;
  CpuConvolutionScope& operator=(const CpuConvolutionScope&) = delete;

 private:
  CpuConvolution previous_;
};

// The kernels of CUDA batch norm followed by a ReLU (NHWC activations, bf16 or f32):
//   own          the project's fused kernels;
//   cudnn-graph  cuDNN's graph API (its NormAddRelu engine forward, DReluForkDNorm backward)
//                where cuDNN runs the shape and the build has the cudnn-frontend headers,
//                the own kernels elsewhere;
//   timed        where both run, each pass's first call on a shape times both engines and
//                keeps the faster for that pass and shape (cuda/batch_norm_choice.h), as
//                convolution algorithms are timed.
// The environment variable MMP_CUDA_BATCH_NORM chooses for the process (own when unset);
// a scope, for its thread.
enum class CudaBatchNorm : uint8_t { own, cudnn_graph, timed };

// "own", "cudnn-graph" or "timed"; else mmp::Error
CudaBatchNorm parse_cuda_batch_norm(const std::string& text);
const char* cuda_batch_norm_name(CudaBatchNorm b);
CudaBatchNorm current_cuda_batch_norm();

class CudaBatchNormScope {
 public:
  explicit CudaBatchNormScope(CudaBatchNorm b);
  ~CudaBatchNormScope();
  CudaBatchNormScope(const CudaBatchNormScope&) = delete;
  CudaBatchNormScope& operator=(const CudaBatchNormScope&) = delete;

 private:
  std::optional<CudaBatchNorm> previous_;
};

}  // namespace mmp
