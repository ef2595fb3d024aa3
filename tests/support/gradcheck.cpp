#include "tests/support/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace mmp::testing {

GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs_in, double eps, double atol, double rtol) {
  std::vector<Tensor> inputs;
  for (const auto& t : inputs_in) {
    MMP_CHECK(t.dtype() == DType::F64 && t.device().is_cpu(), "gradcheck needs f64 CPU inputs");
    Tensor leaf = t.detach().clone();
    leaf.set_requires_grad(true);
    inputs.push_back(leaf);
  }
  Tensor out = f(inputs);
  Generator gen(12345);
  const Tensor weights = randn(out.shape(), gen, DType::F64);
  const Tensor loss = sum(mul(out, weights));
  const std::vector<Tensor> analytic = grad({loss}, inputs);

  auto loss_at = [&]() {
    NoGradGuard no_grad;
    return sum(mul(f(inputs), weights)).item();
  };
  GradcheckReport report;
  double worst = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    double* x = inputs[i].data<double>();
    const std::vector<double> g = analytic[i].defined() ? analytic[i].to_vector<double>()
                                                        : std::vector<double>(inputs[i].numel(), 0.0);
    for (int64_t k = 0; k < inputs[i].numel(); ++k) {
      const double saved = x[k];
      x[k] = saved + eps;
      const double plus = loss_at();
      x[k] = saved - eps;
      const double minus = loss_at();
      x[k] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double excess = std::fabs(g[k] - numeric) - rtol * std::fabs(numeric);
      if (excess > worst) {
        worst = excess;
        std::ostringstream d;
        d << "input " << i << " element " << k << ": analytic " << g[k] << ", numeric " << numeric;
        report.detail = d.str();
      }
      if (excess > atol) report.ok = false;
    }
  }
  report.max_error = worst;
  return report;
}

}  // namespace mmp::testing
