#pragma once
// The comparison of methods that `mmp train` prints at the end and `mmp report` shows:
// per run, the test accuracies of the three heads (best and last epoch), the fused
// head's best macro-F1, the share of steps whose gradients conflict in each encoder,
// and the time a step took.
#include <string>
#include <vector>

#include "mmpareto/trainer.h"

namespace mmp::cli {

struct ComparisonRow {
  std::string method;
  double best_mm = 0, last_mm = 0, best_audio = 0, last_audio = 0, best_visual = 0, last_visual = 0;
  double best_f1_mm = 0;
  double conflict_audio = 0, conflict_visual = 0;  // mean over the epochs
  double seconds_per_step = 0;
};

// `epochs` non-empty; best_mm and best_f1_mm are the epoch with the best fused accuracy's.
ComparisonRow comparison_row(const std::string& method, const std::vector<EpochSummary>& epochs,
                             double seconds_per_step);
void print_comparison_table(const std::vector<ComparisonRow>& rows);

}  // namespace mmp::cli
