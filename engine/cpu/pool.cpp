// CPU max pooling with the argmax kept for backward, as PyTorch's kernel: padding
// never wins, a NaN does (the last one in the window).
#include <cmath>
#include <limits>

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
    parallel_for(planes, std::max<int64_t>(1, kParallelGrain / (out_plane * g.kh * g.kw)), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const T* src = px + p * in_plane;
        for (int64_t oh = 0; oh < g.ho; ++oh)
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            int32_t arg = -1;
            for (int64_t ki = 0; ki < g.kh; ++ki) {
              const int64_t ih = oh * g.stride - g.pad + ki;
              if (ih < 0 || ih >= g.h) continue;
              for (int64_t kj = 0; kj < g.kw; ++kj) {
                const int64_t iw = ow * g.stride - g.pad + kj;
                if (iw < 0 || iw >= g.w) continue;
                const T v = src[ih * g.w + iw];
                if (arg < 0 || v > best || std::isnan(v)) {
                  best = v;
                  arg = static_cast<int32_t>(ih * g.w + iw);
                }
              }
            }
            py[p * out_plane + oh * g.wo + ow] = best;
            pi[p * out_plane + oh * g.wo + ow] = arg;
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
