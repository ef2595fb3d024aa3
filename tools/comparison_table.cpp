#include "tools/comparison_table.h"

#include <algorithm>
#include <cstdio>

namespace mmp::cli {

ComparisonRow comparison_row(const std::string& method, const std::vector<EpochSummary>& epochs,
                             double seconds_per_step) {
  MMP_CHECK(!epochs.empty(), method, ": no finished epoch to compare");
  ComparisonRow row;
  row.method = method;
  const auto best = std::max_element(epochs.begin(), epochs.end(), [](const EpochSummary& a, const EpochSummary& b) {
    return a.test.multimodal.accuracy < b.test.multimodal.accuracy;
  });
  row.best_mm = best->test.multimodal.accuracy;
  row.best_f1_mm = best->test.multimodal.macro_f1;
  const EpochSummary& last = epochs.back();
  row.last_mm = last.test.multimodal.accuracy;
  row.last_audio = last.test.audio.accuracy;
  row.last_visual = last.test.visual.accuracy;
  for (const EpochSummary& e : epochs) {
    row.best_audio = std::max(row.best_audio, e.test.audio.accuracy);
    row.best_visual = std::max(row.best_visual, e.test.visual.accuracy);
    row.conflict_audio += e.conflict_audio / static_cast<double>(epochs.size());
    row.conflict_visual += e.conflict_visual / static_cast<double>(epochs.size());
  }
  row.seconds_per_step = seconds_per_step;
  return row;
}

void print_comparison_table(const std::vector<ComparisonRow>& rows) {
  std::printf("\n%-10s | %-13s | %-13s | %-13s | %-9s | %-17s | %8s\n", "method", "multimodal", "audio head",
              "visual head", "macro-F1", "conflict a / v", "s/step");
  std::printf("%-10s | %-13s | %-13s | %-13s | %-9s | %-17s | %8s\n", "", "best   last", "best   last", "best   last",
              "mm best", "(share of steps)", "");
  std::printf("%s\n", std::string(103, '-').c_str());
  for (const ComparisonRow& r : rows)
    std::printf("%-10s | %5.3f  %5.3f | %5.3f  %5.3f | %5.3f  %5.3f | %9.3f | %7.2f / %-7.2f | %8.3f\n",
                r.method.c_str(), r.best_mm, r.last_mm, r.best_audio, r.last_audio, r.best_visual, r.last_visual,
                r.best_f1_mm, r.conflict_audio, r.conflict_visual, r.seconds_per_step);
}

}  // namespace mmp::cli
