// CUDA max pooling: forward keeps the argmax per output; backward gathers, for each
// input element, the gradients of the outputs that chose it (no atomics, so results
// are deterministic).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

// Where element (n, c, h, w) of an [N, C, H, W] tensor lies, NCHW or NHWC (channels-last).
template <bool kNhwc>
__device__ __forceinline__ long long at(long long n, long long c, long long h, long long w, long long channels,
                                        long long height, long long width) {
  return kNhwc ? ((n * height + h) * width + w) * channels + c : ((n * channels + c) * height + h) * width + w;
}

// The (n, c, h, w) of linear position i in memory order.
template <bool kNhwc>
__device__ __forceinline__ void coordinates(long long i, long long channels, long long height, long long width,
                                            long long& n, long long& c, long long& h, long long& w) {
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
template <class T, bool kNhwc>
__global__ void max_pool_forward_kernel(const T* x, T* y, int32_t* indices, ConvGeometry g) {
  using C = compute_t<T>;
  const long long total = g.n * g.c * g.ho * g.wo;
  MMP_GRID_STRIDE_LOOP(o, total) {
    long long n, ch, oh, ow;
    coordinates<kNhwc>(o, g.c, g.ho, g.wo, n, ch, oh, ow);
    C best = -INFINITY;
    int arg = -1;
    for (int ki = 0; ki < g.kh; ++ki) {
      const long long ih = oh * g.stride - g.pad + ki;
      if (ih < 0 || ih >= g.h) continue;
      for (int kj = 0; kj < g.kw; ++kj) {
        const long long iw = ow * g.stride - g.pad + kj;
        if (iw < 0 || iw >= g.w) continue;
        const C v = static_cast<C>(x[at<kNhwc>(n, ch, ih, iw, g.c, g.h, g.w)]);
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

template <class T, bool kNhwc>
__global__ void max_pool_backward_kernel(const T* gy, const int32_t* indices, T* gx, ConvGeometry g) {
  const long long total = g.n * g.c * g.h * g.w;
  MMP_GRID_STRIDE_LOOP(i, total) {
    long long n, ch, ih, iw;
    coordinates<kNhwc>(i, g.c, g.h, g.w, n, ch, ih, iw);
    const int32_t here = static_cast<int32_t>(ih * g.w + iw);
    // Outputs whose window covers (ih, iw).
    const long long oh_lo = max(0LL, (ih + g.pad - g.kh + g.stride) / g.stride);
    const long long oh_hi = min(static_cast<long long>(g.ho) - 1, (ih + g.pad) / g.stride);
    const long long ow_lo = max(0LL, (iw + g.pad - g.kw + g.stride) / g.stride);
    const long long ow_hi = min(static_cast<long long>(g.wo) - 1, (iw + g.pad) / g.stride);
    compute_t<T> acc = 0;
    for (long long oh = oh_lo; oh <= oh_hi; ++oh)
      for (long long ow = ow_lo; ow <= ow_hi; ++ow) {
        const long long o = at<kNhwc>(n, ch, oh, ow, g.c, g.ho, g.wo);
        if (indices[o] == here) acc += static_cast<compute_t<T>>(gy[o]);
      }
    gx[i] = static_cast<T>(acc);
  }
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "max_pool2d", [&] {
    const auto kernel = g.channels_last ? max_pool_forward_kernel<scalar_t, true> : max_pool_forward_kernel<scalar_t, false>;
    kernel<<<grid_for(y.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(x.raw_data()), static_cast<scalar_t*>(y.raw_data()), indices.data<int32_t>(), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                      const ConvGeometry& g) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(grad_y.dtype(), "max_pool2d backward", [&] {
    const auto kernel =
        g.channels_last ? max_pool_backward_kernel<scalar_t, true> : max_pool_backward_kernel<scalar_t, false>;
    kernel<<<grid_for(grad_x.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(grad_y.raw_data()), indices.data<int32_t>(),
        static_cast<scalar_t*>(grad_x.raw_data()), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
