#include "engine/profiler.h"

#include <cstdio>
#include <mutex>
#include <vector>
#include <algorithm>

#include "engine/backend.h"

namespace mmp {
namespace {

std::mutex g_mutex;
std::map<std::string, ProfileEntry> g_totals;
bool g_enabled = false;
thread_local int t_depth = 0;  // only the outermost scope counts: nested ops are inside it

}  // namespace

bool profiling_enabled() { return g_enabled; }

ProfileSession::ProfileSession() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_totals.clear();
  g_enabled = true;
}

ProfileSession::~ProfileSession() { g_enabled = false; }

std::map<std::string, ProfileEntry> ProfileSession::totals() const {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_totals;
}

void ProfileSession::print(double total_seconds) const {
  const auto all = totals();
  std::vector<std::pair<std::string, ProfileEntry>> rows(all.begin(), all.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double covered = 0;
  std::printf("%-52s %10s %8s %7s\n", "op", "seconds", "calls", "share");
  for (const auto& [name, e] : rows) {
    if (e.calls == 0) continue;  // only ever inside other ops: timed with them
    std::printf("%-52s %10.4f %8lld %6.1f%%\n", name.c_str(), e.seconds, e.calls, 100 * e.seconds / total_seconds);
    covered += e.seconds;
  }
  std::printf("%-52s %10.4f %8s %6.1f%%\n", "(outside ops)", total_seconds - covered, "", 100 * (total_seconds - covered) / total_seconds);
}

void ProfileScope::start(const char* name, Device device) {
  entered_ = true;
  if (t_depth++ > 0) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_totals[name].nested += 1;
    return;
  }
  active_ = true;
  name_ = name;
  device_ = device;
  begin_ = std::chrono::steady_clock::now();
}

void ProfileScope::stop() {
  --t_depth;
  if (!active_) return;
  backend(device_).synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
  std::lock_guard<std::mutex> lock(g_mutex);
  auto& e = g_totals[name_];
  e.seconds += s;
  e.calls += 1;
}

}  // namespace mmp
