// Batch norm over (N, H, W) per channel of NCHW or NHWC tensors of f32 or bf16 (f64 goes
// to cuDNN): partial sums per (channel, slice of the channel's elements) in double, one
// block per channel to finish them, then an elementwise pass, which also applies the
// fused epilogue (residual add, ReLU) forward and its mask and residual gradient backward.
// The sums are memory-bound: they get enough slices to fill the device, and no load
// waits on another (a ReLU's mask selects the gradient, it does not guard its load).
// Rows of C channels (NHWC) whose C is a whole number of 16-byte vectors are read and
// written a vector at a time, each thread keeping its channels' parameters in registers:
// two-byte bf16 accesses left too few bytes in flight to reach the memory's bandwidth.
// There, in bf16, the forward also packs the ReLU's verdicts into bits (a byte per
// vector), which the backward reads instead of the output: 1/16 of its bytes.
#include <algorithm>
#include <cstdint>

#include "engine/cuda/batch_norm_kernels.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/division_cursor.h"

namespace mmp::cuda {
namespace {

// Where a fused ReLU let the gradient through: where its output y is positive, or where
// its packed mask (one bit per element in memory order, the lowest index in the lowest
// bit of a byte) has a 1; everywhere without a ReLU. The kind is a template argument, so
// that the kernels without a mask (the forward's sums) carry none of its code.
enum class MaskKind { none, output, bits };

template <class T, MaskKind K = MaskKind::none>
struct ReluMask {
  static constexpr MaskKind kind = K;
  const T* output = nullptr;
  const uint8_t* bits = nullptr;

  __device__ __forceinline__ bool passes(long long i) const {
    if constexpr (K == MaskKind::bits) return (bits[i >> 3] >> (i & 7)) & 1;
    else if constexpr (K == MaskKind::output) return static_cast<compute_t<T>>(output[i]) > 0;
    else return true;
  }
};

// The gradient reaching the batch norm at element i: gy, or 0 where the ReLU stopped it.
// Both are loaded unconditionally: a load of gy behind a branch on the mask would wait
// for the mask's load, doubling the sums' latency.
template <class T, MaskKind K>
__device__ __forceinline__ float masked_gradient(const T* gy, ReluMask<T, K> mask, long long i) {
  const float g = static_cast<float>(static_cast<compute_t<T>>(gy[i]));
  return mask.passes(i) ? g : 0.0f;
}

// Element i's part of a channel's two sums: x and x^2 (forward), or gy and gy * (x - mean)
// (backward, when gy is given; masked by a fused ReLU's output).
template <class T, MaskKind K>
__device__ __forceinline__ void accumulate(const T* x, const T* gy, ReluMask<T, K> mask, long long i, double mu,
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
template <class T, MaskKind K>
__global__ void partial_sums_kernel(const T* x, const T* gy, ReluMask<T, K> mask, const float* mean, double* partial,
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

template <class T, MaskKind K>
__global__ void partial_sums_nhwc_kernel(const T* x, const T* gy, ReluMask<T, K> mask, const float* mean, double* partial,
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

// 16 bytes of a row: V channels of type T, loaded and stored as one access.
template <class T>
inline constexpr int kVector = 16 / static_cast<int>(sizeof(T));

template <class T>
struct alignas(16) Vector {
  T v[kVector<T>];
};

template <class T>
__device__ __forceinline__ Vector<T> load_vector(const T* p, long long i) {
  return *reinterpret_cast<const Vector<T>*>(p + i);
}

template <class T>
__device__ __forceinline__ compute_t<T> value(T v) {
  return static_cast<compute_t<T>>(v);
}

// A vector read around the non-coherent cache, as __restrict__ data is (a struct's
// pointer member does not carry the qualifier).
template <class T>
__device__ __forceinline__ Vector<T> load_vector_nc(const T* p, long long i) {
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p + i));
  Vector<T> v;
  memcpy(&v, &u, sizeof v);
  return v;
}

// The ReLU's verdict for the V elements of the vector at i (i a multiple of V, which
// divides 8): bit k for element i + k.
template <class T, MaskKind K>
__device__ __forceinline__ unsigned vector_mask(ReluMask<T, K> mask, long long i) {
  if constexpr (K == MaskKind::bits) {
    return mask.bits[i >> 3] >> (i & 7);
  } else if constexpr (K == MaskKind::output) {
    const Vector<T> y = load_vector_nc(mask.output, i);
    unsigned passes = 0;
    for (int k = 0; k < kVector<T>; ++k) passes |= (value(y.v[k]) > 0 ? 1u : 0u) << k;
    return passes;
  } else {
    return ~0u;
  }
}

// A thread's place over rows of c channels read a vector at a time: channel vector
// threadIdx.x % vectors (the same in every row it visits) and row lane threadIdx.x /
// vectors of `lanes`; the threads past lanes * vectors idle.
struct RowLane {
  int first_channel, lane, lanes;
  bool active;
};

template <class T>
__device__ __forceinline__ RowLane row_lane(int c) {
  const int vectors = c / kVector<T>, lanes = kThreads / vectors;
  const int lane = static_cast<int>(threadIdx.x) / vectors;
  return {static_cast<int>(threadIdx.x) % vectors * kVector<T>, lane, lanes, lane < lanes};
}

// partial_sums_nhwc_kernel reading vectors: block s sums rows [begin, end) of every
// channel; its lanes' sums meet in shared memory, added in lane order.
template <class T, MaskKind K>
__global__ void __launch_bounds__(kThreads)
    partial_sums_vector_kernel(const T* __restrict__ x, const T* __restrict__ gy, ReluMask<T, K> mask,
                               const float* __restrict__ mean, double* partial, long long rows, int c, int slices) {
  constexpr int V = kVector<T>;
  const RowLane t = row_lane<T>(c);
  const long long s = blockIdx.x, begin = rows * s / slices, end = rows * (s + 1) / slices;
  double first[V] = {}, second[V] = {};
  if (t.active) {
    float mu[V];  // x - mean in float, as the elementwise passes take it; summed in double
    for (int k = 0; k < V; ++k) mu[k] = gy ? mean[t.first_channel + k] : 0.0f;
    for (long long r = begin + t.lane; r < end; r += t.lanes) {
      const long long i = r * c + t.first_channel;
      const Vector<T> xv = load_vector(x, i);
      if (gy) {
        const Vector<T> gv = load_vector(gy, i);
        const unsigned passes = vector_mask(mask, i);
        for (int k = 0; k < V; ++k) {
          const double g = (passes >> k) & 1 ? static_cast<double>(value(gv.v[k])) : 0.0;
          first[k] += g;
          second[k] += g * static_cast<double>(value(xv.v[k]) - mu[k]);
        }
      } else {
        for (int k = 0; k < V; ++k) {
          const double v = value(xv.v[k]);
          first[k] += v;
          second[k] += v * v;
        }
      }
    }
  }
  // [which sum][lane * c + channel]: lanes * c <= kThreads * V.
  __shared__ double sums[2][kThreads * V];
  if (t.active)
    for (int k = 0; k < V; ++k) {
      sums[0][t.lane * c + t.first_channel + k] = first[k];
      sums[1][t.lane * c + t.first_channel + k] = second[k];
    }
  __syncthreads();
  for (int ch = threadIdx.x; ch < c; ch += kThreads) {
    double a = 0, b = 0;
    for (int l = 0; l < t.lanes; ++l) {
      a += sums[0][l * c + ch];
      b += sums[1][l * c + ch];
    }
    partial[(ch * static_cast<long long>(slices) + s) * 2] = a;
    partial[(ch * static_cast<long long>(slices) + s) * 2 + 1] = b;
  }
}

// normalize_kernel over rows of vectors; with kPack (bf16: a vector is 8 channels), also
// the ReLU's packed mask, a byte per vector.
template <class T, bool kPack>
__global__ void __launch_bounds__(kThreads)
    normalize_vector_kernel(const T* __restrict__ x, const T* __restrict__ residual, bool relu, T* __restrict__ y,
                            uint8_t* __restrict__ mask_bits, const float* __restrict__ mean,
                            const float* __restrict__ invstd, const float* __restrict__ weight,
                            const float* __restrict__ bias, long long rows, int c) {
  constexpr int V = kVector<T>;
  const RowLane t = row_lane<T>(c);
  if (!t.active) return;
  float mu[V], is[V], w[V], b[V];
  for (int k = 0; k < V; ++k) {
    mu[k] = mean[t.first_channel + k];
    is[k] = invstd[t.first_channel + k];
    w[k] = weight[t.first_channel + k];
    b[k] = bias[t.first_channel + k];
  }
  for (long long r = blockIdx.x * static_cast<long long>(t.lanes) + t.lane; r < rows;
       r += static_cast<long long>(gridDim.x) * t.lanes) {
    const long long i = r * c + t.first_channel;
    const Vector<T> xv = load_vector(x, i);
    const Vector<T> rv = residual ? load_vector(residual, i) : xv;
    Vector<T> out;
    for (int k = 0; k < V; ++k) {
      float o = (value(xv.v[k]) - mu[k]) * is[k] * w[k] + b[k];
      if (residual) o += value(rv.v[k]);
      if (relu) o = o > 0.0f ? o : 0.0f;
      out.v[k] = static_cast<T>(o);
    }
    *reinterpret_cast<Vector<T>*>(y + i) = out;
    if constexpr (kPack && V == 8) {
      unsigned passes = 0;
      for (int k = 0; k < V; ++k) passes |= (value(out.v[k]) > 0 ? 1u : 0u) << k;
      mask_bits[i >> 3] = static_cast<uint8_t>(passes);
    }
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
template <class T, MaskKind K>
__global__ void input_gradient_kernel(const T* x, const T* gy, ReluMask<T, K> mask, T* gx, T* grad_residual,
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

// input_gradient_kernel over rows of vectors.
template <class T, MaskKind K>
__global__ void __launch_bounds__(kThreads)
    input_gradient_vector_kernel(const T* __restrict__ x, const T* __restrict__ gy, ReluMask<T, K> mask,
                                 T* __restrict__ gx, T* __restrict__ grad_residual, const float* __restrict__ mean,
                                 const float* __restrict__ invstd, const float* __restrict__ weight,
                                 const float* __restrict__ mean_gy, const float* __restrict__ scaled_gw,
                                 long long rows, int c) {
  constexpr int V = kVector<T>;
  const RowLane t = row_lane<T>(c);
  if (!t.active) return;
  float mu[V], scale[V], mg[V], sg[V];
  for (int k = 0; k < V; ++k) {
    const int ch = t.first_channel + k;
    mu[k] = mean[ch];
    scale[k] = weight[ch] * invstd[ch];
    mg[k] = mean_gy[ch];
    sg[k] = scaled_gw[ch];
  }
  for (long long r = blockIdx.x * static_cast<long long>(t.lanes) + t.lane; r < rows;
       r += static_cast<long long>(gridDim.x) * t.lanes) {
    const long long i = r * c + t.first_channel;
    const Vector<T> gv = load_vector(gy, i);
    const unsigned passes = vector_mask(mask, i);
    const Vector<T> xv = gx ? load_vector(x, i) : gv;
    Vector<T> g_out, gx_out;
    for (int k = 0; k < V; ++k) {
      const float g = (passes >> k) & 1 ? static_cast<float>(value(gv.v[k])) : 0.0f;
      g_out.v[k] = static_cast<T>(g);
      gx_out.v[k] = static_cast<T>(scale[k] * (g - mg[k] - (value(xv.v[k]) - mu[k]) * sg[k]));
    }
    if (grad_residual) *reinterpret_cast<Vector<T>*>(grad_residual + i) = g_out;
    if (gx) *reinterpret_cast<Vector<T>*>(gx + i) = gx_out;
  }
}

// Layout of x for the kernels: NHWC tensors pass hw = 0 to the elementwise passes.
bool nhwc(const Tensor& x) { return x.is_channels_last() && !x.is_contiguous(); }

// Whether x's channels are innermost in memory, so that the sums read it as rows of C:
// NHWC, and [N, C, 1, 1] maps in either layout (the NCHW kernel would read them with a
// stride of C between neighbouring threads).
bool channel_rows(const Tensor& x) { return nhwc(x) || x.shape()[2] * x.shape()[3] == 1; }

// How the kernels walk x: per NCHW channel, along rows of C channels, or along rows of
// C channels a 16-byte vector at a time, which takes whole vectors of channels, at most
// one per thread of a block, and every tensor the pass touches 16-byte aligned.
enum class Walk { channels, rows, row_vectors };

template <class T>
Walk walk_for(const Tensor& x, std::initializer_list<const Tensor*> touched) {
  if (!channel_rows(x)) return Walk::channels;
  const long long c = x.shape()[1];
  bool vectors = c > 0 && c % kVector<T> == 0 && c / kVector<T> <= kThreads;
  for (const Tensor* t : touched) vectors = vectors && vector_aligned(*t);
  return vectors ? Walk::row_vectors : Walk::rows;
}

// Rows of the row walks each block's lanes cover at once.
template <class T>
long long lanes_per_block(Walk walk, long long c) {
  return walk == Walk::row_vectors ? kThreads / (c / kVector<T>) : kRowLanes;
}

// The partial sums over x: one block per channel (rows of C: per group of 32 channels;
// vectors: all channels) and slice, `slices` per channel.
struct PartialSums {
  template <class T, MaskKind K>
  static const void* kernel(Walk walk) {
    switch (walk) {
      case Walk::channels: return reinterpret_cast<const void*>(&partial_sums_kernel<T, K>);
      case Walk::rows: return reinterpret_cast<const void*>(&partial_sums_nhwc_kernel<T, K>);
      case Walk::row_vectors: break;
    }
    return reinterpret_cast<const void*>(&partial_sums_vector_kernel<T, K>);
  }

  // Slices per channel: as many blocks as the device holds at once, twice over (two whole
  // waves, so that no third starts nearly empty), each slice keeping every thread of its
  // block busy with several elements. Few blocks leave the sums waiting on memory latency:
  // 64 channels in 24 slices (48 blocks on 132 multiprocessors) made the backward sums of
  // a ResNet's first stage take over a millisecond on an H200.
  template <class T, MaskKind K>
  static int slices(const Tensor& x, Walk walk, int device) {
    const long long c = x.shape()[1], count = x.numel() / std::max<long long>(c, 1);
    const long long channel_blocks = walk == Walk::channels     ? c
                                     : walk == Walk::rows       ? (c + kChannelsPerBlock - 1) / kChannelsPerBlock
                                                                : 1;
    const long long per_thread = 8;  // elements (NCHW) or rows a thread sums at least
    const long long min_per_slice = per_thread * (walk == Walk::channels ? kThreads : lanes_per_block<T>(walk, c));
    const long long wave = static_cast<long long>(resident_blocks(kernel<T, K>(walk), kThreads, device)) *
                           multiprocessor_count(device);
    const long long by_work = count / min_per_slice, by_device = 2 * wave / channel_blocks;
    return static_cast<int>(std::clamp<long long>(std::min(by_work, by_device), 1, 4096));
  }

  template <class T, MaskKind K>
  static void launch(int device, Walk walk, const T* px, const T* pg, ReluMask<T, K> mask, const float* mean,
                     double* partial, long long n, long long c, long long hw, int slices) {
    switch (walk) {
      case Walk::channels:
        partial_sums_kernel<<<dim3(static_cast<unsigned>(c), slices), kThreads, 0, stream(device)>>>(
            px, pg, mask, mean, partial, n * hw, c, hw, slices);
        break;
      case Walk::rows: {
        const dim3 grid(static_cast<unsigned>((c + kChannelsPerBlock - 1) / kChannelsPerBlock), slices);
        partial_sums_nhwc_kernel<<<grid, kThreads, 0, stream(device)>>>(px, pg, mask, mean, partial, n * hw, c, slices);
        break;
      }
      case Walk::row_vectors:
        partial_sums_vector_kernel<<<slices, kThreads, 0, stream(device)>>>(px, pg, mask, mean, partial, n * hw,
                                                                            static_cast<int>(c), slices);
        break;
    }
    MMP_CUDA_CHECK_LAUNCH();
  }
};

// Blocks for an elementwise pass of the vector walk: enough for every row, at most 32 per
// multiprocessor (as grid_for).
template <class T>
unsigned vector_grid(long long rows, long long c, int device) {
  return static_cast<unsigned>(grid_for(rows, static_cast<int>(lanes_per_block<T>(Walk::row_vectors, c)), device));
}

// Calls body(T{}) with T the C++ type of x's dtype: the activations these kernels take.
template <class Body>
void with_activation_type(const Tensor& x, const char* op, Body&& body) {
  switch (x.dtype()) {
    case DType::F32: return body(float{});
    case DType::BF16: return body(bf16{});
    default: MMP_THROW(op, " of ", x.str(), ": the own kernels take f32 or bf16 activations");
  }
}

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
                              BatchNormEpilogue& epilogue) {
  check_parameters(x, {&weight, &bias, &running_mean, &running_var, &save_mean, &save_invstd});
  check_epilogue(x, epilogue);
  DeviceGuard guard(device);
  const long long n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3], count = n * hw;
  const long long element_hw = nhwc(x) ? 0 : hw;
  with_activation_type(x, "batch_norm", [&](auto type) {
    using scalar_t = decltype(type);
    const Walk walk = walk_for<scalar_t>(x, {&x, &y, &epilogue.residual});
    const int slices = PartialSums::slices<scalar_t, MaskKind::none>(x, walk, device);
    const Tensor partial = Tensor::empty({c * slices * 2}, DType::F64, x.device());
    const scalar_t* px = static_cast<const scalar_t*>(x.raw_data());
    PartialSums::launch(device, walk, px, static_cast<const scalar_t*>(nullptr), ReluMask<scalar_t>{}, nullptr,
                        partial.data<double>(), n, c, hw, slices);
    finish_statistics_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream(device)>>>(
        partial.data<double>(), slices, count, save_mean.data<float>(), save_invstd.data<float>(),
        f32_out_or_null(running_mean), f32_out_or_null(running_var), momentum, eps);
    MMP_CUDA_CHECK_LAUNCH();
    const scalar_t* residual = data_or_null<const scalar_t>(epilogue.residual);
    scalar_t* py = static_cast<scalar_t*>(y.raw_data());
    // A vector of 8 channels is one byte of the packed mask: the ReLU's verdicts for the
    // backward, which then reads a sixteenth of the bytes of y.
    const bool pack = epilogue.relu && walk == Walk::row_vectors && kVector<scalar_t> == 8;
    if (pack) epilogue.relu_mask = relu_mask_bits(x);
    if (walk == Walk::row_vectors) {
      const auto normalize = pack ? normalize_vector_kernel<scalar_t, true> : normalize_vector_kernel<scalar_t, false>;
      normalize<<<vector_grid<scalar_t>(count, c, device), kThreads, 0, stream(device)>>>(
          px, residual, epilogue.relu, py, data_or_null<uint8_t>(epilogue.relu_mask), save_mean.data<float>(),
          save_invstd.data<float>(), weight.data<float>(), bias.data<float>(), count, static_cast<int>(c));
    } else
      normalize_kernel<<<grid_for(x.numel(), kThreads, device), kThreads, 0, stream(device)>>>(
          px, residual, epilogue.relu, py, save_mean.data<float>(), save_invstd.data<float>(), weight.data<float>(),
          bias.data<float>(), x.numel(), c, element_hw);
    MMP_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward_kernels(int device, const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                 const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                 const Tensor& grad_weight, const Tensor& grad_bias, const BatchNormEpilogue& epilogue) {
  check_parameters(x, {&weight, &save_mean, &save_invstd, &grad_weight, &grad_bias});
  check_epilogue(x, epilogue);
  MMP_CHECK(!epilogue.relu || epilogue.output.defined() || epilogue.relu_mask.defined(), "batch norm backward of ",
            x.str(), ": a fused ReLU needs the forward's output or mask");
  MMP_CHECK(!epilogue.relu_mask.defined() ||
                (epilogue.relu_mask.dtype() == DType::U8 && epilogue.relu_mask.numel() * 8 >= x.numel() &&
                 epilogue.relu_mask.is_contiguous() && epilogue.relu_mask.device() == x.device()),
            "batch norm backward of ", x.str(), ": the ReLU's mask ", epilogue.relu_mask.str(),
            " holds no bit per element");
  DeviceGuard guard(device);
  const long long n = x.shape()[0], c = x.shape()[1], hw = x.shape()[2] * x.shape()[3], count = n * hw;
  const Tensor coefficients = Tensor::empty({2, c}, DType::F32, x.device());
  float* mean_gy = coefficients.data<float>();
  float* scaled_gw = mean_gy + c;
  MMP_CHECK(nhwc(grad_y) == nhwc(x), "batch norm backward: the gradient ", grad_y.str(), " is laid out unlike its input");
  const long long element_hw = nhwc(x) ? 0 : hw;
  with_activation_type(x, "batch_norm backward", [&](auto type) {
    using scalar_t = decltype(type);
    const bool bits = epilogue.relu && epilogue.relu_mask.defined();
    const Walk walk = walk_for<scalar_t>(
        x, {&x, &grad_y, epilogue.relu && !bits ? &epilogue.output : &x, &grad_x, &epilogue.grad_residual});
    const scalar_t* px = static_cast<const scalar_t*>(x.raw_data());
    const scalar_t* pg = static_cast<const scalar_t*>(grad_y.raw_data());
    // The two passes with the mask's kind fixed at compile time.
    auto passes = [&](auto mask) {
      constexpr MaskKind kind = decltype(mask)::kind;
      const int slices = PartialSums::slices<scalar_t, kind>(x, walk, device);
      const Tensor partial = Tensor::empty({c * slices * 2}, DType::F64, x.device());
      PartialSums::launch(device, walk, px, pg, mask, save_mean.data<float>(), partial.data<double>(), n, c, hw,
                          slices);
      finish_backward_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream(device)>>>(
          partial.data<double>(), slices, count, save_invstd.data<float>(), f32_out_or_null(grad_weight),
          f32_out_or_null(grad_bias), mean_gy, scaled_gw);
      MMP_CUDA_CHECK_LAUNCH();
      if (!grad_x.defined() && !epilogue.grad_residual.defined()) return;
      scalar_t* pgx = data_or_null<scalar_t>(grad_x);
      scalar_t* pgr = data_or_null<scalar_t>(epilogue.grad_residual);
      if (walk == Walk::row_vectors)
        input_gradient_vector_kernel<<<vector_grid<scalar_t>(count, c, device), kThreads, 0, stream(device)>>>(
            px, pg, mask, pgx, pgr, save_mean.data<float>(), save_invstd.data<float>(), weight.data<float>(), mean_gy,
            scaled_gw, count, static_cast<int>(c));
      else
        input_gradient_kernel<<<grid_for(x.numel(), kThreads, device), kThreads, 0, stream(device)>>>(
            px, pg, mask, pgx, pgr, save_mean.data<float>(), save_invstd.data<float>(), weight.data<float>(), mean_gy,
            scaled_gw, x.numel(), c, element_hw);
      MMP_CUDA_CHECK_LAUNCH();
    };
    if (bits) passes(ReluMask<scalar_t, MaskKind::bits>{nullptr, epilogue.relu_mask.data<uint8_t>()});
    else if (epilogue.relu) passes(ReluMask<scalar_t, MaskKind::output>{data_or_null<const scalar_t>(epilogue.output)});
    else passes(ReluMask<scalar_t, MaskKind::none>{});
  });
}

bool vector_aligned(const Tensor& t) {
  return !t.defined() || reinterpret_cast<std::uintptr_t>(t.raw_data()) % 16 == 0;
}

Tensor relu_mask_bits(const Tensor& x) {
  // Whole 16-byte words: cuDNN's graphs may write in wider units than bytes.
  return Tensor::empty({(x.numel() + 127) / 128 * 16}, DType::U8, x.device());
}

const char* batch_norm_walk(const Tensor& x) {
  const char* name = nullptr;
  with_activation_type(x, "batch_norm_walk", [&](auto type) {
    using scalar_t = decltype(type);
    switch (walk_for<scalar_t>(x, {&x})) {
      case Walk::channels: name = "channels"; break;
      case Walk::rows: name = "rows"; break;
      case Walk::row_vectors: name = "row vectors"; break;
    }
  });
  return name;
}

}  // namespace mmp::cuda
