#include "data/dataset.h"

namespace mmp {

Batch make_batch(const Dataset& data, const std::vector<int64_t>& indices, int epoch, Device for_device) {
  const int64_t b = static_cast<int64_t>(indices.size());
  Shape audio_shape{b}, visual_shape{b};
  for (int64_t s : data.audio_shape()) audio_shape.push_back(s);
  for (int64_t s : data.visual_shape()) visual_shape.push_back(s);
  auto allocate = [for_device](const Shape& shape, DType dtype) { return pinned_empty(shape, dtype, for_device); };
  Batch batch{allocate(audio_shape, DType::F32), allocate(visual_shape, DType::F32), allocate({b}, DType::I64)};
  const int64_t audio_size = numel(data.audio_shape()), visual_size = numel(data.visual_shape());
  float* audio = batch.audio.data<float>();
  float* visual = batch.visual.data<float>();
  int64_t* label = batch.label.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    MMP_CHECK(indices[i] >= 0 && indices[i] < data.size(), data.name(), ": sample ", indices[i], " out of range (",
              data.size(), " samples)");
    label[i] = data.load(indices[i], epoch, audio + i * audio_size, visual + i * visual_size);
  }
  return batch;
}

std::vector<int64_t> all_labels(const Dataset& data) {
  std::vector<int64_t> labels(data.size());
  std::vector<float> audio(numel(data.audio_shape())), visual(numel(data.visual_shape()));
  for (int64_t i = 0; i < data.size(); ++i) labels[i] = data.load(i, 0, audio.data(), visual.data());
  return labels;
}

}  // namespace mmp
