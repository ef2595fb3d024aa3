// `mmp bench kernels`: the memory-bound kernels of a training step (batch norm with its
// fused epilogues, max pooling), forward and backward, at the model's largest shapes,
// each called on its own through the backend. Each reports its effective bandwidth: the
// least bytes the kernel must move (every tensor it reads or writes, once per pass over
// it) over its time, and on a known card that bandwidth's share of the card's. A whole
// step's profile says where the time goes; this says how far each kernel is from the
// memory system's limit, in seconds of a GPU lease. With --cudnn-graph, fused batch norm
// + ReLU is also timed on cuDNN's graph API where the build and cuDNN allow (rows marked
// [cudnn-graph]; its backward reads a packed mask, not the output).
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#if MMP_HAVE_CUDA
#include "engine/cuda/batch_norm_graph.h"
#endif
#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "tools/card_peaks.h"
#include "tools/commands.h"
#include "tools/step_options.h"
#include "tools/timing.h"

namespace mmp::cli {
namespace {

struct KernelBenchOptions {
  std::string device = "cuda";
  std::string precision;  // fp32 (NCHW f32), tf32 (NHWC f32) or bf16 (NHWC bf16), as the model runs
  int64_t batch = 64;
  bool cudnn_graph = false;  // also time fused batch norm on cuDNN's graph API
};

// An activation of the model at batch `batch` (clips; the frames double it).
struct ActivationShape {
  const char* where;
  Shape shape;
};

std::vector<ActivationShape> activation_shapes(int64_t batch) {
  return {{"visual stem", {2 * batch, 64, 112, 112}},
          {"audio stem", {batch, 64, 129, 94}},
          {"visual layer1", {2 * batch, 64, 56, 56}},
          {"visual layer4", {2 * batch, 512, 7, 7}}};
}

class KernelTable {
 public:
  KernelTable(Device device, double peak_gbps) : device_(device), peak_gbps_(peak_gbps) {
    std::printf("%-28s %-15s %-20s %10s %10s %8s\n", "kernel", "at", "shape", "ms", "GB/s", "of_peak");
  }
  // Times `call` (one kernel launch or a few) and prints its row for `bytes` moved.
  void row(const std::string& kernel, const ActivationShape& a, double bytes, const std::function<void()>& call) {
    // A GPU kernel takes microseconds to a millisecond: several run between two waits.
    const int per_run = device_.is_cpu() ? 1 : 10;
    const Timing t = time_median(
        [&] {
          for (int i = 0; i < per_run; ++i) call();
          backend(device_).synchronize();
        },
        /*warmup=*/2, /*min_repeats=*/5, /*min_seconds=*/device_.is_cpu() ? 1.0 : 0.2);
    const double seconds = t.median_s / per_run, gbps = bytes / seconds / 1e9;
    std::printf("%-28s %-15s %-20s %10.4f %10.1f %8s\n", kernel.c_str(), a.where, shape_str(a.shape).c_str(), seconds * 1e3,
                gbps, peak_gbps_ > 0 ? str(std::round(1000 * gbps / peak_gbps_) / 10, "%").c_str() : "-");
  }

 private:
  Device device_;
  double peak_gbps_;
};

// Whether cuDNN's graph API runs fused batch norm + ReLU (+ add) on x in this build;
// says so when the build has it and cuDNN does not.
bool graph_runs(const Tensor& x, bool fused, bool add) {
#if MMP_HAVE_CUDA
  if (!fused || !x.device().is_cuda() || !cuda::batch_norm_graph_built()) return false;
  std::string refusal;
  if (cuda::batch_norm_graph_supported(x.device().index, x, add, true, 0.1, 1e-5, &refusal)) return true;
  std::printf("# cudnn-graph does not run batch norm%s + ReLU on %s: %s\n", add ? " + add" : "", x.str().c_str(),
              refusal.c_str());
#endif
  return false;
}

void bench_kernels(const KernelBenchOptions& o) {
  const Device device = parse_device(o.device);
  const Precision precision = resolve_precision(o.precision, device, Precision::fp32);
  // The layouts and dtypes the model's activations have under this precision.
  const DType dtype = precision == Precision::bf16 ? DType::BF16 : DType::F32;
  const bool channels_last = device.is_cuda() && precision != Precision::fp32;
  const std::string card = device_name(device);
  const double peak_gbps = device.is_cuda() ? peak_memory_gbps(card) : 0;
  std::printf("# memory-bound kernels of a training step at batch %lld, CREMA-D shapes; %s (%s), %s, %s %s\n",
              static_cast<long long>(o.batch), device.str().c_str(), card.c_str(), precision_name(precision),
              dtype_name(dtype), channels_last ? "NHWC" : "NCHW");
  std::printf("# GB/s: the least bytes a kernel moves over its time; of_peak: against %s\n",
              peak_gbps > 0 ? str(peak_gbps, " GB/s, the card's memory bandwidth").c_str() : "no known peak");
  KernelTable table(device, peak_gbps);
  Backend& be = backend(device);
  Generator gen(1);
  auto activation = [&](const Shape& shape) {
    const Tensor t = to_dtype(randn(shape, gen, DType::F32, device), dtype);
    return channels_last ? to_channels_last(t) : t.contiguous();
  };
  auto empty_like_layout = [&](const Shape& shape, DType type) {
    return channels_last ? empty_channels_last(shape, type, device) : Tensor::empty(shape, type, device);
  };
  for (const ActivationShape& a : activation_shapes(o.batch)) {
    const int64_t c = a.shape[1];
    const Tensor x = activation(a.shape), residual = activation(a.shape), gy = activation(a.shape);
    const double tensor_bytes = static_cast<double>(x.numel()) * dtype_size(dtype);
    const Tensor weight = ones({c}, DType::F32, device), bias = zeros({c}, DType::F32, device);
    const Tensor running_mean = zeros({c}, DType::F32, device), running_var = ones({c}, DType::F32, device);
    const Tensor mean = Tensor::empty({c}, DType::F32, device), invstd = Tensor::empty({c}, DType::F32, device);
    const Tensor gw = Tensor::empty({c}, DType::F32, device), gb = Tensor::empty({c}, DType::F32, device);
    const Tensor y = empty_like_layout(a.shape, dtype), gx = empty_like_layout(a.shape, dtype);
    const Tensor grad_residual = empty_like_layout(a.shape, dtype);
    const bool fused = be.fuses_batch_norm_epilogue(x);
    // Forward: a pass over x for the statistics, one reading x (and the residual) and
    // writing y. Backward: a pass over x, gy (and the ReLU's output, or its packed bits)
    // for the sums, one reading them again and writing gx (and the residual's gradient).
    for (const CudaBatchNorm engine : {CudaBatchNorm::own, CudaBatchNorm::cudnn_graph})
      for (const bool add : {false, true}) {
        if (!fused && add) continue;
        const bool graph = engine == CudaBatchNorm::cudnn_graph;
        if (graph && !(o.cudnn_graph && graph_runs(x, fused, add))) continue;
        const CudaBatchNormScope scope(engine);
        BatchNormEpilogue forward;
        forward.relu = fused;
        if (add) forward.residual = residual;
        const std::string name =
            std::string(!fused ? "batch_norm" : add ? "batch_norm_add_relu" : "batch_norm_relu") +
            (graph ? " [cudnn-graph]" : "");
        // One call first: whether the forward packs the ReLU's mask (a bit per element).
        be.batch_norm_train(x, weight, bias, running_mean, running_var, y, mean, invstd, 0.1, 1e-5, forward);
        // The ReLU's verdicts, in tensor sizes: packed bits (written, then read), or y (read).
        const double bits = forward.relu_mask.defined() ? 1.0 / (8 * dtype_size(dtype)) : 0;
        const double verdicts = !fused ? 0 : forward.relu_mask.defined() ? bits : 1;
        table.row(name + " forward", a, tensor_bytes * ((add ? 4 : 3) + bits), [&] {
          be.batch_norm_train(x, weight, bias, running_mean, running_var, y, mean, invstd, 0.1, 1e-5, forward);
        });
        BatchNormEpilogue backward;
        backward.relu = fused;
        if (fused) backward.output = y;
        if (add) backward.grad_residual = grad_residual;
        backward.relu_mask = forward.relu_mask;
        const double reads = 2 + verdicts;
        table.row(name + " backward", a, tensor_bytes * (2 * reads + 1 + (add ? 1 : 0)), [&] {
          be.batch_norm_backward(x, gy, weight, mean, invstd, gx, gw, gb, 1e-5, backward);
        });
      }
    if (std::string(a.where) != "visual stem") continue;
    // The stem's 3x3, stride-2 max pooling: forward reads x and writes y and its argmax
    // (int32); backward reads gy and the argmax and writes gx.
    ConvGeometry g;
    g.n = a.shape[0];
    g.c = g.co = c;
    g.h = a.shape[2];
    g.w = a.shape[3];
    g.kh = g.kw = 3;
    g.stride = 2;
    g.pad = 1;
    g.ho = (g.h + 2 * g.pad - g.kh) / g.stride + 1;
    g.wo = (g.w + 2 * g.pad - g.kw) / g.stride + 1;
    g.channels_last = channels_last;
    const Shape pooled{g.n, c, g.ho, g.wo};
    const Tensor py = empty_like_layout(pooled, dtype), indices = empty_like_layout(pooled, DType::I32);
    const Tensor pgy = activation(pooled);
    const double pooled_bytes = static_cast<double>(py.numel()) * dtype_size(dtype), index_bytes = py.numel() * 4.0;
    table.row("max_pool2d forward", a, tensor_bytes + pooled_bytes + index_bytes,
              [&] { be.max_pool2d_forward(x, py, indices, g); });
    table.row("max_pool2d backward", a, pooled_bytes + index_bytes + tensor_bytes,
              [&] { be.max_pool2d_backward(pgy, indices, gx, g); });
  }
}

}  // namespace

void add_bench_kernels_subcommand(CLI::App& bench) {
  CLI::App* kernels =
      bench.add_subcommand("kernels", "Batch norm and max pooling kernels at the model's shapes: time and bandwidth");
  static KernelBenchOptions o;
  kernels->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  kernels->add_option("--batch", o.batch, "clips per batch (the frames' kernels see twice as many images)")
      ->capture_default_str();
  add_precision_option(*kernels, o.precision, "fp32 (NCHW f32; tf32: NHWC f32; bf16: NHWC bf16, as the model)");
  kernels->add_flag("--cudnn-graph", o.cudnn_graph,
                    "Also time fused batch norm + ReLU on cuDNN's graph API (its plans are built first, "
                    "a few seconds per shape)");
  kernels->callback([] { bench_kernels(o); });
}

}  // namespace mmp::cli
