#pragma once
// The optimizer and integrator options that `mmp step` and `mmp train` share, so the
// two commands take the same flags with the same defaults.
#include <CLI/CLI.hpp>

#include "engine/optimizer.h"
#include "mmpareto/integrator.h"

namespace mmp::cli {

void add_optimizer_options(CLI::App& cmd, OptimizerOptions& o);
void add_integrator_options(CLI::App& cmd, IntegratorOptions& o);

}  // namespace mmp::cli
