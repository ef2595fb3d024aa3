#pragma once
// Module: a tree of named parameters, buffers and children with PyTorch's naming, so
// state_dict() names equal those of the reference model ("audio_net.layer1.0.conv1.weight").
// Modules own their children as members and are neither copied nor moved, so the
// registered pointers stay valid.
#include <memory>
#include <string>
#include <vector>

#include "engine/safetensors.h"
#include "engine/ops.h"

namespace mmp {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // In PyTorch's state_dict order: own parameters, own buffers, then each child's.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;
  std::vector<Tensor> parameters() const;

  // Copies `state` into the parameters and buffers (converting dtype and device).
  // Names must match exactly (a leading "module." of a DataParallel checkpoint is
  // ignored; batch-norm counters an older PyTorch did not save are set to 0, as
  // PyTorch does); otherwise throws one error listing every missing, unexpected and
  // mis-shaped tensor, naming `source`, and changes nothing.
  void load_state_dict(const NamedTensors& state, const std::string& source = "state dict");

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer; parameters stay leaves that require grad.
  void to(Device device);
  // Converts every parameter and floating buffer (f64 models check gradients exactly).
  void to(DType dtype);
  Device device() const;
  void zero_grad();
  // After a CUDA graph of a training step is replayed (TrainStep::use_device_graph): the host
  // side of the forward it captured (batch-norm counters) counts the step, as an eager
  // forward would.
  void forward_replayed();

 protected:
  void register_parameter(const std::string& name, Tensor* slot);
  void register_buffer(const std::string& name, Tensor* slot);
  void register_module(const std::string& name, Module* child);
  // Called after load_state_dict so modules can refresh host-side copies of buffers.
  virtual void on_state_loaded() {}
  // Called before the buffers are read (named_buffers, state_dict), so modules can write
  // host-side state into them.
  virtual void on_state_read() const {}
  virtual void on_forward_replayed() {}

 private:
  template <class F>
  void visit(const std::string& prefix, F&& f) const;

  std::vector<std::pair<std::string, Tensor*>> parameters_, buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// Children named "0", "1", ... (torch.nn.Sequential's names).
class ModuleList : public Module {
 public:
  template <class M>
  M& add(std::unique_ptr<M> module) {
    M& ref = *module;
    register_module(std::to_string(modules_.size()), module.get());
    modules_.push_back(std::move(module));
    return ref;
  }
  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) const { return *modules_[i]; }

 private:
  std::vector<std::unique_ptr<Module>> modules_;
};

}  // namespace mmp
