#pragma once
// The subcommands of `mmp`, one file each; main() in mmp.cpp registers them.
#include <CLI/CLI.hpp>

namespace mmp::cli {

// `bench`'s subcommands: gemm, model and step (no media libraries needed), data, and kernels.
void add_bench_subcommands(CLI::App& bench);
void add_bench_data_subcommand(CLI::App& bench);
void add_bench_kernels_subcommand(CLI::App& bench);
void add_step_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_prepare_command(CLI::App& app);

}  // namespace mmp::cli
