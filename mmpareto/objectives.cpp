#include "mmpareto/objectives.h"

namespace mmp {

ObjectiveGradients compute_objective_gradients(AVClassifier& model, const Batch& batch, double loss_scale,
                                               const RootGradientsReady& ready) {
  ObjectiveGradients r;
  r.outputs = model.forward(batch.audio, batch.visual);
  r.losses = {cross_entropy(r.outputs.out, batch.label), cross_entropy(r.outputs.out_audio, batch.label),
              cross_entropy(r.outputs.out_visual, batch.label)};
  r.parameters = model.named_parameters();
  std::vector<Tensor> inputs;
  for (const auto& [name, p] : r.parameters) inputs.push_back(p);
  std::vector<Tensor> roots(r.losses.begin(), r.losses.end());
  if (loss_scale != 1.0)
    for (Tensor& root : roots) root = mul_scalar(root, loss_scale);
  auto grads = grad_per_root(roots, inputs, /*keep_tape=*/false, ready);
  for (int k = 0; k < kObjectives; ++k) r.grads[k] = std::move(grads[k]);
  return r;
}

}  // namespace mmp
