// The tape: several roots and seeds, keeping the tape, no_grad, accumulation, and
// per-objective gradients after one forward.
#include <catch2/catch.hpp>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

Tensor param(const Shape& shape, Generator& gen) {
  Tensor t = randn(shape, gen, DType::F64);
  t.set_requires_grad(true);
  return t;
}

// A shared trunk and three heads, each with its own loss.
struct ThreeHeads {
  Generator gen{2024};
  Tensor x = randn({5, 4}, gen, DType::F64);
  Tensor w1 = param({6, 4}, gen), b1 = param({6}, gen), w2 = param({6, 6}, gen);
  Tensor h1 = param({3, 6}, gen), h2 = param({3, 6}, gen), h3 = param({2, 6}, gen);
  Tensor labels3 = from_vector<int64_t>({0, 2, 1, 1, 0}, {5});
  Tensor labels2 = from_vector<int64_t>({1, 0, 0, 1, 1}, {5});

  std::vector<Tensor> trunk_params() const { return {w1, b1, w2}; }
  std::vector<Tensor> all_params() const { return {w1, b1, w2, h1, h2, h3}; }

  std::vector<Tensor> losses() const {
    const Tensor h = relu(linear(relu(linear(x, w1, b1)), w2, Tensor()));
    return {cross_entropy(linear(h, h1, Tensor()), labels3),
            mean(square(linear(h, h2, Tensor()))),
            cross_entropy(linear(h, h3, Tensor()), labels2)};
  }
};

void clear_grads(const std::vector<Tensor>& params) {
  for (const auto& p : params) p.set_grad(Tensor());
}

}  // namespace

TEST_CASE("per-loss gradients after one forward equal separate backward passes", "[unit][autograd]") {
  ThreeHeads net;
  const auto params = net.all_params();
  const auto per_loss = grad_per_root(net.losses(), params);
  REQUIRE(per_loss.size() == 3);

  for (size_t k = 0; k < 3; ++k) {
    clear_grads(params);
    backward(net.losses()[k]);  // a fresh forward and a full backward for loss k alone
    for (size_t j = 0; j < params.size(); ++j) {
      INFO("loss " << k << ", parameter " << j);
      if (!params[j].grad().defined()) {
        CHECK_FALSE(per_loss[k][j].defined());  // loss k does not reach this head
        continue;
      }
      REQUIRE(per_loss[k][j].defined());
      CHECK(max_abs_difference(per_loss[k][j], params[j].grad()) < 1e-12);
    }
  }

  // The gradient of the summed loss is the sum of the per-loss gradients.
  clear_grads(params);
  const auto losses = net.losses();
  backward(add(add(losses[0], losses[1]), losses[2]));
  for (size_t j = 0; j < params.size(); ++j) {
    Tensor total = zeros_like(params[j]);
    for (size_t k = 0; k < 3; ++k)
      if (per_loss[k][j].defined()) total = add(total, per_loss[k][j]);
    INFO("parameter " << j);
    CHECK(max_abs_difference(total, params[j].grad()) < 1e-12);
  }
}

TEST_CASE("a per-loss sweep runs only the nodes between its loss and the inputs", "[unit][autograd]") {
  // Two encoders, a head on both and a head on each: the audio-visual layout.
  Generator gen(5);
  const Tensor xa = randn({4, 3}, gen, DType::F64), xb = randn({4, 5}, gen, DType::F64);
  const Tensor ea = param({6, 3}, gen), eb = param({6, 5}, gen);
  const Tensor head = param({2, 12}, gen), head_a = param({2, 6}, gen), head_b = param({2, 6}, gen);
  const Tensor labels = from_vector<int64_t>({0, 1, 1, 0}, {4});
  const Tensor fa = relu(linear(xa, ea, Tensor())), fb = relu(linear(xb, eb, Tensor()));
  const Tensor loss_mm = cross_entropy(linear(cat({fa, fb}, 1), head, Tensor()), labels);
  const Tensor loss_a = cross_entropy(linear(fa, head_a, Tensor()), labels);
  const Tensor loss_b = cross_entropy(linear(fb, head_b, Tensor()), labels);

  reset_nodes_executed();
  const auto g_mm = grad({loss_mm}, {ea, eb}, {}, /*keep_tape=*/true);
  const uint64_t mm_nodes = nodes_executed();
  reset_nodes_executed();
  const auto g_a = grad({loss_a}, {ea, eb}, {}, /*keep_tape=*/true);
  const uint64_t a_nodes = nodes_executed();
  CHECK(g_mm[0].defined());
  CHECK(g_mm[1].defined());
  CHECK(g_a[0].defined());
  CHECK_FALSE(g_a[1].defined());  // the audio loss never reaches the visual encoder
  CHECK(a_nodes < mm_nodes);

  // Asking only for the heads' gradients never enters the encoders.
  reset_nodes_executed();
  const auto g_heads = grad({loss_mm}, {head}, {}, /*keep_tape=*/true);
  CHECK(g_heads[0].defined());
  const uint64_t head_nodes = nodes_executed();
  CHECK(head_nodes < a_nodes);
  CHECK(head_nodes <= 4);  // nll, log_softmax, matmul (+ transpose of the weight)

  const auto per_root = grad_per_root({loss_mm, loss_a, loss_b}, {ea, eb, head, head_a, head_b});
  CHECK(max_abs_difference(per_root[0][0], g_mm[0]) == 0.0);
  CHECK(max_abs_difference(per_root[1][0], g_a[0]) == 0.0);
  CHECK_FALSE(per_root[2][0].defined());
  CHECK_FALSE(per_root[1][4].defined());
}

TEST_CASE("several roots with their own seeds", "[unit][autograd]") {
  Generator gen(3);
  const Tensor w = param({3, 4}, gen);
  const Tensor y1 = matmul(w, randn({4, 2}, gen, DType::F64));
  const Tensor y2 = exp(w);
  const Tensor s1 = randn({3, 2}, gen, DType::F64), s2 = randn({3, 4}, gen, DType::F64);
  const Tensor g1 = grad({y1}, {w}, {s1}, true)[0];
  const Tensor g2 = grad({y2}, {w}, {s2}, true)[0];
  backward({y1, y2}, {s1, s2});
  CHECK(max_abs_difference(w.grad(), add(g1, g2)) < 1e-14);
  CHECK_THROWS_WITH(backward({y1}), Contains("needs an explicit seed"));
}

TEST_CASE("keeping the tape allows a second sweep; otherwise it is an error", "[unit][autograd]") {
  Generator gen(4);
  const Tensor w = param({4}, gen);
  const Tensor loss = sum(square(mul(w, w)));
  backward(loss, /*keep_tape=*/true);
  const Tensor first = w.grad().clone();
  backward(loss, /*keep_tape=*/false);  // accumulates into the same .grad
  CHECK(max_abs_difference(w.grad(), mul_scalar(first, 2.0)) < 1e-12);
  CHECK_THROWS_WITH(backward(loss), Contains("a second time"));
}

TEST_CASE("a tensor a backward needs, written in place after the forward, is an error", "[unit][autograd]") {
  Generator gen(5);
  const Tensor x = randn({3, 4}, gen, DType::F64);
  // w's gradient needs x, which mul keeps: a write to it (here through a view) fails.
  Tensor w = param({3, 4}, gen);
  Tensor loss = sum(mul(x, w));
  slice(x, 0, 1, 2).fill_(0.5);
  CHECK_THROWS_WITH(backward(loss), Contains("backward of 'mul'") && Contains("modified in place"));
  // add keeps neither input: writing one afterwards is allowed, as in PyTorch.
  w = param({3, 4}, gen);
  loss = sum(add(x, w));
  x.copy_(randn({3, 4}, gen, DType::F64));
  backward(loss);
  CHECK(w.grad().defined());
  // An optimizer step between the forward and the backward moves the weights a matmul
  // kept (the first layer's gradient goes through the second's weights).
  const Tensor v1 = param({4, 3}, gen), v2 = param({3, 2}, gen);
  loss = sum(matmul(matmul(x, v1), v2));
  OptimizerOptions sgd;
  sgd.kind = "sgd";
  const auto optimizer = make_optimizer({{"v2", v2}}, sgd);
  v2.set_grad(ones(v2.shape(), DType::F64));
  optimizer->step(0.1);
  CHECK_THROWS_WITH(backward(loss), Contains("backward of 'matmul'") && Contains("modified in place"));
  // Kept outputs count too (exp keeps its result).
  const Tensor u = param({4}, gen);
  const Tensor e = exp(u);
  loss = sum(e);
  Tensor target = e.detach();
  target.fill_(1.0);
  CHECK_THROWS_WITH(backward(loss), Contains("backward of 'exp'"));
  // A training-mode batch norm updates the running mean an evaluation-mode one kept.
  const Tensor bn_w = param({4}, gen), bn_b = param({4}, gen);
  const Tensor running_mean = zeros({4}, DType::F64), running_var = ones({4}, DType::F64);
  loss = sum(batch_norm(x, bn_w, bn_b, running_mean, running_var, /*training=*/false, 0.1, 1e-5));
  batch_norm(x, bn_w, bn_b, running_mean, running_var, /*training=*/true, 0.1, 1e-5);
  CHECK_THROWS_WITH(backward(loss), Contains("modified in place"));
}

TEST_CASE("no_grad records nothing; gradients accumulate until cleared", "[unit][autograd]") {
  Generator gen(6);
  const Tensor w = param({2, 2}, gen);
  {
    NoGradGuard no_grad;
    const Tensor y = mul(w, w);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(grad_mode_enabled());
  const Tensor y = sum(mul(w, w));
  CHECK(y.requires_grad());
  backward(sum(mul_scalar(w, 3.0)));
  backward(sum(mul_scalar(w, 3.0)));
  CHECK(max_abs_difference(w.grad(), full({2, 2}, 6.0, DType::F64)) == 0.0);
  w.set_grad(Tensor());
  CHECK_FALSE(w.grad().defined());
  CHECK_THROWS_WITH(backward(sum(mul_scalar(w, 1.0).detach())), Contains("does not require grad"));
}

TEST_CASE("gradients reach non-leaf tensors and views", "[unit][autograd]") {
  Generator gen(8);
  const Tensor w = param({3, 4}, gen);
  const Tensor h = mul_scalar(w, 2.0);
  const Tensor loss = sum(square(slice(h, 1, 1, 3)));
  const auto g = grad({loss}, {h, w});
  // d/dh = 2h on the sliced columns, 0 elsewhere; d/dw = 2 d/dh.
  const auto gh = g[0].to_vector<double>(), hv = h.to_vector<double>(), gw = g[1].to_vector<double>();
  for (int i = 0; i < 12; ++i) {
    const int col = i % 4;
    CHECK(gh[i] == Approx((col == 1 || col == 2) ? 2 * hv[i] : 0.0));
    CHECK(gw[i] == Approx(2 * gh[i]));
  }
}
