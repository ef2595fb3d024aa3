#include "mmpareto/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/loader.h"
#include "mmpareto/train_step.h"

namespace mmp {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

// The fraction of the batch a head's logits classify right.
double batch_accuracy(const Tensor& logits, const Tensor& labels) {
  const auto predicted = argmax(logits.detach(), 1).to(Device::cpu()).to_vector<int64_t>();
  const auto truth = labels.to(Device::cpu()).to_vector<int64_t>();
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
}

// Appends one JSON object per line; flushed each line so a crash keeps what was logged.
class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path) {
    if (path.empty()) return;
    out_.open(path, std::ios::trunc);
    MMP_CHECK(out_.good(), path, ": cannot write the metrics log");
  }
  void write(const json& line) {
    if (out_.is_open()) out_ << line.dump() << "\n" << std::flush;
  }

 private:
  std::ofstream out_;
};

// The one-line display: rewritten in place after every step on a terminal; into a log
// (not a terminal) a line at the first step and then every 30 s, and one per epoch.
class Progress {
 public:
  Progress(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled), tty_(isatty(2)) {}
  void update(int epoch, int epochs, int64_t step, int64_t steps_per_epoch, double samples_per_s, double eta,
              double loss) {
    if (!enabled_) return;
    const std::string line = progress_line(label_, epoch, epochs, step, steps_per_epoch, samples_per_s, eta, loss);
    if (tty_) {
      std::fprintf(stderr, "\r%s ", line.c_str());
    } else {
      if (printed_ && seconds_since(last_print_) < 30) return;
      std::fprintf(stderr, "%s\n", line.c_str());
      printed_ = true;
      last_print_ = Clock::now();
    }
    std::fflush(stderr);
  }
  void epoch_done(const EpochSummary& e, int epochs) {
    if (!enabled_) return;
    std::fprintf(stderr, "%s%-10s epoch %d/%d  loss %.4f  acc mm %.3f audio %.3f visual %.3f  conflict a %.2f v %.2f  %.1f samples/s\n",
                 tty_ ? "\r" : "", label_.c_str(), e.epoch + 1, epochs, e.loss_mm, e.test.multimodal.accuracy,
                 e.test.audio.accuracy, e.test.visual.accuracy, e.conflict_audio, e.conflict_visual,
                 e.samples_per_second);
  }

 private:
  std::string label_;
  bool enabled_, tty_;
  bool printed_ = false;
  Clock::time_point last_print_;
};

json evaluation_json(const Evaluation& e) {
  return {{"acc_mm", e.multimodal.accuracy}, {"f1_mm", e.multimodal.macro_f1}, {"acc_audio", e.audio.accuracy},
          {"f1_audio", e.audio.macro_f1},    {"acc_visual", e.visual.accuracy}, {"f1_visual", e.visual.macro_f1},
          {"test_loss_mm", e.loss_mm}};
}

void save_checkpoint(const std::string& path, const AVClassifier& model, const EpochSummary& e, const std::string& method) {
  save_safetensors(path, model.state_dict(),
                   {{"epoch", std::to_string(e.epoch)},
                    {"method", method},
                    {"acc_mm", std::to_string(e.test.multimodal.accuracy)},
                    {"fusion", fusion_name(model.config().fusion)}});
}

}  // namespace

std::string progress_line(const std::string& label, int epoch, int epochs, int64_t step, int64_t steps_per_epoch,
                          double samples_per_s, double eta_seconds, double loss) {
  const double done = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(steps_per_epoch, 1));
  const int filled = std::clamp(static_cast<int>(done * 20), 0, 20);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s epoch %d/%d |%s%s| %3.0f%% %7.1f samples/s  ETA %s  loss %.4f", label.c_str(),
                epoch + 1, epochs, std::string(filled, '#').c_str(), std::string(20 - filled, ' ').c_str(), 100 * done,
                samples_per_s, clock_text(eta_seconds).c_str(), loss);
  return buf;
}

TrainResult train(AVClassifier& model, const Dataset& train_data, const Dataset& test_data, const TrainOptions& o) {
  MMP_CHECK(o.epochs >= 1, "train: epochs must be at least 1, got ", o.epochs);
  MMP_CHECK(o.batch_size >= 2, "train: batch size must be at least 2 (batch norm), got ", o.batch_size);
  MMP_CHECK(train_data.size() >= o.batch_size, "train: ", train_data.size(), " training samples, fewer than a batch of ",
            o.batch_size);
  MMP_CHECK(train_data.classes() == model.config().classes, "train: the data has ", train_data.classes(),
            " classes, the model ", model.config().classes);
  std::string dir;
  if (!o.out_dir.empty()) {
    dir = o.out_dir + "/" + o.method;
    std::filesystem::create_directories(dir);
  }
  MetricsLog log(dir.empty() ? "" : dir + "/metrics.jsonl");
  Progress progress(o.method, o.progress);

  model.to(o.device);
  model.train();
  TrainStep step(model, make_integrator(o.method, o.integrator), make_optimizer(model.named_parameters(), o.optimizer),
                 o.seed + 1);
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed + 2;
  lo.workers = o.loader_workers;
  lo.pin_memory = o.device.is_cuda();
  // As the official loader (drop_last=False), a last partial batch is trained on,
  // unless it is a single sample: batch norm cannot normalise one 1x1 feature.
  lo.drop_last = train_data.size() % o.batch_size == 1;
  DataLoader loader(train_data, lo);
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  TrainResult result;
  result.method = o.method;
  const auto start = Clock::now();
  double step_seconds = 0;

  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    const double lr = scheduled_lr(o.optimizer.lr, o.schedule, epoch);
    loader.start_epoch(epoch);

    EpochSummary e;
    e.epoch = epoch;
    e.lr = lr;
    Batch host_batch;
    for (int64_t s = 0; loader.next(host_batch); ++s) {
      const Batch batch = host_batch.to(o.device);
      const auto t0 = Clock::now();
      const StepReport report = step.run(batch, epoch, lr);
      const double dt = seconds_since(t0);
      step_seconds += dt;
      e.loss_mm += report.losses[kMultimodal] / steps_per_epoch;
      e.loss_audio += report.losses[kAudio] / steps_per_epoch;
      e.loss_visual += report.losses[kVisual] / steps_per_epoch;
      for (const GroupReport& g : report.groups) {
        const double cos = g.objectives.size() == 2 ? g.cosine(0, 1) : 0.0;
        (g.group == "audio" ? e.conflict_audio : e.conflict_visual) += (g.conflict ? 1.0 : 0.0) / steps_per_epoch;
        (g.group == "audio" ? e.cos_audio : e.cos_visual) += cos / steps_per_epoch;
      }
      json line{{"kind", "step"},
                {"epoch", epoch},
                {"step", step.steps()},
                {"lr", lr},
                {"loss_mm", report.losses[kMultimodal]},
                {"loss_audio", report.losses[kAudio]},
                {"loss_visual", report.losses[kVisual]},
                {"train_acc_mm", batch_accuracy(report.objectives.outputs.out, batch.label)},
                {"train_acc_audio", batch_accuracy(report.objectives.outputs.out_audio, batch.label)},
                {"train_acc_visual", batch_accuracy(report.objectives.outputs.out_visual, batch.label)},
                {"samples_per_s", static_cast<double>(o.batch_size) / dt}};
      for (const auto& [name, value] : step_statistics(report)) line[name] = value;
      log.write(line);
      const double elapsed = seconds_since(start);
      const double done = static_cast<double>(epoch * steps_per_epoch + s + 1);
      const double total = static_cast<double>(o.epochs * steps_per_epoch);
      progress.update(epoch, o.epochs, s + 1, steps_per_epoch, static_cast<double>(o.batch_size) / dt,
                      elapsed / done * (total - done), report.losses[kMultimodal]);
    }
    e.test = evaluate(model, test_data, o.batch_size, o.device);
    e.seconds = seconds_since(epoch_start);
    e.samples_per_second = static_cast<double>(steps_per_epoch * o.batch_size) / e.seconds;
    result.epochs.push_back(e);
    json line{{"kind", "epoch"},           {"epoch", epoch},
              {"lr", lr},                  {"loss_mm", e.loss_mm},
              {"loss_audio", e.loss_audio}, {"loss_visual", e.loss_visual},
              {"conflict_audio", e.conflict_audio}, {"conflict_visual", e.conflict_visual},
              {"cos_audio", e.cos_audio},  {"cos_visual", e.cos_visual},
              {"seconds", e.seconds},      {"samples_per_s", e.samples_per_second}};
    line.update(evaluation_json(e.test));
    log.write(line);
    if (result.best_epoch < 0 || e.test.multimodal.accuracy > result.best().test.multimodal.accuracy) {
      result.best_epoch = epoch;
      if (!dir.empty()) save_checkpoint(dir + "/best.safetensors", model, e, o.method);
    }
    if (!dir.empty()) {
      save_checkpoint(dir + "/last.safetensors", model, e, o.method);
      save_safetensors(dir + "/last_optimizer.safetensors", step.optimizer().state(),
                       {{"epoch", std::to_string(epoch)}, {"optimizer", o.optimizer.kind}});
    }
    progress.epoch_done(e, o.epochs);
  }
  result.steps = step.steps();
  result.seconds_per_step = result.steps ? step_seconds / static_cast<double>(result.steps) : 0.0;
  return result;
}

}  // namespace mmp
