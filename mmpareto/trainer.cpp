#include "mmpareto/trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/progress.h"
#include "engine/safetensors.h"
#include "mmpareto/train_step.h"

namespace mmp {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The fraction of the batch a head's logits classify right.
double batch_accuracy(const Tensor& logits, const Tensor& labels) {
  const auto predicted = argmax(logits.detach(), 1).to(Device::cpu()).to_vector<int64_t>();
  const auto truth = labels.to(Device::cpu()).to_vector<int64_t>();
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
}

// Appends one JSON object per line; flushed each line so a crash keeps what was logged.
// A new run starts it empty, a resumed one after the lines it keeps.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, bool append) : path_(path) {
    if (path.empty()) return;
    out_.open(path, append ? std::ios::app : std::ios::trunc);
    MMP_CHECK(out_.good(), path, ": cannot write the metrics log");
  }
  void write(const json& line) {
    if (!out_.is_open()) return;
    out_ << line.dump() << "\n" << std::flush;
    MMP_CHECK(out_.good(), path_, ": write failed (", std::strerror(errno), ")");
  }
  void sync() {
    if (out_.is_open()) sync_file(path_);
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// The one-line display (engine/progress.h): on a terminal after every step, into a
// log at the first step and then every 30 s; and a line per epoch.
class Progress {
 public:
  Progress(std::string label, bool enabled) : label_(std::move(label)), display_(enabled) {}
  void update(int epoch, int epochs, int64_t step, int64_t steps_per_epoch, double samples_per_s, double eta,
              double loss) {
    if (display_.due())
      display_.show(progress_line(label_, epoch, epochs, step, steps_per_epoch, samples_per_s, eta, loss));
  }
  void epoch_done(const EpochSummary& e, int epochs) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-10s epoch %d/%d  loss %.4f  acc mm %.3f audio %.3f visual %.3f  conflict a %.2f v %.2f  "
                  "%.1f samples/s  data wait %.1f%%",
                  label_.c_str(), e.epoch + 1, epochs, e.loss_mm, e.test.multimodal.accuracy, e.test.audio.accuracy,
                  e.test.visual.accuracy, e.conflict_audio, e.conflict_visual, e.samples_per_second, 100 * e.data_wait);
    display_.finish(line);
  }

 private:
  std::string label_;
  ProgressDisplay display_;
};

json evaluation_json(const Evaluation& e) {
  return {{"acc_mm", e.multimodal.accuracy}, {"f1_mm", e.multimodal.macro_f1}, {"acc_audio", e.audio.accuracy},
          {"f1_audio", e.audio.macro_f1},    {"acc_visual", e.visual.accuracy}, {"f1_visual", e.visual.macro_f1},
          {"test_loss_mm", e.loss_mm}};
}

json epoch_json(const EpochSummary& e) {
  json line{{"kind", "epoch"},           {"epoch", e.epoch},
            {"lr", e.lr},                {"loss_mm", e.loss_mm},
            {"loss_audio", e.loss_audio}, {"loss_visual", e.loss_visual},
            {"conflict_audio", e.conflict_audio}, {"conflict_visual", e.conflict_visual},
            {"cos_audio", e.cos_audio},  {"cos_visual", e.cos_visual},
            {"seconds", e.seconds},      {"train_seconds", e.train_seconds},
            {"samples_per_s", e.samples_per_second}, {"data_wait", e.data_wait}};
  line.update(evaluation_json(e.test));
  return line;
}


// Everything that shapes a run: resuming with other values would not continue it. The
// device is not among them: a run may go on on another device (resume_run says so).
json run_options(const AVClassifier& model, const Dataset& train_data, const Dataset& test_data,
                 const TrainOptions& o) {
  const OptimizerOptions& p = o.optimizer;
  const ScheduleOptions& s = o.schedule;
  const IntegratorOptions& i = o.integrator;
  return {{"method", o.method},
          {"dtype", dtype_name(o.dtype)},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"seed", o.seed},
          {"model", {{"classes", model.config().classes}, {"width", model.config().width},
                     {"fusion", fusion_name(model.config().fusion)}}},
          {"data", {{"train", train_data.identity()}, {"test", test_data.identity()},
                    {"train_samples", train_data.size()}, {"test_samples", test_data.size()},
                    {"audio", shape_str(train_data.audio_shape())}, {"visual", shape_str(train_data.visual_shape())}}},
          {"optimizer", {{"kind", p.kind}, {"lr", p.lr}, {"momentum", p.momentum}, {"dampening", p.dampening},
                         {"weight_decay", p.weight_decay}, {"nesterov", p.nesterov}, {"beta1", p.beta1},
                         {"beta2", p.beta2}, {"eps", p.eps}}},
          {"schedule", {{"kind", s.kind}, {"step_size", s.step_size}, {"gamma", s.gamma},
                        {"total_epochs", s.total_epochs}, {"min_lr", s.min_lr}}},
          {"sync_bn", o.sync_bn},
          {"integrator", {{"gamma", i.gamma}, {"rescale_per_tensor", i.rescale_per_tensor}, {"cagrad_c", i.cagrad_c},
                          {"ogm_alpha", i.ogm_alpha}, {"ogm_start_epoch", i.ogm_start_epoch},
                          {"ogm_end_epoch", i.ogm_end_epoch}, {"ogm_noise", i.ogm_noise},
                          {"max_iterations", i.max_iterations}, {"tolerance", i.tolerance}}}};
}

// "name saved -> now" for each option that differs.
std::string option_differences(const json& saved, const json& now) {
  const json a = saved.flatten(), b = now.flatten();
  std::string out;
  for (const auto& [name, value] : b.items()) {
    const std::string was = a.contains(name) ? a.at(name).dump() : "(none)";
    if (was != value.dump()) out += (out.empty() ? "" : ", ") + name.substr(1) + " " + was + " -> " + value.dump();
  }
  return out;
}

// The best epoch is the one of highest multimodal accuracy, the first of equals.
bool improves_on_best(const TrainResult& r, const EpochSummary& e) {
  return r.best_epoch < 0 || e.test.multimodal.accuracy > r.best().test.multimodal.accuracy;
}

// Where an interrupted run ended: its last finished epoch, the counters to continue
// from, and its metrics log's lines up to that epoch.
struct ResumePoint {
  std::string device, precision;  // where and how the saved epochs ran
  int ranks = 1;
  int last_epoch = -1;
  int64_t steps = 0;
  uint64_t generator_offset = 0;
  std::vector<EpochSummary> epochs;
};

// Loads `dir`/resume.safetensors into the model and optimizer and cuts the metrics log
// back to its epoch (the steps of an epoch that did not finish are logged again).
// Only the first rank of a data-parallel job writes (`write`); every rank reads.
ResumePoint resume_run(const std::string& dir, const json& options, AVClassifier& model, Optimizer& optimizer,
                       bool write) {
  const std::string path = dir + "/resume.safetensors", log_path = dir + "/metrics.jsonl";
  const SafetensorsFile f = load_safetensors(path);
  MMP_CHECK(f.metadata.count("options") && f.metadata.count("epoch") && f.metadata.count("steps") &&
                f.metadata.count("generator_offset"),
            path, ": not a resume checkpoint of mmp train (metadata missing)");
  const json saved = json::parse(f.metadata.at("options"), nullptr, false);
  MMP_CHECK(!saved.is_discarded(), path, ": its options are not JSON");
  const std::string differences = option_differences(saved, options);
  MMP_CHECK(differences.empty(), path, ": the run was started with other options (", differences,
            "); resume it with its own, or train into another --out");
  NamedTensors weights, state;
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("model.", 0) == 0) weights.emplace_back(name.substr(6), t);
    if (name.rfind("optimizer.", 0) == 0) state.emplace_back(name.substr(10), t);
  }
  model.load_state_dict(weights, path);
  optimizer.load_state(state, path);
  ResumePoint r;
  try {
    r.last_epoch = std::stoi(f.metadata.at("epoch"));
    r.steps = std::stoll(f.metadata.at("steps"));
    r.generator_offset = std::stoull(f.metadata.at("generator_offset"));
    r.device = f.metadata.count("device") ? f.metadata.at("device") : "";
    r.precision = f.metadata.count("precision") ? f.metadata.at("precision") : "fp32";
    r.ranks = f.metadata.count("ranks") ? std::stoi(f.metadata.at("ranks")) : 1;
  } catch (const std::logic_error&) {  // stoi's invalid_argument and out_of_range
    MMP_THROW(path, ": its epoch, steps or generator_offset is not a number");
  }
  std::ifstream in(log_path);
  MMP_CHECK(in.good(), log_path, ": missing (it holds the earlier epochs' metrics)");
  std::string kept;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) break;  // the last line of a run killed while writing it
    try {
      if (j.at("epoch").get<int>() > r.last_epoch) continue;
      if (j.at("kind") == "epoch") r.epochs.push_back(epoch_from_json(j));
    } catch (const json::exception& e) {
      MMP_THROW(log_path, ": line ", line_number, " is not a metrics line of mmp train (", e.what(), ")");
    }
    kept += line + "\n";
  }
  MMP_CHECK(static_cast<int>(r.epochs.size()) == r.last_epoch + 1, log_path, ": ", r.epochs.size(),
            " epochs logged, but ", path, " is from epoch ", r.last_epoch + 1, "; they are not of one run");
  if (write) write_file_atomically(log_path, kept);
  return r;
}

void save_checkpoint(const std::string& path, const NamedTensors& weights, const AVClassifier& model,
                     const EpochSummary& e, const std::string& method) {
  save_safetensors(path, weights,
                   {{"epoch", std::to_string(e.epoch)},
                    {"method", method},
                    {"acc_mm", std::to_string(e.test.multimodal.accuracy)},
                    {"fusion", fusion_name(model.config().fusion)}});
}

// The best epoch's weights while they wait for the next checkpoint (with
// checkpoint_every > 1): a copy on the host, written with the checkpoint, so that
// best.safetensors is never of an epoch after the resume point.
struct PendingBest {
  NamedTensors weights;  // empty: nothing waits
  EpochSummary epoch;

  void keep(const AVClassifier& model, const EpochSummary& e) {
    weights.clear();
    for (const auto& [name, t] : model.state_dict())
      weights.emplace_back(name, t.device().is_cpu() ? t.detach().clone() : t.detach().to(Device::cpu()));
    epoch = e;
  }
};

// FNV-1a over the parameters' bytes: the ranks of a data-parallel job compare theirs.
uint64_t parameters_hash(const AVClassifier& model) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& [name, p] : model.named_parameters()) {
    const Tensor host = p.detach().to(Device::cpu()).contiguous();
    const auto* data = static_cast<const uint8_t*>(host.raw_data());
    for (size_t i = 0; i < static_cast<size_t>(host.numel()) * dtype_size(host.dtype()); ++i)
      h = (h ^ data[i]) * 0x100000001b3ull;
  }
  return h;
}

}  // namespace

EpochSummary epoch_from_json(const json& j) {
  EpochSummary e;
  e.epoch = j.at("epoch");
  e.lr = j.at("lr");
  e.loss_mm = j.at("loss_mm");
  e.loss_audio = j.at("loss_audio");
  e.loss_visual = j.at("loss_visual");
  e.conflict_audio = j.at("conflict_audio");
  e.conflict_visual = j.at("conflict_visual");
  e.cos_audio = j.at("cos_audio");
  e.cos_visual = j.at("cos_visual");
  e.seconds = j.at("seconds");
  e.train_seconds = j.value("train_seconds", e.seconds);  // logs of mmp before 0.2 lack the last two
  e.samples_per_second = j.at("samples_per_s");
  e.data_wait = j.value("data_wait", 0.0);
  // The log keeps each head's accuracy and macro-F1 (a resumed run's table needs no more).
  const auto scores = [&](const char* accuracy, const char* f1) {
    HeadScores s;
    s.accuracy = j.at(accuracy);
    s.macro_f1 = j.at(f1);
    return s;
  };
  e.test.multimodal = scores("acc_mm", "f1_mm");
  e.test.audio = scores("acc_audio", "f1_audio");
  e.test.visual = scores("acc_visual", "f1_visual");
  e.test.loss_mm = j.at("test_loss_mm");
  return e;
}

std::string progress_line(const std::string& label, int epoch, int epochs, int64_t step, int64_t steps_per_epoch,
                          double samples_per_s, double eta_seconds, double loss) {
  const double done = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(steps_per_epoch, 1));
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s epoch %d/%d %s %7.1f samples/s  ETA %s  loss %.4f", label.c_str(), epoch + 1,
                epochs, progress_bar(done).c_str(), samples_per_s, clock_text(eta_seconds).c_str(), loss);
  return buf;
}

TrainResult train(AVClassifier& model, const Dataset& train_data, const Dataset& test_data, const TrainOptions& o) {
  MMP_CHECK(o.epochs >= 1, "train: epochs must be at least 1, got ", o.epochs);
  MMP_CHECK(o.checkpoint_every >= 1, "train: checkpoint-every must be at least 1 epoch, got ", o.checkpoint_every);
  MMP_CHECK(o.batch_size >= 2, "train: batch size must be at least 2 (batch norm), got ", o.batch_size);
  MMP_CHECK(train_data.size() >= o.batch_size, "train: ", train_data.size(), " training samples, fewer than a batch of ",
            o.batch_size);
  MMP_CHECK(train_data.classes() == model.config().classes, "train: the data has ", train_data.classes(),
            " classes, the model ", model.config().classes);
  MMP_CHECK(o.precision == Precision::fp32 || o.device.is_cuda(), "train: precision ", precision_name(o.precision),
            " needs a CUDA device");
  MMP_CHECK(o.dtype == DType::F32 || (o.dtype == DType::F64 && o.device.is_cpu()), "train: dtype ",
            dtype_name(o.dtype), " (f32, or f64 on the CPU)");
  // Steps and evaluations alike (the loader's threads do no arithmetic of the model).
  const PrecisionScope precision(o.precision);
  const CpuConvolutionScope cpu_convolution(o.cpu_convolution);
  // Data parallel: every rank runs this with the same options; the first one writes.
  Communicator& comm = world();
  const int ranks = comm.size();
  const bool writer = comm.rank() == 0;
  const int64_t min_share = o.batch_size / ranks;
  MMP_CHECK(min_share >= (o.sync_bn ? 1 : 2), "train: a global batch of ", o.batch_size, " over ", ranks,
            " ranks leaves ", min_share, " samples to some rank; batch norm needs ", o.sync_bn ? 1 : 2,
            " per rank", o.sync_bn ? "" : " without --sync-bn", " (a larger --batch, or fewer ranks)");
  std::unique_ptr<SyncBatchNormScope> sync_bn;
  if (o.sync_bn && ranks > 1) sync_bn = std::make_unique<SyncBatchNormScope>(comm);
  std::string dir;
  if (!o.out_dir.empty()) {
    dir = o.out_dir + "/" + o.method;
    if (writer) std::filesystem::create_directories(dir);
  }
  model.to(o.device);
  model.to(o.dtype);
  model.train();
  TrainStep step(model, make_integrator(o.method, o.integrator), make_optimizer(model.named_parameters(), o.optimizer),
                 o.seed + 1, /*measure=*/true, &comm);
  if (o.cuda_graph) step.use_device_graph(true);
  const bool progress_enabled = o.progress && writer;
  const json options = run_options(model, train_data, test_data, o);
  TrainResult result;
  result.method = o.method;
  result.ranks = ranks;
  int first_epoch = 0;
  MMP_CHECK(!o.resume || !dir.empty(), "train: resuming needs the run's folder (--out)");
  const bool resuming = o.resume && std::filesystem::exists(dir + "/resume.safetensors");
  // Every rank must resume, or none: the folder is on storage they all share.
  if (ranks > 1) {
    const std::vector<uint64_t> seen = comm.all_gather(resuming ? 1 : 0);
    for (int r = 1; r < ranks; ++r)
      MMP_CHECK(seen[r] == seen[0], "train: rank ", r, (seen[r] ? " sees" : " does not see"), " ", dir,
                "/resume.safetensors and rank 0 ", (seen[0] ? "does" : "does not"),
                ": --out must be a folder every rank shares");
  }
  if (o.resume && !resuming && progress_enabled)
    std::fprintf(stderr, "%s: no %s/resume.safetensors, starting afresh\n", o.method.c_str(), dir.c_str());
  // A fresh run's folder keeps no resume point of an earlier run until its first epoch ends.
  comm.barrier();  // every rank has looked before the first one changes anything
  if (!resuming && !dir.empty() && writer) std::filesystem::remove(dir + "/resume.safetensors");
  if (!dir.empty() && writer && std::filesystem::is_directory(dir)) remove_interrupted_writes(dir);
  if (resuming) {
    ResumePoint r = resume_run(dir, options, model, step.optimizer(), writer);
    step.resume_at(r.steps, r.generator_offset);
    result.epochs = std::move(r.epochs);
    for (const EpochSummary& e : result.epochs)
      if (improves_on_best(result, e)) result.best_epoch = e.epoch;
    first_epoch = r.last_epoch + 1;
    if (progress_enabled) {
      // Each rank's share of the batches changes with their number: the same run, in
      // another order of samples.
      if (r.ranks != ranks)
        std::fprintf(stderr, "%s: the saved epochs ran on %d rank(s), these on %d (the samples meet the ranks in "
                     "another order from here on)\n", o.method.c_str(), r.ranks, ranks);
      std::fprintf(stderr, "%s: resuming after epoch %d of %d\n", o.method.c_str(), first_epoch, o.epochs);
      // Kernels sum in other orders on another device or precision: the run goes on,
      // not bit for bit.
      const std::string before = r.device + " in " + r.precision;
      const std::string now = o.device.str() + " in " + precision_name(o.precision);
      if (!r.device.empty() && before != now)
        std::fprintf(stderr, "%s: the saved epochs ran on %s, these run on %s (the same run, but not bit for bit)\n",
                     o.method.c_str(), before.c_str(), now.c_str());
    }
  }
  comm.barrier();  // the first rank has cut the metrics log back before anyone goes on
  MetricsLog log(dir.empty() || !writer ? "" : dir + "/metrics.jsonl", resuming);
  Progress progress(o.method, progress_enabled);
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed + 2;
  lo.workers = o.loader_workers;
  lo.device = o.device;
  lo.rank = comm.rank();
  lo.ranks = ranks;
  // As the official loader (drop_last=False), a last partial batch is trained on,
  // unless batch norm cannot normalise it: one sample (one 1x1 feature), or with
  // several ranks a share under what batch norm needs per rank.
  const int64_t last = train_data.size() % o.batch_size;
  lo.drop_last = last == 1 || (last > 0 && last / ranks < (o.sync_bn ? 1 : 2));
  DataLoader loader(train_data, lo);
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  const auto start = Clock::now();
  double step_seconds = 0, train_seconds = 0, wait_seconds = 0, samples = 0;
  const int64_t first_step = step.steps();
  reset_peak_memory(o.device);
  if (first_epoch < o.epochs) loader.start_epoch(first_epoch);
  PendingBest best;

  for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    const double lr = scheduled_lr(o.optimizer.lr, o.schedule, epoch);

    EpochSummary e;
    e.epoch = epoch;
    e.lr = lr;
    double epoch_wait = 0, epoch_samples = 0;
    Batch batch;
    for (int64_t s = 0;; ++s) {
      const auto wait_start = Clock::now();
      if (!loader.next(batch)) break;
      epoch_wait += seconds_since(wait_start);
      if (o.dtype != DType::F32) batch = Batch{batch.audio.to(o.dtype), batch.visual.to(o.dtype), batch.label};
      const auto t0 = Clock::now();
      const StepReport report = step.run(batch, epoch, lr);
      const double dt = seconds_since(t0);
      step_seconds += dt;
      epoch_samples += static_cast<double>(report.samples);
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
                {"samples_per_s", static_cast<double>(report.samples) / dt}};
      for (const auto& [name, value] : step_statistics(report)) line[name] = value;
      log.write(line);
      const double elapsed = seconds_since(start);
      const double done = static_cast<double>((epoch - first_epoch) * steps_per_epoch + s + 1);
      const double total = static_cast<double>((o.epochs - first_epoch) * steps_per_epoch);
      progress.update(epoch, o.epochs, s + 1, steps_per_epoch, static_cast<double>(report.samples) / dt,
                      elapsed / done * (total - done), report.losses[kMultimodal]);
    }
    e.train_seconds = seconds_since(epoch_start);
    // The next epoch's first batches are built (and uploaded) while this one is evaluated.
    if (epoch + 1 < o.epochs) loader.start_epoch(epoch + 1);
    // Every rank holds the same parameters: the averaged gradients made the same updates.
    result.weights_hash = parameters_hash(model);
    if (ranks > 1) {
      const std::vector<uint64_t> hashes = comm.all_gather(result.weights_hash);
      for (int r = 1; r < ranks; ++r)
        MMP_CHECK(hashes[r] == hashes[0], "train: after epoch ", epoch + 1, " rank ", r,
                  "'s parameters differ from rank 0's (hash ", hashes[r], " against ", hashes[0], ")");
    }
    // The first rank evaluates (with its own batch-norm statistics); the others go on to
    // the next epoch, where its first all-reduce waits for it.
    if (writer) e.test = evaluate(model, test_data, o.batch_size, o.device, o.loader_workers);
    e.seconds = seconds_since(epoch_start);
    e.samples_per_second = epoch_samples / e.train_seconds;
    e.data_wait = epoch_wait / e.train_seconds;
    train_seconds += e.train_seconds;
    wait_seconds += epoch_wait;
    samples += epoch_samples;
    result.epochs.push_back(e);
    log.write(epoch_json(e));
    const bool checkpoint = !dir.empty() && writer && ((epoch + 1) % o.checkpoint_every == 0 || epoch + 1 == o.epochs);
    if (improves_on_best(result, e)) {
      result.best_epoch = epoch;
      if (checkpoint) {
        save_checkpoint(dir + "/best.safetensors", model.state_dict(), model, e, o.method);
        best.weights.clear();
      } else if (!dir.empty() && writer) {
        best.keep(model, e);
      }
    }
    if (checkpoint) {
      if (!best.weights.empty()) {
        save_checkpoint(dir + "/best.safetensors", best.weights, model, best.epoch, o.method);
        best.weights.clear();
      }
      save_checkpoint(dir + "/last.safetensors", model.state_dict(), model, e, o.method);
      // One file for all a resumed run needs, so that its parts cannot be of two epochs;
      // written after the metrics log is on the disk, so that the log is never behind it.
      log.sync();
      NamedTensors everything;
      for (const auto& [name, t] : model.state_dict()) everything.emplace_back("model." + name, t);
      for (const auto& [name, t] : step.optimizer().state()) everything.emplace_back("optimizer." + name, t);
      save_safetensors(dir + "/resume.safetensors", everything,
                       {{"epoch", std::to_string(epoch)},
                        {"steps", std::to_string(step.steps())},
                        {"generator_offset", std::to_string(step.generator_offset())},
                        {"device", o.device.str()},
                        {"precision", precision_name(o.precision)},
                        {"ranks", std::to_string(ranks)},
                        {"options", options.dump()}});
    }
    progress.epoch_done(e, o.epochs);
  }
  result.steps = step.steps();
  const int64_t steps_run = result.steps - first_step;
  const int epochs_run = o.epochs - first_epoch;
  result.seconds_per_step = steps_run ? step_seconds / static_cast<double>(steps_run) : 0.0;
  result.seconds_per_epoch = epochs_run ? seconds_since(start) / epochs_run : 0.0;
  result.samples_per_second = train_seconds > 0 ? samples / train_seconds : 0.0;
  result.data_wait = train_seconds > 0 ? wait_seconds / train_seconds : 0.0;
  result.memory = device_memory(o.device);
  return result;
}

}  // namespace mmp
