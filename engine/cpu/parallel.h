#pragma once
// Splitting CPU work across threads (OpenMP), and the strided-run walker that the
// elementwise kernels share.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "engine/loop_plan.h"

namespace mmp::cpu {

// Work below this many elements runs on one thread: spawning costs more.
inline constexpr int64_t kParallelGrain = 1 << 15;

// Calls f(begin, end) on disjoint chunks of [0, n) from up to all OpenMP threads,
// each chunk at least `grain` long.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int64_t max_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t threads = std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, max_threads);
  if (threads == 1) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    // The team may be smaller than asked for (OMP_DYNAMIC): split over the real one.
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t begin = n * t / team, end = n * (t + 1) / team;
    if (begin < end) f(begin, end);
  }
}

// Runs body(begin, end, part) on one contiguous range of [0, n) per thread, in one
// parallel region, and returns the number of parts. Kernels give each thread whole
// images this way, so their inner loops (running single-threaded inside the region)
// need no synchronisation until the end. With fewer items than threads, or inside a
// parallel region, runs body(0, n, 0) here and returns 1.
template <class F>
int for_thread_ranges(int64_t n, F&& body) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || n < threads) {
    body(int64_t{0}, n, 0);
    return 1;
  }
  int team = threads;
#pragma omp parallel num_threads(threads)
  {
    // The team may be smaller than asked for (OMP_DYNAMIC): split over the real one.
    const int t = omp_get_thread_num(), size = omp_get_num_threads();
    if (t == 0) team = size;
    body(n * t / size, n * (t + 1) / size, t);
  }
  return team;
}

// Walks the elements of a loop plan in its order (the output's memory order), in
// parallel, as runs along its innermost dim: body(offsets[N], count, inner_strides[N]).
template <int N, class Body>
void for_each_run(const LoopPlan<N>& plan, int64_t grain, Body&& body) {
  const int64_t inner = plan.sizes[plan.ndim - 1];
  int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = plan.strides[k][plan.ndim - 1];
  parallel_for(plan.numel, grain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    while (i < end) {
      int64_t offsets[N];
      plan.offsets(i, offsets);
      const int64_t count = std::min(inner - i % inner, end - i);
      body(offsets, count, inner_strides);
      i += count;
    }
  });
}

}  // namespace mmp::cpu
