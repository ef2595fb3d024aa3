// CPU batch normalisation over (N, H, W) per channel; statistics in double.
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {
namespace {

struct Layout {
  int64_t n, c, hw;
  int64_t count() const { return n * hw; }
};

Layout layout_of(const Tensor& x) { return {x.shape()[0], x.shape()[1], x.shape()[2] * x.shape()[3]}; }

// Calls f(plane pointer) for the N planes of channel c.
template <class T, class F>
void for_planes(T* base, const Layout& l, int64_t c, F&& f) {
  for (int64_t n = 0; n < l.n; ++n) f(base + (n * l.c + c) * l.hw);
}

}  // namespace

void CpuBackend::batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                                  const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps) {
  const Layout l = layout_of(x);
  MMP_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    const T* px = static_cast<const T*>(x.raw_data());
    const T* w = static_cast<const T*>(weight.raw_data());
    const T* b = static_cast<const T*>(bias.raw_data());
    T* py = static_cast<T*>(y.raw_data());
    T* mean_out = static_cast<T*>(save_mean.raw_data());
    T* invstd_out = static_cast<T*>(save_invstd.raw_data());
    T* rm = running_mean.defined() ? static_cast<T*>(running_mean.raw_data()) : nullptr;
    T* rv = running_var.defined() ? static_cast<T*>(running_var.raw_data()) : nullptr;
    const double m = static_cast<double>(l.count());
    parallel_for(l.c, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double total = 0;
        for_planes(px, l, c, [&](const T* p) {
          for (int64_t i = 0; i < l.hw; ++i) total += p[i];
        });
        const double mean = total / m;
        double squares = 0;
        for_planes(px, l, c, [&](const T* p) {
          for (int64_t i = 0; i < l.hw; ++i) squares += (p[i] - mean) * (p[i] - mean);
        });
        const double var = squares / m;
        const double invstd = 1.0 / std::sqrt(var + eps);
        mean_out[c] = static_cast<T>(mean);
        invstd_out[c] = static_cast<T>(invstd);
        if (rm) {
          rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
          rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * m / (m - 1));
        }
        const T scale = static_cast<T>(w[c] * invstd), shift = static_cast<T>(b[c] - mean * w[c] * invstd);
        for (int64_t n = 0; n < l.n; ++n) {
          const T* p = px + (n * l.c + c) * l.hw;
          T* q = py + (n * l.c + c) * l.hw;
          for (int64_t i = 0; i < l.hw; ++i) q[i] = p[i] * scale + shift;
        }
      }
    });
  });
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                     const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                     const Tensor& grad_weight, const Tensor& grad_bias, double) {
  const Layout l = layout_of(x);
  MMP_DISPATCH_FLOATING(x.dtype(), "batch_norm backward", [&] {
    using T = scalar_t;
    const T* px = static_cast<const T*>(x.raw_data());
    const T* gy = static_cast<const T*>(grad_y.raw_data());
    const T* w = static_cast<const T*>(weight.raw_data());
    const T* mean = static_cast<const T*>(save_mean.raw_data());
    const T* invstd = static_cast<const T*>(save_invstd.raw_data());
    T* gx = grad_x.defined() ? static_cast<T*>(grad_x.raw_data()) : nullptr;
    T* gw = grad_weight.defined() ? static_cast<T*>(grad_weight.raw_data()) : nullptr;
    T* gb = grad_bias.defined() ? static_cast<T*>(grad_bias.raw_data()) : nullptr;
    const double m = static_cast<double>(l.count());
    parallel_for(l.c, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double sum_gy = 0, sum_gy_xhat = 0;
        const double mu = mean[c], is = invstd[c];
        for (int64_t n = 0; n < l.n; ++n) {
          const T* p = px + (n * l.c + c) * l.hw;
          const T* g = gy + (n * l.c + c) * l.hw;
          for (int64_t i = 0; i < l.hw; ++i) {
            sum_gy += g[i];
            sum_gy_xhat += g[i] * (p[i] - mu);
          }
        }
        sum_gy_xhat *= is;
        if (gw) gw[c] = static_cast<T>(sum_gy_xhat);
        if (gb) gb[c] = static_cast<T>(sum_gy);
        if (!gx) continue;
        // gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
        const T k = static_cast<T>(w[c] * is);
        const T mean_gy = static_cast<T>(sum_gy / m);
        const T xhat_coeff = static_cast<T>(sum_gy_xhat / m * is);
        const T mu_t = static_cast<T>(mu);
        for (int64_t n = 0; n < l.n; ++n) {
          const T* p = px + (n * l.c + c) * l.hw;
          const T* g = gy + (n * l.c + c) * l.hw;
          T* q = gx + (n * l.c + c) * l.hw;
          for (int64_t i = 0; i < l.hw; ++i) q[i] = k * (g[i] - mean_gy - (p[i] - mu_t) * xhat_coeff);
        }
      }
    });
  });
}

}  // namespace mmp::cpu
