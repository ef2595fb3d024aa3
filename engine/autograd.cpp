#include "engine/autograd.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "engine/ops.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

thread_local bool t_grad_enabled = true;
thread_local uint64_t t_nodes_executed = 0;
std::atomic<uint64_t> g_next_sequence{1};

using NodePtr = std::shared_ptr<Node>;

// What one reverse sweep must do besides propagating.
struct SweepRequest {
  std::vector<NodePtr> roots;
  std::vector<Tensor> root_grads;
  // When not empty: the sweep runs only nodes from which one of these is reachable,
  // and returns the gradient arriving at each.
  std::vector<NodePtr> targets;
  bool accumulate_into_leaves = false;
};

// Nodes reachable from the roots, highest sequence (latest on the tape) first.
std::vector<Node*> reachable_in_tape_order(const std::vector<NodePtr>& roots) {
  std::vector<Node*> nodes;
  std::unordered_map<Node*, bool> seen;
  std::vector<Node*> stack;
  for (const auto& r : roots)
    if (r && !seen[r.get()]) {
      seen[r.get()] = true;
      stack.push_back(r.get());
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (const auto& in : n->inputs)
      if (in && !seen[in.get()]) {
        seen[in.get()] = true;
        stack.push_back(in.get());
      }
  }
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence > b->sequence; });
  return nodes;
}

// Runs one sweep; returns the gradient at each target and appends the nodes whose
// backward ran to `executed`.
std::vector<Tensor> sweep(const SweepRequest& req, std::vector<Node*>& executed) {
  const std::vector<Node*> nodes = reachable_in_tape_order(req.roots);
  std::unordered_map<Node*, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = i;

  // needed[i]: node i leads to a target (or, without targets, to anything at all).
  std::vector<char> needed(nodes.size(), req.targets.empty() ? 1 : 0);
  std::unordered_map<Node*, std::vector<size_t>> target_slots;
  for (size_t t = 0; t < req.targets.size(); ++t)
    if (req.targets[t]) target_slots[req.targets[t].get()].push_back(t);
  if (!req.targets.empty()) {
    for (size_t i = nodes.size(); i-- > 0;) {  // inputs before consumers
      Node* n = nodes[i];
      bool need = target_slots.count(n) > 0;
      for (const auto& in : n->inputs) need = need || (in && needed[index.at(in.get())]);
      needed[i] = need;
    }
  }

  std::vector<Tensor> grads(nodes.size());
  auto accumulate = [&](size_t i, const Tensor& g) {
    if (!grads[i].defined()) {
      grads[i] = g;
    } else {
      NoGradGuard no_grad;
      grads[i] = add(grads[i], g);
    }
  };
  for (size_t r = 0; r < req.roots.size(); ++r)
    if (req.roots[r]) accumulate(index.at(req.roots[r].get()), req.root_grads[r]);

  std::vector<Tensor> target_grads(req.targets.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node* n = nodes[i];
    if (!needed[i] || !grads[i].defined()) continue;
    Tensor g = std::move(grads[i]);
    if (auto it = target_slots.find(n); it != target_slots.end())
      for (size_t t : it->second) target_grads[t] = g;
    if (n->is_leaf) {
      if (req.accumulate_into_leaves) {
        if (auto leaf = n->leaf.lock()) {
          Tensor leaf_tensor(leaf);
          NoGradGuard no_grad;
          Tensor current = leaf_tensor.grad();
          // Row-major whatever the layout the gradient came in (a channels-last one, say).
          leaf_tensor.set_grad(current.defined() ? add(current, g).contiguous() : g.clone());
        }
      }
      continue;
    }
    std::vector<bool> needs(n->inputs.size());
    bool any = false;
    for (size_t k = 0; k < n->inputs.size(); ++k) {
      needs[k] = n->inputs[k] && needed[index.at(n->inputs[k].get())];
      any = any || needs[k];
    }
    if (!any) continue;
    MMP_CHECK(!n->released, "backward through '", n->name,
              "' a second time: its saved tensors were freed by an earlier sweep (keep the tape "
              "with keep_tape = true to sweep twice)");
    for (const auto& [storage, version] : n->saved)
      MMP_CHECK(storage->version() == version, "backward of '", n->name,
                "': a tensor it needs was modified in place after the forward (version ", version, ", now ",
                storage->version(), ")");
    std::vector<Tensor> input_grads;
    {
      NoGradGuard no_grad;
      ProfileScope profile(profiling_enabled() ? n->name + " backward" : std::string(), g.device());
      input_grads = n->backward(g, needs);
    }
    ++t_nodes_executed;
    executed.push_back(n);
    MMP_CHECK(input_grads.size() == n->inputs.size(), "backward of '", n->name, "' returned ",
              input_grads.size(), " gradients for ", n->inputs.size(), " inputs");
    for (size_t k = 0; k < n->inputs.size(); ++k) {
      if (!needs[k]) continue;
      MMP_CHECK(input_grads[k].defined(), "backward of '", n->name, "' gave no gradient for input ", k);
      MMP_CHECK(input_grads[k].shape() == n->input_shapes[k], "backward of '", n->name,
                "' gave a gradient of shape ", shape_str(input_grads[k].shape()), " for input ", k,
                " of shape ", shape_str(n->input_shapes[k]));
      // Under mixed precision every backward must hand back its input's dtype; one that
      // does not is converted here rather than let a kernel read the wrong type.
      if (input_grads[k].dtype() != n->input_dtypes[k]) {
        NoGradGuard no_grad;
        input_grads[k] = to_dtype(input_grads[k], n->input_dtypes[k]);
      }
      accumulate(index.at(n->inputs[k].get()), input_grads[k]);
    }
  }
  return target_grads;
}

Tensor seed_for(const Tensor& root, const Tensor& seed) {
  if (seed.defined()) {
    MMP_CHECK(seed.shape() == root.shape(), "backward: seed of shape ", shape_str(seed.shape()),
              " for a root of shape ", shape_str(root.shape()));
    return seed;
  }
  MMP_CHECK(root.numel() == 1, "backward: a root of shape ", shape_str(root.shape()),
            " needs an explicit seed (only one-element roots get an implicit 1)");
  return ones(root.shape(), root.dtype(), root.device());
}

SweepRequest make_request(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds) {
  MMP_CHECK(seeds.empty() || seeds.size() == roots.size(), "backward: ", roots.size(),
            " roots but ", seeds.size(), " seeds");
  SweepRequest req;
  for (size_t r = 0; r < roots.size(); ++r) {
    MMP_CHECK(roots[r].defined(), "backward: root ", r, " is an undefined tensor");
    MMP_CHECK(roots[r].requires_grad(), "backward: root ", r, " (", roots[r].str(),
              ") does not require grad: nothing it depends on is a parameter");
    req.roots.push_back(gradient_node(roots[r]));
    req.root_grads.push_back(seed_for(roots[r], seeds.empty() ? Tensor() : seeds[r]));
  }
  return req;
}

void release(const std::vector<Node*>& nodes) {
  for (Node* n : nodes) {
    n->backward = nullptr;
    n->saved.clear();
    n->released = true;
  }
}

}  // namespace

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }
bool grad_mode_enabled() { return t_grad_enabled; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_node(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  if (!impl->leaf_node) {
    auto node = std::make_shared<Node>();
    node->name = "leaf";
    node->is_leaf = true;
    node->leaf = t.impl_ptr();
    node->sequence = g_next_sequence++;
    impl->leaf_node = node;
  }
  return impl->leaf_node;
}

Tensor record(const std::string& name, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward,
              const std::vector<Tensor>& saved) {
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : saved)
    if (t.defined()) node->saved.emplace_back(t.storage(), t.storage()->version());
  node->inputs.reserve(inputs.size());
  for (const auto& in : inputs) {
    node->inputs.push_back(gradient_node(in));
    node->input_shapes.push_back(in.defined() ? in.shape() : Shape{});
    node->input_dtypes.push_back(in.defined() ? in.dtype() : DType::F32);
  }
  node->backward = std::move(backward);
  node->sequence = g_next_sequence++;
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool keep_tape) {
  SweepRequest req = make_request(roots, seeds);
  req.accumulate_into_leaves = true;
  std::vector<Node*> executed;
  sweep(req, executed);
  if (!keep_tape) release(executed);
}

std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds, bool keep_tape) {
  SweepRequest req = make_request(roots, seeds);
  for (const auto& in : inputs) req.targets.push_back(gradient_node(in));
  if (req.targets.empty()) return {};
  std::vector<Node*> executed;
  std::vector<Tensor> out = sweep(req, executed);
  if (!keep_tape) release(executed);
  return out;
}

std::vector<std::vector<Tensor>> grad_per_root(const std::vector<Tensor>& roots,
                                               const std::vector<Tensor>& inputs, bool keep_tape,
                                               const RootGradientsReady& ready) {
  std::vector<NodePtr> targets;
  for (const auto& in : inputs) targets.push_back(gradient_node(in));
  std::vector<std::vector<Tensor>> out;
  std::vector<Node*> executed;
  for (const auto& root : roots) {
    SweepRequest req = make_request({root}, {});
    req.targets = targets;
    out.push_back(sweep(req, executed));
    if (ready) ready(out.size() - 1, out.back());
  }
  if (!keep_tape) release(executed);
  return out;
}

uint64_t nodes_executed() { return t_nodes_executed; }
void reset_nodes_executed() { t_nodes_executed = 0; }

}  // namespace mmp
