#pragma once
// The training loop: epochs over shuffled batches, one integrated step per batch,
// evaluation of the three heads after every epoch, checkpoints (best and last,
// written atomically), a metrics log per step and per epoch, a one-line progress
// display, and resuming an interrupted run where its last epoch ended.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/optimizer.h"
#include "engine/precision.h"
#include "mmpareto/evaluation.h"
#include "mmpareto/integrator.h"

namespace mmp {

struct TrainOptions {
  std::string method = "mmpareto";
  IntegratorOptions integrator;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  int epochs = 10;
  int64_t batch_size = 32;
  uint64_t seed = 0;
  Device device = Device::cpu();
  Precision precision = Precision::fp32;  // of convolutions and products on CUDA (engine/precision.h)
  CpuConvolution cpu_convolution = CpuConvolution::winograd;  // of 3x3 convolutions on the CPU (the same)
  // The dtype of the weights and of every step's arithmetic: f32, or f64 on the CPU (the
  // exact mode, for checks: the same run computed with 15 more digits).
  DType dtype = DType::F32;
  // <out_dir>/<method>/: metrics.jsonl, best.safetensors and last.safetensors (the
  // model's weights), resume.safetensors (weights, optimizer state and counters after
  // the last finished epoch); empty: no files.
  std::string out_dir;
  // Continue the run in out_dir from its resume.safetensors (a fresh start without
  // one): the epochs after the saved one, the same as if it had not stopped. The
  // options must be those it was started with.
  bool resume = false;
  // Epochs between the writes of the checkpoints (last.safetensors, resume.safetensors,
  // and best.safetensors when a better epoch came since; the final epoch always writes):
  // a long run over a small set need not write hundreds of MB after every short epoch.
  // Resumed, a run goes on from the last written epoch.
  int checkpoint_every = 1;
  bool progress = true;  // the progress line on stderr
  int loader_workers = -1;  // threads building batches ahead of the step; -1: the cores available
  // Data parallel over the job's ranks (engine/distributed.h; one process: nothing):
  // batch_size is the global batch, each rank trains on its share; sync_bn normalises
  // with the global batch's statistics (else each rank's own, as PyTorch's DDP).
  bool sync_bn = false;
  // On CUDA in one process: each full batch's forward and backward sweeps replayed from a
  // CUDA graph captured at the second step (TrainStep::use_device_graph); the same results.
  bool cuda_graph = false;
};

struct EpochSummary {
  int epoch = 0;
  double lr = 0;
  double loss_mm = 0, loss_audio = 0, loss_visual = 0;  // training means
  Evaluation test;
  double conflict_audio = 0, conflict_visual = 0;  // fraction of steps whose gradients conflict
  double cos_audio = 0, cos_visual = 0;            // mean cosine of the multimodal and unimodal gradients
  double seconds = 0;             // the epoch with its evaluation
  double train_seconds = 0;       // its training steps, with the waits for their batches
  double samples_per_second = 0;  // training samples over train_seconds
  double data_wait = 0;           // share of train_seconds spent waiting for the loader
};

struct TrainResult {
  std::string method;
  std::vector<EpochSummary> epochs;  // a resumed run's earlier ones read back from its metrics log
  int best_epoch = -1;  // by multimodal accuracy
  int64_t steps = 0;
  double seconds_per_step = 0;
  // Over the epochs this process trained (a resumed run's earlier ones excluded).
  double seconds_per_epoch = 0, samples_per_second = 0, data_wait = 0;
  DeviceMemory memory;  // the device's memory at its peak during the run (zeros on the CPU)
  int ranks = 1;        // the processes that trained (their weights checked identical after each epoch)
  uint64_t weights_hash = 0;  // of the final parameters
  const EpochSummary& best() const { return epochs.at(best_epoch); }
  const EpochSummary& last() const { return epochs.back(); }
};

// The progress display's text: label, epoch, a bar of the epoch's steps, its
// percentage, samples/s, the time left for the whole run (m:ss) and the multimodal loss.
std::string progress_line(const std::string& label, int epoch, int epochs, int64_t step, int64_t steps_per_epoch,
                          double samples_per_s, double eta_seconds, double loss);

// An epoch's line of a run's metrics log (metrics.jsonl) read back: for a resumed run's
// earlier epochs, and for reports.
EpochSummary epoch_from_json(const nlohmann::json& line);

TrainResult train(AVClassifier& model, const Dataset& train_data, const Dataset& test_data, const TrainOptions& options);

}  // namespace mmp
