#pragma once
// Comparisons for tests: norm-wise relative error, as llm.c's and PyTorch's checks.
#include <string>

#include "engine/tensor.h"

namespace mmp::testing {

// ||a - b|| / max(||b||, tiny), computed in f64 on the CPU; shapes must match.
double relative_error(const Tensor& a, const Tensor& b);
// Largest |a - b| over all elements.
double max_abs_difference(const Tensor& a, const Tensor& b);

}  // namespace mmp::testing
