// MMPareto (Wei & Hu, ICML 2024) with the official code's semantics (code/MMPareto.py):
// where the multimodal and unimodal gradients of an encoder agree (cos > 0) they get
// equal weights, otherwise the min-norm (Pareto) weights; the combination, doubled,
// is rescaled per parameter tensor to at least the norm of the plain sum, times gamma.
#include <cmath>

#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

class MMPareto : public Integrator {
 public:
  explicit MMPareto(const IntegratorOptions& o) : options_(o) {}
  std::string name() const override { return "mmpareto"; }

  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext&) override {
    // Per-tensor rescaling needs each tensor's Gram matrix; the group's is their sum.
    std::vector<Gram> grams;
    if (options_.rescale_per_tensor) grams = segment_grams(group);
    GroupReport r = grams.empty() ? start_report(group) : report_from_gram(group, sum_grams(grams));
    const size_t k = group.gradients.size();
    // Agreement as the reference measures it: F.cosine_similarity (norms floored at 1e-8).
    bool all_agree = true;
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i + 1; j < k; ++j)
        all_agree = all_agree && r.gram[i][j] / std::max(r.norm(i) * r.norm(j), 1e-8) > 0;
    r.weights = all_agree ? std::vector<double>(k, 1.0 / static_cast<double>(k))
                          : min_norm_weights(r.gram, options_, /*official_two=*/true);
    // new = K Σ w_k g_k (2 (c g_mm + (1 - c) g_u) for two objectives)
    std::vector<double> doubled(r.weights);
    for (double& w : doubled) w *= static_cast<double>(k);
    write_combination(group.gradients, doubled, out);

    // Rescale: r = ||Σ g|| / ||new||, grad = gamma * max(r, 1) * new; where ||new|| = 0
    // (the reference divides by it and gets NaN) the factor is gamma.
    auto factor = [&](double sum_norm, double new_norm) {
      const double ratio = new_norm > 0 ? sum_norm / new_norm : 1.0;
      return options_.gamma * std::max(ratio, 1.0);
    };
    double new_sq = 0;
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j) new_sq += doubled[i] * doubled[j] * r.gram[i][j];
    if (!options_.rescale_per_tensor) {
      r.scale = factor(r.norm_sum, std::sqrt(std::max(new_sq, 0.0)));
      out.copy_(mul_scalar(out, r.scale));
      r.norm_final = r.scale * std::sqrt(std::max(new_sq, 0.0));
      return r;
    }
    // Per tensor, both norms follow from the tensor's own Gram matrix: no extra pass.
    std::vector<double> factors(grams.size());
    double total = 0, final_sq = 0;
    for (size_t i = 0; i < grams.size(); ++i) {
      double sum_sq = 0, seg_new_sq = 0;
      for (size_t a = 0; a < k; ++a)
        for (size_t b = 0; b < k; ++b) {
          sum_sq += grams[i][a][b];
          seg_new_sq += doubled[a] * doubled[b] * grams[i][a][b];
        }
      factors[i] = factor(std::sqrt(std::max(sum_sq, 0.0)), std::sqrt(std::max(seg_new_sq, 0.0)));
      total += factors[i];
      final_sq += factors[i] * factors[i] * std::max(seg_new_sq, 0.0);
    }
    scale_segments(out, group, factors);
    r.scale = total / static_cast<double>(factors.size());
    r.norm_final = std::sqrt(final_sq);
    return r;
  }

 private:
  IntegratorOptions options_;
};

}  // namespace

std::unique_ptr<Integrator> mmpareto(const IntegratorOptions& options) { return std::make_unique<MMPareto>(options); }

}  // namespace mmp::integrators
