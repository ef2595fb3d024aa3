#pragma once
// A dataset that passes everything on to another: tests derive from it to make
// loading fail somewhere.
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

}  // namespace mmp::testing
