#include "tools/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

extern char** environ;

namespace mmp::cli {
namespace {

namespace fs = std::filesystem;

// A string as a gnuplot string literal (single quotes: no escapes but the quote doubled).
std::string literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A temporary folder for one rendering, removed with this.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mmp-plot-XXXXXX").string();
    MMP_CHECK(mkdtemp(pattern.data()) != nullptr, "cannot make a temporary folder for the plots under ",
              fs::temp_directory_path().string());
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

std::vector<std::string> render_svg(const std::vector<LinePlot>& plots) {
  if (plots.empty()) return {};
  const TempDir dir;
  std::ostringstream script;
  script << "set terminal svg size 760,380 dynamic noenhanced font 'sans,11' background rgb 'white'\n"
            "set grid lc rgb '#dddddd'\nset key outside right top\nset border lc rgb '#555555'\n"
            "set offsets 0, 0, graph 0.05, graph 0.05\n";  // lines along the frame stay visible
  for (size_t p = 0; p < plots.size(); ++p) {
    const LinePlot& plot = plots[p];
    script << "set output " << literal((dir.path / ("plot" + std::to_string(p) + ".svg")).string()) << "\n"
           << "set title " << literal(plot.title) << "\nset xlabel " << literal(plot.x_label) << "\nset ylabel "
           << literal(plot.y_label) << "\n";
    std::vector<std::string> parts;
    for (size_t s = 0; s < plot.series.size(); ++s) {
      const PlotSeries& series = plot.series[s];
      if (series.x.empty()) continue;
      const fs::path data = dir.path / ("plot" + std::to_string(p) + "_" + std::to_string(s) + ".dat");
      std::ofstream out(data);
      out.precision(10);
      for (size_t i = 0; i < series.x.size(); ++i)
        if (std::isfinite(series.x[i]) && std::isfinite(series.y[i])) out << series.x[i] << " " << series.y[i] << "\n";
      MMP_CHECK(out.good(), "cannot write plot data to ", data.string());
      std::string style = series.x.size() > 1 ? "lines lw 1.5 dt " + std::to_string(series.dash) : "points pt 7";
      if (series.colour > 0) style += " lc " + std::to_string(series.colour);
      parts.push_back(literal(data.string()) + " using 1:2 with " + style + " title " + literal(series.name));
    }
    if (plot.zero_line) parts.push_back("0 with lines dt 2 lc rgb '#888888' notitle");
    if (parts.empty()) {  // nothing to draw: the frame and title alone
      script << "set xrange [0:1]\nset yrange [0:1]\nset label 1 'no data' at 0.5,0.5 center\n"
                "plot NaN notitle\nunset label 1\nset autoscale\n";
      continue;
    }
    script << (plot.integer_x ? "set xtics 1\nset format x '%.0f'\n" : "set xtics autofreq\nset format x '% h'\n");
    if (plot.y_min < plot.y_max) script << "set yrange [" << plot.y_min << ":" << plot.y_max << "]\n";
    else script << "set autoscale y\n";
    script << "plot ";
    for (size_t i = 0; i < parts.size(); ++i) script << (i ? ", \\\n     " : "") << parts[i];
    script << "\n";
  }
  script << "unset output\n";
  const fs::path script_path = dir.path / "plots.gp", log_path = dir.path / "gnuplot.log";
  std::ofstream(script_path) << script.str();

  const char* configured = std::getenv("MMP_GNUPLOT");
  const std::string program = configured && *configured ? configured : "gnuplot";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string script_arg = script_path.string();
  char* argv[] = {const_cast<char*>(program.c_str()), script_arg.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  MMP_CHECK(spawned == 0, "cannot run ", program, " to draw the plots (", std::strerror(spawned),
            "): install gnuplot (Debian: gnuplot-nox) or name it in MMP_GNUPLOT");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  MMP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, program, " failed to draw the plots: ",
            read_text(log_path));

  std::vector<std::string> svgs;
  for (size_t p = 0; p < plots.size(); ++p) {
    const fs::path path = dir.path / ("plot" + std::to_string(p) + ".svg");
    const std::string svg = read_text(path);
    const size_t start = svg.find("<svg");
    MMP_CHECK(start != std::string::npos, program, " wrote no SVG for the plot '", plots[p].title, "'");
    svgs.push_back(svg.substr(start));
  }
  return svgs;
}

}  // namespace mmp::cli
