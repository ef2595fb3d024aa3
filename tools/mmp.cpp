// The `mmp` command line: one binary for training, inspection and benchmarks.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "engine/device.h"
#include "engine/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{std::string("mmp ") + MMP_VERSION + ": train multimodal models with MMPareto gradient integration"};
  app.set_version_flag("--version", std::string("mmp ") + MMP_VERSION);
  app.require_subcommand(0, 1);
  mmp::cli::add_train_command(app);
  mmp::cli::add_step_command(app);
  mmp::cli::add_features_command(app);
  mmp::cli::add_synth_command(app);
  mmp::cli::add_prepare_command(app);
  mmp::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mmp::Error& e) {
    std::fprintf(stderr, "mmp: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmp: internal error: %s\n", e.what());
    return 2;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help() << "mmp " << MMP_VERSION << " (CUDA backend "
              << (mmp::cuda_compiled() ? "built" : "not built") << ", "
              << mmp::cuda_device_count() << " CUDA devices visible)\n";
  }
  return 0;
}
