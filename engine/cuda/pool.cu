// CUDA max pooling: forward keeps the argmax per output; backward gathers, for each
// input element, the gradients of the outputs that chose it (no atomics, so results
// are deterministic; the gradients are selected by the index, not loaded behind it).
// Positions are split into (n, c, h, w) by dividers fixed at launch: multiply-and-shift
// in 32 bits where the tensors allow it (engine/fast_divider.h), the GPU's emulated
// division otherwise; the split is most of the work (a ResNet stem's pooling backward took
// 1.5 ms on an H200 with 64-bit divisions).
#include <type_traits>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/fast_divider.h"

namespace mmp::cuda {
namespace {

// n / divisor in the kernels' index type.
template <class Index>
struct Divider {
  Index divisor;
  explicit Divider(int64_t d) : divisor(static_cast<Index>(d)) {}
  __device__ __forceinline__ Index operator()(Index n) const { return n / divisor; }
};

template <>
struct Divider<int32_t> {
  FastDivider divider;
  explicit Divider(int64_t d) : divider(static_cast<uint32_t>(d)) {}
  __device__ __forceinline__ int32_t operator()(int32_t n) const {
    return static_cast<int32_t>(divider.divide(static_cast<uint32_t>(n)));
  }
};

// The sizes a kernel splits the positions of the tensor it visits by ([N, C, H, W], in
// memory order NCHW or NHWC), and the pooling's stride.
template <class Index>
struct Sizes {
  Index channels, height, width;
  Divider<Index> by_channels, by_height, by_width, by_stride;
  Sizes(int64_t c, int64_t h, int64_t w, int64_t stride)
      : channels(static_cast<Index>(c)),
        height(static_cast<Index>(h)),
        width(static_cast<Index>(w)),
        by_channels(c),
        by_height(h),
        by_width(w),
        by_stride(stride) {}
};

// Where element (n, c, h, w) of an [N, C, H, W] tensor lies, NCHW or NHWC (channels-last).
template <bool kNhwc, class Index>
__device__ __forceinline__ Index at(Index n, Index c, Index h, Index w, Index channels, Index height, Index width) {
  return kNhwc ? ((n * height + h) * width + w) * channels + c : ((n * channels + c) * height + h) * width + w;
}

// The (n, c, h, w) of linear position i in memory order: three divisions, each
// remainder by a multiplication.
template <bool kNhwc, class Index>
__device__ __forceinline__ void coordinates(Index i, const Sizes<Index>& s, Index& n, Index& c, Index& h, Index& w) {
  if (kNhwc) {
    const Index pixel = s.by_channels(i), row = s.by_width(pixel);
    c = i - pixel * s.channels;
    w = pixel - row * s.width;
    n = s.by_height(row);
    h = row - n * s.height;
  } else {
    const Index row = s.by_width(i), plane = s.by_height(row);
    w = i - row * s.width;
    h = row - plane * s.height;
    n = s.by_channels(plane);
    c = plane - n * s.channels;
  }
}

// Indices (stored in the output's layout) count positions within the input's H x W plane.
// `s` holds the output's sizes.
template <class T, bool kNhwc, class Index>
__global__ void max_pool_forward_kernel(const T* x, T* y, int32_t* indices, ConvGeometry g, Sizes<Index> s) {
  using C = compute_t<T>;
  const Index total = static_cast<Index>(g.n * g.c * g.ho * g.wo), channels = static_cast<Index>(g.c);
  const Index height = static_cast<Index>(g.h), width = static_cast<Index>(g.w);
  for (Index o = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<Index>(blockDim.x) * gridDim.x) {
    Index n, ch, oh, ow;
    coordinates<kNhwc, Index>(o, s, n, ch, oh, ow);
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

// `s` holds the input's sizes and the stride.
template <class T, bool kNhwc, class Index>
__global__ void max_pool_backward_kernel(const T* gy, const int32_t* indices, T* gx, ConvGeometry g, Sizes<Index> s) {
  const Index total = static_cast<Index>(g.n * g.c * g.h * g.w);
  const Index pad = static_cast<Index>(g.pad);
  const Index out_h = static_cast<Index>(g.ho), out_w = static_cast<Index>(g.wo);
  for (Index i = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<Index>(blockDim.x) * gridDim.x) {
    Index n, ch, ih, iw;
    coordinates<kNhwc, Index>(i, s, n, ch, ih, iw);
    const int32_t here = static_cast<int32_t>(ih * g.w + iw);
    // Outputs whose window covers (ih, iw): from ceil((ih + pad - k + 1) / stride), which
    // is 0 where that numerator is not positive, to floor((ih + pad) / stride).
    const Index first_h = ih + pad - static_cast<Index>(g.kh) + static_cast<Index>(g.stride);
    const Index first_w = iw + pad - static_cast<Index>(g.kw) + static_cast<Index>(g.stride);
    const Index oh_lo = first_h > 0 ? s.by_stride(first_h) : Index(0);
    const Index oh_hi = min(out_h - 1, s.by_stride(ih + pad));
    const Index ow_lo = first_w > 0 ? s.by_stride(first_w) : Index(0);
    const Index ow_hi = min(out_w - 1, s.by_stride(iw + pad));
    // Each window's gradient is loaded whatever its index says and then selected: a load
    // behind a branch on the index would wait for the index's load, window by window.
    compute_t<T> acc = 0;
    for (Index oh = oh_lo; oh <= oh_hi; ++oh)
      for (Index ow = ow_lo; ow <= ow_hi; ++ow) {
        const Index o = at<kNhwc, Index>(n, ch, oh, ow, s.channels, out_h, out_w);
        const int32_t chosen = indices[o];
        const compute_t<T> g = static_cast<compute_t<T>>(gy[o]);
        acc += chosen == here ? g : compute_t<T>(0);
      }
    gx[i] = static_cast<T>(acc);
  }
}

// Whether every position of t (and a grid-stride step past it) fits a signed 32-bit index.
bool fits_int32(const Tensor& t) { return t.numel() < (1LL << 30); }

// Calls launch(layout, index) with the layout (std::true_type: NHWC) and the index type
// (int32_t where `small`, else long long) the kernels are instantiated for.
template <class Launch>
void with_layout_and_index(bool channels_last, bool small, Launch launch) {
  if (small)
    channels_last ? launch(std::true_type{}, int32_t{}) : launch(std::false_type{}, int32_t{});
  else
    channels_last ? launch(std::true_type{}, 0LL) : launch(std::false_type{}, 0LL);
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) {
  DeviceGuard guard(device_);
  const bool small = fits_int32(x) && fits_int32(y);
  MMP_DISPATCH_FLOATING_BF16(x.dtype(), "max_pool2d", [&] {
    const auto* px = static_cast<const scalar_t*>(x.raw_data());
    auto* py = static_cast<scalar_t*>(y.raw_data());
    const dim3 grid = grid_for(y.numel(), kThreads, device_);
    with_layout_and_index(g.channels_last, small, [&](auto layout, auto index) {
      using Index = decltype(index);
      max_pool_forward_kernel<scalar_t, decltype(layout)::value, Index><<<grid, kThreads, 0, stream(device_)>>>(
          px, py, indices.data<int32_t>(), g, Sizes<Index>(g.c, g.ho, g.wo, g.stride));
    });
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                      const ConvGeometry& g) {
  DeviceGuard guard(device_);
  const bool small = fits_int32(grad_x) && fits_int32(grad_y);
  MMP_DISPATCH_FLOATING_BF16(grad_y.dtype(), "max_pool2d backward", [&] {
    const auto* pgy = static_cast<const scalar_t*>(grad_y.raw_data());
    auto* pgx = static_cast<scalar_t*>(grad_x.raw_data());
    const dim3 grid = grid_for(grad_x.numel(), kThreads, device_);
    with_layout_and_index(g.channels_last, small, [&](auto layout, auto index) {
      using Index = decltype(index);
      max_pool_backward_kernel<scalar_t, decltype(layout)::value, Index><<<grid, kThreads, 0, stream(device_)>>>(
          pgy, indices.data<int32_t>(), pgx, g, Sizes<Index>(g.c, g.h, g.w, g.stride));
    });
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
