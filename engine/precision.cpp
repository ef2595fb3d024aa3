#include "engine/precision.h"

#include "engine/error.h"

namespace mmp {
namespace {

thread_local Precision current = Precision::fp32;

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

}  // namespace mmp
