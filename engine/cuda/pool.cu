// CUDA max pooling: forward keeps the argmax per output; backward gathers, for each
// input element, the gradients of the outputs that chose it (no atomics, so results
// are deterministic).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

template <class T>
__global__ void max_pool_forward_kernel(const T* x, T* y, int32_t* indices, ConvGeometry g) {
  using C = compute_t<T>;
  const long long total = g.n * g.c * g.ho * g.wo;
  MMP_GRID_STRIDE_LOOP(o, total) {
    const long long ow = o % g.wo, oh = (o / g.wo) % g.ho, plane = o / (g.wo * g.ho);
    const T* src = x + plane * g.h * g.w;
    C best = -INFINITY;
    int arg = -1;
    for (int ki = 0; ki < g.kh; ++ki) {
      const long long ih = oh * g.stride - g.pad + ki;
      if (ih < 0 || ih >= g.h) continue;
      for (int kj = 0; kj < g.kw; ++kj) {
        const long long iw = ow * g.stride - g.pad + kj;
        if (iw < 0 || iw >= g.w) continue;
        const C v = static_cast<C>(src[ih * g.w + iw]);
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

template <class T>
__global__ void max_pool_backward_kernel(const T* gy, const int32_t* indices, T* gx, ConvGeometry g) {
  const long long total = g.n * g.c * g.h * g.w;
  MMP_GRID_STRIDE_LOOP(i, total) {
    const long long iw = i % g.w, ih = (i / g.w) % g.h, plane = i / (g.w * g.h);
    const int32_t here = static_cast<int32_t>(ih * g.w + iw);
    // Outputs whose window covers (ih, iw).
    const long long oh_lo = max(0LL, (ih + g.pad - g.kh + g.stride) / g.stride);
    const long long oh_hi = min(static_cast<long long>(g.ho) - 1, (ih + g.pad) / g.stride);
    const long long ow_lo = max(0LL, (iw + g.pad - g.kw + g.stride) / g.stride);
    const long long ow_hi = min(static_cast<long long>(g.wo) - 1, (iw + g.pad) / g.stride);
    compute_t<T> acc = 0;
    for (long long oh = oh_lo; oh <= oh_hi; ++oh)
      for (long long ow = ow_lo; ow <= ow_hi; ++ow) {
        const long long o = (plane * g.ho + oh) * g.wo + ow;
        if (indices[o] == here) acc += static_cast<compute_t<T>>(gy[o]);
      }
    gx[i] = static_cast<T>(acc);
  }
}

// The same over NHWC tensors (indices stored NHWC as the output; they still count
// positions within the input's H x W plane).
template <class T>
__global__ void max_pool_forward_nhwc_kernel(const T* x, T* y, int32_t* indices, ConvGeometry g) {
  using C = compute_t<T>;
  const long long total = g.n * g.c * g.ho * g.wo;
  MMP_GRID_STRIDE_LOOP(o, total) {
    const long long ch = o % g.c, ow = (o / g.c) % g.wo, oh = (o / (g.c * g.wo)) % g.ho, n = o / (g.c * g.wo * g.ho);
    C best = -INFINITY;
    int arg = -1;
    for (int ki = 0; ki < g.kh; ++ki) {
      const long long ih = oh * g.stride - g.pad + ki;
      if (ih < 0 || ih >= g.h) continue;
      for (int kj = 0; kj < g.kw; ++kj) {
        const long long iw = ow * g.stride - g.pad + kj;
        if (iw < 0 || iw >= g.w) continue;
        const C v = static_cast<C>(x[((n * g.h + ih) * g.w + iw) * g.c + ch]);
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

template <class T>
__global__ void max_pool_backward_nhwc_kernel(const T* gy, const int32_t* indices, T* gx, ConvGeometry g) {
  const long long total = g.n * g.c * g.h * g.w;
  MMP_GRID_STRIDE_LOOP(i, total) {
    const long long ch = i % g.c, iw = (i / g.c) % g.w, ih = (i / (g.c * g.w)) % g.h, n = i / (g.c * g.w * g.h);
    const int32_t here = static_cast<int32_t>(ih * g.w + iw);
    const long long oh_lo = max(0LL, (ih + g.pad - g.kh + g.stride) / g.stride);
    const long long oh_hi = min(static_cast<long long>(g.ho) - 1, (ih + g.pad) / g.stride);
    const long long ow_lo = max(0LL, (iw + g.pad - g.kw + g.stride) / g.stride);
    const long long ow_hi = min(static_cast<long long>(g.wo) - 1, (iw + g.pad) / g.stride);
    compute_t<T> acc = 0;
    for (long long oh = oh_lo; oh <= oh_hi; ++oh)
      for (long long ow = ow_lo; ow <= ow_hi; ++ow) {
        const long long o = ((n * g.ho + oh) * g.wo + ow) * g.c + ch;
        if (indices[o] == here) acc += static_cast<compute_t<T>>(gy[o]);
      }
    gx[i] = static_cast<T>(acc);
  }
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "max_pool2d", [&] {
    const auto kernel = g.channels_last ? max_pool_forward_nhwc_kernel<scalar_t> : max_pool_forward_kernel<scalar_t>;
    kernel<<<grid_for(y.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(x.raw_data()), static_cast<scalar_t*>(y.raw_data()), indices.data<int32_t>(), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                      const ConvGeometry& g) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(grad_y.dtype(), "max_pool2d backward", [&] {
    const auto kernel = g.channels_last ? max_pool_backward_nhwc_kernel<scalar_t> : max_pool_backward_kernel<scalar_t>;
    kernel<<<grid_for(grad_x.numel(), kThreads, device_), kThreads, 0, stream(device_)>>>(
        static_cast<const scalar_t*>(grad_y.raw_data()), indices.data<int32_t>(),
        static_cast<scalar_t*>(grad_x.raw_data()), g);
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
