#pragma once
// Optimizers with PyTorch's semantics (torch.optim.SGD, Adam, AdamW) and learning-rate
// schedules. Each update is one fused pass per parameter on its device.
#include <memory>
#include <string>

#include "engine/safetensors.h"

namespace mmp {

struct OptimizerOptions {
  std::string kind = "sgd";  // sgd, adam, adamw
  double lr = 0.002;
  double momentum = 0.9, dampening = 0, weight_decay = 1e-4;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class Optimizer {
 public:
  Optimizer(NamedTensors parameters, OptimizerOptions options);
  virtual ~Optimizer() = default;
  // Updates every parameter that has a .grad (as PyTorch, parameters without one are
  // skipped, weight decay included), with learning rate `lr`.
  virtual void step(double lr) = 0;
  // The state as tensors ("momentum_buffer/<param>", "exp_avg/<param>", "step"), for
  // checkpoints and `mmp step --state`; load_state checks every name and shape.
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state, const std::string& source) = 0;
  const OptimizerOptions& options() const { return options_; }

 protected:
  NamedTensors parameters_;
  OptimizerOptions options_;
};

std::unique_ptr<Optimizer> make_optimizer(NamedTensors parameters, const OptimizerOptions& options);

struct ScheduleOptions {
  std::string kind = "constant";  // constant, step, cosine
  int step_size = 30;             // step: epochs between decays
  double gamma = 0.1;             // step: decay factor
  int total_epochs = 1;           // cosine: length of the half period
  double min_lr = 0;              // cosine: floor
};

// The learning rate of an epoch (0-based) as torch.optim.lr_scheduler's StepLR and
// CosineAnnealingLR give it when stepped once per epoch.
double scheduled_lr(double base_lr, const ScheduleOptions& schedule, int epoch);

}  // namespace mmp
