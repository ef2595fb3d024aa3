#pragma once
// The objectives of audio-visual training: the cross-entropy of the multimodal head
// and of each unimodal head, and the gradient of each on the parameters it reaches,
// from one forward (engine/autograd.h: grad_per_root).
#include <array>
#include <string>

#include "data/batch.h"
#include "engine/autograd.h"
#include "layers/av_classifier.h"

namespace mmp {

enum Objective { kMultimodal = 0, kAudio = 1, kVisual = 2 };
inline constexpr int kObjectives = 3;
inline constexpr std::array<const char*, kObjectives> kObjectiveNames{"mm", "audio", "visual"};

struct ObjectiveGradients {
  AVOutputs outputs;
  std::array<Tensor, kObjectives> losses;
  NamedTensors parameters;  // the model's, in state_dict order
  // grads[k][j]: gradient of objective k on parameters[j]; undefined where k does not reach j.
  std::array<std::vector<Tensor>, kObjectives> grads;
};

// One training-mode forward (BN statistics update once), the three losses, and the
// gradient of each loss on every parameter: one backward sweep per objective, each
// through only the parts that objective reaches. The gradients are of the losses times
// `loss_scale` (a rank's share of a data-parallel batch; the losses are kept unscaled).
// `ready(k, gradients)` is called as soon as objective k's sweep has produced them.
ObjectiveGradients compute_objective_gradients(AVClassifier& model, const Batch& batch, double loss_scale = 1.0,
                                               const RootGradientsReady& ready = {});

}  // namespace mmp
