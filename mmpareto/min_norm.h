#pragma once
// Minimum-norm points of the convex hull of gradients (Sener & Koltun, "Multi-Task
// Learning as Multi-Objective Optimization", 2018), computed from their Gram matrix
// G[i][j] = <g_i, g_j>: weights w on the simplex minimising ||Σ w_i g_i||².
#include <vector>

namespace mmp {

using Gram = std::vector<std::vector<double>>;

// argmin_c ||c x1 + (1 - c) x2||² over c in [0, 1], from v11 = <x1,x1>, v12, v22.
double min_norm_weight_2(double v11, double v12, double v22);

// The official MMPareto/MGDA code's version of the same: 0.999 when v12 >= v11,
// 0.001 when v12 >= v22, else (v22 - v12) / (v11 + v22 - 2 v12) — and 0.5 where
// that denominator vanishes (identical vectors), which the reference divides by.
double min_norm_weight_2_official(double v11, double v12, double v22);

struct MinNormSolution {
  std::vector<double> weights;
  double squared_norm = 0;  // ||Σ w_i g_i||²
  int iterations = 0;
};

// Frank-Wolfe with away steps and exact line search, from the uniform point, until
// the Frank-Wolfe gap (a bound on the distance to the minimum) falls under
// `tolerance` times the largest squared gradient norm, or after `max_iterations`.
MinNormSolution min_norm_frank_wolfe(const Gram& gram, int max_iterations = 250, double tolerance = 1e-7);

// Σ_ij w_i w_j G[i][j]
double quadratic_form(const Gram& gram, const std::vector<double>& w);

}  // namespace mmp
