#pragma once
// A batch of audio-visual samples, as the model and the trainer take it.
#include <string>

#include "engine/tensor.h"

namespace mmp {

struct Batch {
  Tensor audio;   // [B, 1, F, T] f32 (spectrogram or fbank)
  Tensor visual;  // [B, T, 3, H, W] f32 (normalised frames)
  Tensor label;   // [B] i64
  int64_t size() const { return label.numel(); }
  Batch to(Device device) const;
};

// Reads a batch file (tensors `audio`, `visual`, `label`) and checks its shapes.
Batch load_batch(const std::string& path);

}  // namespace mmp
