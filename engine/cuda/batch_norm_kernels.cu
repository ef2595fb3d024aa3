// Batch norm over (N, H, W) per channel of NCHW or NHWC tensors of any floating dtype:
// partial sums per (channel, slice of the channel's elements) in double, one block per
// channel to finish them, then an elementwise pass, which also applies the fused
// epilogue (residual add, ReLU) forward and its mask and residual gradient backward.
// The sums are memory-bound: they get enough slices to fill the device, and no load
// waits on another (a ReLU's mask selects the gradient, it does not guard its load).
#include <algorithm>

#include "engine/cuda/batch_norm_kernels.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/division_cursor.h"

namespace mmp::cuda {
namespace {

// The gradient reaching the batch norm at element i: gy, or 0 where a fused ReLU's
// output `mask` is not positive. Both are loaded unconditionally: a load of gy behind a
// branch on the mask would wait for the mask's load, doubling the sums' latency.
template <class T>
__device__ __forceinline__ float masked_gradient(const T* gy, const T* mask, long long i) {
  const float g = static_cast<float>(static_cast<compute_t<T>>(gy[i]));
  if (!mask) return g;
  const float m = static_cast<float>(static_cast<compute_t<T>>(mask[i]));
  return m > 0.0f ? g : 0.0f;
}

// Element i's part of a channel's two sums: x and x^2 (forward), or gy and gy * (x - mean)
// (backward, when gy is given; masked by a fused ReLU's output).
template <class T>
__device__ __forceinline__ void accumulate(const T* x, const T* gy, const T* mask, long long i, double mu,
                                           double& first, double& second) {
  const double v = static_cast<double>(static_cast<compute_t<T>>(x[i]));
  if (gy) {
    const double g = masked_gradient(gy, mask, i);
    first += g;
    second += g * (v - mu);
  } else {
    first += v;
    second += v * v;
  }
}

// Block (ch, s) sums its slice of channel ch: sum x and sum x^2 (forward), or sum gy
// and sum gy * (x - mean) (backward, when gy is given).
template <class T>
__global__ void partial_sums_kernel(const T* x, const T* gy, const T* mask, const float* mean, double* partial,
                                    long long count, long long c, long long hw, int slices) {
  const long long ch = blockIdx.x, s = blockIdx.y;
  const long long begin = count * s / slices, end = count * (s + 1) / slices;
  const double mu = gy ? static_cast<double>(mean[ch]) : 0.0;
  double first = 0, second = 0;
  // Element m of the channel is sample m / hw, position m % hw: in memory at
  // (m / hw) * c * hw + ch * hw + m % hw.
  DivisionCursor sample(begin + threadIdx.x, blockDim.x, hw, 0);
  for (long long m = begin + threadIdx.x; m < end; m += blockDim.x, sample.advance())
    accumulate(x, gy, mask, (sample.quotient() * c + ch) * hw + sample.remainder(), mu, first, second);
  first = block_sum(first);
  second = block_sum(second);
  if (threadIdx.x == 0) {
    partial[(ch * slices + s) * 2] = first;
    partial[(ch * slices + s) * 2 + 1] = second;
  }
}

// Block ch sums channel ch's slices (in a fixed order: the same result every run).
__device__ void sum_slices(const double* partial, int slices, long long ch, double& first, double& second) {
  first = 0;
  second = 0;
  for (int s = threadIdx.x; s < slices; s += blockDim.x) {
    first += partial[(ch * slices + s) * 2];
    second += partial[(ch * slices + s) * 2 + 1];
  }
  first = block_sum(first);
  second = block_sum(second);
}

__global__ void finish_statistics_kernel(const double* partial, int slices, long long count, float* save_mean,
                                         float* save_invstd, float* running_mean, float* running_var,
                                         double momentum, double eps) {
  const long long ch = blockIdx.x;
  double sum, squares;
  sum_slices(partial, slices, ch, sum, squares);
  if (threadIdx.x == 0) {
    const double mean = sum / count;
    const double var = fmax(squares / count - mean * mean, 0.0);  // biased, to normalise
    save_mean[ch] = static_cast<float>(mean);
    save_invstd[ch] = static_cast<float>(1.0 / sqrt(var + eps));
    if (running_mean) {
      running_mean[ch] = static_cast<float>((1 - momentum) * running_mean[ch] + momentum * mean);
      running_var[ch] = static_cast<float>((1 - momentum) * running_var[ch] + momentum * var * count / (count - 1));
    }
  }
}

// The channels of a thread's elements in MMP_GRID_STRIDE_LOOP, advanced once per
// element: NCHW with hw > 0 (the channel is (i / hw) % c), NHWC with hw == 0 (channels
// innermost: i % c).
__device__ __forceinline__ DivisionCursor channel_cursor(long long c, long long hw) {
  return DivisionCursor(blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x,
                        static_cast<long long>(blockDim.x) * gridDim.x, hw > 0 ? hw : 1, c);
}

// y = bn(x), then + residual and ReLU when fused (rounded to T once, at the end).
template <class T>
__global__ void normalize_kernel(const T* x, const T* residual, bool relu, T* y, const float* mean,
                                 const float* invstd, const float* weight, const float* bias, long long total,
                                 long long c, long long hw) {
  DivisionCursor channel = channel_cursor(c, hw);
  MMP_GRID_STRIDE_LOOP(i, total) {
    const long long ch = channel.quotient();
    channel.advance();
    const float v = static_cast<float>(static_cast<compute_t<T>>(x[i]));
    float out = (v - mean[ch]) * invstd[ch] * weight[ch] + bias[ch];
    if (residual) out += static_cast<float>(static_cast<compute_t<T>>(residual[i]));
    if (relu) out = out > 0.0f ? out : 0.0f;
    y[i] = static_cast<T>(out);
  }
}

// NHWC: rows of C channels. Block (channel group, slice): 32 channels side by side (a
// warp reads 32 neighbouring values) times 8 lanes of rows; the lanes are summed in
// shared memory. Same partial layout as partial_sums_kernel.
constexpr int kChannelsPerBlock = 32, kRowLanes = kThreads / kChannelsPerBlock;

template <class T>
__global__ void partial_sums_nhwc_kernel(const T* x, const T* gy, const T* mask, const float* mean, double* partial,
                                         long long rows, long long c, int slices) {
  const long long ch = blockIdx.x * kChannelsPerBlock + threadIdx.x % kChannelsPerBlock, s = blockIdx.y;
  const int lane = threadIdx.x / kChannelsPerBlock;
  const long long begin = rows * s / slices, end = rows * (s + 1) / slices;
  double first = 0, second = 0;
  if (ch < c) {
    const double mu = gy ? static_cast<double>(mean[ch]) : 0.0;
    for (long long r = begin + lane; r < end; r += kRowLanes) accumulate(x, gy, mask, r * c + ch, mu, first, second);
  }
  __shared__ double lanes[2][kRowLanes][kChannelsPerBlock];
  lanes[0][lane][threadIdx.x % kChannelsPerBlock] = first;
  lanes[1][lane][threadIdx.x % kChannelsPerBlock] = second;
  __syncthreads();
  if (lane == 0 && ch < c) {
    for (int l = 1; l < kRowLanes; ++l) {
      first += lanes[0][l][threadIdx.x];
      second += lanes[1][l][threadIdx.x];
    }
    partial[(ch * slices + s) * 2] = first;
    partial[(ch * slices + s) * 2 + 1] = second;
  }
}

// Per channel (block ch): the parameters' gradients, and the two coefficients of the input's.
__global__ void finish_backward_kernel(const double* partial, int slices, long long count, const float* invstd,
                                       float* grad_weight, float* grad_bias, float* mean_gy, float* scaled_gw) {
  const long long ch = blockIdx.x;
  double sum_gy, sum_gy_xmu;
  sum_slices(partial, slices, ch, sum_gy, sum_gy_xmu);
  if (threadIdx.x == 0) {
    const double gw = sum_gy_xmu * invstd[ch];  // sum(gy * xhat)
    if (grad_weight) grad_weight[ch] = static_cast<float>(gw);
    if (grad_bias) grad_bias[ch] = static_cast<float>(sum_gy);
    mean_gy[ch] = static_cast<float>(sum_gy / count);
    scaled_gw[ch] = static_cast<float>(gw * invstd[ch] / count);
  }
}

// gx = w * invstd * (gy - mean(gy) - (x - mean) * invstd * sum(gy * xhat) / count), gy
// masked by a fused ReLU's output; the residual's gradient is the masked gy. gx or
// grad_residual may be null.
template <class T>
__global__ void input_gradient_kernel(const T* x, const T* gy, const T* mask, T* gx, T* grad_residual,
                                      const float* mean, const float* invstd, const float* weight,
                                      const float* mean_gy, const float* scaled_gw, long long total, long long c,
                                      long long hw) {
  DivisionCursor channel = channel_cursor(c, hw);
  MMP_GRID_STRIDE_LOOP(i, total) {
    const long long ch = channel.quotient();
    channel.advance();
    const float g = masked_gradient(gy, mask, i);
    if (grad_residual) grad_residual[i] = static_cast<T>(g);
    if (gx) {
      const float v = static_cast<float>(static_cast<compute_t<T>>(x[i]));
      gx[i] = static_cast<T>(weight[ch] * invstd[ch] * (g - mean_gy[ch] - (v - mean[ch]) * scaled_gw[ch]));
    }
  }
}

// Layout of x for the kernels: NHWC tensors pass hw = 0 to the elementwise passes.
bool nhwc(const Tensor& x) { return x.is_channels_last() && !x.is_contiguous(); }

// Whether x's channels are innermost in memory, so that the sums read it as rows of C:
// NHWC, and [N, C, 1, 1] maps in either layout (the NCHW kernel would read them with a
// stride of C between neighbouring threads).
bool channel_rows(const Tensor& x) { return nhwc(x) || x.shape()[2] * x.shape()[3] == 1; }

// The partial sums over x: one block per channel (rows of C: per group of 32 channels)
// and slice, `slices` per channel.
struct PartialSums {
  template <class T>
  static const void* kernel(const Tensor& x) {
    return channel_rows(x) ? reinterpret_cast<const void*>(&partial_sums_nhwc_kernel<T>)
                           : reinterpret_cast<const void*>(&partial_sums_kernel<T>);
  }

  // Slices per channel: as many blocks as the device holds at once, twice over (two whole
  // waves, so that no third starts nearly empty), each slice keeping every thread of its
  // block busy with several elements. Few blocks leave the sums waiting on memory latency:
  // 64 channels in 24 slices (48 blocks on 132 multiprocessors) made the backward sums of
  // a ResNet's first stage take over a millisecond on an H200.
  template <class T>
  static int slices(const Tensor& x, int device) {
    const long long c = x.shape()[1], count = x.numel() / std::max<long long>(c, 1);
    const bool rows = channel_rows(x);
    const long long channel_blocks = rows ? (c + kChannelsPerBlock - 1) / kChannelsPerBlock : c;
    const long long per_thread = 8;  // elements (NCHW) or rows a thread sums at least
    const long long min_per_slice = per_thread * (rows ? kRowLanes : kThreads);
    const long long wave = static_cast<long long>(resident_blocks(kernel<T>(x), kThreads, device)) *
                           multiprocessor_count(device);
    const long long by_work = count / min_per_slice, by_device = 2 * wave / channel_blocks;
    return static_cast<int>(std::clamp<long long>(std::min(by_work, by_device), 1, 4096));
  }

  template <class T>
  static void launch(int device, const Tensor& x, const T* px, const T* pg, const T* mask, const float* mean,
                     double* partial, long long n, long long c, long long hw, int slices) {
    if (channel_rows(x)) {
      const dim3 grid(static_cast<unsigned>((c + kChannelsPerBlock - 1) / kChannelsPerBlock), slices);
      partial_sums_nhwc_kernel<<<grid, kThreads, 0, stream(device)>>>(px, pg, mask, mean, partial, n * hw, c, slices);
    } else {
      partial_sums_kernel<<<dim3(static_cast<unsigned>(c), slices), kThreads, 0, stream(device)>>>(
          px, pg, mask, mean, partial, n * hw, c, hw, slices);
    }
    MMP_CUDA_CHECK_LAUNCH();
  }
};

float* f32_out_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void check_parameters(const Tensor& x, std::initializer_list<const Tensor*> params) {
  for (const Tensor* p : params)
    MMP_CHECK(!p->defined() || (p->dtype() == DType::F32 && p->is_contiguous()), "batch norm on ", x.str(),
              ": parameters and statistics must be dense f32, got ", p->str());
}

// The epilogue's tensors must be laid out as x (same shape, dtype and memory order).
void check_epilogue(const Tensor& x, const BatchNormEpilogue& e) {
  for (const Tensor* t : {&e.residual, &e.output, &e.grad_residual})
    MMP_CHECK(!t->defined() || (t->shape() == x.shape() && t->dtype() == x.dtype() &&
                                same_memory_order(x.shape(), t->strides(), x.strides()) && t->device() == x.device()),
              "batch norm of ", x.str(), ": its epilogue's tensor ", t->str(), " is not laid out as the input");
}

template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

}  // namespace

void batch_norm_train_kernels(int device, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                              const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                              const BatchNormEpilogue& epilogue) {
  check_parameters(x, {&weight, &bias, &running_mean, &running_var, &save_mean, &save_invstd});
  check_epilogue(x, epilogue);
  DeviceGuard guard(device);
  const long long n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3], count = n * hw;
  const long long element_hw = nhwc(x) ? 0 : hw;
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "batch_norm", [&] {
    const int slices = PartialSums::slices<scalar_t>(x, device);
    const Tensor partial = Tensor::empty({c * slices * 2}, DType::F64, x.device());
    const scalar_t* px = static_cast<const scalar_t*>(x.raw_data());
    PartialSums::launch(device, x, px, static_cast<const scalar_t*>(nullptr), static_cast<const scalar_t*>(nullptr),
                        nullptr, partial.data<double>(), n, c, hw, slices);
    finish_statistics_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream(device)>>>(
        partial.data<double>(), slices, count, save_mean.data<float>(), save_invstd.data<float>(),
        f32_out_or_null(running_mean), f32_out_or_null(running_var), momentum, eps);
    MMP_CUDA_CHECK_LAUNCH();
    normalize_kernel<<<grid_for(x.numel(), kThreads, device), kThreads, 0, stream(device)>>>(
        px, data_or_null<const scalar_t>(epilogue.residual), epilogue.relu, static_cast<scalar_t*>(y.raw_data()),
        save_mean.data<float>(), save_invstd.data<float>(),
        weight.data<float>(), bias.data<float>(), x.numel(), c, element_hw);
    MMP_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward_kernels(int device, const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                 const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                 const Tensor& grad_weight, const Tensor& grad_bias, const BatchNormEpilogue& epilogue) {
  check_parameters(x, {&weight, &save_mean, &save_invstd, &grad_weight, &grad_bias});
  check_epilogue(x, epilogue);
  MMP_CHECK(!epilogue.relu || epilogue.output.defined(), "batch norm backward of ", x.str(),
            ": a fused ReLU needs the forward's output");
  DeviceGuard guard(device);
  const long long n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3], count = n * hw;
  const Tensor coefficients = Tensor::empty({2, c}, DType::F32, x.device());
  float* mean_gy = coefficients.data<float>();
  float* scaled_gw = mean_gy + c;
  MMP_CHECK(nhwc(grad_y) == nhwc(x), "batch norm backward: the gradient ", grad_y.str(), " is laid out unlike its input");
  const long long element_hw = nhwc(x) ? 0 : hw;
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "batch_norm backward", [&] {
    const int slices = PartialSums::slices<scalar_t>(x, device);
    const Tensor partial = Tensor::empty({c * slices * 2}, DType::F64, x.device());
    const scalar_t* px = static_cast<const scalar_t*>(x.raw_data());
    const scalar_t* pg = static_cast<const scalar_t*>(grad_y.raw_data());
    const scalar_t* mask = epilogue.relu ? data_or_null<const scalar_t>(epilogue.output) : nullptr;
    PartialSums::launch(device, x, px, pg, mask, save_mean.data<float>(), partial.data<double>(), n, c, hw, slices);
    finish_backward_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream(device)>>>(
        partial.data<double>(), slices, count, save_invstd.data<float>(), f32_out_or_null(grad_weight),
        f32_out_or_null(grad_bias), mean_gy, scaled_gw);
    MMP_CUDA_CHECK_LAUNCH();
    if (grad_x.defined() || epilogue.grad_residual.defined()) {
      input_gradient_kernel<<<grid_for(x.numel(), kThreads, device), kThreads, 0, stream(device)>>>(
          px, pg, mask, data_or_null<scalar_t>(grad_x), data_or_null<scalar_t>(epilogue.grad_residual),
          save_mean.data<float>(), save_invstd.data<float>(), weight.data<float>(), mean_gy, scaled_gw, x.numel(), c,
          element_hw);
      MMP_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace mmp::cuda
