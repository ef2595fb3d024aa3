// `mmp-gpu-bench`: `mmp bench gemm | model | step` in a binary that links no media
// library (FFmpeg, libjpeg-turbo, stb), so that a build made on a Debian machine runs
// on a GPU machine whose system has other versions of them (tools/gpu-check.sh).
#include <CLI/CLI.hpp>

#include "tools/commands.h"
#include "tools/run_cli.h"

int main(int argc, char** argv) {
  CLI::App app{std::string("mmp-gpu-bench ") + MMP_VERSION + ": mmp bench gemm | model | step, without media libraries"};
  app.require_subcommand(1);
  mmp::cli::add_bench_subcommands(app);
  return mmp::cli::parse_and_run(app, argc, argv, "mmp-gpu-bench").value_or(0);
}
