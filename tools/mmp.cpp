// The `mmp` command line: one binary for training, inspection and benchmarks. It links
// no media library: the commands that decode audio and video load FFmpeg through
// libmmp-media.so when they run (data/media_library.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/device.h"
#include "engine/distributed.h"
#include "tools/commands.h"
#include "tools/run_cli.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{std::string("mmp ") + MMP_VERSION + ": train multimodal models with MMPareto gradient integration"};
  app.set_version_flag("--version", std::string("mmp ") + MMP_VERSION);
  app.require_subcommand(0, 1);
  mmp::cli::add_train_command(app);
  mmp::cli::add_eval_command(app);
  mmp::cli::add_report_command(app);
  mmp::cli::add_step_command(app);
  mmp::cli::add_features_command(app);
  mmp::cli::add_synth_command(app);
  mmp::cli::add_prepare_command(app);
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput (see docs/benchmarks.md)");
  bench->require_subcommand(1);
  mmp::cli::add_bench_subcommands(*bench);
  mmp::cli::add_bench_data_subcommand(*bench);
  mmp::cli::add_bench_kernels_subcommand(*bench);
  // In a job of several ranks, errors name the rank they happened on.
  const mmp::Launch launch = mmp::launch_from_environment();
  const std::string program =
      launch.distributed ? mmp::str("mmp (rank ", mmp::world().rank(), " of ", launch.ranks, ")") : std::string("mmp");
  if (const auto status = mmp::cli::parse_and_run(app, argc, argv, program.c_str())) return *status;
  if (app.get_subcommands().empty()) {
    std::cout << app.help() << "mmp " << MMP_VERSION << " (CUDA backend "
              << (mmp::cuda_compiled() ? "built" : "not built") << ", "
              << mmp::cuda_device_count() << " CUDA devices visible)\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A job of several ranks starts MPI before anything else (every rank must), and a rank
  // that fails ends the whole job, naming itself, instead of leaving the others waiting.
  const bool distributed = mmp::launch_from_environment().distributed;
  if (distributed) {
    try {
      mmp::world();
    } catch (const mmp::Error& e) {  // MPI cannot start: every rank says so and stops
      std::fprintf(stderr, "mmp: error: %s\n", e.what());
      return 1;
    }
  }
  int status = 0;
  try {
    status = run(argc, argv);
  } catch (const mmp::Error& e) {
    std::fprintf(stderr, "mmp: error: %s\n", e.what());
    status = 1;
  }
  if (distributed && status != 0) mmp::world().abort("the command failed (its error is above)");
  // NCCL and MPI end before the devices are reset.
  if (distributed) mmp::finish_world();
  mmp::release_device_resources();
  return status;
}
