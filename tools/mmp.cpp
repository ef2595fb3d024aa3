// The `mmp` command line.
#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/device.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  CLI::App app{"mmp: train multimodal models with MMPareto gradient integration"};
  app.set_version_flag("--version", std::string("mmp ") + MMP_VERSION);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help() << "mmp " << MMP_VERSION << " (CUDA backend "
              << (mmp::cuda_compiled() ? "built" : "not built") << ")\n";
  }
  return 0;
}
