#pragma once
// Every differentiable op of the engine as a test case: input shapes, how to draw
// valid inputs, and the call. One list, read by two harnesses (ggml's
// test-backend-ops idea): the f64 finite-difference gradient check on the CPU
// (tests/test_ops_gradcheck.cpp) and the CUDA-against-CPU check (tests/cuda/).
#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace mmp::testing {

struct OpCase {
  std::string name;
  std::vector<Shape> input_shapes;
  std::function<Tensor(const std::vector<Tensor>&)> run;
  // Maps a standard normal draw to a valid input value (say, positive for log), per input.
  std::function<double(double, size_t input)> shape_value = [](double v, size_t) { return v; };
};

const std::vector<OpCase>& op_cases();

// Inputs of a case drawn from `seed`, as f64 on the CPU (convert as needed).
std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed);

// A case run on `device` with inputs64 converted to `dtype`: its output, and the
// gradient of <output, a fixed random tensor> on each input (the harnesses compare both).
struct OpRun {
  Tensor out;
  std::vector<Tensor> grads;
};
OpRun run_op_case(const OpCase& c, const std::vector<Tensor>& inputs64, Device device, DType dtype);

}  // namespace mmp::testing
