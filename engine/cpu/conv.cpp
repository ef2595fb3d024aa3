// CPU convolution: Winograd F(4x4, 3x3) for 3x3 stride-1 layers (winograd.cpp), and
// im2col + Eigen GEMM (Caffe's scheme) for the rest, over chunks of samples so each
// product has enough columns to run well while its column buffer stays in cache.
#include <algorithm>
#include <cstring>
#include <omp.h>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dense_gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/winograd.h"
#include "engine/cpu/workspace.h"

namespace mmp::cpu {
namespace {

constexpr int64_t kTargetColumns = 1024;
constexpr size_t kMaxColumnBytes = size_t(12) << 20;

template <class T>
int64_t samples_per_chunk(const ConvGeometry& g) {
  const int64_t cols = g.ho * g.wo, rows = g.c * g.kh * g.kw;
  int64_t chunk = std::max<int64_t>(1, kTargetColumns / cols);
  while (chunk > 1 && static_cast<size_t>(chunk * cols * rows) * sizeof(T) > kMaxColumnBytes) --chunk;
  return std::min(chunk, g.n);
}

// Columns of one sample x[C, H, W]: row (c, ki, kj), column (oh, ow), row stride ld.
template <class T>
void im2col(const T* x, const ConvGeometry& g, T* col, int64_t ld) {
  const int64_t rows = g.c * g.kh * g.kw, plane = g.ho * g.wo;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / plane), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
      const T* src_plane = x + c * g.h * g.w;
      T* dst = col + r * ld;
      // Output columns whose input column lies inside the image.
      const int64_t ow_begin = std::clamp<int64_t>((g.pad - kj + g.stride - 1) / g.stride, 0, g.wo);
      const int64_t ow_end = std::clamp<int64_t>((g.w + g.pad - kj + g.stride - 1) / g.stride, ow_begin, g.wo);
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        T* d = dst + oh * g.wo;
        const int64_t ih = oh * g.stride - g.pad + ki;
        if (ih < 0 || ih >= g.h) {
          std::fill(d, d + g.wo, T(0));
          continue;
        }
        const T* s = src_plane + ih * g.w - g.pad + kj;
        std::fill(d, d + ow_begin, T(0));
        if (g.stride == 1) {
          std::memcpy(d + ow_begin, s + ow_begin, (ow_end - ow_begin) * sizeof(T));
        } else {
          for (int64_t ow = ow_begin; ow < ow_end; ++ow) d[ow] = s[ow * g.stride];
        }
        std::fill(d + ow_end, d + g.wo, T(0));
      }
    }
  });
}

// Adds the columns back into one sample's input gradient gx[C, H, W] (zeroed by the caller).
template <class T>
void col2im_add(const T* col, int64_t ld, const ConvGeometry& g, T* gx) {
  parallel_for(g.c, std::max<int64_t>(1, kParallelGrain / (g.kh * g.kw * g.ho * g.wo)), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      T* dst_plane = gx + c * g.h * g.w;
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          const T* src = col + ((c * g.kh + ki) * g.kw + kj) * ld;
          const int64_t ow_begin = std::clamp<int64_t>((g.pad - kj + g.stride - 1) / g.stride, 0, g.wo);
          const int64_t ow_end = std::clamp<int64_t>((g.w + g.pad - kj + g.stride - 1) / g.stride, ow_begin, g.wo);
          for (int64_t oh = 0; oh < g.ho; ++oh) {
            const int64_t ih = oh * g.stride - g.pad + ki;
            if (ih < 0 || ih >= g.h) continue;
            T* d = dst_plane + ih * g.w - g.pad + kj;
            const T* s = src + oh * g.wo;
            for (int64_t ow = ow_begin; ow < ow_end; ++ow) d[ow * g.stride] += s[ow];
          }
        }
    }
  });
}

// The [co, nb * plane] matrix of samples n0.. of an NCHW tensor: a pointer into the
// tensor for one sample, else a gathered copy in `buffer`.
template <class T>
const T* gather_columns(const T* nchw, const ConvGeometry& g, int64_t n0, int64_t nb, T* buffer) {
  const int64_t plane = g.ho * g.wo;
  if (nb == 1) return nchw + n0 * g.co * plane;
  for (int64_t j = 0; j < nb; ++j)
    for (int64_t co = 0; co < g.co; ++co)
      std::memcpy(buffer + co * nb * plane + j * plane, nchw + ((n0 + j) * g.co + co) * plane, plane * sizeof(T));
  return buffer;
}

// The three passes over samples [first, last): called once per thread on its own
// samples (for_thread_ranges), or once for all, where the loops inside parallelise.
template <class T>
void forward_samples(const T* x, const T* w, T* y, const ConvGeometry& g, int64_t first, int64_t last) {
  const int64_t plane = g.ho * g.wo, rows = g.c * g.kh * g.kw, in_size = g.c * g.h * g.w;
  const int64_t chunk = std::min(samples_per_chunk<T>(g), last - first);
  T* col = workspace<T>(kConvColumns, chunk * plane * rows);
  T* out_cols = chunk > 1 ? workspace<T>(kConvOutputColumns, chunk * plane * g.co) : nullptr;
  for (int64_t n0 = first; n0 < last; n0 += chunk) {
    const int64_t nb = std::min(chunk, last - n0), cols = nb * plane;
    for (int64_t j = 0; j < nb; ++j) im2col(x + (n0 + j) * in_size, g, col + j * plane, cols);
    T* dst = nb == 1 ? y + n0 * g.co * plane : out_cols;
    dense_gemm(false, false, g.co, cols, rows, w, col, dst);
    if (nb > 1)
      for (int64_t j = 0; j < nb; ++j)
        for (int64_t co = 0; co < g.co; ++co)
          std::memcpy(y + ((n0 + j) * g.co + co) * plane, out_cols + co * cols + j * plane, plane * sizeof(T));
  }
}

template <class T>
void backward_input_samples(const T* gy, const T* w, T* gx, const ConvGeometry& g, int64_t first, int64_t last) {
  const int64_t plane = g.ho * g.wo, rows = g.c * g.kh * g.kw, in_size = g.c * g.h * g.w;
  const int64_t chunk = std::min(samples_per_chunk<T>(g), last - first);
  T* col = workspace<T>(kConvColumns, chunk * plane * rows);
  T* gy_cols = chunk > 1 ? workspace<T>(kConvOutputColumns, chunk * plane * g.co) : nullptr;
  std::fill(gx + first * in_size, gx + last * in_size, T(0));
  for (int64_t n0 = first; n0 < last; n0 += chunk) {
    const int64_t nb = std::min(chunk, last - n0), cols = nb * plane;
    const T* gyc = gather_columns(gy, g, n0, nb, gy_cols);
    dense_gemm(true, false, rows, cols, g.co, w, gyc, col);  // Wᵀ · gy
    for (int64_t j = 0; j < nb; ++j) col2im_add(col + j * plane, cols, g, gx + (n0 + j) * in_size);
  }
}

// The weight gradient of samples [first, last) into `gw`.
template <class T>
void backward_weight_samples(const T* x, const T* gy, T* gw, const ConvGeometry& g, int64_t first, int64_t last) {
  const int64_t plane = g.ho * g.wo, rows = g.c * g.kh * g.kw, in_size = g.c * g.h * g.w;
  const int64_t chunk = std::min(samples_per_chunk<T>(g), last - first);
  T* col = workspace<T>(kConvColumns, chunk * plane * rows);
  T* gy_cols = chunk > 1 ? workspace<T>(kConvOutputColumns, chunk * plane * g.co) : nullptr;
  for (int64_t n0 = first; n0 < last; n0 += chunk) {
    const int64_t nb = std::min(chunk, last - n0), cols = nb * plane;
    for (int64_t j = 0; j < nb; ++j) im2col(x + (n0 + j) * in_size, g, col + j * plane, cols);
    const T* gyc = gather_columns(gy, g, n0, nb, gy_cols);
    dense_gemm(false, true, g.co, rows, cols, gyc, col, gw, /*accumulate=*/n0 > first);  // gy · colᵀ
  }
}

template <class T>
void forward(const T* x, const T* w, T* y, const ConvGeometry& g) {
  for_thread_ranges(g.n, [&](int64_t first, int64_t last, int) { forward_samples(x, w, y, g, first, last); });
}

template <class T>
void backward_input(const T* gy, const T* w, T* gx, const ConvGeometry& g) {
  for_thread_ranges(g.n, [&](int64_t first, int64_t last, int) { backward_input_samples(gy, w, gx, g, first, last); });
}

template <class T>
void backward_weight(const T* x, const T* gy, T* gw, const ConvGeometry& g) {
  // Thread 0 writes gw; the others their own partial sums, added at the end.
  const int64_t size = g.co * g.c * g.kh * g.kw;
  std::vector<T*> parts(omp_get_max_threads(), nullptr);
  const int used = for_thread_ranges(g.n, [&](int64_t first, int64_t last, int t) {
    parts[t] = t == 0 ? gw : workspace<T>(kConvWeightPartial, size);
    backward_weight_samples(x, gy, parts[t], g, first, last);
  });
  for (int t = 1; t < used; ++t) {
    const T* part = parts[t];
    parallel_for(size, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) gw[i] += part[i];
    });
  }
}

}  // namespace

namespace {

// The Winograd-transformed filters: made by the forward, kept in the op's state for
// the backward passes (the weights do not change in between).
const Tensor& transformed_filters(const Tensor& weight, const ConvGeometry& g, ConvState& state) {
  if (!state) {
    auto u = std::make_shared<Tensor>(Tensor::empty({kWinogradPoints, g.co, g.c}, weight.dtype()));
    MMP_DISPATCH_FLOATING(weight.dtype(), "conv2d", [&] {
      winograd_filter_transform<scalar_t>(static_cast<const scalar_t*>(weight.raw_data()), g,
                                          static_cast<scalar_t*>(u->raw_data()));
    });
    state = u;
  }
  return *static_cast<const Tensor*>(state.get());
}

}  // namespace

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& out, const ConvGeometry& g,
                                ConvState& state) {
  MMP_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    if (winograd_applies(g)) {
      winograd_forward<scalar_t>(static_cast<const scalar_t*>(x.raw_data()),
                                 static_cast<const scalar_t*>(transformed_filters(weight, g, state).raw_data()),
                                 static_cast<scalar_t*>(out.raw_data()), g);
      return;
    }
    forward<scalar_t>(static_cast<const scalar_t*>(x.raw_data()), static_cast<const scalar_t*>(weight.raw_data()),
                      static_cast<scalar_t*>(out.raw_data()), g);
  });
}

void CpuBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                       const ConvGeometry& g, ConvState& state) {
  MMP_DISPATCH_FLOATING(grad_out.dtype(), "conv2d backward", [&] {
    if (winograd_applies(g)) {
      winograd_backward_input<scalar_t>(static_cast<const scalar_t*>(grad_out.raw_data()),
                                        static_cast<const scalar_t*>(transformed_filters(weight, g, state).raw_data()),
                                        static_cast<scalar_t*>(grad_x.raw_data()), g);
      return;
    }
    backward_input<scalar_t>(static_cast<const scalar_t*>(grad_out.raw_data()),
                             static_cast<const scalar_t*>(weight.raw_data()),
                             static_cast<scalar_t*>(grad_x.raw_data()), g);
  });
}

void CpuBackend::conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_weight,
                                        const ConvGeometry& g) {
  MMP_DISPATCH_FLOATING(x.dtype(), "conv2d backward", [&] {
    if (winograd_applies(g)) {
      winograd_backward_weight<scalar_t>(static_cast<const scalar_t*>(x.raw_data()),
                                         static_cast<const scalar_t*>(grad_out.raw_data()),
                                         static_cast<scalar_t*>(grad_weight.raw_data()), g);
      return;
    }
    backward_weight<scalar_t>(static_cast<const scalar_t*>(x.raw_data()),
                              static_cast<const scalar_t*>(grad_out.raw_data()),
                              static_cast<scalar_t*>(grad_weight.raw_data()), g);
  });
}

}  // namespace mmp::cpu
