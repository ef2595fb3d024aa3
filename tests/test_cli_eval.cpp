// `mmp eval` against what `mmp train` measured on the same weights and data, and its
// answers to bad input.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.h"

using namespace mmp::testing;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

json last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return json::parse(last);
}

}  // namespace

TEST_CASE("mmp eval scores a checkpoint as mmp train did, with recalls and confusion matrices", "[unit][cli]") {
  const std::string dir = temp_dir("eval");
  const std::string data = "--samples 64 --test-samples 48";
  const CommandResult trained =
      run_mmp("train --method mmpareto --epochs 2 --width 2 --batch 16 --quiet " + data + " --out " + dir);
  INFO(trained.output);
  REQUIRE(trained.exit_code == 0);
  const CommandResult r =
      run_mmp("eval --weights " + dir + "/mmpareto/last.safetensors " + data + " --json " + dir + "/scores.json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("trained by mmpareto, saved after epoch 2") && Contains("test split, 48 samples") &&
                           Contains("recall per class") && Contains("confusion matrix of the visual head"));
  std::ifstream in(dir + "/scores.json");
  const json scores = json::parse(in);
  const json logged = last_line(dir + "/mmpareto/metrics.jsonl");  // the last epoch's test scores
  CHECK(scores.at("samples") == 48);
  for (const auto& [head, key] : {std::pair{"multimodal", "mm"}, {"audio", "audio"}, {"visual", "visual"}}) {
    INFO(head);
    const json& h = scores.at("heads").at(head);
    CHECK(h.at("accuracy").get<double>() == Approx(logged.at(std::string("acc_") + key).get<double>()));
    CHECK(h.at("macro_f1").get<double>() == Approx(logged.at(std::string("f1_") + key).get<double>()));
    // The confusion matrix holds every sample once, its diagonal the right ones, and
    // each row's diagonal share is that class's recall.
    const auto confusion = h.at("confusion").get<std::vector<std::vector<int64_t>>>();
    REQUIRE(confusion.size() == 6);
    int64_t total = 0, right = 0;
    for (size_t c = 0; c < confusion.size(); ++c) {
      int64_t row = 0;
      for (const int64_t n : confusion[c]) row += n;
      total += row;
      right += confusion[c][c];
      const json& recall = h.at("recall")[c];
      if (row == 0) CHECK(recall.is_null());
      else CHECK(recall.get<double>() == Approx(static_cast<double>(confusion[c][c]) / static_cast<double>(row)));
    }
    CHECK(total == 48);
    CHECK(static_cast<double>(right) / 48.0 == Approx(h.at("accuracy").get<double>()));
  }
  // The training split is there too.
  const CommandResult train_split =
      run_mmp("eval --weights " + dir + "/mmpareto/last.safetensors --split train " + data + " --json -");
  CHECK(train_split.exit_code == 0);
  CHECK_THAT(train_split.output, Contains("train split, 64 samples") && Contains("\"split\": \"train\""));
  const CommandResult no_cache = run_mmp("eval --weights " + dir + "/mmpareto/last.safetensors --data " + dir + "/none");
  CHECK(no_cache.exit_code != 0);
  CHECK_THAT(no_cache.output, Contains(dir + "/none"));
}

TEST_CASE("mmp eval names the bad input", "[unit][cli]") {
  const std::string dir = temp_dir("eval_bad");
  const CommandResult missing = run_mmp("eval --weights " + dir + "/none.safetensors");
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.output, Contains(dir + "/none.safetensors"));
  std::ofstream(dir + "/junk.safetensors") << "not a safetensors file";
  const CommandResult junk = run_mmp("eval --weights " + dir + "/junk.safetensors");
  CHECK(junk.exit_code != 0);
  CHECK_THAT(junk.output, Contains("junk.safetensors"));
  const CommandResult split = run_mmp("eval --weights " + dir + "/junk.safetensors --split val");
  CHECK(split.exit_code != 0);
  CHECK_THAT(split.output, Contains("--split must be train or test, got 'val'"));
}
