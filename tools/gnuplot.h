#pragma once
// Line plots drawn by gnuplot (Debian: gnuplot-nox) as SVG, for reports. gnuplot runs
// as a separate program (MMP_GNUPLOT names another), so mmp does not link it and a
// machine without it only loses the plots, with an error that says so.
#include <string>
#include <vector>

namespace mmp::cli {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  int colour = 0;  // gnuplot's line type whose colour to take (0: the next one)
  int dash = 1;    // dash type: 1 solid, 2 dashed, 3 dotted, ...
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  bool zero_line = false;  // a dashed line at y = 0 (cosines: below it the gradients conflict)
  bool integer_x = false;  // x counts something (epochs): whole-number tics
  double y_min = 0, y_max = 0;  // a fixed y range where y_min < y_max (shares: 0 to 1), else autoscaled
};

// Each plot as a standalone <svg> element (no XML prologue, no script), in order.
// Series without points are left out; a plot without any is drawn empty with its title.
std::vector<std::string> render_svg(const std::vector<LinePlot>& plots);

}  // namespace mmp::cli
