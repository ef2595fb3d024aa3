#pragma once
// `mmp report`: one self-contained HTML file comparing training runs side by side, from
// their metrics logs: per epoch the objectives' losses and the heads' test accuracies;
// per step each encoder's cosine between its multimodal and unimodal gradients (the
// paper's Fig. 1a), the integrator's weights and scales and the gradient norms; the
// share of conflicting steps; and the comparison table `mmp train` prints. The plots are
// gnuplot's SVG, embedded: the file needs no network and runs no script.
#include <map>
#include <string>
#include <vector>

#include "mmpareto/trainer.h"
#include "tools/gnuplot.h"

namespace mmp::cli {

struct RunLog {
  std::string label;  // the method's folder name (with its run folder's when several are compared)
  std::string source;  // the metrics file
  std::vector<EpochSummary> epochs;
  std::map<std::string, PlotSeries> steps;  // per-step statistics by name, against the step number
  double seconds_per_step = 0;
};

// Each path is a run folder of `mmp train --out` (a metrics.jsonl per method folder) or
// one method's folder. Errors name the file and line that cannot be read.
std::vector<RunLog> read_runs(const std::vector<std::string>& paths);

std::string report_html(const std::vector<RunLog>& runs, const std::string& title);

// Reads the runs and writes the report to `out` (atomically); the title names the
// paths unless given.
void write_report(const std::vector<std::string>& paths, const std::string& out, std::string title = "");

}  // namespace mmp::cli
