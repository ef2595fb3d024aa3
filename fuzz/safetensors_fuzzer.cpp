// The safetensors reader (weights, optimizer state, step inputs from elsewhere): header
// length, JSON header, data offsets, shapes and dtypes.
#include "engine/safetensors.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mmp::fuzz::read_or_refuse(
      [&] { mmp::parse_safetensors(reinterpret_cast<const char*>(data), size, "fuzz.safetensors"); });
  return 0;
}
