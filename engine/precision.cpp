#include "engine/precision.h"

#include <cstdlib>

#include "engine/error.h"

namespace mmp {
namespace {

thread_local Precision current = Precision::fp32;
thread_local CpuConvolution current_convolution = CpuConvolution::winograd;
thread_local std::optional<CudaBatchNorm> scoped_batch_norm;  // else the process's choice

}  // namespace

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::fp32;
  if (text == "tf32") return Precision::tf32;
  if (text == "bf16") return Precision::bf16;
  MMP_THROW("precision must be fp32, tf32 or bf16, got '", text, "'");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision current_precision() { return current; }

PrecisionScope::PrecisionScope(Precision p) : previous_(current) { current = p; }
PrecisionScope::~PrecisionScope() { current = previous_; }

CpuConvolution parse_cpu_convolution(const std::string& text) {
  if (text == "winograd") return CpuConvolution::winograd;
  if (text == "exact") return CpuConvolution::exact;
  MMP_THROW("CPU convolution must be winograd or exact, got '", text, "'");
}

const char* cpu_convolution_name(CpuConvolution c) { return c == CpuConvolution::exact ? "exact" : "winograd"; }

CpuConvolution current_cpu_convolution() { return current_convolution; }

CpuConvolutionScope::CpuConvolutionScope(CpuConvolution c) : previous_(current_convolution) {
  current_convolution = c;
}
CpuConvolutionScope::~CpuConvolutionScope() { current_convolution = previous_; }

CudaBatchNorm parse_cuda_batch_norm(const std::string& text) {
  if (text == "own") return CudaBatchNorm::own;
  if (text == "cudnn-graph") return CudaBatchNorm::cudnn_graph;
  if (text == "timed") return CudaBatchNorm::timed;
  MMP_THROW("CUDA batch norm must be own, cudnn-graph or timed, got '", text, "'");
}

const char* cuda_batch_norm_name(CudaBatchNorm b) {
  switch (b) {
    case CudaBatchNorm::own: return "own";
    case CudaBatchNorm::cudnn_graph: return "cudnn-graph";
    case CudaBatchNorm::timed: return "timed";
  }
  return "?";
}

CudaBatchNorm current_cuda_batch_norm() {
  if (scoped_batch_norm) return *scoped_batch_norm;
  static const CudaBatchNorm from_environment = [] {
    const char* text = std::getenv("MMP_CUDA_BATCH_NORM");
    try {
      return text ? parse_cuda_batch_norm(text) : CudaBatchNorm::own;
    } catch (const Error& e) {
      MMP_THROW("MMP_CUDA_BATCH_NORM: ", e.what());
    }
  }();
  return from_environment;
}

CudaBatchNormScope::CudaBatchNormScope(CudaBatchNorm b) : previous_(scoped_batch_norm) { scoped_batch_norm = b; }
CudaBatchNormScope::~CudaBatchNormScope() { scoped_batch_norm = previous_; }

}  // namespace mmp
