// `mmp eval`: a trained model's scores on a dataset: accuracy and macro-F1 of the fused
// head and of each unimodal head, each class's recall and the confusion matrices, as a
// table on the terminal and as JSON.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/cache.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "engine/atomic_file.h"
#include "engine/safetensors.h"
#include "mmpareto/evaluation.h"
#include "tools/commands.h"
#include "tools/step_options.h"

namespace mmp::cli {
namespace {

struct EvalOptions {
  std::string weights;
  std::string data;  // a prepared cache; empty: the built-in synthetic set of `mmp train`
  std::string split = "test";
  int frames = 2;
  int64_t samples = 1200, test_samples = 600;
  uint64_t seed = 0;
  int64_t batch = 64;
  std::string device = "cpu", precision;
  CpuConvolution cpu_convolution = CpuConvolution::winograd;
  int loader_workers = -1;
  std::string json_path;
  bool quiet = false;
};

struct NamedHead {
  const char* name;
  const HeadScores* scores;
};

nlohmann::json head_json(const HeadScores& s) {
  nlohmann::json recall = nlohmann::json::array();
  for (const double r : s.recall) recall.push_back(std::isnan(r) ? nlohmann::json(nullptr) : nlohmann::json(r));
  return {{"accuracy", s.accuracy}, {"macro_f1", s.macro_f1}, {"recall", recall}, {"confusion", s.confusion}};
}

void print_scores(const std::vector<NamedHead>& heads, const std::vector<std::string>& classes) {
  std::printf("\n%-12s | %8s | %8s\n", "head", "accuracy", "macro-F1");
  std::printf("%s\n", std::string(34, '-').c_str());
  for (const auto& h : heads) std::printf("%-12s | %8.4f | %8.4f\n", h.name, h.scores->accuracy, h.scores->macro_f1);

  std::printf("\nrecall per class (samples of the class the head calls right)\n");
  std::printf("%-16s | %7s", "class", "samples");
  for (const auto& h : heads) std::printf(" | %10s", h.name);
  std::printf("\n");
  const auto& confusion = heads.front().scores->confusion;
  for (size_t c = 0; c < classes.size(); ++c) {
    int64_t support = 0;
    for (const int64_t n : confusion[c]) support += n;
    std::printf("%-16s | %7lld", classes[c].c_str(), static_cast<long long>(support));
    for (const auto& h : heads) {
      const double r = h.scores->recall[c];
      if (std::isnan(r)) std::printf(" | %10s", "-");
      else std::printf(" | %10.4f", r);
    }
    std::printf("\n");
  }

  for (const auto& h : heads) {
    std::printf("\nconfusion matrix of the %s head (rows: true class, columns: predicted)\n%-16s", h.name, "");
    for (size_t c = 0; c < classes.size(); ++c) std::printf(" %6zu", c);
    std::printf("\n");
    for (size_t c = 0; c < classes.size(); ++c) {
      const std::string number = std::to_string(c);
      std::printf("%-16s", (classes[c] == number ? number : number + " " + classes[c]).substr(0, 16).c_str());
      for (const int64_t n : h.scores->confusion[c]) std::printf(" %6lld", static_cast<long long>(n));
      std::printf("\n");
    }
  }
}

void run_eval(const EvalOptions& o) {
  MMP_CHECK(o.split == "train" || o.split == "test", "--split must be train or test, got '", o.split, "'");
  MMP_CHECK(o.batch > 0, "--batch must be positive, got ", o.batch);
  const SafetensorsFile weights = load_safetensors(o.weights);
  const AVClassifierConfig config = infer_config(weights.tensors, o.weights);
  const Device device = parse_device(o.device);
  const PrecisionScope precision(resolve_precision(o.precision, device, Precision::fp32));
  const CpuConvolutionScope cpu_convolution(o.cpu_convolution);

  std::unique_ptr<Dataset> data;
  std::vector<std::string> classes;
  if (o.data.empty()) {
    SyntheticOptions so;  // as `mmp train` makes its sets from the same flags
    so.samples = o.split == "test" ? o.test_samples : o.samples;
    so.first_index = o.split == "test" ? o.samples : 0;
    so.seed = o.seed;
    data = std::make_unique<SyntheticAV>(so);
  } else {
    CacheReadOptions read;
    read.split = o.split;
    read.frames = o.frames;
    read.augment = false;
    auto cache = std::make_unique<CacheDataset>(o.data, read);
    classes = cache->class_names();
    data = std::move(cache);
  }
  for (int64_t c = static_cast<int64_t>(classes.size()); c < data->classes(); ++c) classes.push_back(std::to_string(c));
  MMP_CHECK(data->classes() == config.classes, o.weights, " has heads for ", config.classes, " classes, but ",
            data->name(), " has ", data->classes());

  Generator gen(0);
  AVClassifier model(config, gen);
  model.load_state_dict(weights.tensors, o.weights);
  model.to(device);
  std::string saved;
  if (weights.metadata.count("method")) saved += ", trained by " + weights.metadata.at("method");
  if (weights.metadata.count("epoch")) saved += ", saved after epoch " + std::to_string(std::stoi(weights.metadata.at("epoch")) + 1);
  std::printf("weights: %s (AVClassifier, ResNet-18 width %lld, %s fusion, %lld classes%s)\n", o.weights.c_str(),
              static_cast<long long>(config.width), fusion_name(config.fusion), static_cast<long long>(config.classes),
              saved.c_str());
  std::printf("data: %s, %s split, %lld samples; %s\n", o.data.empty() ? "built-in synthetic set" : o.data.c_str(),
              o.split.c_str(), static_cast<long long>(data->size()), device.str().c_str());

  const Evaluation e = evaluate(model, *data, o.batch, device, o.loader_workers, !o.quiet);
  const std::vector<NamedHead> heads{{"multimodal", &e.multimodal}, {"audio", &e.audio}, {"visual", &e.visual}};
  print_scores(heads, classes);
  std::printf("\nmultimodal loss %.6f over %lld samples\n", e.loss_mm, static_cast<long long>(e.samples));

  if (!o.json_path.empty()) {
    nlohmann::json j = {{"weights", o.weights},
                        {"data", o.data.empty() ? "synthetic" : o.data},
                        {"split", o.split},
                        {"samples", e.samples},
                        {"classes", classes},
                        {"loss_mm", e.loss_mm}};
    for (const auto& h : heads) j["heads"][h.name] = head_json(*h.scores);
    if (o.json_path == "-") {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      write_file_atomically(o.json_path, j.dump(2) + "\n");
      std::printf("scores written to %s\n", o.json_path.c_str());
    }
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  static EvalOptions o;
  CLI::App* cmd = app.add_subcommand("eval", "Score trained weights: accuracy, macro-F1, recall per class, confusion");
  cmd->add_option("--weights", o.weights, "a checkpoint of mmp train (best.safetensors, last.safetensors) or a "
                                          "PyTorch state dict in safetensors")
      ->required();
  cmd->add_option("--data", o.data, "a cache made by mmp prepare (default: the built-in synthetic set)");
  cmd->add_option("--split", o.split, "train or test")->capture_default_str();
  cmd->add_option("--frames", o.frames, "frames per clip from the cache")->capture_default_str();
  cmd->add_option("--samples", o.samples, "synthetic set: training samples (as given to mmp train)")
      ->capture_default_str();
  cmd->add_option("--test-samples", o.test_samples, "synthetic set: test samples (as given to mmp train)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "synthetic set: the seed of mmp train")->capture_default_str();
  cmd->add_option("--batch", o.batch, "batch size")->capture_default_str();
  cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  add_precision_option(*cmd, o.precision, "fp32");
  add_cpu_convolution_option(*cmd, o.cpu_convolution);
  cmd->add_option("--loader-workers", o.loader_workers, "threads building batches (default: the cores available)");
  cmd->add_option("--json", o.json_path, "also write the scores as JSON to this file ('-': standard output)");
  cmd->add_flag("--quiet", o.quiet, "no progress display");
  cmd->callback([] { run_eval(o); });
}

}  // namespace mmp::cli
