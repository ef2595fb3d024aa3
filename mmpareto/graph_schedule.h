#pragma once
// When a training step runs eagerly, is captured in a CUDA graph, or replays it
// (TrainStep::use_device_graph): the bookkeeping, apart from the device, so the CPU
// tests can walk it through epochs with partial batches.
#include <cstdint>
#include <set>
#include <vector>

#include "engine/dtype.h"
#include "engine/precision.h"
#include "engine/shape.h"

namespace mmp {

// What a step's graph depends on: its inputs' shapes and dtypes, and what the sweeps do.
struct StepSignature {
  Shape audio, visual, label;
  DType audio_dtype = DType::F32, visual_dtype = DType::F32, label_dtype = DType::I64;
  bool per_objective = false;
  std::vector<double> weights;  // of the fixed-weight sweep
  Precision precision = Precision::fp32;
  int64_t batch_size() const { return label.empty() ? 0 : label[0]; }
  bool operator==(const StepSignature&) const = default;
};

class GraphSchedule {
 public:
  enum class Action { eager, capture, replay };
  // The first batch of the largest size so far runs eagerly (choosing the convolution
  // plans a capture needs) and the second of that size is captured; once captured, every
  // step of the same signature replays, and any other (a partial batch) runs eagerly.
  Action next(const StepSignature& step);
  void captured(const StepSignature& step);  // the capture that next() asked for succeeded
  bool has_graph() const { return has_graph_; }

 private:
  std::set<int64_t> eager_sizes_;
  bool has_graph_ = false;
  StepSignature graph_;
};

}  // namespace mmp
