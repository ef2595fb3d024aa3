// CUDA max pooling: forward keeps the argmax per output; backward gathers, for each
// input element, the gradients of the outputs that chose it (no atomics, so results
// are deterministic; the gradients are selected by the index, not loaded behind it). Positions are split into (n, c, h, w) with 32-bit arithmetic when
// the tensors allow it: the GPU has no 64-bit division, and the split is most of the
// work (a ResNet stem's pooling backward took 1.5 ms on an H200 with 64-bit indices).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

// Where element (n, c, h, w) of an [N, C, H, W] tensor lies, NCHW or NHWC (channels-last).
template <bool kNhwc, class Index>
__device__ __forceinline__ Index at(Index n, Index c, Index h, Index w, Index channels, Index height, Index width) {
  return kNhwc ? ((n * height + h) * width + w) * channels + c : ((n * channels + c) * height + h) * width + w;
}

// The (n, c, h, w) of linear position i in memory order.
template <bool kNhwc, class Index>
__device__ __forceinline__ void coordinates(Index i, Index channels, Index height, Index width, Index& n, Index& c,
                                            Index& h, Index& w) {
  if (kNhwc) {
    c = i % channels;
    w = (i / channels) % width;
    h = (i / (channels * width)) % height;
    n = i / (channels * width * height);
  } else {
    w = i % width;
    h = (i / width) % height;
    c = (i / (width * height)) % channels;
    n = i / (width * height * channels);
  }
}

// Indices (stored in the output's layout) count positions within the input's H x W plane.
template <class T, bool kNhwc, class Index>
__global__ void max_pool_forward_kernel(const T* x, T* y, int32_t* indices, ConvGeometry g) {
  using C = compute_t<T>;
  const Index total = static_cast<Index>(g.n * g.c * g.ho * g.wo), channels = static_cast<Index>(g.c);
  const Index height = static_cast<Index>(g.h), width = static_cast<Index>(g.w);
  for (Index o = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<Index>(blockDim.x) * gridDim.x) {
    Index n, ch, oh, ow;
    coordinates<kNhwc, Index>(o, channels, static_cast<Index>(g.ho), static_cast<Index>(g.wo), n, ch, oh, ow);
    C best = -INFINITY;
    int arg = -1;
    for (int ki = 0; ki < g.kh; ++ki) {
      const Index ih = oh * static_cast<Index>(g.stride) - static_cast<Index>(g.pad) + ki;
      if (ih < 0 || ih >= height) continue;
      for (int kj = 0; kj < g.kw; ++kj) {
        const Index iw = ow * static_cast<Index>(g.stride) - static_cast<Index>(g.pad) + kj;
        if (iw < 0 || iw >= width) continue;
        const C v = static_cast<C>(x[at<kNhwc, Index>(n, ch, ih, iw, channels, height, width)]);
        if (arg < 0 || v > best || isnan(v)) {
          best = v;
          arg = static_cast<int>(ih * g.w + iw);
        }
      }
    }
    y[o] = static_cast<T>(best);
    indices[o] = arg;
  }
}

template <class T, bool kNhwc, class Index>
__global__ void max_pool_backward_kernel(const T* gy, const int32_t* indices, T* gx, ConvGeometry g) {
  const Index total = static_cast<Index>(g.n * g.c * g.h * g.w), channels = static_cast<Index>(g.c);
  const Index stride = static_cast<Index>(g.stride), pad = static_cast<Index>(g.pad);
  const Index out_h = static_cast<Index>(g.ho), out_w = static_cast<Index>(g.wo);
  for (Index i = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<Index>(blockDim.x) * gridDim.x) {
    Index n, ch, ih, iw;
    coordinates<kNhwc, Index>(i, channels, static_cast<Index>(g.h), static_cast<Index>(g.w), n, ch, ih, iw);
    const int32_t here = static_cast<int32_t>(ih * g.w + iw);
    // Outputs whose window covers (ih, iw). Near the top and left edges the first
    // numerator is negative and division truncates toward 0: the max makes it 0, as it
    // would the floor.
    const Index oh_lo = max(Index(0), (ih + pad - static_cast<Index>(g.kh) + stride) / stride);
    const Index oh_hi = min(out_h - 1, (ih + pad) / stride);
    const Index ow_lo = max(Index(0), (iw + pad - static_cast<Index>(g.kw) + stride) / stride);
    const Index ow_hi = min(out_w - 1, (iw + pad) / stride);
    // Each window's gradient is loaded whatever its index says and then selected: a load
    // behind a branch on the index would wait for the index's load, window by window.
    compute_t<T> acc = 0;
    for (Index oh = oh_lo; oh <= oh_hi; ++oh)
      for (Index ow = ow_lo; ow <= ow_hi; ++ow) {
        const Index o = at<kNhwc, Index>(n, ch, oh, ow, channels, out_h, out_w);
        const int32_t chosen = indices[o];
        const compute_t<T> g = static_cast<compute_t<T>>(gy[o]);
        acc += chosen == here ? g : compute_t<T>(0);
      }
    gx[i] = static_cast<T>(acc);
  }
}

// Whether every position of t (and a grid-stride step past it) fits a signed 32-bit index.
bool fits_int32(const Tensor& t) { return t.numel() < (1LL << 30); }

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) {
  DeviceGuard guard(device_);
  const bool small = fits_int32(x) && fits_int32(y);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "max_pool2d", [&] {
    const auto kernel = g.channels_last ? (small ? max_pool_forward_kernel<scalar_t, true, int32_t>
                                                 : max_pool_forward_kernel<scalar_t, true, long long>)
                                        : (small ? max_pool_forward_kernel<scalar_t, false, int32_t>
                                                 : max_pool_forward_kernel<scalar_t, false, long long>);
    kernel<<<grid_for(y.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(x.raw_data()), static_cast<scalar_t*>(y.raw_data()), indices.data<int32_t>(), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                      const ConvGeometry& g) {
  DeviceGuard guard(device_);
  const bool small = fits_int32(grad_x) && fits_int32(grad_y);
  MMP_DISPATCH_FLOATING_BF16(grad_y.dtype(), "max_pool2d backward", [&] {
    const auto kernel = g.channels_last ? (small ? max_pool_backward_kernel<scalar_t, true, int32_t>
                                                 : max_pool_backward_kernel<scalar_t, true, long long>)
                                        : (small ? max_pool_backward_kernel<scalar_t, false, int32_t>
                                                 : max_pool_backward_kernel<scalar_t, false, long long>);
    kernel<<<grid_for(grad_x.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(grad_y.raw_data()), indices.data<int32_t>(),
        static_cast<scalar_t*>(grad_x.raw_data()), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
