#pragma once
// Central finite-difference gradient check in f64 (as torch.autograd.gradcheck).
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmp::testing {

struct GradcheckReport {
  bool ok = true;
  double max_error = 0;  // largest |analytic - numeric| - rtol * |numeric|, over all elements
  std::string detail;    // the worst element, for the test log
};

// Compares the gradient of L = sum(w * f(inputs)), w fixed random weights, with
// (L(x + eps) - L(x - eps)) / 2 eps for every element of every f64 CPU input.
GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-7,
                          double rtol = 1e-5);

}  // namespace mmp::testing
