#include "tools/run_report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/atomic_file.h"
#include "tools/comparison_table.h"

namespace mmp::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

RunLog read_metrics(const fs::path& metrics, const std::string& label) {
  std::ifstream in(metrics);
  MMP_CHECK(in.good(), metrics.string(), ": cannot be read");
  RunLog run;
  run.label = label;
  run.source = metrics.string();
  double train_seconds = 0;
  int64_t steps = 0;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      // A run killed while writing leaves a partial last line; anything else is damage.
      MMP_CHECK(in.peek() == EOF, metrics.string(), ":", line_number, ": not a JSON line");
      break;
    }
    try {
      const std::string kind = j.at("kind");
      if (kind == "epoch") {
        run.epochs.push_back(epoch_from_json(j));
        train_seconds += run.epochs.back().train_seconds;
      } else if (kind == "step") {
        ++steps;
        const double step = j.at("step");
        for (const auto& [key, value] : j.items()) {
          if (!value.is_number() || key == "step" || key == "epoch") continue;
          PlotSeries& series = run.steps[key];
          series.x.push_back(step);
          series.y.push_back(value.get<double>());
        }
      }
    } catch (const json::exception& e) {
      MMP_THROW(metrics.string(), ":", line_number, ": not a metrics line of mmp train (", e.what(), ")");
    }
  }
  MMP_CHECK(!run.epochs.empty(), metrics.string(), ": no finished epoch");
  run.seconds_per_step = steps ? train_seconds / static_cast<double>(steps) : 0.0;
  return run;
}

std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// One series per run of a per-epoch value (epochs counted from 1).
LinePlot epoch_plot(const std::vector<RunLog>& runs, const std::string& title, const std::string& y_label,
                    double (*value)(const EpochSummary&)) {
  LinePlot plot{title, "epoch", y_label, {}, false, true};
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLog& r = runs[i];
    PlotSeries s{r.label, {}, {}, static_cast<int>(i) + 1, 1};
    for (const EpochSummary& e : r.epochs) {
      s.x.push_back(e.epoch + 1);
      s.y.push_back(value(e));
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

LinePlot share_plot(LinePlot plot) {
  plot.y_min = 0;
  plot.y_max = 1;
  return plot;
}

// Per-step statistics: for each run, each (key, name) present in its log.
LinePlot step_plot(const std::vector<RunLog>& runs, const std::string& title, const std::string& y_label,
                   const std::vector<std::pair<std::string, std::string>>& keys, bool zero_line = false) {
  LinePlot plot{title, "step", y_label, {}, zero_line, false};
  // A run keeps its colour in every plot; each statistic has its dash.
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t k = 0; k < keys.size(); ++k) {
      const auto it = runs[i].steps.find(keys[k].first);
      if (it == runs[i].steps.end()) continue;
      PlotSeries s = it->second;
      s.name = keys.size() > 1 ? runs[i].label + ": " + keys[k].second : runs[i].label;
      s.colour = static_cast<int>(i) + 1;
      s.dash = static_cast<int>(k) + 1;
      plot.series.push_back(std::move(s));
    }
  return plot;
}

// gnuplot names the same ids in every SVG (its point symbols, its curves' groups):
// inside one page each figure's get a prefix, and so do the references to them.
std::string with_id_prefix(std::string svg, const std::string& prefix) {
  for (const std::string pattern : {"id=\"", "id='", "href=\"#", "href='#", "url(#"}) {
    for (size_t at = svg.find(pattern); at != std::string::npos; at = svg.find(pattern, at)) {
      at += pattern.size();
      svg.insert(at, prefix);
      at += prefix.size();
    }
  }
  return svg;
}

}  // namespace

std::vector<RunLog> read_runs(const std::vector<std::string>& paths) {
  MMP_CHECK(!paths.empty(), "report: no runs given");
  std::vector<RunLog> runs;
  for (const std::string& path : paths) {
    const fs::path root(path);
    MMP_CHECK(fs::is_directory(root), path, ": no such run folder");
    if (fs::exists(root / "metrics.jsonl")) {
      runs.push_back(read_metrics(root / "metrics.jsonl", fs::absolute(root).lexically_normal().filename().string()));
      continue;
    }
    const std::string prefix = paths.size() > 1 ? fs::absolute(root).lexically_normal().filename().string() + "/" : "";
    std::vector<fs::path> methods;
    for (const auto& entry : fs::directory_iterator(root))
      if (entry.is_directory() && fs::exists(entry.path() / "metrics.jsonl")) methods.push_back(entry.path());
    MMP_CHECK(!methods.empty(), path, ": no metrics.jsonl in it or in its folders (a run folder of mmp train --out)");
    std::sort(methods.begin(), methods.end());
    for (const fs::path& m : methods) runs.push_back(read_metrics(m / "metrics.jsonl", prefix + m.filename().string()));
  }
  // Two runs of one name (the same method from two run folders): named by their folders.
  for (RunLog& r : runs) {
    const auto same = std::count_if(runs.begin(), runs.end(), [&](const RunLog& o) { return o.label == r.label; });
    if (same > 1) r.label = fs::path(r.source).parent_path().lexically_normal().string();
  }
  return runs;
}

std::string report_html(const std::vector<RunLog>& runs, const std::string& title) {
  struct Section {
    std::string heading, text;
    std::vector<LinePlot> plots;
  };
  std::vector<Section> sections;
  sections.push_back({"Accuracy on the test set",
                      "After each epoch, the fused head's and each unimodal head's accuracy.",
                      {share_plot(epoch_plot(runs, "Test accuracy, multimodal head", "accuracy",
                                             [](const EpochSummary& e) { return e.test.multimodal.accuracy; })),
                       share_plot(epoch_plot(runs, "Test accuracy, audio head", "accuracy",
                                             [](const EpochSummary& e) { return e.test.audio.accuracy; })),
                       share_plot(epoch_plot(runs, "Test accuracy, visual head", "accuracy",
                                             [](const EpochSummary& e) { return e.test.visual.accuracy; }))}});
  sections.push_back({"Training losses", "Each objective's mean cross-entropy over the epoch's training batches.",
                      {epoch_plot(runs, "Training loss, multimodal objective", "cross-entropy",
                                  [](const EpochSummary& e) { return e.loss_mm; }),
                       epoch_plot(runs, "Training loss, audio objective", "cross-entropy",
                                  [](const EpochSummary& e) { return e.loss_audio; }),
                       epoch_plot(runs, "Training loss, visual objective", "cross-entropy",
                                  [](const EpochSummary& e) { return e.loss_visual; })}});
  sections.push_back(
      {"Gradient conflict (the paper's Fig. 1a)",
       "Per step, the cosine between the multimodal loss's gradient and the unimodal loss's gradient on each "
       "encoder; below the dashed line the two conflict. Then the share of each epoch's steps that conflict.",
       {step_plot(runs, "Audio encoder: cos(g_multimodal, g_audio)", "cosine", {{"cos_audio", "audio"}}, true),
        step_plot(runs, "Visual encoder: cos(g_multimodal, g_visual)", "cosine", {{"cos_visual", "visual"}}, true),
        share_plot(epoch_plot(runs, "Share of steps with conflicting gradients, audio encoder", "share of steps",
                              [](const EpochSummary& e) { return e.conflict_audio; })),
        share_plot(epoch_plot(runs, "Share of steps with conflicting gradients, visual encoder", "share of steps",
                              [](const EpochSummary& e) { return e.conflict_visual; }))}});
  sections.push_back(
      {"Integration", "The weights the integrator gave each objective's gradient on each encoder, and the factor "
                      "it scaled the combined gradient by (MMPareto: at least gamma).",
       {step_plot(runs, "Weights, audio encoder", "weight",
                  {{"weight_mm_audio", "multimodal"}, {"weight_audio_audio", "audio"}}),
        step_plot(runs, "Weights, visual encoder", "weight",
                  {{"weight_mm_visual", "multimodal"}, {"weight_visual_visual", "visual"}}),
        step_plot(runs, "Scale of the integrated gradient", "scale",
                  {{"scale_audio", "audio encoder"}, {"scale_visual", "visual encoder"}})}});
  sections.push_back(
      {"Gradient norms", "Per step, each objective's gradient norm on each encoder and the norm of the update's gradient.",
       {step_plot(runs, "Gradient norms, audio encoder", "L2 norm",
                  {{"norm_mm_audio", "multimodal"}, {"norm_audio_audio", "audio"}, {"norm_final_audio", "final"}}),
        step_plot(runs, "Gradient norms, visual encoder", "L2 norm",
                  {{"norm_mm_visual", "multimodal"}, {"norm_visual_visual", "visual"}, {"norm_final_visual", "final"}})}});

  std::vector<LinePlot> all;
  for (const Section& s : sections) all.insert(all.end(), s.plots.begin(), s.plots.end());
  const std::vector<std::string> svgs = render_svg(all);

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << escaped(title)
       << "</title>\n<style>\n"
          "body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }\n"
          "table { border-collapse: collapse; margin: 1em 0; }\n"
          "th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }\n"
          "th:first-child, td:first-child { text-align: left; }\n"
          "figure { margin: 1.5em 0; }\nfigure svg { width: 100%; height: auto; }\n"
          ".source { color: #777; font-size: 0.85em; }\n"
          "</style>\n</head>\n<body>\n<h1>"
       << escaped(title) << "</h1>\n<p class=\"source\">";
  for (const RunLog& r : runs) html << escaped(r.label) << ": " << escaped(r.source) << "<br>\n";
  html << "</p>\n<h2>Comparison</h2>\n<table>\n<tr><th>method</th><th colspan=\"2\">multimodal</th>"
          "<th colspan=\"2\">audio head</th><th colspan=\"2\">visual head</th><th>macro-F1</th>"
          "<th colspan=\"2\">conflicting steps</th><th>s/step</th></tr>\n"
          "<tr><th></th><th>best</th><th>last</th><th>best</th><th>last</th><th>best</th><th>last</th>"
          "<th>mm best</th><th>audio</th><th>visual</th><th></th></tr>\n";
  for (const RunLog& r : runs) {
    const ComparisonRow row = comparison_row(r.label, r.epochs, r.seconds_per_step);
    char cells[512];
    std::snprintf(cells, sizeof cells,
                  "<td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
                  "<td>%.2f</td><td>%.2f</td><td>%.3f</td>",
                  row.best_mm, row.last_mm, row.best_audio, row.last_audio, row.best_visual, row.last_visual,
                  row.best_f1_mm, row.conflict_audio, row.conflict_visual, row.seconds_per_step);
    html << "<tr><td>" << escaped(row.method) << "</td>" << cells << "</tr>\n";
  }
  html << "</table>\n";
  size_t at = 0;
  for (const Section& s : sections) {
    html << "<h2>" << escaped(s.heading) << "</h2>\n<p>" << escaped(s.text) << "</p>\n";
    for (const LinePlot& p : s.plots) {
      html << "<figure class=\"plot\" id=\"plot-" << at << "\" aria-label=\"" << escaped(p.title) << "\">\n"
           << with_id_prefix(svgs[at], "plot" + std::to_string(at) + "-") << "\n</figure>\n";
      ++at;
    }
  }
  html << "</body>\n</html>\n";
  return html.str();
}

void write_report(const std::vector<std::string>& paths, const std::string& out, std::string title) {
  if (title.empty()) {
    title = "mmp report:";
    for (const std::string& p : paths) title += " " + p;
  }
  write_file_atomically(out, report_html(read_runs(paths), title));
}

}  // namespace mmp::cli
