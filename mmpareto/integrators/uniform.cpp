// The two baselines without surgery: the multimodal loss alone, and the plain sum.
#include "mmpareto/integrators/integrators.h"

namespace mmp::integrators {
namespace {

// Only the multimodal objective reaches the encoders (the official one_joint_loss.py);
// the unimodal heads learn from their own losses as probes of the features, or, as in
// the official code, not at all.
class OneJoint : public Integrator {
 public:
  explicit OneJoint(bool probes) : probes_(probes) {}
  std::string name() const override { return "one-joint"; }
  std::vector<double> fixed_weights() const override { return {1.0, 0.0, 0.0}; }
  bool trains_unimodal_heads() const override { return probes_; }
  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext&) override {
    GroupReport r = start_report(group);
    r.weights.assign(group.gradients.size(), 0.0);
    r.weights[0] = 1.0;
    out.copy_(group.gradients[0]);
    r.norm_final = r.norm(0);
    return r;
  }

 private:
  bool probes_;
};

// Σ_k g_k: the gradient of the summed loss (the official uniform_baseline.py).
class Uniform : public Integrator {
 public:
  std::string name() const override { return "uniform"; }
  std::vector<double> fixed_weights() const override { return {1.0, 1.0, 1.0}; }
  GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext&) override {
    GroupReport r = start_report(group);
    r.weights.assign(group.gradients.size(), 1.0);
    write_combination(group.gradients, r.weights, out);
    r.norm_final = r.norm_sum;
    return r;
  }
};

}  // namespace

std::unique_ptr<Integrator> one_joint(const IntegratorOptions& options) {
  return std::make_unique<OneJoint>(options.one_joint_probes);
}
std::unique_ptr<Integrator> uniform() { return std::make_unique<Uniform>(); }

}  // namespace mmp::integrators
