// `mmp train`: trains one method, or several from the same seed (--compare, the
// default), on the built-in synthetic data, and prints one comparison table.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "git_revision.h"

#include "data/cache.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "engine/atomic_file.h"
#include "engine/distributed.h"
#include "mmpareto/train_step.h"
#include "mmpareto/trainer.h"
#include "tools/commands.h"
#include "tools/comparison_table.h"
#include "tools/run_cli.h"
#include "tools/run_config.h"
#include "tools/run_report.h"
#include "tools/step_options.h"

namespace mmp::cli {
namespace {

struct TrainCommandOptions {
  std::string method;
  std::string compare = "one-joint,uniform,mmpareto";
  TrainOptions train;
  int64_t width = 8;
  std::string fusion = "concat";
  int64_t samples = 1200, test_samples = 600;
  bool quiet = false;
  std::string data;  // a prepared cache; empty: the built-in synthetic data
  int frames = 2;    // frames per clip from a cache
  std::string config;    // --config: a TOML file of options
  std::string resolved;  // every option's value, as TOML (written to the run folder)
};

// The options a resumed run may change: where and how fast it computes, not what (and
// which other methods the same command trains: each method's folder is its own run).
const std::vector<std::string> kResumeMayChange{"device", "precision", "cuda-graph", "loader-workers", "quiet",
                                                "out",    "method",    "compare"};

// --out/<method>/config.toml: the run's resolved options, the command line and the
// revision. Resuming checks the new options against it.
void record_run_options(const TrainCommandOptions& o, const std::vector<std::string>& methods) {
  if (o.train.out_dir.empty()) return;
  for (const std::string& method : methods) {
    const std::string dir = o.train.out_dir + "/" + method, path = dir + "/config.toml";
    std::filesystem::create_directories(dir);
    if (o.train.resume && std::filesystem::exists(path)) {
      std::ifstream in(path);
      std::stringstream saved;
      saved << in.rdbuf();
      const std::string differences = config_differences(saved.str(), o.resolved, kResumeMayChange);
      MMP_CHECK(differences.empty(), path, ": the run was started with other options (", differences,
                "); resume with the same ones (mmp train --config ", path, " --resume), or train into another --out");
    }
  }
  for (const std::string& method : methods) write_file_atomically(o.train.out_dir + "/" + method + "/config.toml", o.resolved);
  // A report whose writer was killed left its temporary beside it (the methods' folders
  // are cleared by the trainer).
  remove_interrupted_writes(o.train.out_dir);
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Where the time went: per epoch, training throughput, the share of it spent waiting
// for batches, and the device memory at its peak.
void print_throughput(const std::vector<TrainResult>& results, Device device) {
  std::printf("\n%-10s | %9s | %9s | %9s | %s\n", "method", "s/epoch", "samples/s", "data wait",
              device.is_cuda() ? "peak memory (allocated / reserved)" : "");
  for (const auto& r : results) {
    std::printf("%-10s | %9.2f | %9.1f | %8.1f%% |", r.method.c_str(), r.seconds_per_epoch, r.samples_per_second,
                100 * r.data_wait);
    if (device.is_cuda())
      std::printf(" %.0f / %.0f MiB", r.memory.peak_allocated / 1048576.0, r.memory.peak_reserved / 1048576.0);
    std::printf("\n");
  }
}

void run_train(TrainCommandOptions o) {
  const std::vector<std::string> methods = o.method.empty() ? split(o.compare) : std::vector<std::string>{o.method};
  MMP_CHECK(!methods.empty(), "--compare: no methods given");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines in order with the progress on stderr
  // Data parallel: the first rank prints (and writes); the others' errors still reach stderr.
  Communicator& comm = world();
  if (comm.rank() != 0) MMP_CHECK(std::freopen("/dev/null", "w", stdout) != nullptr, "cannot silence rank ", comm.rank());
  for (const auto& m : methods) make_integrator(m);  // fails early on a bad name
  if (comm.rank() == 0) record_run_options(o, methods);
  o.train.progress = !o.quiet;
  o.train.schedule.total_epochs = o.train.epochs;

  std::unique_ptr<Dataset> train_data, test_data;
  if (o.data.empty()) {
    SyntheticOptions train_options;
    train_options.samples = o.samples;
    train_options.seed = o.train.seed;
    SyntheticOptions test_options = train_options;
    test_options.samples = o.test_samples;
    test_options.first_index = o.samples;  // disjoint from the training samples
    train_data = std::make_unique<SyntheticAV>(train_options);
    test_data = std::make_unique<SyntheticAV>(test_options);
    std::printf("data: built-in synthetic audio-visual set (audio is the easy modality), ");
  } else {
    CacheReadOptions read;
    read.frames = o.frames;
    read.seed = o.train.seed;
    train_data = std::make_unique<CacheDataset>(o.data, read);
    read.split = "test";
    read.augment = false;
    test_data = std::make_unique<CacheDataset>(o.data, read);
    std::printf("data: %s, ", o.data.c_str());
  }
  std::printf("%lld train / %lld test samples, %lld classes, audio %s, visual %s\n",
              static_cast<long long>(train_data->size()), static_cast<long long>(test_data->size()),
              static_cast<long long>(train_data->classes()), shape_str(train_data->audio_shape()).c_str(),
              shape_str(train_data->visual_shape()).c_str());
  std::printf("model: AVClassifier, ResNet-18 width %lld, %s fusion; %s lr %g, batch %lld, %d epochs, seed %llu, %s\n",
              static_cast<long long>(o.width), o.fusion.c_str(), o.train.optimizer.kind.c_str(), o.train.optimizer.lr,
              static_cast<long long>(o.train.batch_size), o.train.epochs,
              static_cast<unsigned long long>(o.train.seed), o.train.device.str().c_str());
  if (o.train.device.is_cuda())
    std::printf("precision: %s%s\n", precision_name(o.train.precision),
                o.train.cuda_graph ? "; full batches' forward and backward replayed from a CUDA graph" : "");
  if (comm.data_parallel()) {
    // What each step sums over the ranks: every objective's gradient of each group it reaches.
    Generator gen(0);
    AVClassifierConfig config;
    config.classes = train_data->classes();
    config.width = o.width;
    config.fusion = parse_fusion(o.fusion);
    double bytes = 0;
    for (const ParameterGroup& g : av_parameter_groups(AVClassifier(config, gen)))
      bytes += static_cast<double>(dtype_size(o.train.dtype) * g.numel) * (g.name == "heads" ? 3 : 2);
    const auto [low, high] = rank_share(o.train.batch_size, comm.size() - 1, comm.size());
    std::printf("data parallel: %s; global batch %lld, %lld to %lld per rank; %s batch norm; %.1f MB of gradients "
                "all-reduced a step (each encoder's two objectives, the heads' three)\n",
                comm.describe().c_str(), static_cast<long long>(o.train.batch_size), static_cast<long long>(high - low),
                static_cast<long long>(rank_share(o.train.batch_size, 0, comm.size()).second),
                o.train.sync_bn ? "synchronised" : "per-rank", bytes / 1e6);
  }
  const int workers = o.train.loader_workers < 0 ? available_cores() : o.train.loader_workers;
  std::printf("loader: %d worker thread%s%s\n", workers, workers == 1 ? "" : "s",
              o.train.device.is_cuda() ? ", batches built in page-locked memory and uploaded while the previous step runs"
                                       : "");

  std::vector<TrainResult> results;
  std::string stopped;  // the methods whose training stopped on an error
  for (const auto& method : methods) {
    Generator gen(o.train.seed);  // the same initial weights for every method
    AVClassifierConfig config;
    config.classes = train_data->classes();
    config.width = o.width;
    config.fusion = parse_fusion(o.fusion);
    AVClassifier model(config, gen);
    TrainOptions options = o.train;
    options.method = method;
    try {
      results.push_back(train(model, *train_data, *test_data, options));
    } catch (const Error& e) {
      // One method diverging does not cancel the comparison: the others still run.
      // One method alone, or a rank of a data-parallel job (the error may be this rank's
      // only, and the others wait in a collective): the error ends the run.
      if (methods.size() == 1 || comm.data_parallel()) throw;
      std::fprintf(stderr, "mmp: %s stopped: %s\n", method.c_str(), e.what());
      stopped += (stopped.empty() ? "" : ", ") + method;
    }
  }
  if (!results.empty()) {
    std::vector<ComparisonRow> rows;
    for (const TrainResult& r : results) rows.push_back(comparison_row(r.method, r.epochs, r.seconds_per_step));
    print_comparison_table(rows);
    for (const TrainResult& r : results)
      if (r.method == "one-joint") {
        std::printf(o.train.integrator.one_joint_probes
                        ? "one-joint: its audio and visual heads were trained as probes of the encoders' features "
                          "(--unimodal-heads probe); the official code leaves them untrained (frozen)\n"
                        : "one-joint: its audio and visual heads were left untrained, as the official code "
                          "(--unimodal-heads frozen): their accuracies are of the initial heads\n");
        break;
      }
    print_throughput(results, o.train.device);
    // The hash tells runs apart bit for bit (a data-parallel run against one process, a
    // resumed run against an uninterrupted one).
    std::printf("\n");
    for (const TrainResult& r : results)
      std::printf("parameters hash %016llx (%s, final)\n", static_cast<unsigned long long>(r.weights_hash),
                  r.method.c_str());
    if (comm.data_parallel())
      std::printf("parameters identical on all %d rank%s after every epoch; %s\n", comm.size(),
                  comm.size() == 1 ? "" : "s", comm.describe().c_str());
  }
  if (!o.train.out_dir.empty()) {
    std::printf("\ncheckpoints and metrics (JSON lines) in %s/<method>/\n", o.train.out_dir.c_str());
    if (!results.empty() && comm.rank() == 0) {
      // The report of this run's methods; without gnuplot the run still succeeds.
      std::vector<std::string> runs;
      for (const TrainResult& r : results) runs.push_back(o.train.out_dir + "/" + r.method);
      try {
        write_report(runs, o.train.out_dir + "/report.html", "mmp train: " + o.train.out_dir);
        std::printf("report (plots of losses, accuracies, gradient cosines, weights): %s/report.html\n",
                    o.train.out_dir.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "mmp: no report written: %s\n", e.what());
      }
    }
  }
  MMP_CHECK(stopped.empty(), "training stopped for ", stopped, " (the reasons are above)");
}

}  // namespace

void add_train_command(CLI::App& app) {
  static TrainCommandOptions o;
  o.train.epochs = 10;
  o.train.batch_size = 32;
  o.train.optimizer.lr = 0.01;
  o.train.out_dir = "runs";
  static std::string device = "cpu", precision, dtype = "f32";
  CLI::App* cmd = app.add_subcommand("train", "Train with gradient integration; compares methods by default");
  cmd->add_option("--method", o.method, "one method: one-joint, uniform, mmpareto, mgda, pcgrad, cagrad, ogm-ge");
  cmd->add_option("--compare", o.compare, "methods to train from the same seed, comma-separated")->capture_default_str();
  cmd->add_option("--epochs", o.train.epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch", o.train.batch_size, "batch size")->capture_default_str();
  add_optimizer_options(*cmd, o.train.optimizer);
  cmd->add_option("--schedule", o.train.schedule.kind, "learning-rate schedule: constant, step or cosine")
      ->capture_default_str();
  cmd->add_option("--step-size", o.train.schedule.step_size, "step schedule: epochs between decays")->capture_default_str();
  cmd->add_option("--decay", o.train.schedule.gamma, "step schedule: decay factor")->capture_default_str();
  add_integrator_options(*cmd, o.train.integrator);
  cmd->add_option("--width", o.width, "ResNet-18 width (64 in the paper)")->capture_default_str();
  cmd->add_option("--fusion", o.fusion, "concat, sum, film or gated")->capture_default_str();
  cmd->add_option("--samples", o.samples, "synthetic training samples")->capture_default_str();
  cmd->add_option("--test-samples", o.test_samples, "synthetic test samples")->capture_default_str();
  cmd->add_option("--seed", o.train.seed, "seed of the weights, the data and the shuffling")->capture_default_str();
  cmd->add_option("--device", device, "cpu or cuda[:N] (under mpirun/srun, cuda is each rank's own GPU)")
      ->capture_default_str();
  cmd->add_flag("--sync-bn", o.train.sync_bn,
                "under mpirun/srun: batch norm with the statistics of the global batch (default: each rank's own)");
  add_precision_option(*cmd, precision, "tf32 on CUDA (PyTorch's default for convolutions), fp32 on the CPU");
  add_cpu_convolution_option(*cmd, o.train.cpu_convolution);
  cmd->add_flag("--cuda-graph", o.train.cuda_graph,
                "on CUDA, one process: replay each full batch's forward and backward from a CUDA graph "
                "captured at the second step (the same results, less host work per step)");
  cmd->add_option("--dtype", dtype, "f32, or f64 on the CPU: the whole run in float64 (the exact mode, for checks)")
      ->capture_default_str();
  cmd->add_option("--out", o.train.out_dir, "folder for checkpoints and metrics ('' for none)")->capture_default_str();
  cmd->add_option("--checkpoint-every", o.train.checkpoint_every,
                  "epochs between the writes of last.safetensors and the resume point (and after the last epoch)")
      ->capture_default_str();
  cmd->add_flag("--resume", o.train.resume,
                "continue the runs in --out from their last finished epoch (same options; a fresh start where none)");
  cmd->add_flag("--quiet", o.quiet, "no progress display");
  cmd->add_option("--data", o.data, "a cache made by mmp prepare (default: the built-in synthetic data)");
  cmd->add_option("--frames", o.frames, "frames per clip from the cache")->capture_default_str();
  cmd->add_option("--loader-workers", o.train.loader_workers,
                  "threads building batches (default: the cores available, " + std::to_string(available_cores()) + " here)");
  cmd->add_option("--config", o.config,
                  "a TOML file of these options (keys without the dashes: lr = 0.002); the command line overrides it; "
                  "--out/<method>/config.toml keeps the resolved options");
  cmd->callback([cmd] {
    if (!o.config.empty()) apply_config_file(*cmd, o.config);
    o.train.device = parse_device(device);
    MMP_CHECK(dtype == "f32" || dtype == "f64", "--dtype must be f32 or f64, got '", dtype, "'");
    o.train.dtype = dtype == "f64" ? DType::F64 : DType::F32;
    // Under mpirun/srun each rank takes the GPU of its local rank, unless one is named.
    const Launch launch = launch_from_environment();
    if (device == "cuda" && launch.distributed && cuda_device_count() > 0)
      o.train.device = Device::cuda(launch.local_rank % cuda_device_count());
    MMP_CHECK(!o.train.cuda_graph || o.train.device.is_cuda(), "--cuda-graph needs --device cuda");
    o.train.precision =
        resolve_precision(precision, o.train.device, o.train.device.is_cuda() ? Precision::tf32 : Precision::fp32);
    if (!o.data.empty()) {
      // Real data: the official run's settings, where not given.
      set_unless_given(*cmd, "--width", "64");
      set_unless_given(*cmd, "--lr", "0.002");
      set_unless_given(*cmd, "--batch", "64");
      set_unless_given(*cmd, "--epochs", "50");
    }
    set_unless_given(*cmd, "--precision", precision_name(o.train.precision));
    o.resolved = resolved_config(*cmd, "# mmp train: the resolved options of a run; `mmp train --config` reads it back\n"
                                       "# command: " + invoked_command_line() + "\n# mmp " + MMP_VERSION +
                                       ", git " + MMP_GIT_REVISION + "\n");
    run_train(o);
  });
}

}  // namespace mmp::cli
