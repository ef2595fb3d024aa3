#include "tools/step_options.h"

namespace mmp::cli {

void add_precision_option(CLI::App& cmd, std::string& text, const std::string& default_note) {
  cmd.add_option("--precision", text,
                 "fp32 (full f32 products), tf32 (TF32 tensor cores for f32 convolutions and products) or bf16 "
                 "(autocast: bf16 convolutions and products accumulating in f32, f32 batch-norm statistics, "
                 "losses, gradients, integration and updates); CUDA only; default " + default_note);
}

Precision resolve_precision(const std::string& text, Device device, Precision fallback) {
  const Precision p = text.empty() ? fallback : parse_precision(text);
  MMP_CHECK(p == Precision::fp32 || device.is_cuda(), "--precision ", precision_name(p),
            " needs a CUDA device (the CPU computes in fp32)");
  return p;
}

void add_cpu_convolution_option(CLI::App& cmd, CpuConvolution& value) {
  cmd.add_option_function<std::string>(
         "--cpu-conv", [&value](const std::string& v) { value = parse_cpu_convolution(v); },
         "the CPU's 3x3 convolutions: winograd (faster; f32 errors a few times PyTorch's) or exact (im2col + GEMM: "
         "f32 steps as close to float64 as PyTorch's)")
      ->check(CLI::IsMember({"winograd", "exact"}))
      ->default_str(cpu_convolution_name(value));
}

void add_optimizer_options(CLI::App& cmd, OptimizerOptions& o) {
  cmd.add_option("--optimizer", o.kind, "sgd, adam or adamw")->capture_default_str();
  cmd.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  cmd.add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--dampening", o.dampening, "SGD dampening")->capture_default_str();
  cmd.add_flag("--nesterov", o.nesterov, "SGD Nesterov momentum");
  cmd.add_option("--weight-decay", o.weight_decay, "weight decay (decoupled for adamw)")->capture_default_str();
  cmd.add_option("--beta1", o.beta1, "adam, adamw: first moment decay")->capture_default_str();
  cmd.add_option("--beta2", o.beta2, "adam, adamw: second moment decay")->capture_default_str();
  cmd.add_option("--eps", o.eps, "adam, adamw: epsilon")->capture_default_str();
}

void add_integrator_options(CLI::App& cmd, IntegratorOptions& o) {
  cmd.add_option("--gamma", o.gamma, "mmpareto: magnitude factor")->capture_default_str();
  cmd.add_option_function<std::string>(
         "--rescale", [&o](const std::string& v) { o.rescale_per_tensor = v == "tensor"; },
         "mmpareto: per parameter tensor (official code) or over the whole encoder (paper)")
      ->check(CLI::IsMember({"tensor", "encoder"}))
      ->default_str("tensor");
  cmd.add_option("--cagrad-c", o.cagrad_c, "cagrad: c")->capture_default_str();
  cmd.add_option("--ogm-alpha", o.ogm_alpha, "ogm-ge: alpha")->capture_default_str();
  cmd.add_option("--ogm-start", o.ogm_start_epoch, "ogm-ge: first modulated epoch")->capture_default_str();
  cmd.add_option("--ogm-end", o.ogm_end_epoch, "ogm-ge: last modulated epoch")->capture_default_str();
  cmd.add_flag("!--no-ogm-noise", o.ogm_noise, "ogm-ge: without the Gaussian enhancement");
  cmd.add_option_function<std::string>(
         "--unimodal-heads", [&o](const std::string& v) { o.one_joint_probes = v == "probe"; },
         "one-joint: the unimodal heads learn from their own losses as probes of the features (probe), or get no "
         "gradient and stay as initialised, as the official one_joint_loss.py (frozen)")
      ->check(CLI::IsMember({"probe", "frozen"}))
      ->default_str(o.one_joint_probes ? "probe" : "frozen");
}

}  // namespace mmp::cli
