#pragma once
// A dataset that passes everything on to another: tests derive from it to make
// loading fail somewhere.
#include <atomic>
#include <string>

#include "data/dataset.h"

namespace mmp::testing {

class ForwardingDataset : public Dataset {
 public:
  explicit ForwardingDataset(const Dataset& data) : data_(data) {}
  std::string name() const override { return data_.name(); }
  int64_t size() const override { return data_.size(); }
  int64_t classes() const override { return data_.classes(); }
  Shape audio_shape() const override { return data_.audio_shape(); }
  Shape visual_shape() const override { return data_.visual_shape(); }
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override {
    return data_.load(index, epoch, audio, visual);
  }

 private:
  const Dataset& data_;
};

// The training data until its 21st sample of epoch `stop` (0-based) fails: a run killed
// in the middle of that epoch (its first batch of up to 20 trained and logged).
class StoppingDataset : public ForwardingDataset {
 public:
  StoppingDataset(const Dataset& data, int stop) : ForwardingDataset(data), stop_(stop) {}
  int64_t load(int64_t index, int epoch, float* audio, float* visual) const override {
    MMP_CHECK(epoch < stop_ || ++loaded_ <= 20, "interrupted in epoch ", epoch + 1);
    return ForwardingDataset::load(index, epoch, audio, visual);
  }

 private:
  int stop_;
  mutable std::atomic<int> loaded_{0};
};

}  // namespace mmp::testing
