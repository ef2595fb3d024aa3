#include "mmpareto/train_step.h"

#include <cmath>
#include <map>

#include "engine/autograd.h"

namespace mmp {
namespace {

void check_labels(const Tensor& labels, int64_t classes) {
  const std::vector<int64_t> y = labels.to(Device::cpu()).to_vector<int64_t>();
  for (size_t i = 0; i < y.size(); ++i)
    MMP_CHECK(y[i] >= 0 && y[i] < classes, "label ", y[i], " of sample ", i, " is outside [0, ", classes, ")");
}

}  // namespace

std::vector<ParameterGroup> av_parameter_groups(const AVClassifier& model) {
  return group_parameters(model.named_parameters(), {{"audio_net.", "audio"}, {"visual_net.", "visual"}}, "heads");
}

TrainStep::TrainStep(AVClassifier& model, std::unique_ptr<Integrator> integrator, std::unique_ptr<Optimizer> optimizer,
                     uint64_t seed, bool measure, Communicator* communicator)
    : model_(model),
      integrator_(std::move(integrator)),
      optimizer_(std::move(optimizer)),
      buffers_(av_parameter_groups(model), kObjectives),
      measure_(measure),
      rng_(seed),
      comm_(communicator && communicator->data_parallel() ? communicator : nullptr) {
  std::map<std::string, size_t> position;
  const NamedTensors params = model.named_parameters();
  for (size_t j = 0; j < params.size(); ++j) position[params[j].first] = j;
  for (int g = 0; g < buffers_.group_count(); ++g) {
    std::vector<size_t> index;
    for (const auto& [name, p] : buffers_.group(g).parameters) index.push_back(position.at(name));
    param_index_.push_back(std::move(index));
  }
}

void TrainStep::run_fixed(const std::vector<double>& weights, double scale, ObjectiveGradients& r) {
  // Encoders: one sweep of Σ w_k L_k. Heads: each learns from the losses that reach it,
  // whatever the encoders' weights; asking for head parameters only keeps the second
  // sweep out of the encoders.
  std::vector<Tensor> encoder_params, head_params, roots, seeds, all_roots;
  const int heads = buffers_.group_count() - 1;
  for (int g = 0; g < heads; ++g)
    for (const auto& [name, p] : buffers_.group(g).parameters) encoder_params.push_back(p);
  for (const auto& [name, p] : buffers_.group(heads).parameters) head_params.push_back(p);
  std::vector<Tensor> head_seeds;
  for (int k = 0; k < kObjectives; ++k) {
    if (k == kMultimodal || integrator_->trains_unimodal_heads()) {
      all_roots.push_back(r.losses[k]);
      head_seeds.push_back(full({}, scale, r.losses[k].dtype(), r.losses[k].device()));
    }
    if (weights[k] == 0) continue;
    roots.push_back(r.losses[k]);
    seeds.push_back(full({}, weights[k] * scale, r.losses[k].dtype(), r.losses[k].device()));
  }
  const std::vector<Tensor> encoder_grads = grad(roots, encoder_params, seeds, /*keep_tape=*/true);
  size_t at = 0;
  for (int g = 0; g < heads; ++g) {
    const auto& params = buffers_.group(g).parameters;
    for (size_t i = 0; i < params.size(); ++i, ++at) {
      const Tensor dst = buffers_.view(buffers_.final_buffer(g), g, i);
      if (encoder_grads[at].defined()) dst.copy_(encoder_grads[at]);
      else dst.fill_(0);
    }
    if (comm_) comm_->all_reduce_sum_async(buffers_.final_buffer(g));  // beside the heads' sweep
  }
  const std::vector<Tensor> head_grads = grad(all_roots, head_params, head_seeds);
  for (size_t i = 0; i < head_grads.size(); ++i) {
    const Tensor dst = buffers_.view(buffers_.final_buffer(heads), heads, i);
    if (head_grads[i].defined()) dst.copy_(head_grads[i]);
    else dst.fill_(0);
  }
  if (comm_) {
    comm_->all_reduce_sum_async(buffers_.final_buffer(heads));
    comm_->finish_reductions();
  }
}

void TrainStep::attach_gradients() {
  buffers_.attach_final_gradients();
  if (integrator_->trains_unimodal_heads()) return;
  // No gradient at all, as PyTorch leaves a parameter no loss reached: the optimizer
  // skips it (no weight decay, no momentum).
  for (const auto& [name, p] : buffers_.group(buffers_.group_count() - 1).parameters)
    if (name.rfind("head_audio.", 0) == 0 || name.rfind("head_video.", 0) == 0) p.set_grad(Tensor());
}

StepReport TrainStep::run(const Batch& batch, int epoch, double lr) {
  const std::vector<double> fixed = integrator_->fixed_weights();
  const bool per_objective = measure_ || fixed.empty();
  // Data parallel: this rank's share of the global batch. The losses' gradients are taken
  // scaled by it, so that summing them over the ranks gives the global batch's gradient,
  // also through the all-reduces of synchronised batch norm inside the backward.
  StepReport report;
  report.samples = batch.size();
  double share = 1;
  if (comm_) {
    const Tensor count = from_vector<double>({static_cast<double>(batch.size())}, {1});
    comm_->all_reduce_sum(count);
    report.samples = static_cast<int64_t>(std::llround(count.item()));
    share = static_cast<double>(batch.size()) / count.item();
  }
  ObjectiveGradients r = forward_backward(batch, per_objective, fixed, share);
  for (int k = 0; k < kObjectives; ++k) report.losses[k] = r.losses[k].item();
  if (comm_) {  // the global batch's mean losses
    const Tensor weighted = from_vector<double>({share * report.losses[0], share * report.losses[1],
                                                 share * report.losses[2]}, {3});
    comm_->all_reduce_sum(weighted);
    const std::vector<double> t = weighted.to_vector<double>();
    for (int k = 0; k < kObjectives; ++k) report.losses[k] = t[k];
  }
  for (int k = 0; k < kObjectives; ++k) {
    // On CUDA a label out of range makes the loss NaN: name it rather than the NaN.
    if (!std::isfinite(report.losses[k])) check_labels(batch.label, r.outputs.out.shape()[1]);
    MMP_CHECK(std::isfinite(report.losses[k]), "step ", steps_ + 1, " (epoch ", epoch + 1, "): loss_", kObjectiveNames[k],
              " is ", report.losses[k], "; the parameters were not updated (lower the learning rate, or check the data)");
  }
  if (!per_objective) {
    attach_gradients();
    optimizer_->step(lr);
    ++steps_;
    report.objectives = std::move(r);
    return report;
  }

  StepContext ctx;
  ctx.epoch = epoch;
  ctx.step = steps_;
  ctx.outputs = &r.outputs;
  ctx.labels = &batch.label;
  ctx.model = &model_;
  ctx.rng = &rng_;
  ctx.comm = comm_;
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
      std::vector<double> weights;
      for (const std::string& objective : group.objectives)
        weights.push_back(objective == kObjectiveNames[kMultimodal] || integrator_->trains_unimodal_heads() ? 1.0 : 0.0);
      write_combination(group.gradients, weights, buffers_.final_buffer(g));
      continue;
    }
    group.offsets = buffers_.group(g).offsets;
    for (const auto& [name, p] : buffers_.group(g).parameters) group.shapes.push_back(p.shape());
    report.groups.push_back(integrator_->integrate(group, buffers_.final_buffer(g), ctx));
  }
  attach_gradients();
  optimizer_->step(lr);
  ++steps_;
  report.objectives = std::move(r);
  return report;
}

ObjectiveGradients TrainStep::sweep(const Batch& batch, bool per_objective, const std::vector<double>& fixed,
                                    double share) {
  ObjectiveGradients r;
  if (per_objective) {
    // Each objective's gradients go to its buffers as soon as its sweep ends, and (data
    // parallel) their all-reduce starts there, beside the next objective's sweep.
    const auto store = [&](size_t objective, const std::vector<Tensor>& grads) {
      const int k = static_cast<int>(objective);
      for (int g = 0; g < buffers_.group_count(); ++g) {
        std::vector<Tensor> group_grads;
        for (size_t j : param_index_[g]) group_grads.push_back(grads[j]);
        buffers_.store(g, k, group_grads);
        if (comm_ && buffers_.reaches(g, k)) comm_->all_reduce_sum_async(buffers_.buffer(g, k));
      }
    };
    r = compute_objective_gradients(model_, batch, share, store);
    if (comm_) comm_->finish_reductions();
  } else {
    r.outputs = model_.forward(batch.audio, batch.visual);
    r.losses = {cross_entropy(r.outputs.out, batch.label), cross_entropy(r.outputs.out_audio, batch.label),
                cross_entropy(r.outputs.out_visual, batch.label)};
    run_fixed(fixed, share, r);
  }
  return r;
}

void TrainStep::use_device_graph(bool on) {
  MMP_CHECK(!on || DeviceGraph::supported(model_.device()), "CUDA graphs need the model on a CUDA device, not ",
            model_.device().str());
  MMP_CHECK(!on || comm_ == nullptr, "CUDA graphs are for a single process (not with ", comm_->size(), " ranks)");
  graph_wanted_ = on;
  if (!on) {
    graph_.reset();
    graph_result_ = {};
    graph_batch_ = {};
    schedule_ = {};
  }
}

namespace {

Tensor like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

void copy_batch(const Batch& from, const Batch& to) {
  to.audio.copy_(from.audio);
  to.visual.copy_(from.visual);
  to.label.copy_(from.label);
}

}  // namespace

ObjectiveGradients TrainStep::forward_backward(const Batch& batch, bool per_objective, const std::vector<double>& fixed,
                                               double share) {
  if (!graph_wanted_ || !model_.is_training()) return sweep(batch, per_objective, fixed, share);
  const StepSignature signature{batch.audio.shape(), batch.visual.shape(), batch.label.shape(),
                                batch.audio.dtype(), batch.visual.dtype(), batch.label.dtype(),
                                per_objective,       fixed,                current_precision()};
  switch (schedule_.next(signature)) {
    case GraphSchedule::Action::eager:
      return sweep(batch, per_objective, fixed, share);
    case GraphSchedule::Action::replay:
      copy_batch(batch, graph_batch_);
      graph_->replay();
      model_.forward_replayed();  // the host side of the captured forward: batch-norm counters
      ++graph_replays_;
      return graph_result_;
    case GraphSchedule::Action::capture:
      break;
  }
  graph_batch_ = Batch{like(batch.audio), like(batch.visual), like(batch.label)};
  copy_batch(batch, graph_batch_);
  graph_ = std::make_unique<DeviceGraph>(model_.device());
  ObjectiveGradients r;
  const auto forget_graph = [&] {  // the step fails (its forward ran on the host only)
    graph_.reset();
    graph_batch_ = {};
  };
  try {
    graph_->capture([&] { r = sweep(graph_batch_, per_objective, fixed, share); });
  } catch (const Error& e) {
    forget_graph();
    MMP_THROW("step ", steps_ + 1, ": ", e.what(), " (train without --cuda-graph)");
  } catch (...) {
    forget_graph();
    throw;
  }
  // What the step's report and the integrators read; the rest of the tape goes.
  for (Tensor* t : {&r.outputs.out, &r.outputs.out_audio, &r.outputs.out_visual, &r.outputs.audio_feature,
                    &r.outputs.visual_feature})
    if (t->defined()) *t = t->detach();
  for (Tensor& loss : r.losses) loss = loss.detach();
  graph_result_ = std::move(r);
  schedule_.captured(signature);
  graph_->replay();  // the capture recorded this step; now it runs
  return graph_result_;
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
