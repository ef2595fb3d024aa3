// `mmp step`: one training step on one batch, with everything it computed written
// out for inspection or comparison with PyTorch.
#include <cstdio>

#include "engine/safetensors.h"
#include "mmpareto/objectives.h"
#include "tools/commands.h"

namespace mmp::cli {
namespace {

struct StepOptions {
  std::string weights, batch, out;
  int64_t classes = 0;  // 0: read from the weights
  std::string fusion;   // empty: read from the weights
  std::string device = "cpu";
};

void run_step(const StepOptions& o) {
  const SafetensorsFile weights = load_safetensors(o.weights);
  AVClassifierConfig config = infer_config(weights.tensors, o.weights);
  if (o.classes > 0) {
    MMP_CHECK(o.classes == config.classes, "--classes ", o.classes, " but ", o.weights, " has heads for ",
              config.classes, " classes");
  }
  if (!o.fusion.empty()) {
    MMP_CHECK(parse_fusion(o.fusion) == config.fusion, "--fusion ", o.fusion, " but ", o.weights, " holds a ",
              fusion_name(config.fusion), " head");
  }
  const Device device = parse_device(o.device);
  Generator gen(0);
  AVClassifier model(config, gen);
  model.load_state_dict(weights.tensors, o.weights);
  model.to(device);
  model.train();
  const Batch batch = load_batch(o.batch).to(device);

  const ObjectiveGradients r = compute_objective_gradients(model, batch);
  NamedTensors out{{"out", r.outputs.out}, {"out_audio", r.outputs.out_audio}, {"out_visual", r.outputs.out_visual}};
  for (int k = 0; k < kObjectives; ++k) out.emplace_back(std::string("loss_") + kObjectiveNames[k], r.losses[k]);
  for (int k = 0; k < kObjectives; ++k)
    for (size_t j = 0; j < r.parameters.size(); ++j)
      if (r.grads[k][j].defined())
        out.emplace_back(std::string("grad/") + kObjectiveNames[k] + "/" + r.parameters[j].first, r.grads[k][j]);
  for (const auto& [name, buffer] : model.named_buffers()) out.emplace_back("buffers/" + name, buffer);
  save_safetensors(o.out, out, {{"weights", o.weights}, {"batch", o.batch}, {"device", device.str()}});
  std::printf("loss_mm %.6f  loss_audio %.6f  loss_visual %.6f  -> %s (%zu tensors)\n", r.losses[0].item(),
              r.losses[1].item(), r.losses[2].item(), o.out.c_str(), out.size());
}

}  // namespace

void add_step_command(CLI::App& app) {
  static StepOptions o;
  CLI::App* step = app.add_subcommand("step", "One training-mode forward and the gradient of each loss, written to a file");
  step->add_option("--weights", o.weights, "model weights (.safetensors, PyTorch state_dict names)")->required();
  step->add_option("--batch", o.batch, "batch (.safetensors with audio, visual, label)")->required();
  step->add_option("--out", o.out, "output .safetensors")->required();
  step->add_option("--classes", o.classes, "number of classes (checked against the weights)");
  step->add_option("--fusion", o.fusion, "concat, sum, film or gated (checked against the weights)");
  step->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  step->callback([] { run_step(o); });
}

}  // namespace mmp::cli
