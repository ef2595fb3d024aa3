#include "tests/support/op_cases.h"

#include <cmath>

#include "engine/autograd.h"

namespace mmp::testing {
namespace {

// Keeps values away from a kink at 0 (relu, abs-like ops), where finite differences lie.
double away_from_zero(double v, size_t) { return v + (v >= 0 ? 0.2 : -0.2); }
double positive(double v, size_t) { return 0.5 + std::fabs(v); }

// Batch norm's statistics: f32 for bf16 activations (--precision bf16), else x's dtype.
DType statistics_dtype(const Tensor& x) { return x.dtype() == DType::BF16 ? DType::F32 : x.dtype(); }

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    using V = std::vector<Tensor>;
    // Elementwise, same shapes, broadcasting both ways, and non-contiguous operands.
    c.push_back({"add", {{3, 4}, {3, 4}}, [](const V& x) { return add(x[0], x[1]); }});
    c.push_back({"add/broadcast_row", {{3, 4}, {4}}, [](const V& x) { return add(x[0], x[1]); }});
    c.push_back({"add/broadcast_both", {{3, 1}, {1, 4}}, [](const V& x) { return add(x[0], x[1]); }});
    c.push_back({"sub/broadcast_channel", {{2, 3, 2, 2}, {1, 3, 1, 1}}, [](const V& x) { return sub(x[0], x[1]); }});
    c.push_back({"mul", {{3, 4}, {3, 4}}, [](const V& x) { return mul(x[0], x[1]); }});
    c.push_back({"mul/transposed", {{4, 3}, {3, 4}}, [](const V& x) { return mul(transpose(x[0], 0, 1), x[1]); }});
    c.push_back({"mul/scalar_tensor", {{3, 4}, {}}, [](const V& x) { return mul(x[0], x[1]); }});
    c.push_back({"div", {{3, 4}, {3, 4}}, [](const V& x) { return div(x[0], x[1]); },
                 [](double v, size_t i) { return i == 1 ? positive(v, i) : v; }});
    c.push_back({"div/broadcast", {{2, 3}, {2, 1}}, [](const V& x) { return div(x[0], x[1]); },
                 [](double v, size_t i) { return i == 1 ? positive(v, i) : v; }});
    c.push_back({"add_scaled", {{3, 4}, {4}}, [](const V& x) { return add_scaled(x[0], x[1], -0.7); }});
    c.push_back({"add_scalar", {{5}}, [](const V& x) { return add_scalar(x[0], 2.5); }});
    c.push_back({"mul_scalar", {{5}}, [](const V& x) { return mul_scalar(x[0], -1.5); }});
    c.push_back({"neg", {{2, 3}}, [](const V& x) { return neg(x[0]); }});
    c.push_back({"exp", {{2, 3}}, [](const V& x) { return exp(x[0]); }});
    c.push_back({"log", {{2, 3}}, [](const V& x) { return log(x[0]); }, positive});
    c.push_back({"sqrt", {{2, 3}}, [](const V& x) { return sqrt(x[0]); }, positive});
    c.push_back({"square", {{2, 3}}, [](const V& x) { return square(x[0]); }});
    c.push_back({"pow/3", {{2, 3}}, [](const V& x) { return pow(x[0], 3.0); }});
    c.push_back({"pow/-1.5", {{2, 3}}, [](const V& x) { return pow(x[0], -1.5); }, positive});
    c.push_back({"clamp", {{4, 5}}, [](const V& x) { return clamp(x[0], -0.5, 0.7); },
                 [](double v, size_t) {  // away from the bounds
                   for (double bound : {-0.5, 0.7})
                     if (std::fabs(v - bound) < 0.05) v += 0.1;
                   return v;
                 }});
    c.push_back({"relu", {{4, 5}}, [](const V& x) { return relu(x[0]); }, away_from_zero});
    c.push_back({"relu/sliced_step2", {{4, 6}}, [](const V& x) { return relu(slice(x[0], 1, 0, 6, 2)); }, away_from_zero});
    c.push_back({"sigmoid", {{3, 4}}, [](const V& x) { return sigmoid(x[0]); }});
    // Reductions
    c.push_back({"sum/all", {{3, 4}}, [](const V& x) { return sum(x[0]); }});
    c.push_back({"sum/dim0", {{3, 4}}, [](const V& x) { return sum(x[0], {0}); }});
    c.push_back({"sum/dim1_keepdim", {{3, 4}}, [](const V& x) { return sum(x[0], {1}, true); }});
    c.push_back({"sum/dims_0_2", {{2, 3, 4}}, [](const V& x) { return sum(x[0], {0, 2}); }});
    c.push_back({"sum/permuted", {{2, 3, 4}}, [](const V& x) { return sum(permute(x[0], {2, 0, 1}), {1}); }});
    c.push_back({"mean/dims", {{2, 3, 4}}, [](const V& x) { return mean(x[0], {1, 2}); }});
    c.push_back({"mean/all", {{2, 3}}, [](const V& x) { return mean(x[0]); }});
    c.push_back({"dot", {{7}, {7}}, [](const V& x) { return dot(x[0], x[1]); }});
    c.push_back({"norm", {{3, 5}}, [](const V& x) { return norm(x[0]); }});
    // Linear algebra, including transposed views that reach the GEMM without copies.
    c.push_back({"matmul", {{3, 4}, {4, 5}}, [](const V& x) { return matmul(x[0], x[1]); }});
    c.push_back({"matmul/a_transposed", {{4, 3}, {4, 5}}, [](const V& x) { return matmul(transpose(x[0], 0, 1), x[1]); }});
    c.push_back({"matmul/b_transposed", {{3, 4}, {5, 4}}, [](const V& x) { return matmul(x[0], transpose(x[1], 0, 1)); }});
    c.push_back({"matmul/both_sliced", {{3, 8}, {4, 5}}, [](const V& x) { return matmul(slice(x[0], 1, 0, 8, 2), x[1]); }});
    c.push_back({"matmul/batched", {{2, 3, 4}, {2, 4, 2}}, [](const V& x) { return matmul(x[0], x[1]); }});
    c.push_back({"linear", {{3, 4}, {5, 4}, {5}}, [](const V& x) { return linear(x[0], x[1], x[2]); }});
    c.push_back({"linear/3d_input", {{2, 3, 4}, {5, 4}, {5}}, [](const V& x) { return linear(x[0], x[1], x[2]); }});
    // Convolution: every kernel path (one sample per GEMM, several, a partial last chunk),
    // strides, padding, bias, 1x1, and a non-contiguous input.
    c.push_back({"conv2d/3x3_pad1", {{2, 3, 5, 6}, {4, 3, 3, 3}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 1); }});
    c.push_back({"conv2d/3x3_pad0_odd", {{2, 3, 7, 5}, {2, 3, 3, 3}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 0); }});
    c.push_back({"conv2d/3x3_pad2", {{1, 2, 4, 5}, {3, 2, 3, 3}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 2); }});
    c.push_back({"conv2d/7x7_stride2_pad3", {{2, 1, 9, 8}, {2, 1, 7, 7}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 3); }});
    c.push_back({"conv2d/1x1_stride2", {{2, 3, 5, 5}, {4, 3, 1, 1}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 2, 0); }});
    c.push_back({"conv2d/bias_stride2", {{3, 2, 7, 7}, {3, 2, 3, 3}, {3}}, [](const V& x) { return conv2d(x[0], x[1], x[2], 2, 1); }});
    c.push_back({"conv2d/one_sample_per_gemm", {{2, 1, 34, 34}, {2, 1, 3, 3}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 1); }});
    c.push_back({"conv2d/partial_last_chunk", {{3, 1, 20, 20}, {2, 1, 3, 3}}, [](const V& x) { return conv2d(x[0], x[1], Tensor(), 1, 1); }});
    c.push_back({"conv2d/permuted_input", {{2, 4, 3, 5}, {3, 3, 2, 2}}, [](const V& x) { return conv2d(permute(x[0], {0, 2, 1, 3}), x[1], Tensor(), 1, 0); }});
    // Batch norm in training (batch statistics) and eval (running statistics) modes.
    c.push_back({"batch_norm/train_4d", {{3, 4, 2, 3}, {4}, {4}}, [](const V& x) {
                   const DType s = statistics_dtype(x[0]);
                   const Tensor rm = zeros({4}, s, x[0].device()), rv = ones({4}, s, x[0].device());
                   return batch_norm(x[0], x[1], x[2], rm, rv, true);
                 }});
    c.push_back({"batch_norm/train_2d", {{5, 3}, {3}, {3}}, [](const V& x) {
                   return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true);
                 }});
    c.push_back({"batch_norm/eval", {{2, 3, 2, 2}, {3}, {3}}, [](const V& x) {
                   const DType s = statistics_dtype(x[0]);
                   const Tensor rm = from_vector<double>({0.1, -0.2, 0.3}, {3}).to(s).to(x[0].device());
                   const Tensor rv = from_vector<double>({0.5, 1.5, 2.0}, {3}).to(s).to(x[0].device());
                   return batch_norm(x[0], x[1], x[2], rm, rv, false);
                 }});
    // Batch norm with its fused epilogue: relu(bn(x) + residual); one kernel pass on the
    // CPU and, on CUDA, for bf16 activations.
    c.push_back({"batch_norm_relu/train_4d", {{3, 4, 2, 3}, {4}, {4}}, [](const V& x) {
                   const DType s = statistics_dtype(x[0]);
                   const Tensor rm = zeros({4}, s, x[0].device()), rv = ones({4}, s, x[0].device());
                   return batch_norm_relu(x[0], x[1], x[2], rm, rv, Tensor(), true);
                 }});
    c.push_back({"batch_norm_add_relu/train_4d", {{3, 4, 2, 3}, {4}, {4}, {3, 4, 2, 3}}, [](const V& x) {
                   return batch_norm_relu(x[0], x[1], x[2], Tensor(), Tensor(), x[3], true);
                 }});
    c.push_back({"batch_norm_add_relu/train_2d", {{5, 3}, {3}, {3}, {5, 3}}, [](const V& x) {
                   return batch_norm_relu(x[0], x[1], x[2], Tensor(), Tensor(), x[3], true);
                 }});
    c.push_back({"batch_norm_add_relu/eval", {{2, 3, 2, 2}, {3}, {3}, {2, 3, 2, 2}}, [](const V& x) {
                   const DType s = statistics_dtype(x[0]);
                   const Tensor rm = from_vector<double>({0.1, -0.2, 0.3}, {3}).to(s).to(x[0].device());
                   const Tensor rv = from_vector<double>({0.5, 1.5, 2.0}, {3}).to(s).to(x[0].device());
                   return batch_norm_relu(x[0], x[1], x[2], rm, rv, x[3], false);
                 }});
    c.push_back({"max_pool2d/3_2_1", {{2, 2, 7, 6}}, [](const V& x) { return max_pool2d(x[0], 3, 2, 1); }});
    c.push_back({"max_pool2d/2_2_0", {{1, 3, 4, 4}}, [](const V& x) { return max_pool2d(x[0], 2, 2, 0); }});
    // Shapes and views
    c.push_back({"reshape", {{2, 6}}, [](const V& x) { return reshape(x[0], {3, -1}); }});
    c.push_back({"reshape/non_contiguous", {{3, 4}}, [](const V& x) { return reshape(transpose(x[0], 0, 1), {2, 6}); }});
    c.push_back({"flatten", {{2, 3, 4}}, [](const V& x) { return flatten(x[0], 1); }});
    c.push_back({"permute", {{2, 3, 4}}, [](const V& x) { return permute(x[0], {1, 2, 0}); }});
    c.push_back({"slice", {{5, 4}}, [](const V& x) { return slice(x[0], 0, 1, -1); }});
    c.push_back({"slice/step", {{7, 3}}, [](const V& x) { return slice(x[0], 0, 0, 7, 3); }});
    c.push_back({"select", {{3, 4}}, [](const V& x) { return select(x[0], 1, -1); }});
    c.push_back({"expand", {{3, 1}}, [](const V& x) { return expand(x[0], {2, 3, 4}); }});
    c.push_back({"unsqueeze_squeeze", {{3, 4}}, [](const V& x) { return squeeze(unsqueeze(x[0], 1), 1) * unsqueeze(x[0], 0); }});
    c.push_back({"cat/dim0", {{2, 3}, {1, 3}}, [](const V& x) { return cat({x[0], x[1]}, 0); }});
    c.push_back({"cat/dim1_three", {{2, 3}, {2, 1}, {2, 2}}, [](const V& x) { return cat({x[0], x[1], x[2]}, 1); }});
    c.push_back({"contiguous", {{3, 4}}, [](const V& x) { return contiguous(transpose(x[0], 0, 1)); }});
    c.push_back({"sum_to", {{2, 3, 4}}, [](const V& x) { return sum_to(x[0], {3, 1}); }});
    // Losses
    c.push_back({"log_softmax/dim1", {{3, 5}}, [](const V& x) { return log_softmax(x[0], 1); }});
    c.push_back({"log_softmax/dim0", {{4, 3}}, [](const V& x) { return log_softmax(x[0], 0); }});
    c.push_back({"softmax", {{3, 5}}, [](const V& x) { return softmax(x[0], -1); }});
    c.push_back({"cross_entropy", {{4, 6}}, [](const V& x) {
                   return cross_entropy(x[0], from_vector<int64_t>({5, 0, 2, 2}, {4}, x[0].device()));
                 }});
    c.push_back({"nll_loss", {{3, 4}}, [](const V& x) {
                   return nll_loss(x[0], from_vector<int32_t>({1, 3, 0}, {3}, x[0].device()));
                 }});
    return c;
  }();
  return cases;
}

OpRun run_op_case(const OpCase& c, const std::vector<Tensor>& inputs64, Device device, DType dtype) {
  std::vector<Tensor> inputs;
  for (const auto& t : inputs64) {
    Tensor x = t.to(dtype).to(device);
    x.set_requires_grad(true);
    inputs.push_back(x);
  }
  OpRun run;
  run.out = c.run(inputs);
  Generator gen(99);
  const Tensor weights = randn(run.out.shape(), gen, DType::F32).to(device);
  run.grads = grad({sum(mul(run.out, weights))}, inputs);
  return run;
}

std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.input_shapes.size(); ++i) {
    Tensor t = randn(c.input_shapes[i], gen, DType::F64);
    double* p = t.data<double>();
    for (int64_t k = 0; k < t.numel(); ++k) p[k] = c.shape_value(p[k], i);
    inputs.push_back(t);
  }
  return inputs;
}

}  // namespace mmp::testing
