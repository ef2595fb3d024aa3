// `mmp train --config`: options from a TOML file under the command line's, the run
// folder's record of the resolved options and --resume's check against it, the errors
// a bad file gets, and the paper's configs (configs/) each running one step on a `mmp
// synth` set laid out like its dataset.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/support/cli.h"

using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// key -> value of a flat TOML file's settings (comments left out); numbers as doubles'
// text, so 1e-4 and 0.0001 read the same.
std::map<std::string, std::string> settings(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find(" = ");
    REQUIRE(eq != std::string::npos);
    std::string value = line.substr(eq + 3);
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (!value.empty() && *end == '\0') value = std::to_string(number);
    out[line.substr(0, eq)] = value;
  }
  return out;
}

size_t count_steps(const std::string& metrics) {
  size_t n = 0;
  for (size_t at = metrics.find("\"kind\":\"step\""); at != std::string::npos;
       at = metrics.find("\"kind\":\"step\"", at + 1))
    ++n;
  return n;
}

const std::string kSmallRun = "--samples 64 --test-samples 32 --width 2 --batch 16 --quiet";

}  // namespace

TEST_CASE("a config file sets the options the command line leaves, and the run folder keeps them all",
          "[unit][cli]") {
  const std::string dir = temp_dir("config");
  write_text(dir + "/run.toml", "# a comment\nmethod = \"uniform\"\nepochs = 1\nlr = 0.05\nweight_decay = 1e-3\n"
                                "seed = 7\nsync-bn = false\n[ignored_table_is_an_error_below]\n");
  const CommandResult table = run_mmp("train --config " + dir + "/run.toml --out " + dir + "/a " + kSmallRun);
  CHECK(table.exit_code != 0);
  CHECK_THAT(table.output, Contains("run.toml:8: ignored_table_is_an_error_below is not an option of mmp train"));

  write_text(dir + "/run.toml", "method = \"uniform\"\nepochs = 1\nlr = 0.05\nweight_decay = 1e-3\nseed = 7\n");
  const CommandResult r = run_mmp("train --config " + dir + "/run.toml --lr 0.02 --out " + dir + "/a " + kSmallRun);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("sgd lr 0.02, batch 16, 1 epochs, seed 7"));  // the command line wins
  const std::string saved = read_text(dir + "/a/uniform/config.toml");
  CHECK_THAT(saved, Contains("# command: ") && Contains("--lr 0.02") && Contains(", git "));
  const auto s = settings(saved);
  CHECK(s.at("method") == "\"uniform\"");
  CHECK(s.at("lr") == std::to_string(0.02));
  CHECK(s.at("weight-decay") == std::to_string(1e-3));
  CHECK(s.at("seed") == std::to_string(7.0));
  CHECK(s.at("momentum") == std::to_string(0.9));  // defaults too
  CHECK(s.at("precision") == "\"fp32\"");

  // The record is itself a config: the same run again gives the same options.
  const CommandResult again = run_mmp("train --config " + dir + "/a/uniform/config.toml --out " + dir + "/b");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  auto s2 = settings(read_text(dir + "/b/uniform/config.toml"));
  s2.at("out") = s.at("out");
  CHECK(s2 == s);

  // --resume with other options is refused, naming them; with the same ones it goes on.
  const CommandResult changed =
      run_mmp("train --config " + dir + "/a/uniform/config.toml --resume --lr 0.1 --momentum 0.5");
  CHECK(changed.exit_code != 0);
  CHECK_THAT(changed.output, Contains("a/uniform/config.toml: the run was started with other options") &&
                                 Contains("lr: 0.02 -> 0.1") && Contains("momentum: 0.9 -> 0.5"));
  const CommandResult resumed = run_mmp("train --config " + dir + "/a/uniform/config.toml --resume --loader-workers 1");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
}

TEST_CASE("a bad config file is an error naming the file, the line and the key", "[unit][cli]") {
  const std::string dir = temp_dir("config_bad");
  const auto error_of = [&](const std::string& text) {
    write_text(dir + "/c.toml", text);
    const CommandResult r = run_mmp("train --config " + dir + "/c.toml --out '' " + kSmallRun);
    CHECK(r.exit_code == 1);
    return r.output;
  };
  CHECK_THAT(error_of("epochs = 1\nlearning_rate = 0.1\n"), Contains("c.toml:2: learning_rate is not an option"));
  CHECK_THAT(error_of("lr = \"fast\"\n"), Contains("c.toml:1: lr = fast:"));
  CHECK_THAT(error_of("sync-bn = 1\n"), Contains("c.toml:1: sync-bn: a flag takes true or false"));
  CHECK_THAT(error_of("rescale = \"both\"\n"), Contains("c.toml:1: rescale = both:"));
  CHECK_THAT(error_of("lr = [0.1\n"), Contains("c.toml:1: not valid TOML"));
  CHECK_THAT(error_of("config = \"other.toml\"\n"), Contains("config is not an option"));
  const CommandResult missing = run_mmp("train --config " + dir + "/none.toml");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Contains("none.toml: cannot read the config file"));
  // Characters that toml++ 3.3 mishandles (fuzz/config_fuzzer.cpp found them): refused
  // between tokens, kept in comments and in strings.
  CHECK_THAT(error_of("lr = 0.1 \xC3\xA9\n"), Contains("c.toml:1: character U+E9 outside a \"double-quoted\" string"));
  CHECK_THAT(error_of("\"caf\xC3\xA9\" = 1\n"), Contains("caf\xC3\xA9 is not an option"));
  write_text(dir + "/c.toml", "# 3\xC3\x97" "3 convolutions\nmethod = \"uniform\"\nepochs = 1\nout = \"" + dir +
                                  "/caf\xC3\xA9\"\n");
  const CommandResult accented = run_mmp("train --config " + dir + "/c.toml " + kSmallRun);
  INFO(accented.output);
  CHECK(accented.exit_code == 0);
  CHECK(std::filesystem::exists(dir + "/caf\xC3\xA9/uniform/config.toml"));
  // --compare takes a list as an array too.
  write_text(dir + "/c.toml", "compare = [\"uniform\", \"one-joint\"]\nepochs = 1\n");
  const CommandResult listed = run_mmp("train --config " + dir + "/c.toml --out '' " + kSmallRun);
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.output, Contains("uniform    |") && Contains("one-joint  |"));
}

TEST_CASE("every config of the paper's runs trains on a synth set laid out like its dataset", "[unit][cli]") {
  namespace fs = std::filesystem;
  const std::string dir = temp_dir("paper_configs");
  int configs = 0;
  for (const char* dataset : {"cremad", "kinetics-sounds", "ave"}) {
    const std::string raw = dir + "/" + dataset, cache = dir + "/" + dataset + "-cache";
    // CREMA-D's 6 classes get 4 clips each (3 to train on), the others' 2 (1 to train on).
    const std::string clips = std::string(dataset) == "cremad" ? "4" : "2";
    const CommandResult synth = run_mmp(std::string("synth --layout ") + dataset + " --clips-per-class " + clips +
                                        " --out " + raw + " --width 64 --height 48");
    INFO(synth.output);
    REQUIRE(synth.exit_code == 0);
    const CommandResult prepared = run_mmp(std::string("prepare --dataset ") + dataset + " --root " + raw + " --out " +
                                           cache + " --audio fbank --no-progress");
    INFO(prepared.output);
    REQUIRE(prepared.exit_code == 0);
    for (const auto& entry : fs::directory_iterator(fs::path(MMP_CONFIG_DIR) / dataset)) {
      const std::string config = entry.path().string();
      INFO(config);
      ++configs;
      const std::string out = dir + "/runs-" + dataset + "-" + entry.path().stem().string();
      // The paper's sizes made small: one step of a width-2 model, on the whole training
      // split in one batch (3 clips of each CREMA-D class, 1 of each of the others').
      const std::string batch = std::string(dataset) == "cremad" ? "18" : std::string(dataset) == "ave" ? "28" : "31";
      const CommandResult r = run_mmp("train --config " + config + " --data " + cache + " --epochs 1 --width 2 --batch " +
                                      batch + " --quiet --out " + out);
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      const std::string method = entry.path().stem().string();  // configs/<dataset>/<method>.toml
      CHECK(count_steps(read_text(out + "/" + method + "/metrics.jsonl")) == 1);
      const auto given = settings(read_text(config)), resolved = settings(read_text(out + "/" + method + "/config.toml"));
      for (const auto& [key, value] : given) {
        INFO(key);
        if (key == "data" || key == "epochs" || key == "width" || key == "batch") continue;
        CHECK(resolved.at(key) == value);
      }
    }
  }
  CHECK(configs == 21);  // 7 methods for each of the 3 datasets
}
