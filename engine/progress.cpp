#include "engine/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mmp {

using Clock = std::chrono::steady_clock;

ProgressDisplay::ProgressDisplay(bool enabled, double log_seconds)
    : enabled_(enabled), terminal_(isatty(2) != 0), log_seconds_(log_seconds) {}

bool ProgressDisplay::due() const {
  if (!enabled_) return false;
  const double since = std::chrono::duration<double>(Clock::now() - last_).count();
  return !shown_ || since >= (terminal_ ? 0.2 : log_seconds_);
}

void ProgressDisplay::show(const std::string& line) {
  if (!due()) return;
  shown_ = true;
  last_ = Clock::now();
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());  // \033[K: clear what a longer line left
    pending_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void ProgressDisplay::finish(const std::string& line) {
  if (!enabled_) return;
  std::fprintf(stderr, "%s%s%s\n", pending_ ? "\r" : "", line.c_str(), terminal_ ? "\033[K" : "");
  std::fflush(stderr);
  pending_ = false;
  last_ = Clock::now();
}

std::string progress_bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * 20);
  char buf[64];
  std::snprintf(buf, sizeof buf, "|%s%s| %3.0f%%", std::string(filled, '#').c_str(),
                std::string(20 - filled, ' ').c_str(), 100 * fraction);
  return buf;
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(std::max(seconds, 0.0) + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string progress_counts(int64_t done, int64_t total, const std::string& unit, Clock::time_point start) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld/%lld %s  %.1f %s/s  ETA %s", static_cast<long long>(done),
                static_cast<long long>(total), unit.c_str(), rate, unit.c_str(),
                rate > 0 ? clock_text(static_cast<double>(total - done) / rate).c_str() : "-:--");
  return buf;
}

}  // namespace mmp
