// The progress display's policy where the output is not a terminal (a log, as under
// Slurm, and as in these tests): plain lines, the first at once, then at most one per
// interval, and the last always.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/progress.h"
#include "tests/support/cli.h"

using namespace mmp;
using Catch::Matchers::Contains;

namespace {

// What `fn` writes to stderr.
template <class Fn>
std::string stderr_of(Fn fn) {
  const std::string path = mmp::testing::temp_dir("progress") + "/stderr.txt";
  std::fflush(stderr);
  const int saved = dup(2);
  std::FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file != nullptr);
  dup2(fileno(file), 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::fclose(file);
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("into a log, progress is plain lines: the first, one per interval, the last", "[unit]") {
  const std::string text = stderr_of([] {
    ProgressDisplay display(true, 0.2);
    REQUIRE_FALSE(display.to_terminal());
    display.show("first");
    display.show("too soon");  // within the interval: left out
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    display.show("after the interval");
    display.finish("done");
  });
  CHECK(text == "first\nafter the interval\ndone\n");
  CHECK(stderr_of([] {
          ProgressDisplay quiet(false);
          quiet.show("x");
          quiet.finish("y");
        }) == "");
}

TEST_CASE("progress text: bar, counts with rate and time left, clock", "[unit]") {
  CHECK(progress_bar(0.45) == "|#########           |  45%");
  CHECK(progress_bar(1.5) == "|####################| 100%");
  CHECK(clock_text(725) == "12:05");
  const auto start = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  CHECK_THAT(progress_counts(50, 150, "clips", start), Contains("50/150 clips") && Contains("5.0 clips/s") &&
                                                           Contains("ETA 0:20"));
}

TEST_CASE("mmp eval shows its progress, in a log as plain lines", "[unit][cli]") {
  const std::string dir = mmp::testing::temp_dir("progress_eval");
  const auto trained = mmp::testing::run_mmp("train --method uniform --epochs 1 --samples 64 --test-samples 32 "
                                             "--width 2 --batch 16 --out " + dir);
  REQUIRE(trained.exit_code == 0);
  CHECK_THAT(trained.output, Contains("uniform    epoch 1/1 |") && Contains("acc mm"));
  const auto r = mmp::testing::run_mmp("eval --weights " + dir + "/uniform/last.safetensors --samples 64 "
                                       "--test-samples 32 --batch 8");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("eval |") && Contains("| 100% 32/32 samples"));
  CHECK(r.output.find('\r') == std::string::npos);  // no terminal control in a log
  const auto quiet = mmp::testing::run_mmp("eval --quiet --weights " + dir + "/uniform/last.safetensors --samples 64 "
                                           "--test-samples 32");
  CHECK(quiet.output.find("eval |") == std::string::npos);
}
