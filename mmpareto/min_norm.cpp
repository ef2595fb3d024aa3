#include "mmpareto/min_norm.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace mmp {

double min_norm_weight_2(double v11, double v12, double v22) {
  if (v12 >= v11) return 1.0;  // x1 is the min-norm end
  if (v12 >= v22) return 0.0;
  return (v22 - v12) / (v11 + v22 - 2 * v12);
}

double min_norm_weight_2_official(double v11, double v12, double v22) {
  if (v12 >= v11) return 0.999;
  if (v12 >= v22) return 0.001;
  const double denominator = v11 + v22 - 2 * v12;
  if (denominator <= 0) return 0.5;
  return (v22 - v12) / denominator;
}

double quadratic_form(const Gram& gram, const std::vector<double>& w) {
  double total = 0;
  for (size_t i = 0; i < w.size(); ++i)
    for (size_t j = 0; j < w.size(); ++j) total += w[i] * w[j] * gram[i][j];
  return total;
}

MinNormSolution min_norm_frank_wolfe(const Gram& gram, int max_iterations, double tolerance) {
  const size_t k = gram.size();
  MMP_CHECK(k >= 1, "min-norm solver: no gradients");
  for (const auto& row : gram) MMP_CHECK(row.size() == k, "min-norm solver: Gram matrix is not square");
  // Frank-Wolfe with away steps (Lacoste-Julien & Jaggi, 2015), which converges
  // linearly on the simplex where the plain method zig-zags near a face. f(w) = wᵀGw,
  // ∇f = 2Gw; the Frank-Wolfe gap bounds f(w) - min f.
  // The gap is in squared-gradient units: it is compared with the tolerance relative
  // to the largest squared norm, so that the answer does not depend on the scale.
  double scale = 0;
  for (size_t i = 0; i < k; ++i) scale = std::max(scale, gram[i][i]);
  MinNormSolution s;
  std::vector<double>& w = s.weights;
  w.assign(k, 1.0 / static_cast<double>(k));
  for (s.iterations = 0; s.iterations < max_iterations; ++s.iterations) {
    std::vector<double> gw(k, 0.0);
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j) gw[i] += gram[i][j] * w[j];
    const double wgw = quadratic_form(gram, w);
    size_t toward = 0, away = k;
    for (size_t i = 0; i < k; ++i) {
      if (gw[i] < gw[toward]) toward = i;
      if (w[i] > 0 && (away == k || gw[i] > gw[away])) away = i;
    }
    const double fw_gap = 2 * (wgw - gw[toward]), away_gap = 2 * (gw[away] - wgw);
    if (fw_gap <= tolerance * scale) break;
    // Direction d and the largest step that stays on the simplex.
    std::vector<double> d(k, 0.0);
    double max_step;
    if (fw_gap >= away_gap) {
      for (size_t i = 0; i < k; ++i) d[i] = -w[i];
      d[toward] += 1.0;
      max_step = 1.0;
    } else {
      for (size_t i = 0; i < k; ++i) d[i] = w[i];
      d[away] -= 1.0;
      max_step = w[away] / (1.0 - w[away]);
    }
    // Exact line search of the quadratic along d.
    double slope = 0, curvature = 0;
    for (size_t i = 0; i < k; ++i) {
      slope += gw[i] * d[i];
      for (size_t j = 0; j < k; ++j) curvature += d[i] * gram[i][j] * d[j];
    }
    const double step = curvature > 0 ? std::clamp(-slope / curvature, 0.0, max_step) : max_step;
    if (step <= 0) break;
    for (size_t i = 0; i < k; ++i) w[i] = std::max(w[i] + step * d[i], 0.0);
  }
  double total = 0;
  for (double v : w) total += v;
  for (double& v : w) v /= total;
  s.squared_norm = quadratic_form(gram, w);
  return s;
}

}  // namespace mmp
