#pragma once
// The optimizer settings the tests cover, one list read by two harnesses: against
// torch.optim's fixture on the CPU (tests/test_optimizers.cpp, fixture keys by case
// name) and CUDA against the CPU (tests/cuda/).
#include <string>
#include <vector>

#include "engine/optimizer.h"

namespace mmp::testing {

struct OptimizerCase {
  std::string name;
  OptimizerOptions options;
};

// SGD with momentum and weight decay, dampening, Nesterov, plain; Adam; AdamW.
const std::vector<OptimizerCase>& optimizer_cases();

}  // namespace mmp::testing
