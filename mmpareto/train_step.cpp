#include "mmpareto/train_step.h"

#include <cmath>
#include <map>

#include "engine/autograd.h"

namespace mmp {

std::vector<ParameterGroup> av_parameter_groups(const AVClassifier& model) {
  return group_parameters(model.named_parameters(), {{"audio_net.", "audio"}, {"visual_net.", "visual"}}, "heads");
}

TrainStep::TrainStep(AVClassifier& model, std::unique_ptr<Integrator> integrator, std::unique_ptr<Optimizer> optimizer,
                     uint64_t seed, bool measure)
    : model_(model),
      integrator_(std::move(integrator)),
      optimizer_(std::move(optimizer)),
      buffers_(av_parameter_groups(model), kObjectives),
      measure_(measure),
      rng_(seed) {
  std::map<std::string, size_t> position;
  const NamedTensors params = model.named_parameters();
  for (size_t j = 0; j < params.size(); ++j) position[params[j].first] = j;
  for (int g = 0; g < buffers_.group_count(); ++g) {
    std::vector<size_t> index;
    for (const auto& [name, p] : buffers_.group(g).parameters) index.push_back(position.at(name));
    param_index_.push_back(std::move(index));
  }
}

void TrainStep::run_fixed(const std::vector<double>& weights, ObjectiveGradients& r) {
  // Encoders: one sweep of Σ w_k L_k. Heads: each learns from the losses that reach it,
  // whatever the encoders' weights; asking for head parameters only keeps the second
  // sweep out of the encoders.
  std::vector<Tensor> encoder_params, head_params, roots, seeds, all_roots;
  const int heads = buffers_.group_count() - 1;
  for (int g = 0; g < heads; ++g)
    for (const auto& [name, p] : buffers_.group(g).parameters) encoder_params.push_back(p);
  for (const auto& [name, p] : buffers_.group(heads).parameters) head_params.push_back(p);
  for (int k = 0; k < kObjectives; ++k) {
    all_roots.push_back(r.losses[k]);
    if (weights[k] == 0) continue;
    roots.push_back(r.losses[k]);
    seeds.push_back(full({}, weights[k], r.losses[k].dtype(), r.losses[k].device()));
  }
  const std::vector<Tensor> encoder_grads = grad(roots, encoder_params, seeds, /*keep_tape=*/true);
  const std::vector<Tensor> head_grads = grad(all_roots, head_params);
  size_t at = 0;
  for (int g = 0; g < heads; ++g) {
    const auto& params = buffers_.group(g).parameters;
    for (size_t i = 0; i < params.size(); ++i, ++at) {
      const Tensor dst = buffers_.view(buffers_.final_buffer(g), g, i);
      if (encoder_grads[at].defined()) dst.copy_(encoder_grads[at]);
      else dst.fill_(0);
    }
  }
  for (size_t i = 0; i < head_grads.size(); ++i) {
    const Tensor dst = buffers_.view(buffers_.final_buffer(heads), heads, i);
    if (head_grads[i].defined()) dst.copy_(head_grads[i]);
    else dst.fill_(0);
  }
}

StepReport TrainStep::run(const Batch& batch, int epoch, double lr) {
  const std::vector<double> fixed = integrator_->fixed_weights();
  const bool per_objective = measure_ || fixed.empty();
  ObjectiveGradients r;
  if (per_objective) {
    r = compute_objective_gradients(model_, batch);
  } else {
    r.outputs = model_.forward(batch.audio, batch.visual);
    r.losses = {cross_entropy(r.outputs.out, batch.label), cross_entropy(r.outputs.out_audio, batch.label),
                cross_entropy(r.outputs.out_visual, batch.label)};
  }
  StepReport report;
  for (int k = 0; k < kObjectives; ++k) {
    report.losses[k] = r.losses[k].item();
    MMP_CHECK(std::isfinite(report.losses[k]), "step ", steps_ + 1, " (epoch ", epoch + 1, "): loss_", kObjectiveNames[k],
              " is ", report.losses[k], "; the parameters were not updated (lower the learning rate, or check the data)");
  }
  if (!per_objective) {
    run_fixed(fixed, r);
    buffers_.attach_final_gradients();
    optimizer_->step(lr);
    ++steps_;
    report.objectives = std::move(r);
    return report;
  }
  for (int g = 0; g < buffers_.group_count(); ++g)
    for (int k = 0; k < kObjectives; ++k) {
      std::vector<Tensor> grads;
      for (size_t j : param_index_[g]) grads.push_back(r.grads[k][j]);
      buffers_.store(g, k, grads);
    }

  StepContext ctx;
  ctx.epoch = epoch;
  ctx.step = steps_;
  ctx.outputs = &r.outputs;
  ctx.labels = &batch.label;
  ctx.model = &model_;
  ctx.rng = &rng_;
  integrator_->begin_step(ctx);
  const int heads = buffers_.group_count() - 1;
  for (int g = 0; g < buffers_.group_count(); ++g) {
    GroupGradients group;
    group.group = buffers_.group(g).name;
    for (int k = 0; k < kObjectives; ++k)
      if (buffers_.reaches(g, k)) {
        group.objectives.push_back(kObjectiveNames[k]);
        group.gradients.push_back(buffers_.buffer(g, k));
      }
    MMP_CHECK(!group.gradients.empty(), "no objective reaches the parameters of '", group.group, "'");
    if (g == heads) {  // each head learns from the sum of the losses that reach it
      write_combination(group.gradients, std::vector<double>(group.gradients.size(), 1.0), buffers_.final_buffer(g));
      continue;
    }
    group.offsets = buffers_.group(g).offsets;
    for (const auto& [name, p] : buffers_.group(g).parameters) group.shapes.push_back(p.shape());
    report.groups.push_back(integrator_->integrate(group, buffers_.final_buffer(g), ctx));
  }
  buffers_.attach_final_gradients();
  optimizer_->step(lr);
  ++steps_;
  report.objectives = std::move(r);
  return report;
}

std::vector<std::pair<std::string, double>> step_statistics(const StepReport& report) {
  std::vector<std::pair<std::string, double>> stats;
  for (const GroupReport& g : report.groups) {
    const std::string& name = g.group;
    if (g.objectives.size() == 2) stats.emplace_back("cos_" + name, g.cosine(0, 1));
    for (size_t k = 0; k < g.objectives.size(); ++k) {
      stats.emplace_back("weight_" + g.objectives[k] + "_" + name, g.weights[k]);
      stats.emplace_back("norm_" + g.objectives[k] + "_" + name, g.norm(k));
    }
    stats.emplace_back("norm_sum_" + name, g.norm_sum);
    stats.emplace_back("norm_final_" + name, g.norm_final);
    stats.emplace_back("scale_" + name, g.scale);
    stats.emplace_back("conflict_" + name, g.conflict ? 1.0 : 0.0);
  }
  return stats;
}

}  // namespace mmp
