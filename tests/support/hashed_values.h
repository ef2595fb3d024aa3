#pragma once
// Weights and batches made from a seed, the same values as
// tools/reference/hashed_values.py makes for PyTorch: every value a hash (splitmix64) of
// (seed, tensor number, element number) mapped to [-1, 1). A fixture then keeps only
// what PyTorch computed from them, not the tensors.
#include <cstdint>

#include "data/batch.h"
#include "layers/av_classifier.h"

namespace mmp::testing {

// n values in [-1, 1) (f64) of `stream` under `seed`.
Tensor hashed_uniform(uint64_t seed, uint64_t stream, const Shape& shape);
// The model's state dict, in order, as hashed_values.fill_model.
void fill_model(AVClassifier& model, uint64_t seed);
Batch hashed_batch(uint64_t seed, const Shape& audio, const Shape& visual, int64_t classes);

}  // namespace mmp::testing
