// The trainer end to end on the built-in synthetic data: files, determinism, the
// modality imbalance the data is built to show, and a NaN loss stopping cleanly.
#include <catch2/catch.hpp>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/synthetic.h"
#include "engine/device_graph.h"
#include "mmpareto/train_step.h"
#include "mmpareto/trainer.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/forwarding_dataset.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

TrainOptions small_options(const std::string& dir) {
  TrainOptions o;
  o.method = "mmpareto";
  o.epochs = 2;
  o.batch_size = 16;
  o.optimizer.lr = 0.01;
  o.out_dir = dir;
  o.progress = false;
  return o;
}

SyntheticOptions small_data(int64_t samples, int64_t first = 0) {
  SyntheticOptions s;
  s.samples = samples;
  s.first_index = first;
  return s;
}

AVClassifierConfig small_model() {
  AVClassifierConfig c;
  c.width = 2;
  return c;
}

}  // namespace

TEST_CASE("macro-F1 and accuracy as sklearn computes them", "[unit][trainer]") {
  // labels 0 0 1 1 2, predictions 0 1 1 1 0: class 0 F1 = 2/(2+1+1)... by hand:
  // c0: tp 1, fp 1, fn 1 -> 0.5; c1: tp 2, fp 1, fn 0 -> 0.8; c2: tp 0, fn 1 -> 0.
  const HeadScores s = score_predictions({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 4);
  CHECK(s.accuracy == Approx(0.6));
  CHECK(s.macro_f1 == Approx((0.5 + 0.8 + 0.0) / 3));  // class 3 occurs nowhere: left out
  // sklearn's recall_score(average=None) and confusion_matrix(labels=range(4)).
  CHECK(s.recall[0] == Approx(0.5));
  CHECK(s.recall[1] == Approx(1.0));
  CHECK(s.recall[2] == 0.0);
  CHECK(std::isnan(s.recall[3]));  // no samples of class 3
  CHECK(s.confusion == std::vector<std::vector<int64_t>>{{1, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}});
  // A prediction outside the classes (a model with more classes than the data) is an error.
  CHECK_THROWS_WITH(score_predictions({0, 1}, {0, 5}, 4), Catch::Contains("prediction 5 outside the 4 classes"));
}

TEST_CASE("training writes checkpoints and metrics, and a seed reproduces it", "[unit][trainer]") {
  const std::string dir = temp_dir("trainer");
  const SyntheticAV train_data(small_data(64)), test_data(small_data(32, 64));
  auto run = [&](const std::string& out) {
    Generator gen(0);
    auto model = std::make_unique<AVClassifier>(small_model(), gen);
    const TrainResult r = train(*model, train_data, test_data, small_options(out));
    return std::make_pair(std::move(model), r);
  };
  auto [model, result] = run(dir);
  REQUIRE(result.epochs.size() == 2);
  CHECK(result.steps == 2 * (64 / 16));
  for (const char* f : {"best.safetensors", "last.safetensors", "resume.safetensors", "metrics.jsonl"})
    CHECK(std::filesystem::exists(dir + "/mmpareto/" + f));
  // The checkpoint loads strictly into a fresh model and equals the trained weights.
  Generator gen(9);
  AVClassifier reloaded(small_model(), gen);
  reloaded.load_state_dict(load_safetensors(dir + "/mmpareto/last.safetensors").tensors, "last.safetensors");
  CHECK(reloaded.state_dict()[0].second.to_vector<float>() == model->state_dict()[0].second.to_vector<float>());
  // One JSON line per step and per epoch.
  std::ifstream log(dir + "/mmpareto/metrics.jsonl");
  int steps = 0, epochs = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["kind"] == "step") {
      ++steps;
      CHECK(std::isfinite(j["loss_mm"].get<double>()));
      CHECK(j.contains("cos_audio"));
      CHECK(j.contains("weight_mm_visual"));
      for (const char* head : {"train_acc_mm", "train_acc_audio", "train_acc_visual"}) {
        const double acc = j[head].get<double>();
        CHECK((acc >= 0.0 && acc <= 1.0));
        CHECK(acc * 16 == Approx(std::round(acc * 16)));  // a count of right answers out of the batch of 16
      }
    } else {
      ++epochs;
      CHECK(j["acc_mm"].get<double>() >= 0.0);
    }
  }
  CHECK(steps == 8);
  CHECK(epochs == 2);
  // The same seed gives the same weights.
  auto [again, result2] = run("");
  CHECK(again->state_dict()[5].second.to_vector<float>() == model->state_dict()[5].second.to_vector<float>());
  CHECK(result2.last().loss_mm == result.last().loss_mm);
}

TEST_CASE("a diverging run stops with a clear error and keeps the last checkpoint", "[unit][trainer]") {
  const std::string dir = temp_dir("trainer_nan");
  const SyntheticAV train_data(small_data(64)), test_data(small_data(32, 64));
  Generator gen(0);
  AVClassifier model(small_model(), gen);
  TrainOptions o = small_options(dir);
  o.epochs = 1;
  train(model, train_data, test_data, o);
  const auto before = load_safetensors(dir + "/mmpareto/last.safetensors").tensors;
  o.optimizer.lr = 1e30;
  o.epochs = 3;
  CHECK_THROWS_WITH(train(model, train_data, test_data, o), Contains("loss_") && Contains("not updated"));
  // The checkpoint of the good epoch is still there, unchanged and finite.
  const auto after = load_safetensors(dir + "/mmpareto/last.safetensors").tensors;
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    const auto a = after[i].second.to_vector<double>(), b = before[i].second.to_vector<double>();
    CHECK(a == b);
    for (double v : a) CHECK(std::isfinite(v));
  }
}

namespace {

// The metrics log without its timings, which differ from run to run.
std::vector<std::string> logged_values(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    for (const char* timing : {"seconds", "train_seconds", "samples_per_s", "data_wait"}) j.erase(timing);
    out.push_back(j.dump());
  }
  return out;
}

}  // namespace

TEST_CASE("a run interrupted and resumed ends as the same run uninterrupted", "[unit][trainer]") {
  const SyntheticAV train_data(small_data(64)), test_data(small_data(32, 64));
  const StoppingDataset stopping(train_data, 2);
  for (const char* method : {"ogm-ge", "pcgrad"}) {  // both draw from the step's generator
    DYNAMIC_SECTION(method) {
      const std::string whole = temp_dir(std::string("resume_whole_") + method);
      const std::string parts = temp_dir(std::string("resume_parts_") + method);
      TrainOptions o = small_options(whole);
      o.method = method;
      o.epochs = 3;
      Generator gen(0);
      AVClassifier uninterrupted(small_model(), gen);
      const TrainResult straight = train(uninterrupted, train_data, test_data, o);

      o.out_dir = parts;
      o.loader_workers = 1;  // samples loaded in order: the 21st is in the second batch
      gen = Generator(0);
      AVClassifier first(small_model(), gen);
      CHECK_THROWS_WITH(train(first, stopping, test_data, o), Contains("interrupted in epoch 3"));
      CHECK(logged_values(parts + "/" + method + "/metrics.jsonl").size() > 2 * 4 + 2);  // a step of epoch 3 too
      o.resume = true;
      gen = Generator(7);  // other initial weights: the checkpoint's must replace them
      AVClassifier resumed(small_model(), gen);
      const TrainResult rest = train(resumed, train_data, test_data, o);

      REQUIRE(rest.epochs.size() == 3);
      CHECK(rest.steps == straight.steps);
      CHECK(rest.best_epoch == straight.best_epoch);
      CHECK(rest.last().loss_mm == straight.last().loss_mm);
      const auto a = resumed.state_dict(), b = uninterrupted.state_dict();
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        INFO(a[i].first);
        CHECK(a[i].second.to_vector<double>() == b[i].second.to_vector<double>());
      }
      const std::string log = "/" + std::string(method) + "/metrics.jsonl";
      CHECK(logged_values(parts + log) == logged_values(whole + log));

      // A finished run resumed again trains nothing and reports its epochs.
      const TrainResult done = train(resumed, train_data, test_data, o);
      CHECK(done.epochs.size() == 3);
      CHECK(done.steps == straight.steps);
      CHECK(logged_values(parts + log) == logged_values(whole + log));
      // Other options are refused, naming them.
      o.optimizer.lr = 0.02;
      CHECK_THROWS_WITH(train(resumed, train_data, test_data, o),
                        Contains("resume.safetensors") && Contains("optimizer/lr 0.01 -> 0.02"));
      o.out_dir = "";
      CHECK_THROWS_WITH(train(resumed, train_data, test_data, o), Contains("resuming needs the run's folder"));
    }
  }
}

TEST_CASE("checkpoints every Nth epoch (checkpoint_every): the resume point after every Nth and the last", "[unit][trainer]") {
  const SyntheticAV train_data(small_data(64)), test_data(small_data(32, 64));
  const std::string whole = temp_dir("checkpoint_every_whole"), parts = temp_dir("checkpoint_every_parts");
  TrainOptions o = small_options(whole);
  o.epochs = 3;
  o.checkpoint_every = 2;
  o.loader_workers = 1;  // samples loaded in order
  Generator gen(0);
  AVClassifier uninterrupted(small_model(), gen);
  const TrainResult straight = train(uninterrupted, train_data, test_data, o);
  const std::string resume = "/mmpareto/resume.safetensors";
  CHECK(load_safetensors(whole + resume).metadata.at("epoch") == "2");  // the last epoch writes
  // The best epoch, written with the checkpoint after it.
  CHECK(load_safetensors(whole + "/mmpareto/best.safetensors").metadata.at("epoch") ==
        std::to_string(straight.best_epoch));

  o.out_dir = parts;
  gen = Generator(0);
  AVClassifier first(small_model(), gen);
  CHECK_THROWS_WITH(train(first, StoppingDataset(train_data, 1), test_data, o), Contains("interrupted in epoch 2"));
  for (const char* file : {"resume", "last", "best"})  // epoch 1 is not the 2nd: nothing written
    CHECK(!std::filesystem::exists(parts + "/mmpareto/" + file + ".safetensors"));
  gen = Generator(0);
  AVClassifier second(small_model(), gen);
  CHECK_THROWS_WITH(train(second, StoppingDataset(train_data, 2), test_data, o), Contains("interrupted in epoch 3"));
  CHECK(load_safetensors(parts + resume).metadata.at("epoch") == "1");  // after the 2nd
  // The best weights are of an epoch the resume point has seen.
  CHECK(std::stoi(load_safetensors(parts + "/mmpareto/best.safetensors").metadata.at("epoch")) <= 1);

  o.resume = true;  // from epoch 2's end, the same run
  gen = Generator(7);
  AVClassifier resumed(small_model(), gen);
  train(resumed, train_data, test_data, o);
  const auto a = resumed.state_dict(), b = uninterrupted.state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(a[i].second.to_vector<double>() == b[i].second.to_vector<double>());
  }
  CHECK(logged_values(parts + "/mmpareto/metrics.jsonl") == logged_values(whole + "/mmpareto/metrics.jsonl"));
  // Checkpoints at the end only: a better epoch before it waits in a copy of its weights,
  // and the file holds that copy, not the last weights. Which epoch is best depends on
  // the kernels' rounding (AVX2 or AVX-512 sums): the first seed whose best is not the last.
  o.resume = false;
  o.checkpoint_every = 3;
  std::string once;
  TrainResult at_end;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    once = temp_dir("checkpoint_every_once_" + std::to_string(seed));
    o.out_dir = once;
    gen = Generator(seed);
    AVClassifier single(small_model(), gen);
    at_end = train(single, train_data, test_data, o);
    if (at_end.best_epoch < o.epochs - 1) break;
  }
  REQUIRE(at_end.best_epoch < o.epochs - 1);
  const SafetensorsFile best = load_safetensors(once + "/mmpareto/best.safetensors");
  CHECK(best.metadata.at("epoch") == std::to_string(at_end.best_epoch));
  const SafetensorsFile last = load_safetensors(once + "/mmpareto/last.safetensors");
  double difference = 0;
  for (size_t i = 0; i < best.tensors.size(); ++i)
    if (best.tensors[i].second.dtype() == DType::F32)
      difference += max_abs_difference(best.tensors[i].second, last.tensors[i].second);
  CHECK(difference > 0);
  o.checkpoint_every = 0;
  CHECK_THROWS_WITH(train(resumed, train_data, test_data, o), Contains("checkpoint-every must be at least 1"));
}

TEST_CASE("on the synthetic data audio dominates: its head beats the visual one by 20 points", "[slow][trainer]") {
  const SyntheticAV train_data(small_data(1200)), test_data(small_data(600, 1200));
  AVClassifierConfig config;
  config.width = 8;
  Generator gen(0);
  AVClassifier model(config, gen);
  TrainOptions o = small_options("");
  o.method = "uniform";
  o.epochs = 10;
  o.batch_size = 32;
  const TrainResult r = train(model, train_data, test_data, o);
  const Evaluation& e = r.last().test;
  INFO("audio " << e.audio.accuracy << ", visual " << e.visual.accuracy);
  CHECK(e.audio.accuracy >= e.visual.accuracy + 0.20);
  CHECK(e.visual.accuracy > 1.0 / 6 + 0.05);  // the visual cue is learnable, just weaker
}

TEST_CASE("the progress line shows the epoch, its share done, the rate and the time left", "[unit][trainer]") {
  const std::string line = progress_line("mmpareto", 1, 5, 3, 12, 123.45, 75, 0.5);
  INFO(line);
  CHECK_THAT(line, Contains("mmpareto") && Contains("epoch 2/5") && Contains("|#####               |") &&
                       Contains(" 25%") && Contains("123.5 samples/s") && Contains("ETA 1:15") && Contains("loss 0.5000"));
}

TEST_CASE("mmp train prints the comparison table", "[unit][cli]") {
  const CommandResult r = run_mmp("train --compare one-joint,uniform --epochs 1 --samples 64 --test-samples 32 --width 2 "
                                  "--batch 16 --quiet --out ''");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("one-joint  |") && Contains("uniform    |") && Contains("conflict a / v"));
  // Without --quiet, into a pipe: a progress line at the first step, and one per epoch.
  const CommandResult logged = run_mmp("train --method uniform --epochs 1 --samples 64 --test-samples 32 --width 2 "
                                       "--batch 16 --out ''");
  INFO(logged.output);
  REQUIRE(logged.exit_code == 0);
  CHECK_THAT(logged.output, Contains("epoch 1/1 |#####") && Contains("samples/s  ETA") && Contains("acc mm"));
  const CommandResult bad = run_mmp("train --method sgd2 --epochs 1");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("unknown method 'sgd2'"));
  // A method that diverges does not cancel the others; the run still fails, naming it.
  const CommandResult diverged = run_mmp("train --compare uniform,mmpareto --lr 1e30 --epochs 1 --samples 64 "
                                         "--test-samples 32 --width 2 --batch 16 --quiet --out ''");
  INFO(diverged.output);
  CHECK(diverged.exit_code == 1);
  CHECK_THAT(diverged.output, Contains("uniform stopped:") && Contains("mmpareto stopped:") &&
                                  Contains("training stopped for uniform, mmpareto"));
}

TEST_CASE("CUDA graphs are refused off CUDA, by the step and by the command line", "[unit][trainer]") {
  Generator gen(1);
  AVClassifier model(small_model(), gen);
  TrainStep step(model, make_integrator("uniform"), make_optimizer(model.named_parameters(), OptimizerOptions{}), 1);
  CHECK_THROWS_WITH(step.use_device_graph(true), Contains("CUDA graphs need the model on a CUDA device, not cpu"));
  step.use_device_graph(false);  // off is always allowed
  CHECK_FALSE(DeviceGraph::supported(Device::cpu()));
  CHECK_THROWS_WITH(DeviceGraph(Device::cpu()), Contains("CUDA graphs need a CUDA device, not cpu"));
  const CommandResult r = run_mmp("train --cuda-graph --epochs 1 --out ''");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("--cuda-graph needs --device cuda"));
}

TEST_CASE("when a step runs eagerly, is captured in a CUDA graph, or replays it", "[unit][trainer]") {
  using Action = GraphSchedule::Action;
  const auto step = [](int64_t batch, bool per_objective = false, Precision precision = Precision::fp32) {
    return StepSignature{{batch, 1, 8, 8},  {batch, 2, 3, 8, 8}, {batch}, DType::F32, DType::F32, DType::I64,
                         per_objective,     {1, 1, 1},           precision};
  };
  const auto walk = [&](const std::vector<StepSignature>& steps) {
    GraphSchedule schedule;
    std::vector<Action> actions;
    for (const StepSignature& s : steps) {
      actions.push_back(schedule.next(s));
      if (actions.back() == Action::capture) schedule.captured(s);
    }
    return actions;
  };
  const Action E = Action::eager, C = Action::capture, R = Action::replay;
  // Epochs of three full batches and a partial one.
  CHECK(walk({step(64), step(64), step(64), step(20), step(64), step(64)}) == std::vector<Action>{E, C, R, E, R, R});
  // One full batch and a partial one per epoch: the full one is still captured.
  CHECK(walk({step(64), step(20), step(64), step(20), step(64)}) == std::vector<Action>{E, E, C, E, R});
  // A partial batch first (a resumed epoch's tail) is never what is captured.
  CHECK(walk({step(20), step(64), step(20), step(64), step(64)}) == std::vector<Action>{E, E, E, C, R});
  // Another path, weights or precision than the graph's runs eagerly.
  CHECK(walk({step(8), step(8), step(8, true), step(8, false, Precision::bf16), step(8)}) ==
        std::vector<Action>{E, C, E, E, R});
  StepSignature reweighted = step(8);
  reweighted.weights = {1, 0.5, 0.5};
  CHECK(walk({step(8), step(8), reweighted}) == std::vector<Action>{E, C, E});
  // Until a capture succeeds, the next batch of the size is captured again.
  GraphSchedule schedule;
  CHECK(schedule.next(step(8)) == E);
  CHECK(schedule.next(step(8)) == C);
  CHECK(schedule.next(step(8)) == C);
  CHECK_FALSE(schedule.has_graph());
}
