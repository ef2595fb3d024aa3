// CPU reductions. Sums accumulate in double, so f32 results are the correctly
// rounded sums the tests compare against.
#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {
namespace {

template <class T>
double dense_dot(const T* a, const T* b, int64_t n) {
  double total = 0;
  const int64_t threads = std::clamp<int64_t>(n / kParallelGrain, 1, omp_get_max_threads());
#pragma omp parallel for simd reduction(+ : total) num_threads(static_cast<int>(threads)) if (threads > 1)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return total;
}

template <class T>
double dense_sum(const T* a, int64_t n) {
  double total = 0;
  const int64_t threads = std::clamp<int64_t>(n / kParallelGrain, 1, omp_get_max_threads());
#pragma omp parallel for simd reduction(+ : total) num_threads(static_cast<int>(threads)) if (threads > 1)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(a[i]);
  return total;
}

}  // namespace

void CpuBackend::sum(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) {
  MMP_DISPATCH_FLOATING(x.dtype(), "sum", [&] {
    const scalar_t* in = static_cast<const scalar_t*>(x.raw_data());
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    if (inner == 1) {
      if (outer == 1) {
        o[0] = static_cast<scalar_t>(dense_sum(in, r));
        return;
      }
      parallel_for(outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          double acc = 0;
          const scalar_t* row = in + i * r;
          for (int64_t j = 0; j < r; ++j) acc += static_cast<double>(row[j]);
          o[i] = static_cast<scalar_t>(acc);
        }
      });
      return;
    }
    // Columns of `inner` elements: tasks are (outer index, block of columns).
    constexpr int64_t kBlock = 256;
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    const int64_t work_per_task = r * std::min(inner, kBlock);
    parallel_for(outer * blocks, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work_per_task, 1)),
                 [&](int64_t b, int64_t e) {
                   double acc[kBlock];
                   for (int64_t t = b; t < e; ++t) {
                     const int64_t oi = t / blocks, c0 = (t % blocks) * kBlock;
                     const int64_t width = std::min(kBlock, inner - c0);
                     std::fill(acc, acc + width, 0.0);
                     const scalar_t* base = in + oi * r * inner + c0;
                     for (int64_t j = 0; j < r; ++j) {
                       const scalar_t* row = base + j * inner;
                       for (int64_t c = 0; c < width; ++c) acc[c] += static_cast<double>(row[c]);
                     }
                     for (int64_t c = 0; c < width; ++c) o[oi * inner + c0 + c] = static_cast<scalar_t>(acc[c]);
                   }
                 });
  });
}

void CpuBackend::argmax(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) {
  MMP_DISPATCH_FLOATING(x.dtype(), "argmax", [&] {
    const scalar_t* in = static_cast<const scalar_t*>(x.raw_data());
    int64_t* o = static_cast<int64_t*>(out.raw_data());
    parallel_for(outer * inner, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const scalar_t* p = in + (t / inner) * r * inner + t % inner;
        int64_t best = 0;
        for (int64_t j = 1; j < r; ++j)
          if (p[j * inner] > p[best * inner] || (p[j * inner] != p[j * inner] && p[best * inner] == p[best * inner]))
            best = j;  // NaN is the maximum, as in PyTorch
        o[t] = best;
      }
    });
  });
}

void CpuBackend::dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const Tensor& out) {
  double* o = static_cast<double*>(out.raw_data());
  for (size_t i = 0; i < a.size(); ++i) {
    o[i] = MMP_DISPATCH_FLOATING(a[i].dtype(), "dots", [&] {
      return dense_dot(static_cast<const scalar_t*>(a[i].raw_data()),
                       static_cast<const scalar_t*>(b[i].raw_data()), a[i].numel());
    });
  }
}

}  // namespace mmp::cpu
