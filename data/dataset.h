#pragma once
// A dataset of audio-visual samples with integer labels. Samples are written
// straight into the batch tensors, so loaders need no per-sample allocation.
#include <cstdint>
#include <string>
#include <vector>

#include "data/batch.h"

namespace mmp {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;  // for messages: where the samples come from
  // What the samples are, wherever they lie: a resumed run checks it (a cache copied
  // to another folder is the same data). By default the name.
  virtual std::string identity() const { return name(); }
  virtual int64_t size() const = 0;
  virtual int64_t classes() const = 0;
  virtual Shape audio_shape() const = 0;   // [1, F, T]
  virtual Shape visual_shape() const = 0;  // [T, 3, H, W]
  // Writes sample `index` (audio_shape() then visual_shape() floats) and returns its label.
  // `epoch` lets training samples vary (augmentation); evaluation passes 0.
  virtual int64_t load(int64_t index, int epoch, float* audio, float* visual) const = 0;
};

// The samples `indices` as one CPU batch; in page-locked memory when it is `for_device`
// a CUDA device (fast, asynchronous uploads).
Batch make_batch(const Dataset& data, const std::vector<int64_t>& indices, int epoch,
                 Device for_device = Device::cpu());

// The labels of all samples (for class counts and metrics).
std::vector<int64_t> all_labels(const Dataset& data);

}  // namespace mmp
