#pragma once
// Tape autograd. Every differentiable op that sees an input requiring gradients
// records a Node: the edges to its inputs' nodes, a backward closure holding only the
// tensors it needs, and a sequence number. Nodes are numbered in creation order, so
// walking the reachable nodes from the highest number down is walking the tape in
// reverse. Sweeps can be restricted to the nodes between some roots and some
// targets, which is what per-objective gradients need.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmp {

// Gradients of a node's inputs from the gradient of its output. `needs[i]` says
// whether input i's gradient is wanted; entries not wanted may be left undefined.
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs)>;

struct Node {
  std::string name;         // the op, for error messages and tape dumps
  uint64_t sequence = 0;    // creation order
  std::vector<std::shared_ptr<Node>> inputs;  // per input: its node, or null if it needs no grad
  std::vector<Shape> input_shapes;            // for checking what backward returns
  std::vector<DType> input_dtypes;            // a gradient is cast to its input's dtype, as PyTorch's engine does
  BackwardFn backward;      // released after a sweep unless the tape is kept
  bool released = false;    // its closure was dropped by a sweep without keep_tape
  // The memory of the tensors the closure keeps, with its versions when it was
  // recorded: a backward after an in-place write to one of them fails, as in PyTorch.
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> saved;
  bool is_leaf = false;     // a leaf's node: gradients arriving here belong to `leaf`
  std::weak_ptr<TensorImpl> leaf;
};

// Autograd is off inside a NoGradGuard (per thread), as torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};
bool grad_mode_enabled();

// True when an op with these inputs must record a node.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records `output` as made by op `name` from `inputs`; call only when
// grad_mode_enabled() && any_requires_grad(inputs). `saved`: the tensors `backward`
// reads (inputs, the output, ...), checked unwritten when it runs. Returns output.
Tensor record(const std::string& name, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward,
              const std::vector<Tensor>& saved = {});

// The node a gradient for `t` flows into (its grad_fn, or its leaf node); null if none.
std::shared_ptr<Node> gradient_node(const Tensor& t);

// Accumulates into `.grad()` of every leaf reached the gradient of sum_k <seeds[k], roots[k]>.
// An empty seed means ones (so a scalar loss needs none). Unless keep_tape, the
// closures of the visited nodes are released, and a second sweep over them fails.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds = {},
              bool keep_tape = false);
inline void backward(const Tensor& root, bool keep_tape = false) { backward(std::vector<Tensor>{root}, {}, keep_tape); }

// Returns d(sum_k <seeds[k], roots[k]>)/d inputs[j] for each j, without touching
// .grad(); undefined where the roots do not reach an input. Only nodes on a path from
// the roots to the inputs are run.
std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds = {}, bool keep_tape = false);

// Per-objective gradients after one forward: result[k][j] = d roots[k] / d inputs[j]
// (undefined where root k does not reach input j). One restricted sweep per root:
// each sweep runs only the nodes between that root and the inputs it reaches, so a
// loss of one head never runs backward through an encoder it does not use, and no
// sweep of the summed loss is needed (its gradient is the sum, by linearity).
// `ready`, if given, is called after each root's sweep with its gradients (before the
// next sweep starts: data-parallel training sends them to the other ranks meanwhile).
using RootGradientsReady = std::function<void(size_t root, const std::vector<Tensor>& gradients)>;
std::vector<std::vector<Tensor>> grad_per_root(const std::vector<Tensor>& roots,
                                               const std::vector<Tensor>& inputs,
                                               bool keep_tape = false, const RootGradientsReady& ready = {});

// Number of nodes executed by the sweeps of this thread since the last reset (for
// tests and profiling: proves that a sweep skipped what it should).
uint64_t nodes_executed();
void reset_nodes_executed();

}  // namespace mmp
