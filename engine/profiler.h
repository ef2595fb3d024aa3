#pragma once
// Wall-clock time per op, for `mmp bench ... --profile`: off by default (one branch per
// op), on inside a ProfileSession. Device work is synchronised at each scope's end so
// the time lands on the op that queued it.
#include <chrono>
#include <map>
#include <string>

#include "engine/device.h"

namespace mmp {

struct ProfileEntry {
  double seconds = 0;
  long long calls = 0;   // as the outermost op (its time is `seconds`)
  long long nested = 0;  // inside another op, whose time includes it
};

// Enables profiling for its lifetime and collects the totals.
class ProfileSession {
 public:
  ProfileSession();
  ~ProfileSession();
  // Totals by op name ("conv2d", "conv2d backward", ...), in seconds, and how often each
  // ran (tests count layout copies this way).
  std::map<std::string, ProfileEntry> totals() const;
  void print(double total_seconds) const;
};

bool profiling_enabled();

class ProfileScope {
 public:
  ProfileScope(const char* name, Device device) {
    if (profiling_enabled()) start(name, device);
  }
  ProfileScope(const std::string& name, Device device) {
    if (profiling_enabled()) start(name.c_str(), device);
  }
  ~ProfileScope() {
    if (entered_) stop();
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  void start(const char* name, Device device);
  void stop();
  bool entered_ = false;  // counted in the nesting depth
  bool active_ = false;   // the outermost scope: its time is recorded
  std::string name_;
  Device device_;
  std::chrono::steady_clock::time_point begin_;
};

}  // namespace mmp
