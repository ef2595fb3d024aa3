// `mmp step`: one training step on one batch, with everything it computed written
// out for inspection or comparison with PyTorch. Without --method it stops after the
// per-objective gradients; with one it integrates them and updates the weights.
#include <cstdio>
#include <filesystem>

#include "engine/safetensors.h"
#include "mmpareto/train_step.h"
#include "tools/commands.h"
#include "tools/step_options.h"

namespace mmp::cli {
namespace {

struct StepOptions {
  std::string weights, batch, out;
  int64_t classes = 0;  // 0: read from the weights
  std::string fusion;   // empty: read from the weights
  std::string device = "cpu";
  std::string precision;  // empty: fp32
  std::string dtype = "f32";  // f64: the whole step in float64 on the CPU (the exact mode)
  CpuConvolution cpu_convolution = CpuConvolution::exact;  // a step to compare with PyTorch's
  std::string method;   // empty: gradients only
  std::string state;    // optimizer state file, read if present and written back
  OptimizerOptions optimizer;
  IntegratorOptions integrator;
  int epoch = 0;
  uint64_t seed = 0;
};

void add_objective_outputs(const ObjectiveGradients& r, const AVClassifier& model, NamedTensors& out) {
  out.insert(out.end(), {{"out", r.outputs.out}, {"out_audio", r.outputs.out_audio}, {"out_visual", r.outputs.out_visual}});
  for (int k = 0; k < kObjectives; ++k) out.emplace_back(std::string("loss_") + kObjectiveNames[k], r.losses[k]);
  for (int k = 0; k < kObjectives; ++k)
    for (size_t j = 0; j < r.parameters.size(); ++j)
      if (r.grads[k][j].defined())
        out.emplace_back(std::string("grad/") + kObjectiveNames[k] + "/" + r.parameters[j].first, r.grads[k][j]);
  for (const auto& [name, buffer] : model.named_buffers()) out.emplace_back("buffers/" + name, buffer);
}

void run_step(StepOptions o) {
  const SafetensorsFile weights = load_safetensors(o.weights);
  AVClassifierConfig config = infer_config(weights.tensors, o.weights);
  if (o.classes > 0)
    MMP_CHECK(o.classes == config.classes, "--classes ", o.classes, " but ", o.weights, " has heads for ",
              config.classes, " classes");
  if (!o.fusion.empty())
    MMP_CHECK(parse_fusion(o.fusion) == config.fusion, "--fusion ", o.fusion, " but ", o.weights, " holds a ",
              fusion_name(config.fusion), " head");
  const Device device = parse_device(o.device);
  MMP_CHECK(o.dtype == "f32" || o.dtype == "f64", "--dtype must be f32 or f64, got '", o.dtype, "'");
  const bool exact = o.dtype == "f64";
  MMP_CHECK(!exact || device.is_cpu(), "--dtype f64 runs on the CPU (CUDA computes in f32, tf32 or bf16)");
  const PrecisionScope precision(resolve_precision(o.precision, device, Precision::fp32));
  const CpuConvolutionScope cpu_convolution(o.cpu_convolution);
  Generator gen(0);
  AVClassifier model(config, gen);
  model.load_state_dict(weights.tensors, o.weights);
  if (exact) model.to(DType::F64);
  model.to(device);
  model.train();
  Batch batch = load_batch(o.batch).to(device);
  if (exact) batch = Batch{batch.audio.to(DType::F64), batch.visual.to(DType::F64), batch.label};
  MMP_CHECK(batch.visual.shape()[2] == config.visual_channels, o.batch, ": visual ", batch.visual.str(), " has ",
            batch.visual.shape()[2], " channels per frame, but ", o.weights, " takes ", config.visual_channels);

  NamedTensors out;
  std::string summary;
  if (o.method.empty()) {
    const ObjectiveGradients r = compute_objective_gradients(model, batch);
    add_objective_outputs(r, model, out);
    summary = str("loss_mm ", r.losses[0].item(), "  loss_audio ", r.losses[1].item(), "  loss_visual ",
                  r.losses[2].item(), " ");
  } else {
    TrainStep step(model, make_integrator(o.method, o.integrator), make_optimizer(model.named_parameters(), o.optimizer),
                   o.seed);
    if (!o.state.empty() && std::filesystem::exists(o.state))
      step.optimizer().load_state(load_safetensors(o.state).tensors, o.state);
    const StepReport report = step.run(batch, o.epoch, o.optimizer.lr);
    add_objective_outputs(report.objectives, model, out);
    for (const auto& [name, p] : model.named_parameters()) out.emplace_back("final_grad/" + name, p.grad());
    for (const auto& [name, p] : model.named_parameters()) out.emplace_back("param/" + name, p);
    for (const auto& [name, value] : step_statistics(report))
      out.emplace_back("stats/" + name, scalar_tensor(value, DType::F64));
    if (!o.state.empty()) save_safetensors(o.state, step.optimizer().state(), {{"optimizer", o.optimizer.kind}});
    summary = str(o.method, ": loss_mm ", report.losses[0], "  loss_audio ", report.losses[1], "  loss_visual ",
                  report.losses[2], "\n");
    char line[256];
    std::snprintf(line, sizeof line, "%-8s %8s %9s %9s %9s %9s %9s %9s %8s\n", "encoder", "cos", "w_mm", "w_uni",
                  "|g_mm|", "|g_uni|", "|sum|", "|final|", "conflict");
    summary += line;
    for (const GroupReport& g : report.groups) {
      if (g.objectives.size() != 2) continue;
      std::snprintf(line, sizeof line, "%-8s %8.4f %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %8s\n", g.group.c_str(),
                    g.cosine(0, 1), g.weights[0], g.weights[1], g.norm(0), g.norm(1), g.norm_sum, g.norm_final,
                    g.conflict ? "yes" : "no");
      summary += line;
    }
  }
  save_safetensors(o.out, out, {{"weights", o.weights}, {"batch", o.batch}, {"device", device.str()}, {"method", o.method}});
  std::printf("%s-> %s (%zu tensors)\n", summary.c_str(), o.out.c_str(), out.size());
}

}  // namespace

void add_step_command(CLI::App& app) {
  static StepOptions o;
  CLI::App* step = app.add_subcommand("step", "One training step on one batch, everything it computed written to a file");
  step->add_option("--weights", o.weights, "model weights (.safetensors, PyTorch state_dict names)")->required();
  step->add_option("--batch", o.batch, "batch (.safetensors with audio, visual, label)")->required();
  step->add_option("--out", o.out, "output .safetensors")->required();
  step->add_option("--classes", o.classes, "number of classes (checked against the weights)");
  step->add_option("--fusion", o.fusion, "concat, sum, film or gated (checked against the weights)");
  step->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  add_precision_option(*step, o.precision, "fp32 (exact: for checks against PyTorch)");
  add_cpu_convolution_option(*step, o.cpu_convolution);
  step->add_option("--dtype", o.dtype, "f32, or f64 on the CPU: the whole step in float64 (to check it against "
                                       "PyTorch in float64 to 1e-10)")
      ->capture_default_str();
  step->add_option("--method", o.method,
                   "integrate and update: one-joint, uniform, mmpareto, mgda, pcgrad, cagrad or ogm-ge "
                   "(without it: forward and per-objective gradients only)");
  add_optimizer_options(*step, o.optimizer);
  o.integrator.one_joint_probes = false;  // one-joint as the official one_joint_loss.py
  add_integrator_options(*step, o.integrator);
  step->add_option("--epoch", o.epoch, "the epoch the step belongs to (ogm-ge's window)")->capture_default_str();
  step->add_option("--seed", o.seed, "seed of the randomised methods (pcgrad, ogm-ge)")->capture_default_str();
  step->add_option("--state", o.state, "optimizer state (.safetensors): read if it exists, written after the step");
  step->callback([] { run_step(o); });
}

}  // namespace mmp::cli
