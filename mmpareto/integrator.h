#pragma once
// Gradient integrators: they read the per-objective gradient buffers of one
// parameter group (an encoder) and write the gradient the optimizer will use, and
// report what they did so the trainer can log and plot it.
#include <memory>
#include <string>
#include <vector>

#include "engine/distributed.h"
#include "engine/ops.h"
#include "mmpareto/min_norm.h"

namespace mmp {

struct AVOutputs;
class AVClassifier;

// One group's gradients: one flat buffer per objective that reaches the group (the
// multimodal objective first), and where each parameter tensor lies in them.
struct GroupGradients {
  std::string group;                    // "audio", "visual"
  std::vector<std::string> objectives;  // "mm", "audio", ...
  std::vector<Tensor> gradients;        // flat, one per objective
  std::vector<int64_t> offsets;         // of each tensor in the buffers
  std::vector<Shape> shapes;            // of each tensor
};

struct GroupReport {
  std::string group;
  std::vector<std::string> objectives;
  Gram gram;                    // <g_i, g_j>
  std::vector<double> weights;  // share of each objective in the result, before any rescale
  double norm_sum = 0;          // ||Σ g_k||, the plain sum's norm
  double norm_final = 0;        // ||result||
  double scale = 1;             // magnitude factor applied on top of the weights (mean over tensors if per tensor)
  bool conflict = false;        // two objectives have a negative cosine
  double norm(size_t k) const;
  double cosine(size_t i, size_t j) const;  // 0 when either gradient is zero
};

// What integrators may need beyond the gradients.
struct StepContext {
  int epoch = 0;
  int64_t step = 0;
  const AVOutputs* outputs = nullptr;
  const Tensor* labels = nullptr;
  const AVClassifier* model = nullptr;
  Generator* rng = nullptr;  // for the randomised ones (PCGrad's order, OGM-GE's noise)
  // Data parallel: the ranks (null for one process). The gradient buffers are global
  // already; an integrator that reads the batch itself (OGM-GE) sums over the ranks.
  Communicator* comm = nullptr;
};

struct IntegratorOptions {
  double gamma = 1.5;             // mmpareto: magnitude factor
  bool rescale_per_tensor = true; // mmpareto: the official per-tensor rescale, or one over the encoder (paper)
  double cagrad_c = 0.5;
  double ogm_alpha = 0.1;         // OGM-GE: tanh coefficient
  int ogm_start_epoch = 0, ogm_end_epoch = 50;
  bool ogm_noise = true;          // the "GE" of OGM-GE
  // one-joint: the unimodal heads learn from their own losses as probes of the features
  // (mmp train's default), or get no gradient and stay as they are (the official
  // one_joint_loss.py; mmp step's default).
  bool one_joint_probes = true;
  int max_iterations = 250;       // Frank-Wolfe / CAGrad solver
  double tolerance = 1e-7;
};

class Integrator {
 public:
  virtual ~Integrator() = default;
  virtual std::string name() const = 0;
  // Called once per step before the groups (OGM-GE computes its coefficients here).
  virtual void begin_step(StepContext& ctx) {}
  // Writes the group's gradient into `out` (flat, the buffers' length).
  virtual GroupReport integrate(const GroupGradients& group, const Tensor& out, StepContext& ctx) = 0;
  // For the methods whose result is a fixed combination of the objectives (one-joint,
  // uniform): its weights, by objective. The step may then skip the per-objective
  // gradients and run one backward sweep of the weighted losses.
  virtual std::vector<double> fixed_weights() const { return {}; }
  // Whether the unimodal heads learn from their losses; if not, they get no gradient at
  // all (the optimizer leaves them untouched: no weight decay, no momentum).
  virtual bool trains_unimodal_heads() const { return true; }
};

// one-joint, uniform, mmpareto, mgda, pcgrad, cagrad, ogm-ge
std::unique_ptr<Integrator> make_integrator(const std::string& name, const IntegratorOptions& options = {});
const std::vector<std::string>& integrator_names();

// ---- helpers shared by the integrators ----------------------------------------
// The report's Gram matrix, norms and conflict flag, from one pass over the buffers.
GroupReport start_report(const GroupGradients& group);
// The same from a Gram matrix already at hand (e.g. the sum of the per-tensor ones).
GroupReport report_from_gram(const GroupGradients& group, Gram gram);
// out = Σ w_k g_k in one pass.
void write_combination(const std::vector<Tensor>& gradients, const std::vector<double>& weights, const Tensor& out);
// The Gram matrix of the objectives' gradients restricted to each parameter tensor.
std::vector<Gram> segment_grams(const GroupGradients& group);
// Their sum: the whole group's Gram matrix.
Gram sum_grams(const std::vector<Gram>& grams);
// Squared norm of each tensor's slice of a flat buffer.
std::vector<double> segment_squared_norms(const Tensor& flat, const GroupGradients& group);
// Multiplies each tensor's slice of a flat buffer by its factor, in place.
void scale_segments(const Tensor& flat, const GroupGradients& group, const std::vector<double>& factors);
Tensor segment(const Tensor& flat, const GroupGradients& group, size_t i);

}  // namespace mmp
