#pragma once
// Wall-clock timing for benchmarks: warm-up, then repeats until a minimum count and
// duration, reporting the median (robust to a noisy neighbour on a shared machine).
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace mmp::cli {

struct Timing {
  double median_s = 0;
  double min_s = 0;
  int repeats = 0;
};

// `after_run(n)`, if given, is called after each of the n runs so far (warm-up included),
// for a progress display.
inline Timing time_median(const std::function<void()>& fn, int warmup = 1, int min_repeats = 3,
                          double min_seconds = 1.0, const std::function<void(int)>& after_run = {}) {
  using Clock = std::chrono::steady_clock;
  int runs = 0;
  for (int i = 0; i < warmup; ++i) {
    fn();
    if (after_run) after_run(++runs);
  }
  std::vector<double> samples;
  const auto start = Clock::now();
  while (static_cast<int>(samples.size()) < min_repeats ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    const auto t0 = Clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (after_run) after_run(++runs);
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), static_cast<int>(samples.size())};
}

}  // namespace mmp::cli
