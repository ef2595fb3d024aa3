// CPU max pooling with the argmax kept for backward, as PyTorch's kernel: padding
// never wins, a NaN does (the last one in the window).
#include <cmath>
#include <limits>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

void CpuBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) {
  MMP_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(y.raw_data());
    int32_t* pi = indices.data<int32_t>();
    const int64_t planes = g.n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
    const int64_t padded_w = (g.wo - 1) * g.stride + g.kw;  // columns any window reads, from -pad
    parallel_for(planes, std::max<int64_t>(1, kParallelGrain / (out_plane * g.kh * g.kw)), [&](int64_t begin, int64_t end) {
      // One input row with -inf beyond the image, so windows need no bounds checks.
      std::vector<T> row(padded_w);
      std::vector<T> best(g.wo);
      std::vector<int32_t> arg(g.wo);
      for (int64_t p = begin; p < end; ++p) {
        const T* src = px + p * in_plane;
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          // Scan the window in PyTorch's order (ki, then kj), vectorised across the row of
          // outputs: start from the first in-image element, take strictly greater or NaN.
          const int64_t ih0 = std::max<int64_t>(oh * g.stride - g.pad, 0);
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            best[ow] = -std::numeric_limits<T>::infinity();
            arg[ow] = static_cast<int32_t>(ih0 * g.w + std::max<int64_t>(ow * g.stride - g.pad, 0));
          }
          for (int64_t ki = 0; ki < g.kh; ++ki) {
            const int64_t ih = oh * g.stride - g.pad + ki;
            if (ih < 0 || ih >= g.h) continue;
            for (int64_t j = 0; j < padded_w; ++j) {
              const int64_t iw = j - g.pad;
              row[j] = (iw >= 0 && iw < g.w) ? src[ih * g.w + iw] : -std::numeric_limits<T>::infinity();
            }
            for (int64_t kj = 0; kj < g.kw; ++kj) {
              const int32_t base = static_cast<int32_t>(ih * g.w - g.pad + kj);
              const int32_t step = static_cast<int32_t>(g.stride);
              const T* r = row.data() + kj;
              _Pragma("omp simd")
              for (int64_t ow = 0; ow < g.wo; ++ow) {
                const T v = r[ow * g.stride];
                const bool take = v > best[ow] || v != v;  // v != v: NaN
                best[ow] = take ? v : best[ow];
                arg[ow] = take ? base + static_cast<int32_t>(ow) * step : arg[ow];
              }
            }
          }
          std::copy(best.begin(), best.end(), py + p * out_plane + oh * g.wo);
          std::copy(arg.begin(), arg.end(), pi + p * out_plane + oh * g.wo);
        }
      }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                                     const ConvGeometry& g) {
  MMP_DISPATCH_FLOATING(grad_y.dtype(), "max_pool2d backward", [&] {
    using T = scalar_t;
    const T* gy = static_cast<const T*>(grad_y.raw_data());
    const int32_t* pi = indices.data<int32_t>();
    T* gx = static_cast<T*>(grad_x.raw_data());
    const int64_t planes = g.n * g.c, in_plane = g.h * g.w, out_plane = g.ho * g.wo;
    parallel_for(planes, std::max<int64_t>(1, kParallelGrain / out_plane), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        T* dst = gx + p * in_plane;
        std::fill(dst, dst + in_plane, T(0));
        for (int64_t o = 0; o < out_plane; ++o) dst[pi[p * out_plane + o]] += gy[p * out_plane + o];
      }
    });
  });
}

}  // namespace mmp::cpu
