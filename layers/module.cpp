#include "layers/module.h"

#include <map>
#include <sstream>

#include "engine/autograd.h"

namespace mmp {

template <class F>
void Module::visit(const std::string& prefix, F&& f) const {
  f(prefix, *this);
  for (const auto& [name, child] : children_) child->visit(prefix + name + ".", f);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, slot] : m.parameters_) out.emplace_back(prefix + name, *slot);
  });
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    m.on_state_read();
    for (const auto& [name, slot] : m.buffers_) out.emplace_back(prefix + name, *slot);
  });
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    m.on_state_read();
    for (const auto& [name, slot] : m.parameters_) out.emplace_back(prefix + name, *slot);
    for (const auto& [name, slot] : m.buffers_) out.emplace_back(prefix + name, *slot);
  });
  return out;
}

void Module::forward_replayed() {
  visit("", [](const std::string&, const Module& m) { const_cast<Module&>(m).on_forward_replayed(); });
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

namespace {

bool is_batch_counter(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void Module::load_state_dict(const NamedTensors& state, const std::string& source) {
  // A DataParallel checkpoint prefixes every name with "module.".
  bool all_prefixed = !state.empty();
  for (const auto& [name, t] : state) all_prefixed = all_prefixed && name.rfind("module.", 0) == 0;
  std::map<std::string, Tensor> given;
  for (const auto& [name, t] : state) given[all_prefixed ? name.substr(7) : name] = t;

  std::vector<std::pair<std::string, Tensor*>> slots;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, slot] : m.parameters_) slots.emplace_back(prefix + name, slot);
    for (const auto& [name, slot] : m.buffers_) slots.emplace_back(prefix + name, slot);
  });
  std::vector<std::string> missing, mismatched;
  std::map<std::string, bool> used;
  for (const auto& [name, slot] : slots) {
    auto it = given.find(name);
    if (it == given.end()) {
      // Older PyTorch checkpoints have no batch-norm counters; PyTorch loads them as 0.
      if (!is_batch_counter(name)) missing.push_back(name);
      continue;
    }
    used[name] = true;
    if (it->second.shape() != slot->shape())
      mismatched.push_back(name + " " + shape_str(it->second.shape()) + " in " + source + ", " +
                           shape_str(slot->shape()) + " in the model");
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : given)
    if (!used.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream msg;
    msg << source << " does not match the model:";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      msg << " " << names.size() << " " << what << " (";
      for (size_t i = 0; i < names.size(); ++i) msg << (i ? ", " : "") << names[i];
      msg << ");";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("with another shape", mismatched);
    MMP_THROW(msg.str());
  }
  NoGradGuard no_grad;
  for (const auto& [name, slot] : slots) {
    if (auto it = given.find(name); it != given.end()) slot->copy_(it->second);
    else slot->fill_(0);  // an untracked batch counter
  }
  visit("", [](const std::string&, const Module& m) { const_cast<Module&>(m).on_state_loaded(); });
}

void Module::train(bool on) {
  visit("", [on](const std::string&, const Module& m) { const_cast<Module&>(m).training_ = on; });
}

void Module::to(Device device) {
  visit("", [device](const std::string&, const Module& m) {
    for (const auto& [name, slot] : m.parameters_) {
      if (slot->device() == device) continue;
      *slot = slot->detach().to(device);
      slot->set_requires_grad(true);
    }
    for (const auto& [name, slot] : m.buffers_)
      if (slot->device() != device) *slot = slot->detach().to(device);
  });
}

void Module::to(DType dtype) {
  visit("", [dtype](const std::string&, const Module& m) {
    for (const auto& [name, slot] : m.parameters_) {
      if (slot->dtype() == dtype) continue;
      *slot = slot->detach().to(dtype);
      slot->set_requires_grad(true);
    }
    for (const auto& [name, slot] : m.buffers_)
      if (is_floating(slot->dtype()) && slot->dtype() != dtype) *slot = slot->detach().to(dtype);
  });
}

Device Module::device() const {
  const NamedTensors params = named_parameters();
  return params.empty() ? Device::cpu() : params.front().second.device();
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.set_grad(Tensor());
}

void Module::register_parameter(const std::string& name, Tensor* slot) {
  slot->set_requires_grad(true);
  parameters_.emplace_back(name, slot);
}

void Module::register_buffer(const std::string& name, Tensor* slot) { buffers_.emplace_back(name, slot); }

void Module::register_module(const std::string& name, Module* child) { children_.emplace_back(name, child); }

}  // namespace mmp
