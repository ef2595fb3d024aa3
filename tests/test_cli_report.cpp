// `mmp report` and the report `mmp train` writes: one self-contained HTML file whose
// every plot holds the runs' data, the comparison table, and errors naming bad input.
// (tests/browser/report_in_browser.sh renders it in Chromium.)
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/support/cli.h"

using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("mmp train --compare writes a self-contained report whose plots hold every run", "[unit][cli]") {
  const std::string dir = temp_dir("report");
  const CommandResult r = run_mmp("train --compare one-joint,mmpareto --epochs 2 --samples 64 --test-samples 32 "
                                  "--width 2 --batch 16 --quiet --out " + dir + "/runs");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains(dir + "/runs/report.html"));
  const std::string html = read_text(dir + "/runs/report.html");
  // Nothing loaded from elsewhere, nothing run: the only URLs are SVG's namespaces.
  CHECK(count(html, "<script") == 0);
  CHECK(count(html, " src=") == 0);
  CHECK(count(html, "<link") == 0);
  std::string without_namespaces = std::regex_replace(html, std::regex("http://www\\.w3\\.org/[0-9]{4}/(svg|xlink)"), "");
  CHECK(count(without_namespaces, "http") == 0);
  // Every figure is an SVG with a curve per run (gnuplot's groups gnuplot_plot_<n>).
  const size_t figures = count(html, "<figure class=\"plot\"");
  CHECK(figures == 15);
  CHECK(count(html, "<svg") == figures);
  for (size_t f = 0; f < figures; ++f) {
    INFO("figure " << f);
    const size_t begin = html.find("id=\"plot-" + std::to_string(f) + "\"");
    REQUIRE(begin != std::string::npos);
    const std::string figure = html.substr(begin, html.find("</figure>", begin) - begin);
    CHECK(count(figure, "gnuplot_plot_1\"") == 1);
    CHECK(count(figure, "gnuplot_plot_2\"") == 1);  // both runs drawn
    CHECK(count(figure, "<path") > 10);
  }
  CHECK_THAT(html, Contains("cos(g_multimodal, g_audio)") && Contains("Weights, visual encoder") &&
                       Contains("<td>one-joint</td>") && Contains("<td>mmpareto</td>"));

  // Two run folders side by side: the runs named by folder and method.
  const CommandResult other = run_mmp("train --method uniform --epochs 1 --samples 64 --test-samples 32 --width 2 "
                                      "--batch 16 --quiet --out " + dir + "/other");
  REQUIRE(other.exit_code == 0);
  const CommandResult both = run_mmp("report " + dir + "/runs " + dir + "/other --out " + dir + "/both.html");
  INFO(both.output);
  REQUIRE(both.exit_code == 0);
  const std::string side_by_side = read_text(dir + "/both.html");
  CHECK_THAT(side_by_side, Contains("<td>runs/mmpareto</td>") && Contains("<td>other/uniform</td>"));
  CHECK(count(side_by_side, "<figure class=\"plot\"") == 15);
}

TEST_CASE("mmp report names what it cannot read; without gnuplot training still succeeds", "[unit][cli]") {
  const std::string dir = temp_dir("report_bad");
  const CommandResult missing = run_mmp("report " + dir + "/none --out " + dir + "/r.html");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Contains(dir + "/none: no such run folder"));
  const CommandResult empty = run_mmp("report " + dir + " --out " + dir + "/r.html");
  CHECK(empty.exit_code == 1);
  CHECK_THAT(empty.output, Contains("no metrics.jsonl"));

  const CommandResult r = run_mmp("train --method uniform --epochs 1 --samples 64 --test-samples 32 --width 2 "
                                  "--batch 16 --quiet --out " + dir + "/runs", "MMP_GNUPLOT=/nonexistent/gnuplot");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("no report written: cannot run /nonexistent/gnuplot") && Contains("gnuplot-nox"));

  std::ofstream(dir + "/runs/uniform/metrics.jsonl", std::ios::app) << "{\"kind\": \"epoch\"}\n{}\n";
  const CommandResult damaged = run_mmp("report " + dir + "/runs --out " + dir + "/r.html");
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.output, Contains("uniform/metrics.jsonl:") && Contains("not a metrics line of mmp train"));
}
