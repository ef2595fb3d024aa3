// MGDA (Désidéri 2012; Sener & Koltun 2018): the min-norm point of the convex hull of
// the objectives' gradients, a common descent direction; no magnitude step.
#include <cmath>

#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

class Mgda : public Integrator {
 public:
  explicit Mgda(const IntegratorOptions& o) : options_(o) {}
  std::string name() const override { return "mgda"; }
  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext&) override {
    GroupReport r = start_report(group);
    r.weights = min_norm_weights(r.gram, options_, /*official_two=*/false);
    write_combination(group.gradients, r.weights, out);
    r.norm_final = std::sqrt(std::max(quadratic_form(r.gram, r.weights), 0.0));
    return r;
  }

 private:
  IntegratorOptions options_;
};

}  // namespace

std::unique_ptr<Integrator> mgda(const IntegratorOptions& options) { return std::make_unique<Mgda>(options); }

}  // namespace mmp::integrators
