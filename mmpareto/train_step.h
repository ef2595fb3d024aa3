#pragma once
// One training step with gradient integration: forward, per-objective gradients into
// the gradient buffers, the integrator on each encoder, the summed gradient on the
// heads, the optimizer update.
#include <array>
#include <memory>
#include <vector>

#include "engine/device_graph.h"
#include "engine/distributed.h"
#include "engine/optimizer.h"
#include "mmpareto/graph_schedule.h"
#include "mmpareto/gradient_buffers.h"
#include "mmpareto/integrator.h"
#include "mmpareto/objectives.h"

namespace mmp {

struct StepReport {
  std::array<double, kObjectives> losses{};  // means over the global batch
  int64_t samples = 0;                       // in the global batch (every rank's share)
  std::vector<GroupReport> groups;  // one per encoder
  ObjectiveGradients objectives;    // the forward's outputs and each objective's raw gradients
};

// The report's numbers as named scalars: stats/cos_<group>, stats/weight_<objective>_<group>,
// stats/norm_<objective>_<group>, stats/norm_sum_<group>, stats/norm_final_<group>,
// stats/scale_<group>, stats/conflict_<group>.
std::vector<std::pair<std::string, double>> step_statistics(const StepReport& report);

class TrainStep {
 public:
  // With `measure` (the default), every method computes the per-objective gradients,
  // so its report holds cosines and conflicts; without it, one-joint and uniform run
  // the single backward sweep they need and report nothing per group.
  // With a communicator of several ranks (data parallel), every objective's gradient
  // buffers are averaged over the ranks (weighted by their samples) before integration,
  // so every rank integrates the global gradients and takes the same update; the losses
  // reported are the global batch's.
  TrainStep(AVClassifier& model, std::unique_ptr<Integrator> integrator, std::unique_ptr<Optimizer> optimizer,
            uint64_t seed, bool measure = true, Communicator* communicator = nullptr);

  // Throws when a loss is not finite, before any update: the parameters and the
  // optimizer state are as they were, but the training-mode forward has already moved
  // the batch-norm running statistics (as PyTorch's would), so a caller that goes on
  // should reload them (the trainer stops, keeping its last checkpoint).
  StepReport run(const Batch& batch, int epoch, double lr);

  // On a CUDA device in a single process: the forward and the backward sweeps of a step
  // are captured in a CUDA graph (engine/device_graph.h) once a step of the same batch
  // size and weights has run eagerly (so convolution plans and workspaces are chosen),
  // and replayed for every later such batch; another size (the last partial batch) runs
  // eagerly. The integration and the update run eagerly after each replay (they read a
  // few scalars on the host). A report's tensors are then the graph's: the next step
  // rewrites them.
  void use_device_graph(bool on);
  int64_t graph_replays() const { return graph_replays_; }

 private:
  // The forward, the losses and the backward sweeps the step needs, into the gradient
  // buffers: eagerly, or through the step's graph.
  ObjectiveGradients forward_backward(const Batch& batch, bool per_objective, const std::vector<double>& fixed,
                                      double share);
  ObjectiveGradients sweep(const Batch& batch, bool per_objective, const std::vector<double>& fixed, double share);

  // The fixed-weight methods' step without per-objective gradients, of the losses times
  // `scale` (a rank's share of the global batch).
  void run_fixed(const std::vector<double>& weights, double scale, ObjectiveGradients& r);
  // The final buffers as the parameters' gradients (none for heads no loss trains).
  void attach_gradients();

 public:

  const GradientBuffers& buffers() const { return buffers_; }
  Integrator& integrator() { return *integrator_; }
  Optimizer& optimizer() { return *optimizer_; }
  int64_t steps() const { return steps_; }
  // Where a resumed run picks up: the steps taken and the position of the generator
  // (OGM-GE's noise, PCGrad's order).
  uint64_t generator_offset() const { return rng_.offset(); }
  void resume_at(int64_t steps, uint64_t generator_offset) {
    steps_ = steps;
    rng_.set_offset(generator_offset);
  }

 private:
  AVClassifier& model_;
  std::unique_ptr<Integrator> integrator_;
  std::unique_ptr<Optimizer> optimizer_;
  GradientBuffers buffers_;
  bool measure_;
  std::vector<std::vector<size_t>> param_index_;  // group -> positions in model.named_parameters()
  Generator rng_;
  int64_t steps_ = 0;
  Communicator* comm_ = nullptr;  // null or one rank: a single process

  // The device graph (use_device_graph): its static inputs, what its capture left alive
  // (rewritten by each replay), and when to capture and replay it.
  bool graph_wanted_ = false;
  std::unique_ptr<DeviceGraph> graph_;
  Batch graph_batch_;
  ObjectiveGradients graph_result_;
  GraphSchedule schedule_;
  int64_t graph_replays_ = 0;
};

// The encoder groups and the heads of an AVClassifier, in this order.
std::vector<ParameterGroup> av_parameter_groups(const AVClassifier& model);

}  // namespace mmp
