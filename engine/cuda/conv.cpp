// CUDA convolution through cuDNN: forward, backward-data and backward-filter, with
// the algorithm and workspace size chosen once per shape, dtype and math mode and
// kept in a cache. f32 runs with full f32 products unless the precision allows TF32;
// bf16 data computes in f32 on tensor cores. In fp32 (the exact mode) cuDNN's
// heuristics choose, so that every run takes the same algorithms; with TF32 or bf16
// each pass's first call times the candidates on its real buffers and keeps the
// fastest (deterministic where one is within reach), as cudnn.benchmark does. cuDNN
// reports with each candidate the math type it needs (its tensor-core kernels as
// CUDNN_TENSOR_OP_MATH), and a pass runs its algorithm with that math type on a
// descriptor of its own, as PyTorch does: a candidate is not filtered out for lacking
// the mode's own label.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cudnn_descriptors.h"
#include "engine/cuda/runtime.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace mmp::cuda {
namespace {

class FilterDescriptor {
 public:
  FilterDescriptor(DType dtype, const ConvGeometry& g) {
    MMP_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
    MMP_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, cudnn_type(dtype),
                                               g.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                               static_cast<int>(g.co),
                                               static_cast<int>(g.c), static_cast<int>(g.kh), static_cast<int>(g.kw)));
  }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor(DType dtype, const ConvGeometry& g) {
    MMP_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
    const int pad = static_cast<int>(g.pad), stride = static_cast<int>(g.stride);
    // bf16 data accumulates in f32 (the compute type), on tensor cores.
    const cudnnDataType_t compute = dtype == DType::BF16 ? CUDNN_DATA_FLOAT : cudnn_type(dtype);
    MMP_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    compute));
    // TF32 rounds f32 inputs to 10 mantissa bits: only when the precision allows it
    // (PyTorch: torch.backends.cudnn.allow_tf32); FMA math keeps full f32 products.
    mode_ = dtype == DType::BF16                ? CUDNN_TENSOR_OP_MATH
            : dtype == DType::F32 && g.allow_tf32 ? CUDNN_DEFAULT_MATH
                                                  : CUDNN_FMA_MATH;
    MMP_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, mode_));
  }
  // The precision's math type, which candidates are found under.
  cudnnMathType_t mode() const { return mode_; }
  // The math type of the algorithm chosen for this descriptor's pass.
  void use_math(cudnnMathType_t math) { MMP_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math)); }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
  cudnnMathType_t mode_ = CUDNN_DEFAULT_MATH;
};

// Everything cuDNN needs for one convolution shape, built once.
struct ConvPlan {
  ConvPlan(DType dtype, const ConvGeometry& g)
      : x(dtype, g.n, g.c, g.h, g.w, g.channels_last),
        y(dtype, g.n, g.co, g.ho, g.wo, g.channels_last),
        w(dtype, g),
        fwd(dtype, g),
        bwd_data(dtype, g),
        bwd_filter(dtype, g) {}
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor fwd, bwd_data, bwd_filter;  // one per pass: each its algorithm's math type
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  size_t fwd_bytes = 0, bwd_data_bytes = 0, bwd_filter_bytes = 0;
  bool timed = false;  // the passes below are chosen by timing
  bool fwd_timed = false, bwd_data_timed = false, bwd_filter_timed = false;
  std::mutex timing;
};

// Scratch memory cuDNN may use while timing candidates: the fastest algorithms of large
// layers want tens to hundreds of MB.
constexpr size_t kTimingWorkspace = size_t{256} << 20;

// Whether a candidate of math type `math` may run in the precision's `mode`: the exact
// mode (FMA math) takes only full-f32 kernels, TF32 and bf16 any but those that convert
// f32 data to fp16 (which no mode allows).
bool allowed(cudnnMathType_t math, cudnnMathType_t mode) {
  return math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && (mode != CUDNN_FMA_MATH || math == CUDNN_FMA_MATH);
}

// The fastest candidate the mode allows, deterministic when one ran within 10% of the
// fastest (gradients that repeat from run to run are worth that much).
template <class Perf>
const Perf* fastest(const Perf* perf, int count, cudnnMathType_t mode) {
  auto usable = [&](const Perf& p) { return p.status == CUDNN_STATUS_SUCCESS && allowed(p.mathType, mode); };
  const Perf* best = nullptr;
  for (int i = 0; i < count; ++i)
    if (usable(perf[i]) && (!best || perf[i].time < best->time)) best = &perf[i];
  if (!best) return nullptr;
  for (int i = 0; i < count; ++i)
    if (usable(perf[i]) && perf[i].determinism == CUDNN_DETERMINISTIC && perf[i].time <= best->time * 1.1f)
      return &perf[i];
  return best;
}

// The first algorithm cuDNN's heuristics rank that works in the mode, preferring
// deterministic ones (so two runs of a training step give the same gradients).
template <class Perf>
const Perf& choose(const Perf* perf, int count, cudnnMathType_t mode, const char* what) {
  const Perf* first_ok = nullptr;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || !allowed(perf[i].mathType, mode)) continue;
    if (perf[i].determinism == CUDNN_DETERMINISTIC) return perf[i];
    if (!first_ok) first_ok = &perf[i];
  }
  MMP_CHECK(first_ok != nullptr, "cuDNN found no ", what, " algorithm for this convolution");
  return *first_ok;
}

ConvPlan& plan_for(int device, DType dtype, const ConvGeometry& g) {
  using Key = std::tuple<int, int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t>;
  static std::map<Key, std::unique_ptr<ConvPlan>> cache;
  static std::mutex mutex;
  const Key key{device, static_cast<int>(dtype), g.allow_tf32, g.channels_last, g.n,      g.c,  g.h,
                g.w,    g.co,                    g.kh,         g.kw,            g.stride, g.pad};
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  if (slot) return *slot;

  auto plan = std::make_unique<ConvPlan>(dtype, g);
  plan->timed = dtype == DType::BF16 || g.allow_tf32;
  cudnnHandle_t h = cudnn(device);
  constexpr int kMax = 16;
  int count = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[kMax];
  MMP_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, plan->x.get(), plan->w.get(), plan->fwd.get(),
                                                         plan->y.get(), kMax, &count, fwd));
  const auto& fwd_choice = choose(fwd, count, plan->fwd.mode(), "forward");
  plan->fwd_algo = fwd_choice.algo;
  plan->fwd.use_math(fwd_choice.mathType);
  MMP_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, plan->x.get(), plan->w.get(), plan->fwd.get(),
                                                          plan->y.get(), plan->fwd_algo, &plan->fwd_bytes));
  cudnnConvolutionBwdDataAlgoPerf_t bwd_data[kMax];
  MMP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, plan->w.get(), plan->y.get(), plan->bwd_data.get(),
                                                              plan->x.get(), kMax, &count, bwd_data));
  const auto& bwd_data_choice = choose(bwd_data, count, plan->bwd_data.mode(), "backward-data");
  plan->bwd_data_algo = bwd_data_choice.algo;
  plan->bwd_data.use_math(bwd_data_choice.mathType);
  MMP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, plan->w.get(), plan->y.get(), plan->bwd_data.get(),
                                                               plan->x.get(), plan->bwd_data_algo,
                                                               &plan->bwd_data_bytes));
  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[kMax];
  MMP_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, plan->x.get(), plan->y.get(), plan->bwd_filter.get(),
                                                                plan->w.get(), kMax, &count, bwd_filter));
  const auto& bwd_filter_choice = choose(bwd_filter, count, plan->bwd_filter.mode(), "backward-filter");
  plan->bwd_filter_algo = bwd_filter_choice.algo;
  plan->bwd_filter.use_math(bwd_filter_choice.mathType);
  MMP_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, plan->x.get(), plan->y.get(),
                                                                 plan->bwd_filter.get(), plan->w.get(),
                                                                 plan->bwd_filter_algo, &plan->bwd_filter_bytes));
  slot = std::move(plan);
  return *slot;
}

// Scratch for timing, or none when the device is short of memory (the heuristics' choice stays).
Tensor timing_workspace(int device) {
  try {
    return device_scratch(kTimingWorkspace, device);
  } catch (const Error&) {
    return Tensor();
  }
}

// On the first call of a pass of a timed plan: times the candidates on the call's own
// buffers (the outputs are overwritten by the call that follows) and keeps the fastest
// the precision allows, with the math type cuDNN reported for it, in the pass's
// descriptor, algorithm and workspace size. `find(descriptor, perf, max, &count,
// workspace)` runs the pass's cudnnFind*AlgorithmEx; `workspace_size(descriptor, algo,
// &bytes)` asks what the chosen algorithm needs. Any failure keeps the heuristics' choice.
template <class Perf, class Algo, class Find, class WorkspaceSize>
void time_pass(ConvPlan& p, bool& pass_timed, ConvolutionDescriptor& pass, Algo& algo, size_t& bytes, int device,
               DType dtype, const ConvGeometry& g, Find find, WorkspaceSize workspace_size) {
  std::lock_guard<std::mutex> lock(p.timing);
  if (!p.timed || pass_timed) return;
  pass_timed = true;
  const Tensor ws = timing_workspace(device);
  if (!ws.defined()) return;
  constexpr int kMax = 16;
  int count = 0;
  Perf perf[kMax];
  ConvolutionDescriptor probe(dtype, g);  // in the precision's mode: every candidate it allows
  if (find(probe.get(), perf, kMax, &count, ws.raw_data()) != CUDNN_STATUS_SUCCESS) return;
  const Perf* best = fastest(perf, count, probe.mode());
  if (!best) return;
  probe.use_math(best->mathType);
  size_t needed = 0;
  if (workspace_size(probe.get(), best->algo, &needed) != CUDNN_STATUS_SUCCESS) return;
  pass.use_math(best->mathType);
  algo = best->algo;
  bytes = std::max(needed, best->memory);
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& out, const ConvGeometry& g,
                                 ConvState&) {
  DeviceGuard guard(device_);
  ConvPlan& p = plan_for(device_, x.dtype(), g);
  const cudnnHandle_t h = cudnn(device_);
  time_pass<cudnnConvolutionFwdAlgoPerf_t>(
      p, p.fwd_timed, p.fwd, p.fwd_algo, p.fwd_bytes, device_, x.dtype(), g,
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgoPerf_t* perf, int max, int* count, void* ws) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, p.x.get(), x.raw_data(), p.w.get(), weight.raw_data(), conv,
                                                      p.y.get(), out.raw_data(), max, count, perf, ws,
                                                      kTimingWorkspace);
      },
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), conv, p.y.get(), algo, bytes);
      });
  const Tensor ws = device_scratch(p.fwd_bytes, device_);
  MMP_CUDNN_CHECK(cudnnConvolutionForward(h, kCudnnOne.for_type(x.dtype()), p.x.get(), x.raw_data(),
                                          p.w.get(), weight.raw_data(), p.fwd.get(), p.fwd_algo, ws.raw_data(),
                                          p.fwd_bytes, kCudnnZero.for_type(x.dtype()), p.y.get(), out.raw_data()));
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                        const ConvGeometry& g, ConvState&) {
  DeviceGuard guard(device_);
  ConvPlan& p = plan_for(device_, grad_out.dtype(), g);
  const cudnnHandle_t h = cudnn(device_);
  time_pass<cudnnConvolutionBwdDataAlgoPerf_t>(
      p, p.bwd_data_timed, p.bwd_data, p.bwd_data_algo, p.bwd_data_bytes, device_, grad_out.dtype(), g,
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgoPerf_t* perf, int max, int* count, void* ws) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w.get(), weight.raw_data(), p.y.get(),
                                                           grad_out.raw_data(), conv, p.x.get(), grad_x.raw_data(),
                                                           max, count, perf, ws, kTimingWorkspace);
      },
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), conv, p.x.get(), algo, bytes);
      });
  const Tensor ws = device_scratch(p.bwd_data_bytes, device_);
  MMP_CUDNN_CHECK(cudnnConvolutionBackwardData(h, kCudnnOne.for_type(grad_out.dtype()), p.w.get(),
                                               weight.raw_data(), p.y.get(), grad_out.raw_data(), p.bwd_data.get(),
                                               p.bwd_data_algo, ws.raw_data(), p.bwd_data_bytes,
                                               kCudnnZero.for_type(grad_out.dtype()), p.x.get(), grad_x.raw_data()));
}

void CudaBackend::conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_weight,
                                         const ConvGeometry& g) {
  DeviceGuard guard(device_);
  ConvPlan& p = plan_for(device_, x.dtype(), g);
  const cudnnHandle_t h = cudnn(device_);
  time_pass<cudnnConvolutionBwdFilterAlgoPerf_t>(
      p, p.bwd_filter_timed, p.bwd_filter, p.bwd_filter_algo, p.bwd_filter_bytes, device_, x.dtype(), g,
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgoPerf_t* perf, int max, int* count,
          void* ws) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x.get(), x.raw_data(), p.y.get(), grad_out.raw_data(),
                                                             conv, p.w.get(), grad_weight.raw_data(), max, count, perf,
                                                             ws, kTimingWorkspace);
      },
      [&](cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), conv, p.w.get(), algo, bytes);
      });
  const Tensor ws = device_scratch(p.bwd_filter_bytes, device_);
  MMP_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, kCudnnOne.for_type(x.dtype()), p.x.get(), x.raw_data(),
                                                 p.y.get(), grad_out.raw_data(), p.bwd_filter.get(), p.bwd_filter_algo,
                                                 ws.raw_data(), p.bwd_filter_bytes, kCudnnZero.for_type(x.dtype()),
                                                 p.w.get(), grad_weight.raw_data()));
}

}  // namespace mmp::cuda
