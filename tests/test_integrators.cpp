// The solvers and integrators on small cases with known answers: min-norm weights
// against brute force, PCGrad and CAGrad worked by hand, and the edge cases the
// reference code does not guard (zero gradients, orthogonal or identical ones).
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "mmpareto/integrator.h"
#include "mmpareto/min_norm.h"

using namespace mmp;

namespace {

Gram random_gram(Generator& gen, int k, int dim) {
  const auto v = randn({k, dim}, gen, DType::F64).to_vector<double>();
  Gram g(k, std::vector<double>(k, 0.0));
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j)
      for (int d = 0; d < dim; ++d) g[i][j] += v[i * dim + d] * v[j * dim + d];
  return g;
}

// min over a grid of the simplex (step 1/n) of wᵀ G w, by recursion over coordinates.
double brute_force_min(const Gram& g, int n) {
  const int k = static_cast<int>(g.size());
  std::vector<double> w(k);
  double best = INFINITY;
  std::function<void(int, int)> walk = [&](int i, int left) {
    if (i == k - 1) {
      w[i] = static_cast<double>(left) / n;
      best = std::min(best, quadratic_form(g, w));
      return;
    }
    for (int a = 0; a <= left; ++a) {
      w[i] = static_cast<double>(a) / n;
      walk(i + 1, left - a);
    }
  };
  walk(0, n);
  return best;
}

// A group of flat gradients (one tensor each) for calling an integrator directly.
GroupGradients group_of(const std::vector<std::vector<double>>& vectors) {
  GroupGradients g;
  g.group = "audio";
  const int64_t n = static_cast<int64_t>(vectors[0].size());
  for (size_t k = 0; k < vectors.size(); ++k) {
    g.objectives.push_back(k == 0 ? "mm" : "uni" + std::to_string(k));
    g.gradients.push_back(from_vector(vectors[k], {n}));
  }
  g.offsets = {0};
  g.shapes = {{n}};
  return g;
}

std::vector<double> run(const std::string& method, const std::vector<std::vector<double>>& vectors,
                        GroupReport* report = nullptr, IntegratorOptions options = {}) {
  const GroupGradients g = group_of(vectors);
  const Tensor out = zeros({static_cast<int64_t>(vectors[0].size())}, DType::F64);
  Generator gen(3);
  StepContext ctx;
  ctx.rng = &gen;
  const GroupReport r = make_integrator(method, options)->integrate(g, out, ctx);
  if (report) *report = r;
  return out.to_vector<double>();
}

}  // namespace

TEST_CASE("two-vector min-norm weight equals a brute-force search", "[unit][mmpareto]") {
  Generator gen(1);
  for (int trial = 0; trial < 200; ++trial) {
    const Gram g = random_gram(gen, 2, 1 + trial % 5);
    const double c = min_norm_weight_2(g[0][0], g[0][1], g[1][1]);
    REQUIRE(c >= 0.0);
    REQUIRE(c <= 1.0);
    double best = INFINITY;
    for (int i = 0; i <= 100000; ++i) best = std::min(best, quadratic_form(g, {i / 1e5, 1 - i / 1e5}));
    CHECK(quadratic_form(g, {c, 1 - c}) <= best + 1e-12 * (1 + best));
  }
}

TEST_CASE("Frank-Wolfe reaches the brute-force minimum for 3 to 5 objectives", "[unit][mmpareto]") {
  Generator gen(2);
  for (int k = 3; k <= 5; ++k)
    for (int trial = 0; trial < 8; ++trial) {
      const Gram g = random_gram(gen, k, 2 + trial % 4);
      const MinNormSolution s = min_norm_frank_wolfe(g, 250, 1e-10);
      double total = 0;
      for (double w : s.weights) {
        CHECK(w >= 0.0);
        total += w;
      }
      CHECK(total == Approx(1.0).epsilon(1e-12));
      const double grid = brute_force_min(g, k == 5 ? 40 : 60);
      INFO("K = " << k << ", trial " << trial << ": Frank-Wolfe " << s.squared_norm << ", grid " << grid);
      CHECK(s.squared_norm <= grid + 1e-6 * (1 + grid));
    }
}

TEST_CASE("Frank-Wolfe's answer does not depend on the gradients' scale", "[unit][mmpareto]") {
  // diag(1, 4, 4): the min-norm weights are (2/3, 1/6, 1/6), for tiny gradients too.
  for (const double scale : {1.0, 1e-8, 1e8}) {
    INFO("scale " << scale);
    const MinNormSolution s = min_norm_frank_wolfe({{scale, 0, 0}, {0, 4 * scale, 0}, {0, 0, 4 * scale}});
    CHECK(s.weights[0] == Approx(2.0 / 3).epsilon(1e-4));
    CHECK(s.weights[1] == Approx(1.0 / 6).epsilon(1e-4));
    CHECK(s.weights[2] == Approx(1.0 / 6).epsilon(1e-4));
  }
}

TEST_CASE("PCGrad on a worked example", "[unit][mmpareto]") {
  // g1 = (1, 0), g2 = (-1, 1): <g1, g2> = -1.
  // g1' = g1 + g2 / 2 = (0.5, 0.5); g2' = g2 + g1 = (0, 1); sum (0.5, 1.5).
  GroupReport r;
  const auto out = run("pcgrad", {{1, 0}, {-1, 1}}, &r);
  CHECK(out[0] == Approx(0.5));
  CHECK(out[1] == Approx(1.5));
  CHECK(r.conflict);
  // No conflict: the plain sum.
  const auto agree = run("pcgrad", {{1, 0}, {1, 1}});
  CHECK(agree == std::vector<double>{2, 1});
}

TEST_CASE("CAGrad: c = 0 gives the mean; otherwise it reduces the worst objective's loss rate", "[unit][mmpareto]") {
  IntegratorOptions zero_c;
  zero_c.cagrad_c = 0;
  const auto mean = run("cagrad", {{2, 0}, {0, 4}}, nullptr, zero_c);
  CHECK(mean[0] == Approx(1.0).epsilon(1e-6));
  CHECK(mean[1] == Approx(2.0).epsilon(1e-6));
  // The CAGrad direction d maximises the worst <g_i, d> within ||d - g0|| <= c ||g0||.
  const std::vector<std::vector<double>> g{{1, 0.2}, {-0.5, 1}};
  const auto d = run("cagrad", g);
  const double scale = 1 + 0.25;  // d was divided by 1 + c²
  const double worst = std::min((g[0][0] * d[0] + g[0][1] * d[1]) * scale, (g[1][0] * d[0] + g[1][1] * d[1]) * scale);
  const double g0x = 0.25, g0y = 0.6, radius = 0.5 * std::sqrt(g0x * g0x + g0y * g0y);
  double best = -INFINITY;  // search the ball's boundary and centre
  for (int i = 0; i < 20000; ++i) {
    const double t = 2 * M_PI * i / 20000;
    for (double rr : {0.0, radius}) {
      const double dx = g0x + rr * std::cos(t), dy = g0y + rr * std::sin(t);
      best = std::max(best, std::min(g[0][0] * dx + g[0][1] * dy, g[1][0] * dx + g[1][1] * dy));
    }
  }
  CHECK(worst == Approx(best).epsilon(1e-4));
}

TEST_CASE("MMPareto: agreement, conflict, and the magnitude rescale", "[unit][mmpareto]") {
  GroupReport r;
  // Agreeing gradients: 0.5/0.5, new = g1 + g2, r = 1, times gamma.
  auto out = run("mmpareto", {{1, 0}, {1, 1}}, &r);
  CHECK(r.weights == std::vector<double>{0.5, 0.5});
  CHECK(out[0] == Approx(1.5 * 2));
  CHECK(out[1] == Approx(1.5 * 1));
  // Conflicting: the min-norm point c g1 + (1-c) g2, doubled, scaled up to ||g1 + g2||.
  out = run("mmpareto", {{1, 0}, {-1, 1}}, &r);
  const double c = min_norm_weight_2_official(1, -1, 2);  // (2 + 1) / (1 + 2 + 2) = 0.6
  CHECK(c == Approx(0.6));
  CHECK(r.weights[0] == Approx(0.6));
  const double nx = 2 * (c - (1 - c)), ny = 2 * (1 - c);  // new = (0.4, 0.8)
  const double ratio = std::sqrt(0 * 0 + 1 * 1) / std::sqrt(nx * nx + ny * ny);  // ||g1+g2|| = 1
  CHECK(out[0] == Approx(1.5 * std::max(ratio, 1.0) * nx));
  CHECK(out[1] == Approx(1.5 * std::max(ratio, 1.0) * ny));
  CHECK(r.conflict);
}

TEST_CASE("edge cases give finite results: zero, orthogonal and identical gradients", "[unit][mmpareto]") {
  for (const std::string& method : integrator_names()) {
    if (method == "ogm-ge") continue;  // needs a model's outputs; see the step tests
    INFO(method);
    GroupReport r;
    // A zero unimodal gradient (the reference's MMPareto divides 0 by 0 here).
    auto out = run(method, {{1, 2}, {0, 0}}, &r);
    for (double v : out) CHECK(std::isfinite(v));
    // Both zero.
    out = run(method, {{0, 0}, {0, 0}}, &r);
    for (double v : out) CHECK(v == 0.0);
    // Cosine exactly 0.
    out = run(method, {{1, 0}, {0, 1}}, &r);
    for (double v : out) CHECK(std::isfinite(v));
    CHECK(r.cosine(0, 1) == 0.0);
    CHECK_FALSE(r.conflict);
    // Identical gradients.
    out = run(method, {{3, -1}, {3, -1}}, &r);
    for (double v : out) CHECK(std::isfinite(v));
    CHECK(r.cosine(0, 1) == Approx(1.0));
  }
  // Orthogonal: MMPareto takes the min-norm branch (cos > 0 is false).
  GroupReport r;
  run("mmpareto", {{1, 0}, {0, 1}}, &r);
  CHECK(r.weights[0] == Approx(0.5));
  run("mmpareto", {{1, 1}, {0, -1}}, &r);
  CHECK(r.weights[0] == Approx(min_norm_weight_2_official(2, -1, 1)));
}

TEST_CASE("three or more objectives work for mgda, pcgrad, cagrad and mmpareto", "[unit][mmpareto]") {
  const std::vector<std::vector<double>> g{{1, 0, 0}, {-0.5, 1, 0}, {-0.5, -0.5, 1}};
  for (const char* method : {"mgda", "pcgrad", "cagrad", "mmpareto"}) {
    INFO(method);
    GroupReport r;
    const auto out = run(method, g, &r);
    CHECK(r.weights.size() == 3);
    for (double v : out) CHECK(std::isfinite(v));
    CHECK(r.conflict);
  }
  // MGDA's direction is a common descent direction: <g_i, d> >= ||d||² for all i.
  const auto d = run("mgda", g);
  const double dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  for (const auto& gi : g) CHECK(gi[0] * d[0] + gi[1] * d[1] + gi[2] * d[2] >= dd - 1e-6);  // solver tolerance

  // The values. Gram matrix of g, and its minimum over the simplex by brute force.
  Gram gram(3, std::vector<double>(3, 0.0));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int c = 0; c < 3; ++c) gram[i][j] += g[i][c] * g[j][c];
  const double minimum = brute_force_min(gram, 300);
  auto combination = [&](const std::vector<double>& w, double factor) {
    std::vector<double> out(3, 0.0);
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < 3; ++c) out[c] += factor * w[i] * g[i][c];
    return out;
  };
  auto check_equal = [](const std::vector<double>& got, const std::vector<double>& expected) {
    for (size_t c = 0; c < got.size(); ++c) CHECK(got[c] == Approx(expected[c]).margin(1e-9));
  };
  // MGDA: the min-norm point of the simplex, used as it is.
  GroupReport r;
  auto out = run("mgda", g, &r);
  CHECK(quadratic_form(gram, r.weights) == Approx(minimum).margin(1e-4));
  CHECK(r.weights[0] + r.weights[1] + r.weights[2] == Approx(1.0));
  check_equal(out, combination(r.weights, 1.0));
  // MMPareto: the same weights under conflict, times K, rescaled to at least the sum's norm, times gamma.
  out = run("mmpareto", g, &r);
  CHECK(quadratic_form(gram, r.weights) == Approx(minimum).margin(1e-4));
  const std::vector<double> sum = combination({1, 1, 1}, 1.0), fresh = combination(r.weights, 3.0);
  const double ratio = std::sqrt(sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]) /
                       std::sqrt(fresh[0] * fresh[0] + fresh[1] * fresh[1] + fresh[2] * fresh[2]);
  check_equal(out, combination(r.weights, 3.0 * 1.5 * std::max(ratio, 1.0)));
  // CAGrad with c = 0: the mean.
  IntegratorOptions zero_c;
  zero_c.cagrad_c = 0;
  out = run("cagrad", g, nullptr, zero_c);
  const std::vector<double> mean = combination({1.0 / 3, 1.0 / 3, 1.0 / 3}, 1.0);
  for (int c = 0; c < 3; ++c) CHECK(out[c] == Approx(mean[c]).margin(1e-6));
  // PCGrad, worked by hand on a case whose result does not depend on the random order:
  // only g1 and g2 conflict. g1' = g1 - (<g1,g2>/|g2|²) g2 = (0.5, 0.5, 0),
  // g2' = g2 - (<g2,g1>/|g1|²) g1 = (0, 1, 0), g3' = g3.
  check_equal(run("pcgrad", {{1, 0, 0}, {-1, 1, 0}, {0, 0, 1}}), {0.5, 1.5, 1.0});
}
