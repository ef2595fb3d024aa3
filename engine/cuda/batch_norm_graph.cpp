// cuDNN graph-API batch norm + (add +) ReLU forward and its backward (batch_norm_graph.h),
// through the cudnn-frontend headers. One graph per pass, shape, dtype and epilogue (and,
// forward, running statistics, eps and momentum), built on first use and kept; one cuDNN
// cannot run is remembered as such, with cuDNN's reason. Tensors are bound by fixed uids. cuDNN's running statistics are written to
// scratch and copied over the old ones: the graph does not promise in-place updates.
#include <cuda_runtime.h>

#include <cudnn_frontend.h>

#include <algorithm>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include "engine/cuda/batch_norm_graph.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

namespace fe = cudnn_frontend;

enum Uid : int64_t {
  kX = 1, kScale, kBias, kMean, kInvVariance, kPrevRunningMean, kPrevRunningVar, kNextRunningMean,
  kNextRunningVar, kResidual, kY, kMask, kGradY, kGradX, kGradScale, kGradBias, kGradResidual, kZero,
};

struct BuiltGraph {
  fe::graph::Graph graph;
  int64_t workspace = 0;
  Tensor zeros;          // the mask's comparand, when it is a tensor
  std::string refusal;   // why cuDNN cannot run it; empty when it can
};

// What the forward's mask compares y with: a scalar 0 passed by value, or (should cuDNN
// not take that for the engine) zeros per channel, broadcast.
enum class Comparand { scalar, per_channel };

// Forward: device, dtype, N, C, H, W, residual, running statistics, momentum and eps (as
// f32 bits). Backward: the same with the running flag, momentum and eps zero.
using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, bool, bool, uint32_t, uint32_t>;

Key key_for(int device, const Tensor& x, bool residual, bool running, double momentum, double eps) {
  const auto& s = x.shape();
  return {device, static_cast<int>(x.dtype()), s[0], s[1], s[2], s[3], residual, running,
          std::bit_cast<uint32_t>(static_cast<float>(momentum)), std::bit_cast<uint32_t>(static_cast<float>(eps))};
}

fe::DataType_t io_type(DType dtype) { return dtype == DType::BF16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::FLOAT; }

// An [N, C, H, W] tensor laid out NHWC, or a [1, C, 1, 1] f32 per-channel one.
fe::graph::Tensor_attributes activation(const char* name, int64_t uid, const Shape& s) {
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  return fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim({n, c, h, w}).set_stride(
      {c * h * w, 1, w * c, c});
}

fe::graph::Tensor_attributes per_channel(const char* name, int64_t uid, int64_t c) {
  return fe::graph::Tensor_attributes()
      .set_name(name)
      .set_uid(uid)
      .set_dim({1, c, 1, 1})
      .set_stride({c, 1, c, c})
      .set_data_type(fe::DataType_t::FLOAT);
}

void set_types(fe::graph::Graph& g, DType dtype) {
  g.set_io_data_type(io_type(dtype))
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
}

// Validates, builds and checks a graph: empty if cuDNN runs it, else the step that failed
// and cuDNN's message.
std::string build(fe::graph::Graph& g, cudnnHandle_t handle, int64_t& workspace) {
  auto step = [](const char* name, fe::error_t status) {
    return status.is_good() ? std::string() : std::string(name) + ": " + status.get_message();
  };
  std::string refusal = step("validate", g.validate());
  if (refusal.empty()) refusal = step("build_operation_graph", g.build_operation_graph(handle));
  if (refusal.empty())
    refusal = step("create_execution_plans", g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}));
  if (refusal.empty()) refusal = step("check_support", g.check_support());
  if (refusal.empty()) refusal = step("build_plans", g.build_plans());
  if (refusal.empty()) refusal = step("get_workspace_size", g.get_workspace_size(workspace));
  return refusal;
}

// y = relu(bn(x) [+ residual]); mask = y > 0, packed.
void define_forward(fe::graph::Graph& g, const Tensor& x, bool residual, bool running, double momentum, double eps,
                    Comparand comparand) {
  set_types(g, x.dtype());
  const int64_t c = x.shape()[1];
  auto X = g.tensor(activation("x", kX, x.shape()));
  auto scale = g.tensor(per_channel("scale", kScale, c));
  auto bias = g.tensor(per_channel("bias", kBias, c));
  auto epsilon = g.tensor(fe::graph::Tensor_attributes(static_cast<float>(eps)));
  auto options = fe::graph::Batchnorm_attributes().set_epsilon(epsilon);
  std::shared_ptr<fe::graph::Tensor_attributes> prev_mean, prev_var, momentum_t;
  if (running) {
    prev_mean = g.tensor(per_channel("running_mean", kPrevRunningMean, c));
    prev_var = g.tensor(per_channel("running_var", kPrevRunningVar, c));
    momentum_t = g.tensor(fe::graph::Tensor_attributes(static_cast<float>(momentum)));
    options.set_previous_running_stats(prev_mean, prev_var, momentum_t);
  }
  auto [normalized, mean, inv_variance, next_mean, next_var] = g.batchnorm(X, scale, bias, options);
  mean->set_output(true).set_uid(kMean).set_data_type(fe::DataType_t::FLOAT);
  inv_variance->set_output(true).set_uid(kInvVariance).set_data_type(fe::DataType_t::FLOAT);
  if (running) {
    next_mean->set_output(true).set_uid(kNextRunningMean).set_data_type(fe::DataType_t::FLOAT);
    next_var->set_output(true).set_uid(kNextRunningVar).set_data_type(fe::DataType_t::FLOAT);
  }
  auto pre_relu = normalized;
  if (residual) {
    auto Z = g.tensor(activation("residual", kResidual, x.shape()));
    pre_relu = g.pointwise(normalized, Z, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::ADD));
  }
  auto Y = g.pointwise(pre_relu, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::RELU_FWD));
  Y->set_output(true).set_uid(kY);
  auto zero = comparand == Comparand::scalar ? g.tensor(fe::graph::Tensor_attributes(0.0f))
                                             : g.tensor(per_channel("zeros", kZero, c));
  auto mask = g.pointwise(Y, zero, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::CMP_GT));
  mask->set_output(true).set_uid(kMask).set_data_type(fe::DataType_t::BOOLEAN);
}

// gx, gscale, gbias of bn behind relu(bn(x) [+ residual]): dy masked first; the masked
// dy is the residual's gradient.
void define_backward(fe::graph::Graph& g, const Tensor& x, bool residual) {
  set_types(g, x.dtype());
  const int64_t c = x.shape()[1];
  auto DY = g.tensor(activation("grad_y", kGradY, x.shape()));
  auto mask = g.tensor(activation("mask", kMask, x.shape()).set_data_type(fe::DataType_t::BOOLEAN));
  auto masked = g.pointwise(DY, mask, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::MUL));
  masked->set_data_type(io_type(x.dtype()));  // as NVIDIA's samples, also when it stays inside
  if (residual) masked->set_output(true).set_uid(kGradResidual);
  auto X = g.tensor(activation("x", kX, x.shape()));
  auto scale = g.tensor(per_channel("scale", kScale, c));
  auto mean = g.tensor(per_channel("mean", kMean, c));
  auto inv_variance = g.tensor(per_channel("inv_variance", kInvVariance, c));
  auto [DX, dscale, dbias] = g.batchnorm_backward(
      masked, X, scale, fe::graph::Batchnorm_backward_attributes().set_saved_mean_and_inv_variance(mean, inv_variance));
  DX->set_output(true).set_uid(kGradX);
  dscale->set_output(true).set_uid(kGradScale).set_data_type(fe::DataType_t::FLOAT);
  dbias->set_output(true).set_uid(kGradBias).set_data_type(fe::DataType_t::FLOAT);
}

std::mutex mutex;
// Every graph tried, kept (also those cuDNN refused, with the reason) until release.
std::map<Key, std::unique_ptr<BuiltGraph>> forwards, backwards;

// The shapes the engines take: NHWC, channels a multiple of 8 (bf16) or 4 (f32).
bool eligible(const Tensor& x) {
  const int64_t c = x.ndim() == 4 ? x.shape()[1] : 0;
  return x.ndim() == 4 && x.is_channels_last() && !x.is_contiguous() &&
         ((x.dtype() == DType::BF16 && c % 8 == 0) || (x.dtype() == DType::F32 && c % 4 == 0 && c > 0));
}

// The graph for `key` from `cache`, defined by `define` and built on first use. Caller
// holds `mutex`.
template <class Define>
BuiltGraph& graph_for(std::map<Key, std::unique_ptr<BuiltGraph>>& cache, const Key& key, int device,
                      const Tensor& x, Define define) {
  std::unique_ptr<BuiltGraph>& slot = cache[key];
  if (slot) return *slot;
  slot = std::make_unique<BuiltGraph>();
  if (!eligible(x)) {
    slot->refusal = "the graphs take NHWC bf16 with channels a multiple of 8, or f32 with a multiple of 4";
    return *slot;
  }
  DeviceGuard guard(device);
  define(slot->graph);
  slot->refusal = build(slot->graph, cudnn(device), slot->workspace);
  return *slot;
}

BuiltGraph& forward_graph(int device, const Tensor& x, bool residual, bool running, double momentum, double eps) {
  const Key key = key_for(device, x, residual, running, momentum, eps);
  if (auto it = forwards.find(key); it != forwards.end()) return *it->second;
  BuiltGraph& scalar = graph_for(forwards, key, device, x, [&](fe::graph::Graph& g) {
    define_forward(g, x, residual, running, momentum, eps, Comparand::scalar);
  });
  if (scalar.refusal.empty() || !eligible(x)) return scalar;
  const std::string scalar_refusal = scalar.refusal;
  forwards.erase(key);
  BuiltGraph& tensor = graph_for(forwards, key, device, x, [&](fe::graph::Graph& g) {
    define_forward(g, x, residual, running, momentum, eps, Comparand::per_channel);
  });
  if (tensor.refusal.empty()) tensor.zeros = zeros({x.shape()[1]}, DType::F32, x.device());
  else tensor.refusal = "with a scalar comparand, " + scalar_refusal + "; with zeros per channel, " + tensor.refusal;
  return tensor;
}

BuiltGraph& backward_graph(int device, const Tensor& x, bool residual) {
  return graph_for(backwards, key_for(device, x, residual, false, 0.0, 0.0), device, x,
                   [&](fe::graph::Graph& g) { define_backward(g, x, residual); });
}

BuiltGraph& runnable(BuiltGraph& graph, const Tensor& x) {
  MMP_CHECK(graph.refusal.empty(), "batch norm of ", x.str(), ": cuDNN's graph API does not run it (", graph.refusal,
            ")");
  return graph;
}

void execute(fe::graph::Graph& g, int device, std::unordered_map<int64_t, void*>& pack, int64_t workspace_bytes,
             const char* what) {
  const Tensor ws = device_scratch(static_cast<size_t>(workspace_bytes), device);
  auto status = g.execute(cudnn(device), pack, ws.raw_data());
  MMP_CHECK(status.is_good(), "cuDNN graph ", what, ": ", status.get_message());
}

// Scratch for an output the caller does not want.
Tensor or_scratch(const Tensor& t, const Shape& shape, DType dtype, int device, bool channels_last) {
  if (t.defined()) return t;
  return channels_last ? empty_channels_last(shape, dtype, Device::cuda(device))
                       : Tensor::empty(shape, dtype, Device::cuda(device));
}

}  // namespace

bool batch_norm_graph_supported(int device, const Tensor& x, bool residual, bool running, double momentum,
                                double eps, std::string* refusal) {
  std::lock_guard<std::mutex> lock(mutex);
  // A residual that needs no gradient takes the backward without one.
  for (BuiltGraph* g : {&forward_graph(device, x, residual, running, momentum, eps), &backward_graph(device, x, residual),
                        &backward_graph(device, x, false)})
    if (!g->refusal.empty()) {
      if (refusal) *refusal = g->refusal;
      return false;
    }
  return true;
}

void release_batch_norm_graphs() {
  std::lock_guard<std::mutex> lock(mutex);
  forwards.clear();
  backwards.clear();
}

bool batch_norm_graph_backward_supported(int device, const Tensor& x, bool residual) {
  std::lock_guard<std::mutex> lock(mutex);
  return backward_graph(device, x, residual).refusal.empty();
}

void batch_norm_graph_forward(int device, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                              const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                              const Tensor& residual, const Tensor& mask) {
  const bool running = running_mean.defined();
  BuiltGraph* graph;
  {
    std::lock_guard<std::mutex> lock(mutex);
    graph = &forward_graph(device, x, residual.defined(), running, momentum, eps);
  }
  BuiltGraph& g = runnable(*graph, x);
  DeviceGuard guard(device);
  std::unordered_map<int64_t, void*> pack{{kX, x.raw_data()},          {kScale, weight.raw_data()},
                                          {kBias, bias.raw_data()},    {kMean, save_mean.raw_data()},
                                          {kInvVariance, save_invstd.raw_data()}, {kY, y.raw_data()},
                                          {kMask, mask.raw_data()}};
  if (residual.defined()) pack[kResidual] = residual.raw_data();
  if (g.zeros.defined()) pack[kZero] = g.zeros.raw_data();
  Tensor next_mean, next_var;
  if (running) {
    next_mean = Tensor::empty(running_mean.shape(), DType::F32, x.device());
    next_var = Tensor::empty(running_var.shape(), DType::F32, x.device());
    pack[kPrevRunningMean] = running_mean.raw_data();
    pack[kPrevRunningVar] = running_var.raw_data();
    pack[kNextRunningMean] = next_mean.raw_data();
    pack[kNextRunningVar] = next_var.raw_data();
  }
  execute(g.graph, device, pack, g.workspace, "batch norm forward");
  if (running) {
    const size_t bytes = static_cast<size_t>(running_mean.numel()) * sizeof(float);
    MMP_CUDA_CHECK(cudaMemcpyAsync(running_mean.raw_data(), next_mean.raw_data(), bytes, cudaMemcpyDeviceToDevice,
                                   stream(device)));
    MMP_CUDA_CHECK(cudaMemcpyAsync(running_var.raw_data(), next_var.raw_data(), bytes, cudaMemcpyDeviceToDevice,
                                   stream(device)));
  }
}

void batch_norm_graph_backward(int device, const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& mask,
                               const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                               const Tensor& grad_residual) {
  BuiltGraph* graph;
  {
    std::lock_guard<std::mutex> lock(mutex);
    graph = &backward_graph(device, x, grad_residual.defined());
  }
  BuiltGraph& g = runnable(*graph, x);
  DeviceGuard guard(device);
  const Tensor gx = or_scratch(grad_x, x.shape(), x.dtype(), device, true);
  const Tensor gw = or_scratch(grad_weight, weight.shape(), DType::F32, device, false);
  const Tensor gb = or_scratch(grad_bias, weight.shape(), DType::F32, device, false);
  std::unordered_map<int64_t, void*> pack{{kGradY, grad_y.raw_data()},
                                          {kMask, mask.raw_data()},
                                          {kX, x.raw_data()},
                                          {kScale, weight.raw_data()},
                                          {kMean, save_mean.raw_data()},
                                          {kInvVariance, save_invstd.raw_data()},
                                          {kGradX, gx.raw_data()},
                                          {kGradScale, gw.raw_data()},
                                          {kGradBias, gb.raw_data()}};
  if (grad_residual.defined()) pack[kGradResidual] = grad_residual.raw_data();
  execute(g.graph, device, pack, g.workspace, "batch norm backward");
}

}  // namespace mmp::cuda
