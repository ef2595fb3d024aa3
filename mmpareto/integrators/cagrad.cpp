// CAGrad (Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning",
// 2021), as its official code: w on the simplex minimises
//   F(w) = wᵀ G b + c ||g0|| sqrt(wᵀ G w),  b = 1/K, g0 = mean of the gradients,
// then d = g0 + c ||g0|| / ||g_w|| · g_w, returned as d / (1 + c²). For two objectives
// (every group here) w is found in closed form, exact to rounding; for more, by
// projected gradient descent.
#include <algorithm>
#include <cmath>

#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

// Euclidean projection onto the probability simplex (Duchi et al. 2008).
std::vector<double> project_to_simplex(std::vector<double> y) {
  std::vector<double> sorted = y;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  double cumulative = 0, theta = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    cumulative += sorted[i];
    const double t = (cumulative - 1.0) / static_cast<double>(i + 1);
    if (sorted[i] - t > 0) theta = t;
  }
  for (double& v : y) v = std::max(v - theta, 0.0);
  return y;
}

// The minimiser over w = (x, 1 - x), x in [0, 1], of x·d + c·sqrt(q(x) + eps), where
// d = (Gb)_0 - (Gb)_1 and q(x) = wᵀGw = A x² + B x + C. F is convex: the minimum is
// at an end where F' does not change sign there, else where F'(x) = 0, which squared
// is u² (c² A - d²) = d² (4 eps A - Δ) with u = 2 A x + B and Δ = B² - 4AC = -4 det G,
// u of the sign opposite to d's.
double two_objective_weight(const Gram& g, double d, double c, double eps) {
  const double a = g[0][0] - 2 * g[0][1] + g[1][1], b = 2 * (g[0][1] - g[1][1]), q0 = g[1][1];
  const auto slope = [&](double x) {
    return d + c * (2 * a * x + b) / (2 * std::sqrt(std::max(a * x * x + b * x + q0, 0.0) + eps));
  };
  if (slope(0.0) >= 0) return 0.0;
  if (slope(1.0) <= 0) return 1.0;
  // Here F' rises from below 0 to above it, so a > 0 and c² a > d².
  const double delta = 4 * (g[0][1] * g[0][1] - g[0][0] * g[1][1]);
  const double u_squared = d * d * (4 * eps * a - delta) / (c * c * a - d * d);
  const double u = (d > 0 ? -1.0 : 1.0) * std::sqrt(std::max(u_squared, 0.0));
  return std::clamp((u - b) / (2 * a), 0.0, 1.0);
}

class CAGrad : public Integrator {
 public:
  explicit CAGrad(const IntegratorOptions& o) : options_(o) {}
  std::string name() const override { return "cagrad"; }

  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext&) override {
    GroupReport r = start_report(group);
    const size_t k = group.gradients.size();
    const Gram& g = r.gram;
    const std::vector<double> b(k, 1.0 / static_cast<double>(k));
    const double g0_norm = std::sqrt(std::max(quadratic_form(g, b), 0.0) + 1e-8);
    const double c = options_.cagrad_c * g0_norm + 1e-8;
    std::vector<double> gb(k, 0.0);
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j) gb[i] += g[i][j] * b[j];
    auto objective = [&](const std::vector<double>& w) {
      double linear = 0;
      for (size_t i = 0; i < k; ++i) linear += w[i] * gb[i];
      return linear + c * std::sqrt(quadratic_form(g, w) + 1e-8);
    };
    std::vector<double> w = b;
    if (k == 2) {
      const double x = two_objective_weight(g, gb[0] - gb[1], c, 1e-8);
      w = {x, 1 - x};
    }
    // Projected gradient descent with backtracking: the objective is convex.
    double f = objective(w), step = 1.0 / std::max(g0_norm * g0_norm, 1e-12);
    for (int it = 0; k > 2 && it < options_.max_iterations * 4; ++it) {
      std::vector<double> grad(gb);
      const double root = std::sqrt(quadratic_form(g, w) + 1e-8);
      for (size_t i = 0; i < k; ++i)
        for (size_t j = 0; j < k; ++j) grad[i] += c * g[i][j] * w[j] / root;
      bool moved = false;
      for (int tries = 0; tries < 60; ++tries, step *= 0.5) {
        std::vector<double> candidate(k);
        for (size_t i = 0; i < k; ++i) candidate[i] = w[i] - step * grad[i];
        candidate = project_to_simplex(candidate);
        const double fc = objective(candidate);
        if (fc < f) {
          double change = 0;
          for (size_t i = 0; i < k; ++i) change += std::fabs(candidate[i] - w[i]);
          w = candidate;
          f = fc;
          moved = change > options_.tolerance * 1e-3;
          step *= 2;
          break;
        }
      }
      if (!moved) break;
    }
    const double gw_norm = std::sqrt(std::max(quadratic_form(g, w), 0.0));
    const double lambda = c / (gw_norm + 1e-8);
    const double rescale = 1.0 / (1.0 + options_.cagrad_c * options_.cagrad_c);
    r.weights.resize(k);
    for (size_t i = 0; i < k; ++i) r.weights[i] = (b[i] + lambda * w[i]) * rescale;
    write_combination(group.gradients, r.weights, out);
    r.norm_final = std::sqrt(std::max(quadratic_form(g, r.weights), 0.0));
    return r;
  }

 private:
  IntegratorOptions options_;
};

}  // namespace

std::unique_ptr<Integrator> cagrad(const IntegratorOptions& options) { return std::make_unique<CAGrad>(options); }

}  // namespace mmp::integrators
