#pragma once
// safetensors files (https://huggingface.co/docs/safetensors): the format weights,
// optimizer state, batches and step outputs are exchanged in with Python.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace mmp {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                         // in file order
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry
  const Tensor* find(const std::string& name) const;
};

// Reads every tensor to the CPU. F16 and BF16 become F32; F64, F32, I64, I32 and U8
// keep their dtype. A missing, truncated or malformed file throws an mmp::Error that
// names the file and the problem.
SafetensorsFile load_safetensors(const std::string& path);
// The same from the bytes of a whole file; `path` names it in errors.
SafetensorsFile parse_safetensors(const char* bytes, size_t size, const std::string& path);

// Writes the tensors (any device; F32, F64, I64, I32, U8) atomically: to a temporary
// file in the same folder, flushed to disk, then renamed over `path`, so a crash never
// leaves a half-written file under that name.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace mmp
