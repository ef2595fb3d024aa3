// CPU batch normalisation over (N, H, W) per channel; statistics in double.
#include <algorithm>
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {
namespace {

struct Layout {
  int64_t n, c, hw;
  explicit Layout(const Tensor& x) : n(x.shape()[0]), c(x.shape()[1]), hw(x.shape()[2] * x.shape()[3]) {}
  int64_t count() const { return n * hw; }
  int64_t plane(int64_t sample, int64_t channel) const { return (sample * c + channel) * hw; }
};

// The epilogue's tensors (engine/backend.h BatchNormEpilogue), as pointers.
template <class T>
struct Epilogue {
  const T* residual = nullptr;
  bool relu = false;
  const T* output = nullptr;
  T* grad_residual = nullptr;
};

template <class T>
void train_forward(const Layout& l, const T* x, const T* w, const T* b, T* rm, T* rv, T* y, T* mean_out,
                   T* invstd_out, double momentum, double eps, const Epilogue<T>& epilogue) {
  const double m = static_cast<double>(l.count());
  parallel_for(l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      // One pass for both moments; double accumulators keep E[x²] - E[x]² accurate.
      double total = 0, squares = 0;
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = x + l.plane(n, c);
#pragma omp simd reduction(+ : total, squares)
        for (int64_t i = 0; i < l.hw; ++i) {
          const double v = p[i];
          total += v;
          squares += v * v;
        }
      }
      const double mean = total / m;
      const double var = std::max(squares / m - mean * mean, 0.0);
      const double invstd = 1.0 / std::sqrt(var + eps);
      mean_out[c] = static_cast<T>(mean);
      invstd_out[c] = static_cast<T>(invstd);
      if (rm) {
        rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
        rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * m / (m - 1));
      }
      // (x - mean) first: with few values per channel (small batches, late layers) the
      // mean can be far larger than their spread, and x * scale + shift would lose the
      // difference to the rounding of two large terms.
      const T scale = static_cast<T>(w[c] * invstd), mean_t = static_cast<T>(mean), shift = b[c];
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = x + l.plane(n, c);
        const T* r = epilogue.residual ? epilogue.residual + l.plane(n, c) : nullptr;
        T* q = y + l.plane(n, c);
        if (!r && !epilogue.relu) {
#pragma omp simd
          for (int64_t i = 0; i < l.hw; ++i) q[i] = (p[i] - mean_t) * scale + shift;
        } else {
#pragma omp simd
          for (int64_t i = 0; i < l.hw; ++i) {
            T v = (p[i] - mean_t) * scale + shift;
            if (r) v = v + r[i];
            q[i] = epilogue.relu ? (v > T(0) ? v : T(0)) : v;
          }
        }
      }
    }
  });
}

template <class T>
void train_backward(const Layout& l, const T* x, const T* gy, const T* w, const T* mean, const T* invstd, T* gx,
                    T* gw, T* gb, const Epilogue<T>& epilogue) {
  const double m = static_cast<double>(l.count());
  // The gradient reaching the batch norm: through the ReLU's mask (y > 0) when fused.
  const T* mask = epilogue.relu ? epilogue.output : nullptr;
  parallel_for(l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double sum_gy = 0, sum_gy_x = 0;
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = x + l.plane(n, c);
        const T* g = gy + l.plane(n, c);
        const T* y = mask ? mask + l.plane(n, c) : nullptr;
#pragma omp simd reduction(+ : sum_gy, sum_gy_x)
        for (int64_t i = 0; i < l.hw; ++i) {
          const T gi = y && !(y[i] > T(0)) ? T(0) : g[i];
          sum_gy += gi;
          sum_gy_x += static_cast<double>(gi) * p[i];
        }
      }
      const double mu = mean[c], is = invstd[c];
      const double sum_gy_xhat = (sum_gy_x - mu * sum_gy) * is;
      if (gw) gw[c] = static_cast<T>(sum_gy_xhat);
      if (gb) gb[c] = static_cast<T>(sum_gy);
      if (!gx && !epilogue.grad_residual) continue;
      // gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
      const T k = static_cast<T>(w[c] * is);
      const T mean_gy = static_cast<T>(sum_gy / m);
      const T xhat_coeff = static_cast<T>(sum_gy_xhat / m * is);
      const T mu_t = static_cast<T>(mu);
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = x + l.plane(n, c);
        const T* g = gy + l.plane(n, c);
        const T* y = mask ? mask + l.plane(n, c) : nullptr;
        T* q = gx ? gx + l.plane(n, c) : nullptr;
        T* gr = epilogue.grad_residual ? epilogue.grad_residual + l.plane(n, c) : nullptr;
        if (!y && !gr) {
#pragma omp simd
          for (int64_t i = 0; i < l.hw; ++i) q[i] = k * (g[i] - mean_gy - (p[i] - mu_t) * xhat_coeff);
        } else {
#pragma omp simd
          for (int64_t i = 0; i < l.hw; ++i) {
            const T gi = y && !(y[i] > T(0)) ? T(0) : g[i];
            if (gr) gr[i] = gi;
            if (q) q[i] = k * (gi - mean_gy - (p[i] - mu_t) * xhat_coeff);
          }
        }
      }
    }
  });
}

template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

template <class T>
Epilogue<T> epilogue_of(const BatchNormEpilogue& e) {
  return {data_or_null<T>(e.residual), e.relu, data_or_null<T>(e.output), data_or_null<T>(e.grad_residual)};
}

void check_epilogue(const Tensor& x, const BatchNormEpilogue& e) {
  for (const Tensor* t : {&e.residual, &e.output, &e.grad_residual})
    MMP_CHECK(!t->defined() || (t->shape() == x.shape() && t->dtype() == x.dtype() && t->is_contiguous()),
              "batch norm of ", x.str(), ": its epilogue's tensor ", t->str(), " is not laid out as the input");
}

}  // namespace

void CpuBackend::batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                                  const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                                  BatchNormEpilogue& epilogue) {
  check_epilogue(x, epilogue);
  MMP_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    train_forward<scalar_t>(Layout(x), data_or_null<scalar_t>(x), data_or_null<scalar_t>(weight),
                            data_or_null<scalar_t>(bias), data_or_null<scalar_t>(running_mean),
                            data_or_null<scalar_t>(running_var), data_or_null<scalar_t>(y),
                            data_or_null<scalar_t>(save_mean), data_or_null<scalar_t>(save_invstd), momentum, eps,
                            epilogue_of<scalar_t>(epilogue));
  });
}

bool CpuBackend::fuses_batch_norm_epilogue(const Tensor&) const { return true; }

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                     const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                     const Tensor& grad_weight, const Tensor& grad_bias, double,
                                     const BatchNormEpilogue& epilogue) {
  check_epilogue(x, epilogue);
  MMP_CHECK(!epilogue.relu || epilogue.output.defined(), "batch norm backward of ", x.str(),
            ": a fused ReLU needs the forward's output");
  MMP_DISPATCH_FLOATING(x.dtype(), "batch_norm backward", [&] {
    train_backward<scalar_t>(Layout(x), data_or_null<scalar_t>(x), data_or_null<scalar_t>(grad_y),
                             data_or_null<scalar_t>(weight), data_or_null<scalar_t>(save_mean),
                             data_or_null<scalar_t>(save_invstd), data_or_null<scalar_t>(grad_x),
                             data_or_null<scalar_t>(grad_weight), data_or_null<scalar_t>(grad_bias),
                             epilogue_of<scalar_t>(epilogue));
  });
}

}  // namespace mmp::cpu
