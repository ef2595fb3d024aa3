// CPU log_softmax and negative log-likelihood kernels.
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

void CpuBackend::log_softmax(const Tensor& x, const Tensor& out) {
  const int64_t rows = x.shape()[0], cols = x.shape()[1];
  MMP_DISPATCH_FLOATING(x.dtype(), "log_softmax", [&] {
    const scalar_t* in = static_cast<const scalar_t*>(x.raw_data());
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const scalar_t* row = in + i * cols;
        double max = row[0];
        for (int64_t j = 1; j < cols; ++j) max = std::max<double>(max, row[j]);
        double total = 0;
        for (int64_t j = 0; j < cols; ++j) total += std::exp(static_cast<double>(row[j]) - max);
        const double lse = max + std::log(total);
        for (int64_t j = 0; j < cols; ++j) o[i * cols + j] = static_cast<scalar_t>(row[j] - lse);
      }
    });
  });
}

void CpuBackend::nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) {
  const int64_t rows = logp.shape()[0], cols = logp.shape()[1];
  const int64_t* y = labels.data<int64_t>();
  MMP_DISPATCH_FLOATING(logp.dtype(), "nll_loss", [&] {
    const scalar_t* lp = static_cast<const scalar_t*>(logp.raw_data());
    double total = 0;
    for (int64_t i = 0; i < rows; ++i) {
      MMP_CHECK(y[i] >= 0 && y[i] < cols, "nll_loss: label ", y[i], " of sample ", i,
                " is outside [0, ", cols, ")");
      total -= lp[i * cols + y[i]];
    }
    *static_cast<scalar_t*>(out.raw_data()) = static_cast<scalar_t>(total / static_cast<double>(rows));
  });
}

void CpuBackend::nll_loss_backward(const Tensor& grad_out, const Tensor& labels, const Tensor& grad_logp) {
  const int64_t rows = grad_logp.shape()[0], cols = grad_logp.shape()[1];
  const int64_t* y = labels.data<int64_t>();
  MMP_DISPATCH_FLOATING(grad_logp.dtype(), "nll_loss_backward", [&] {
    scalar_t* g = static_cast<scalar_t*>(grad_logp.raw_data());
    const scalar_t value = -*static_cast<const scalar_t*>(grad_out.raw_data()) / static_cast<scalar_t>(rows);
    std::fill(g, g + rows * cols, scalar_t(0));
    for (int64_t i = 0; i < rows; ++i) g[i * cols + y[i]] = value;
  });
}

}  // namespace mmp::cpu
