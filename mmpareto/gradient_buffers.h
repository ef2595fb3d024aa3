#pragma once
// Per-objective gradient buffers. The model's parameters are split into groups (one
// per encoder, and the heads); for each group and each objective that reaches it,
// one flat contiguous buffer holds that objective's gradient of every tensor of the
// group, so integrators compute dot products, norms and combinations on a few long
// vectors instead of hundreds of small tensors. A last buffer per group receives the
// integrated gradient, and the parameters' .grad are views into it.
#include <string>
#include <vector>

#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace mmp {

struct ParameterGroup {
  std::string name;
  NamedTensors parameters;
  std::vector<int64_t> offsets;  // of each parameter in the group's buffers
  int64_t numel = 0;
};

// Splits parameters by name prefix: one group per prefix ("audio_net." -> "audio"),
// the rest into a group named `rest_name`.
std::vector<ParameterGroup> group_parameters(const NamedTensors& parameters,
                                             const std::vector<std::pair<std::string, std::string>>& prefixes,
                                             const std::string& rest_name);

class GradientBuffers {
 public:
  GradientBuffers(std::vector<ParameterGroup> groups, int objectives);

  int group_count() const { return static_cast<int>(groups_.size()); }
  int objective_count() const { return objectives_; }
  const ParameterGroup& group(int g) const { return groups_[g]; }

  // Copies objective k's gradients of group g's parameters (in order; undefined where
  // k does not reach a parameter) into its buffer. A group is reached by k when any
  // of its parameters is.
  void store(int g, int k, const std::vector<Tensor>& grads);
  bool reaches(int g, int k) const { return reached_[g][k]; }
  const Tensor& buffer(int g, int k) const { return buffers_[g][k]; }
  const Tensor& final_buffer(int g) const { return final_[g]; }
  // Parameter i of group g as a view into a flat buffer of that group.
  Tensor view(const Tensor& flat, int g, size_t i) const;
  // Points every parameter's .grad at its slice of the final buffers.
  void attach_final_gradients() const;

 private:
  std::vector<ParameterGroup> groups_;
  int objectives_;
  std::vector<std::vector<Tensor>> buffers_;
  std::vector<std::vector<bool>> reached_;
  std::vector<Tensor> final_;
};

}  // namespace mmp
