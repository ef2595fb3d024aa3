#include "mmpareto/gradient_buffers.h"

#include "engine/autograd.h"
#include "engine/ops.h"

namespace mmp {

std::vector<ParameterGroup> group_parameters(const NamedTensors& parameters,
                                             const std::vector<std::pair<std::string, std::string>>& prefixes,
                                             const std::string& rest_name) {
  std::vector<ParameterGroup> groups(prefixes.size() + 1);
  for (size_t i = 0; i < prefixes.size(); ++i) groups[i].name = prefixes[i].second;
  groups.back().name = rest_name;
  for (const auto& [name, p] : parameters) {
    size_t g = prefixes.size();
    for (size_t i = 0; i < prefixes.size(); ++i)
      if (name.rfind(prefixes[i].first, 0) == 0) g = i;
    ParameterGroup& group = groups[g];
    group.offsets.push_back(group.numel);
    group.parameters.emplace_back(name, p);
    group.numel += p.numel();
  }
  return groups;
}

GradientBuffers::GradientBuffers(std::vector<ParameterGroup> groups, int objectives)
    : groups_(std::move(groups)), objectives_(objectives) {
  for (const auto& g : groups_) {
    MMP_CHECK(!g.parameters.empty(), "parameter group '", g.name, "' is empty");
    const Tensor& first = g.parameters.front().second;
    std::vector<Tensor> per_objective;
    for (int k = 0; k < objectives; ++k) per_objective.push_back(zeros({g.numel}, first.dtype(), first.device()));
    buffers_.push_back(std::move(per_objective));
    reached_.emplace_back(objectives, false);
    final_.push_back(zeros({g.numel}, first.dtype(), first.device()));
  }
}

Tensor GradientBuffers::view(const Tensor& flat, int g, size_t i) const {
  const ParameterGroup& group = groups_[g];
  const Shape& shape = group.parameters[i].second.shape();
  return flat.as_strided(shape, contiguous_strides(shape), flat.offset() + group.offsets[i]);
}

void GradientBuffers::store(int g, int k, const std::vector<Tensor>& grads) {
  const ParameterGroup& group = groups_[g];
  MMP_CHECK(grads.size() == group.parameters.size(), "gradient buffers: ", grads.size(), " gradients for group '",
            group.name, "' of ", group.parameters.size(), " parameters");
  bool any = false;
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor dst = view(buffers_[g][k], g, i);
    if (grads[i].defined()) {
      dst.copy_(grads[i]);
      any = true;
    } else {
      dst.fill_(0);
    }
  }
  reached_[g][k] = any;
}

void GradientBuffers::attach_final_gradients() const {
  for (int g = 0; g < group_count(); ++g)
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i)
      groups_[g].parameters[i].second.set_grad(view(final_[g], g, i));
}

}  // namespace mmp
