#include "tests/support/compare.h"

#include <algorithm>
#include <cmath>

namespace mmp::testing {

double relative_error(const Tensor& a, const Tensor& b) {
  MMP_CHECK(a.shape() == b.shape(), "relative_error: ", a.str(), " vs ", b.str());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double diff = 0, ref = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff += (va[i] - vb[i]) * (va[i] - vb[i]);
    ref += vb[i] * vb[i];
  }
  if (std::isnan(diff)) return INFINITY;
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-30);
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  MMP_CHECK(a.shape() == b.shape(), "max_abs_difference: ", a.str(), " vs ", b.str());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double d = std::fabs(va[i] - vb[i]);
    if (std::isnan(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

}  // namespace mmp::testing
