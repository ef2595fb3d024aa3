// `mmp bench gemm | model | step`: throughput of the engine. Each prints a table; the
// PyTorch/numpy side of each comparison is in tools/bench/. (`bench data` is in
// cmd_bench_data.cpp.)
#include <omp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#if MMP_HAVE_CUDA
#include "engine/cuda/batch_norm_choice.h"
#endif
#include "engine/distributed.h"
#include "engine/flop_counter.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/profiler.h"
#include "layers/av_classifier.h"
#include "mmpareto/train_step.h"
#include "tools/card_peaks.h"
#include "tools/commands.h"
#include "tools/step_options.h"
#include "tools/timing.h"

namespace mmp::cli {
namespace {

std::vector<Device> bench_devices(const std::string& choice) {
  if (choice == "all") {
    std::vector<Device> devices{Device::cpu()};
    if (cuda_available()) devices.push_back(Device::cuda(0));
    return devices;
  }
  return {parse_device(choice)};
}

void bench_gemm(const std::vector<int64_t>& sizes, const std::string& device_choice) {
  std::printf("# SGEMM, C = A·B, f32, median of repeats; %d CPU threads\n", omp_get_max_threads());
  std::printf("%-8s %6s %12s %10s\n", "device", "n", "time_ms", "GFLOP/s");
  for (const Device device : bench_devices(device_choice)) {
    for (const int64_t n : sizes) {
      Generator gen(1);
      const Tensor a = randn({n, n}, gen, DType::F32, device), b = randn({n, n}, gen, DType::F32, device);
      Tensor c;
      // A GPU product at n = 512 takes microseconds: several run between two waits for
      // the device, so that the wait does not dominate.
      const int per_run = device.is_cpu() ? 1 : 20;
      const Timing t = time_median(
          [&] {
            for (int i = 0; i < per_run; ++i) c = matmul(a, b);
            backend(device).synchronize();
          },
          /*warmup=*/2, /*min_repeats=*/5, /*min_seconds=*/device.is_cpu() ? 1.0 : 0.3);
      const double seconds = t.median_s / per_run;
      std::printf("%-8s %6lld %12.4f %10.1f\n", device.str().c_str(), static_cast<long long>(n), seconds * 1e3,
                  2.0 * n * n * n / seconds * 1e-9);
    }
  }
}

struct ModelBenchOptions {
  std::string device = "cpu";
  std::string precision;  // empty: fp32
  CpuConvolution cpu_convolution = CpuConvolution::winograd;
  int64_t batch = 8;
  int64_t frames = 2;
  int64_t audio_f = 257, audio_t = 188;  // the OGM-GE CREMA-D spectrogram
  int64_t image = 224;
  int64_t classes = 6;
  int repeats = 3;
  bool profile = false;
  bool cuda_graph = false;  // bench step: forward and backward replayed from a CUDA graph
};

// The paper's model on the chosen device, and one random batch at the options' shapes.
struct ModelSetup {
  Device device;
  Precision precision = Precision::fp32;
  std::unique_ptr<AVClassifier> model;
  Batch batch;
};

ModelSetup model_setup(const ModelBenchOptions& o) {
  ModelSetup s;
  s.device = parse_device(o.device);
  s.precision = resolve_precision(o.precision, s.device, Precision::fp32);
  Generator gen(0);
  AVClassifierConfig config;
  config.classes = o.classes;
  s.model = std::make_unique<AVClassifier>(config, gen);
  s.model->to(s.device);
  s.model->train();
  s.batch.audio = randn({o.batch, 1, o.audio_f, o.audio_t}, gen, DType::F32, s.device);
  s.batch.visual = randn({o.batch, o.frames, 3, o.image, o.image}, gen, DType::F32, s.device);
  std::vector<int64_t> labels(o.batch);
  for (int64_t i = 0; i < o.batch; ++i) labels[i] = i % o.classes;
  s.batch.label = from_vector(labels, {o.batch}, s.device);
  return s;
}

// Runs `fn` once with every op timed, and prints where the time went.
void print_profile(const std::function<void()>& fn, Device device) {
  const auto t0 = std::chrono::steady_clock::now();
  ProfileSession session;
  fn();
  backend(device).synchronize();
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n# profile of one step (%.3f s)\n", total);
  session.print(total);
}

// One forward in training mode, and one training step (forward + backward of the
// summed loss of the three heads), at CREMA-D shapes by default.
void bench_model(const ModelBenchOptions& o) {
  ModelSetup s = model_setup(o);
  const PrecisionScope precision(s.precision);
  const CpuConvolutionScope cpu_convolution(o.cpu_convolution);
  AVClassifier& model = *s.model;
  const Batch& b = s.batch;
  auto losses = [&](const AVOutputs& out) {
    return add(add(cross_entropy(out.out, b.label), cross_entropy(out.out_audio, b.label)),
               cross_entropy(out.out_visual, b.label));
  };
  auto step = [&] {
    model.zero_grad();
    backward(losses(model.forward(b.audio, b.visual)));
    backend(s.device).synchronize();
  };
  const Timing forward = time_median(
      [&] {
        const Tensor loss = losses(model.forward(b.audio, b.visual));
        backend(s.device).synchronize();
      },
      1, o.repeats, 0);
  const Timing steps = time_median(step, 1, o.repeats, 0);
  std::printf("# AVClassifier (ResNet-18 x2, concat), batch %lld: audio 1x%lldx%lld, visual %lldx3x%lldx%lld; %s, %s, %d threads\n",
              static_cast<long long>(o.batch), static_cast<long long>(o.audio_f), static_cast<long long>(o.audio_t),
              static_cast<long long>(o.frames), static_cast<long long>(o.image), static_cast<long long>(o.image),
              s.device.str().c_str(), precision_name(s.precision), omp_get_max_threads());
  std::printf("%-10s %12s %12s\n", "phase", "seconds", "samples/s");
  std::printf("%-10s %12.4f %12.2f\n", "forward", forward.median_s, o.batch / forward.median_s);
  std::printf("%-10s %12.4f %12.2f\n", "step", steps.median_s, o.batch / steps.median_s);
  if (o.profile) print_profile(step, s.device);
}

// Under MMP_CUDA_BATCH_NORM=timed: the engine each pass and shape of fused batch norm +
// ReLU was given, with both engines' times.
void print_batch_norm_choices(Device device) {
#if MMP_HAVE_CUDA
  if (!device.is_cuda() || current_cuda_batch_norm() != CudaBatchNorm::timed) return;
  const std::vector<cuda::BatchNormChoice> made = cuda::batch_norm_choices();
  std::printf("# fused batch norm + ReLU, engine timed per pass and shape (%zu):\n", made.size());
  for (const cuda::BatchNormChoice& c : made) {
    std::printf("#   %-8s %-4s %-20s %-11s own %8.4f ms  cudnn-graph %8.4f ms  -> %s\n",
                c.call.pass == cuda::BatchNormPass::forward ? "forward" : "backward", dtype_name(c.dtype),
                shape_str(c.shape).c_str(), c.call.residual ? "+ residual" : "", c.own_ms, c.graph_ms,
                cuda::batch_norm_engine_name(c.engine));
    if (!c.graph_error.empty()) std::printf("#     cudnn-graph failed: %s\n", c.graph_error.c_str());
  }
#else
  (void)device;
#endif
}

// A whole training step of a gradient-integration method (forward, per-objective
// gradients, integration, SGD update), at CREMA-D shapes by default.
void bench_step(const ModelBenchOptions& o, const std::string& method) {
  ModelSetup s = model_setup(o);
  const PrecisionScope precision(s.precision);
  const CpuConvolutionScope cpu_convolution(o.cpu_convolution);
  OptimizerOptions opt;  // the official run: SGD, lr 0.002, momentum 0.9, weight decay 1e-4
  // Each method as cheaply as it can run: no per-objective gradients where none are needed.
  TrainStep step(*s.model, make_integrator(method), make_optimizer(s.model->named_parameters(), opt), 0,
                 /*measure=*/false);
  auto run = [&] {
    step.run(s.batch, 0, opt.lr);
    backend(s.device).synchronize();
  };
  MMP_CHECK(!(o.cuda_graph && o.profile), "bench step: --profile times each op, which a CUDA graph's replay hides");
  if (o.cuda_graph) step.use_device_graph(true);
  reset_peak_memory(s.device);
  // The FLOPs are counted as the ops are queued: in the first step, which is eager (a
  // graph is captured at the second, the timing's warm-up).
  double flops = 0;
  {
    FlopCounter counter;
    run();
    flops = counter.flops();
  }
  const Timing t = time_median(run, 1, o.repeats, 0);
  MMP_CHECK(!o.cuda_graph || step.graph_replays() >= o.repeats, "bench step: the CUDA graph was not replayed");
  const std::string card = device_name(s.device);
  const double tflops = flops / t.median_s / 1e12, peak = peak_tflops(card, s.precision);
  std::printf("# %s training step, AVClassifier (ResNet-18 x2), batch %lld at CREMA-D shapes; %s (%s), %s%s, %d threads\n",
              method.c_str(), static_cast<long long>(o.batch), s.device.str().c_str(), card.c_str(),
              precision_name(s.precision), o.cuda_graph ? ", CUDA graph" : "", omp_get_max_threads());
  std::printf("# %.1f GFLOP a step in convolutions and products; MFU against %s\n", flops / 1e9,
              peak > 0 ? str(peak, " TFLOP/s, the card's dense ", precision_name(s.precision), " peak").c_str()
                       : "no known peak (a CPU, or a card not in the table)");
  std::printf("%-10s %12s %12s %12s %10s %8s\n", "method", "seconds", "samples/s", "peak_MiB", "TFLOP/s", "MFU");
  std::printf("%-10s %12.4f %12.2f %12.0f %10.2f %8s\n", method.c_str(), t.median_s, o.batch / t.median_s,
              device_memory(s.device).peak_reserved / 1048576.0, tflops,
              peak > 0 ? str(std::round(1000 * tflops / peak) / 10, "%").c_str() : "-");
  if (s.device.is_cuda()) {  // what the tensors needed at once, apart from what the cache held
    const DeviceMemory m = device_memory(s.device);
    std::printf("# peak memory: %.0f MiB in blocks handed out at once, %.0f MiB held (peak_MiB)\n",
                m.peak_allocated / 1048576.0, m.peak_reserved / 1048576.0);
  }
  print_batch_norm_choices(s.device);
  if (o.profile) print_profile(run, s.device);
}

// The data path, on one thread unless told otherwise: (1) decoding a raw CREMA-D-layout
// folder as the official pipeline does per clip (audio at 22050 Hz to OGM-GE's
// spectrogram, the extracted JPEG frames resized to 224x224), and (2) training batches
// from a prepared cache through the loader (frames decoded and augmented).
// The all-reduces of one data-parallel step at the model's sizes: for the per-objective
// methods (MMPareto and the like) each encoder's gradient of the multimodal loss and of
// its own, and the heads' summed gradient; for uniform and one-joint one summed gradient
// per group. Run under mpirun/srun (one rank measures nothing).
void bench_allreduce(const std::string& device_text, int64_t width, int repeats) {
  Communicator& comm = world();
  Device device = parse_device(device_text);
  // Each rank on the GPU of its local rank, unless one is named (as mmp train).
  const Launch launch = launch_from_environment();
  if (device_text == "cuda" && launch.distributed && cuda_device_count() > 0)
    device = Device::cuda(launch.local_rank % cuda_device_count());
  Generator gen(0);
  AVClassifierConfig config;
  config.width = width;
  const AVClassifier model(config, gen);
  std::vector<std::pair<std::string, int64_t>> buffers;
  for (const ParameterGroup& g : av_parameter_groups(model)) {
    if (g.name == "heads") {
      for (const char* loss : {"multimodal", "audio", "visual"}) buffers.emplace_back(str("heads (", loss, " loss)"), g.numel);
    } else {
      buffers.emplace_back(g.name + " (multimodal loss)", g.numel);
      buffers.emplace_back(g.name + " (" + g.name + " loss)", g.numel);
    }
  }
  if (comm.rank() == 0)
    std::printf("# all-reduce of one step's gradient buffers (f32), ResNet-18 width %lld; %s on %s\n",
                static_cast<long long>(width), comm.describe().c_str(), device.str().c_str());
  if (comm.rank() == 0) std::printf("%-28s %10s %12s %12s %12s\n", "buffer", "MB", "ms", "algbw GB/s", "busbw GB/s");
  double total_ms = 0, total_mb = 0;
  for (const auto& [name, numel] : buffers) {
    const Tensor t = zeros({numel}, DType::F32, device);
    const Timing timing = time_median(
        [&] {
          comm.all_reduce_sum(t);
          if (device.is_cuda()) backend(device).synchronize();
        },
        2, repeats, 0);
    const double mb = static_cast<double>(numel) * 4 / 1e6, ms = timing.median_s * 1e3;
    const double algbw = mb / 1e3 / timing.median_s, ranks = comm.size();
    total_ms += ms;
    total_mb += mb;
    if (comm.rank() == 0)
      std::printf("%-28s %10.1f %12.3f %12.2f %12.2f\n", name.c_str(), mb, ms, algbw, algbw * 2 * (ranks - 1) / ranks);
  }
  if (comm.rank() == 0) std::printf("%-28s %10.1f %12.3f\n", "step (per-objective methods)", total_mb, total_ms);
}

}  // namespace

void add_bench_subcommands(CLI::App& bench_app) {
  CLI::App* bench = &bench_app;

  CLI::App* allreduce =
      bench->add_subcommand("allreduce", "The all-reduces of a data-parallel step at the model's sizes (under mpirun)");
  static std::string allreduce_device = "cpu";
  static int64_t allreduce_width = 64;
  static int allreduce_repeats = 5;
  allreduce->add_option("--device", allreduce_device, "cpu or cuda[:N]")->capture_default_str();
  allreduce->add_option("--width", allreduce_width, "ResNet-18 width")->capture_default_str();
  allreduce->add_option("--repeats", allreduce_repeats, "timed repeats (median reported)")->capture_default_str();
  allreduce->callback([] { bench_allreduce(allreduce_device, allreduce_width, allreduce_repeats); });

  CLI::App* gemm = bench->add_subcommand("gemm", "SGEMM GFLOP/s at square sizes");
  static std::vector<int64_t> sizes{512, 1024, 2048};
  static std::string device = "all";
  gemm->add_option("--sizes", sizes, "matrix sizes")->capture_default_str();
  gemm->add_option("--device", device, "cpu, cuda[:N] or all")->capture_default_str();
  gemm->callback([] { bench_gemm(sizes, device); });

  CLI::App* model = bench->add_subcommand("model", "AVClassifier forward and training step at CREMA-D shapes");
  static ModelBenchOptions m;
  model->add_option("--device", m.device, "cpu or cuda[:N]")->capture_default_str();
  model->add_option("--batch", m.batch, "batch size")->capture_default_str();
  add_precision_option(*model, m.precision, "fp32");
  add_cpu_convolution_option(*model, m.cpu_convolution);
  model->add_option("--frames", m.frames, "video frames per clip")->capture_default_str();
  model->add_option("--repeats", m.repeats, "timed repeats (median reported)")->capture_default_str();
  model->add_flag("--profile", m.profile, "also print the time of each op in one step");
  model->callback([] { bench_model(m); });

  CLI::App* step = bench->add_subcommand("step", "A whole training step of an integration method at CREMA-D shapes");
  static ModelBenchOptions st;
  static std::string method = "mmpareto";
  step->add_option("--method", method, "one-joint, uniform, mmpareto, mgda, pcgrad, cagrad or ogm-ge")->capture_default_str();
  step->add_option("--device", st.device, "cpu or cuda[:N]")->capture_default_str();
  step->add_option("--batch", st.batch, "batch size")->capture_default_str();
  add_precision_option(*step, st.precision, "fp32");
  add_cpu_convolution_option(*step, st.cpu_convolution);
  step->add_option("--frames", st.frames, "video frames per clip")->capture_default_str();
  step->add_option("--repeats", st.repeats, "timed repeats (median reported)")->capture_default_str();
  step->add_flag("--profile", st.profile, "also print the time of each op in one step");
  step->add_flag("--cuda-graph", st.cuda_graph,
                 "replay the forward and backward from a CUDA graph captured at the second step (as mmp train --cuda-graph)");
  step->callback([] { bench_step(st, method); });
}

}  // namespace mmp::cli
