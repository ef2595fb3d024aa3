#include "engine/optimizer.h"

#include <cmath>
#include <map>

#include "engine/backend.h"
#include "engine/ops.h"

namespace mmp {

Optimizer::Optimizer(NamedTensors parameters, OptimizerOptions options)
    : parameters_(std::move(parameters)), options_(std::move(options)) {
  MMP_CHECK(options_.lr >= 0, "optimizer: learning rate must be >= 0, got ", options_.lr);
  MMP_CHECK(options_.momentum >= 0 && options_.weight_decay >= 0, "optimizer: momentum and weight decay must be >= 0");
  MMP_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0),
            "optimizer: nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD)");
  for (const auto& [name, p] : parameters_)
    MMP_CHECK(p.is_contiguous(), "optimizer: parameter '", name, "' is not contiguous");
}

namespace {

// Finds "<prefix><param>" in a state, checking its shape.
Tensor take(const std::map<std::string, Tensor>& state, const std::string& key, const Tensor& like,
            const std::string& source) {
  auto it = state.find(key);
  MMP_CHECK(it != state.end(), source, ": optimizer state lacks '", key, "'");
  MMP_CHECK(it->second.shape() == like.shape(), source, ": optimizer state '", key, "' has shape ",
            shape_str(it->second.shape()), ", the parameter ", shape_str(like.shape()));
  Tensor t = empty_like(like);
  t.copy_(it->second);
  return t;
}

// Runs update(list) on each run of one dtype (a backend update takes one dtype per
// list), then marks the parameters changed.
template <class Update>
void update_by_dtype(const std::vector<OptimizerTensors>& tensors, Update&& update) {
  std::map<DType, std::vector<OptimizerTensors>> by_dtype;
  for (const OptimizerTensors& t : tensors) by_dtype[t.param.dtype()].push_back(t);
  for (const auto& [dtype, same] : by_dtype) update(same);
  for (const OptimizerTensors& t : tensors) t.param.storage()->bump_version();
}

class Sgd : public Optimizer {
 public:
  using Optimizer::Optimizer;

  void step(double lr) override {
    // Parameters whose momentum buffer starts now take the gradient as the buffer
    // (torch.optim.SGD's first step); the rest follow the momentum rule. One list each.
    std::map<std::pair<Device, bool>, std::vector<OptimizerTensors>> lists;
    for (const auto& [name, p] : parameters_) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      Tensor& buf = buffers_[name];
      const bool first_step = !buf.defined();
      if (options_.momentum != 0 && !buf.defined()) buf = empty_like(p);
      lists[{p.device(), first_step}].push_back({p, g.contiguous(), buf, Tensor()});
    }
    for (const auto& [key, tensors] : lists) {
      const SgdParams o{lr, options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov, key.second};
      const Device device = key.first;  // a lambda cannot capture a structured binding before clang 16
      update_by_dtype(tensors, [&](const std::vector<OptimizerTensors>& same) { backend(device).sgd_step(same, o); });
    }
  }

  NamedTensors state() const override {
    NamedTensors out;
    for (const auto& [name, p] : parameters_)
      if (auto it = buffers_.find(name); it != buffers_.end() && it->second.defined())
        out.emplace_back("momentum_buffer/" + name, it->second);
    return out;
  }

  void load_state(const NamedTensors& state, const std::string& source) override {
    std::map<std::string, Tensor> given(state.begin(), state.end());
    buffers_.clear();
    for (const auto& [name, p] : parameters_)
      if (given.count("momentum_buffer/" + name)) buffers_[name] = take(given, "momentum_buffer/" + name, p, source);
  }

 private:
  std::map<std::string, Tensor> buffers_;
};

class Adam : public Optimizer {
 public:
  Adam(NamedTensors parameters, OptimizerOptions options, bool decoupled)
      : Optimizer(std::move(parameters), std::move(options)), decoupled_(decoupled) {}

  void step(double lr) override {
    ++steps_;
    const AdamParams o{lr, options_.beta1, options_.beta2, options_.eps, options_.weight_decay, decoupled_, steps_};
    std::map<Device, std::vector<OptimizerTensors>> lists;
    for (const auto& [name, p] : parameters_) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& [m, v] = moments_[name];
      if (!m.defined()) {
        m = zeros_like(p);
        v = zeros_like(p);
      }
      lists[p.device()].push_back({p, g.contiguous(), m, v});
    }
    for (const auto& [key, tensors] : lists) {
      const Device device = key;  // a lambda cannot capture a structured binding before clang 16
      update_by_dtype(tensors, [&](const std::vector<OptimizerTensors>& same) { backend(device).adam_step(same, o); });
    }
  }

  NamedTensors state() const override {
    NamedTensors out{{"step", scalar_tensor(static_cast<double>(steps_), DType::I64)}};
    for (const auto& [name, p] : parameters_)
      if (auto it = moments_.find(name); it != moments_.end()) {
        out.emplace_back("exp_avg/" + name, it->second.first);
        out.emplace_back("exp_avg_sq/" + name, it->second.second);
      }
    return out;
  }

  void load_state(const NamedTensors& state, const std::string& source) override {
    std::map<std::string, Tensor> given(state.begin(), state.end());
    MMP_CHECK(given.count("step"), source, ": Adam state lacks 'step'");
    steps_ = static_cast<int64_t>(given.at("step").item());
    moments_.clear();
    for (const auto& [name, p] : parameters_)
      if (given.count("exp_avg/" + name))
        moments_[name] = {take(given, "exp_avg/" + name, p, source), take(given, "exp_avg_sq/" + name, p, source)};
  }

 private:
  bool decoupled_;
  int64_t steps_ = 0;
  std::map<std::string, std::pair<Tensor, Tensor>> moments_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(NamedTensors parameters, const OptimizerOptions& options) {
  if (options.kind == "sgd") return std::make_unique<Sgd>(std::move(parameters), options);
  if (options.kind == "adam") return std::make_unique<Adam>(std::move(parameters), options, false);
  if (options.kind == "adamw") return std::make_unique<Adam>(std::move(parameters), options, true);
  MMP_THROW("unknown optimizer '", options.kind, "': expected sgd, adam or adamw");
}

double scheduled_lr(double base_lr, const ScheduleOptions& s, int epoch) {
  if (s.kind == "constant") return base_lr;
  if (s.kind == "step") {
    MMP_CHECK(s.step_size > 0, "step schedule: step size must be positive, got ", s.step_size);
    return base_lr * std::pow(s.gamma, epoch / s.step_size);
  }
  if (s.kind == "cosine") {
    MMP_CHECK(s.total_epochs > 0, "cosine schedule: total epochs must be positive");
    const double pi = 3.14159265358979323846;
    return s.min_lr + (base_lr - s.min_lr) * (1 + std::cos(pi * epoch / s.total_epochs)) / 2;
  }
  MMP_THROW("unknown schedule '", s.kind, "': expected constant, step or cosine");
}

}  // namespace mmp
