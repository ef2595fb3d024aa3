#pragma once
// The optimizer and integrator options that `mmp step` and `mmp train` share, so the
// two commands take the same flags with the same defaults.
#include <CLI/CLI.hpp>

#include "engine/optimizer.h"
#include "engine/precision.h"
#include "mmpareto/integrator.h"

namespace mmp::cli {

void add_optimizer_options(CLI::App& cmd, OptimizerOptions& o);
// Takes its defaults from `o` (mmp step: one-joint's unimodal heads frozen, as the
// official code; mmp train: probes).
void add_integrator_options(CLI::App& cmd, IntegratorOptions& o);
// --precision fp32|tf32|bf16; `text` keeps what was given ("" when nothing was).
void add_precision_option(CLI::App& cmd, std::string& text, const std::string& default_note);
// The precision asked for on `device`, or `fallback` when none was: tf32 and bf16 are
// CUDA's (the CPU computes in f32, or f64 when asked).
Precision resolve_precision(const std::string& text, Device device, Precision fallback);
// --cpu-conv winograd|exact (engine/precision.h); `value` holds the command's default.
void add_cpu_convolution_option(CLI::App& cmd, CpuConvolution& value);

}  // namespace mmp::cli
