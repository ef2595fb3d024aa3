// PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", 2020): each
// objective's gradient is projected onto the normal plane of every other objective's
// gradient it conflicts with, in a random order; the results are summed. Every
// projected gradient stays a combination of the originals, so the surgery is done
// on their Gram matrix and the buffers are combined once.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

class PCGrad : public Integrator {
 public:
  std::string name() const override { return "pcgrad"; }
  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext& ctx) override {
    GroupReport r = start_report(group);
    const size_t k = group.gradients.size();
    const Gram& g = r.gram;
    r.weights.assign(k, 0.0);
    for (size_t i = 0; i < k; ++i) {
      // coeff: g_i' = Σ_m coeff[m] g_m
      std::vector<double> coeff(k, 0.0);
      coeff[i] = 1.0;
      std::vector<size_t> order(k);
      std::iota(order.begin(), order.end(), 0);
      shuffle(order, ctx);
      for (size_t j : order) {
        if (j == i || g[j][j] <= 0) continue;
        double dot = 0;  // <g_i', g_j>
        for (size_t m = 0; m < k; ++m) dot += coeff[m] * g[m][j];
        if (dot < 0) coeff[j] -= dot / g[j][j];
      }
      for (size_t m = 0; m < k; ++m) r.weights[m] += coeff[m];
    }
    write_combination(group.gradients, r.weights, out);
    r.norm_final = std::sqrt(std::max(quadratic_form(g, r.weights), 0.0));
    return r;
  }

 private:
  // Fisher-Yates with the step's generator (deterministic for a seed).
  static void shuffle(std::vector<size_t>& order, StepContext& ctx) {
    if (!ctx.rng) return;
    const std::vector<double> u = rand({static_cast<int64_t>(order.size())}, *ctx.rng, DType::F64).to_vector<double>();
    for (size_t i = order.size(); i-- > 1;) std::swap(order[i], order[static_cast<size_t>(u[i] * (i + 1))]);
  }
};

}  // namespace

std::unique_ptr<Integrator> pcgrad() { return std::make_unique<PCGrad>(); }

}  // namespace mmp::integrators
