#include "engine/precision.h"

#include "engine/error.h"

namespace mmp {
namespace {

thread_local Precision current = Precision::fp32;
thread_local CpuConvolution current_convolution = CpuConvolution::winograd;

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

}  // namespace mmp
