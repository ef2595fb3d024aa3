// `mmp report`: training runs compared in one self-contained HTML file (tools/run_report.h).
#include <cstdio>

#include "tools/commands.h"
#include "tools/run_report.h"

namespace mmp::cli {

void add_report_command(CLI::App& app) {
  static std::vector<std::string> runs;
  static std::string out = "report.html";
  CLI::App* cmd = app.add_subcommand(
      "report", "Compare training runs in one HTML file: losses, accuracies, gradient cosines (Fig. 1a), weights, norms");
  cmd->add_option("runs", runs, "run folders of mmp train --out, or method folders in them")->required();
  cmd->add_option("--out", out, "the HTML file to write")->capture_default_str();
  cmd->callback([] {
    write_report(runs, out);
    std::printf("report of %zu run folder%s written to %s\n", runs.size(), runs.size() == 1 ? "" : "s", out.c_str());
  });
}

}  // namespace mmp::cli
