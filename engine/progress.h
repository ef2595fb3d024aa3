#pragma once
// Progress of a long command on stderr, one policy for all of them (train, prepare,
// eval, bench data): on a terminal one line rewritten in place, at most 5 times a
// second; into a log (a pipe, a file, a Slurm job's output) plain lines: the first
// update, then one every `log_seconds`, and the last.
#include <chrono>
#include <string>

namespace mmp {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool enabled = true, double log_seconds = 30);
  // Whether show() would print now: callers build their line only then (steps are a
  // hot path).
  bool due() const;
  // A new state of the task; shown or not by the policy above.
  void show(const std::string& line);
  // The task's end (or an epoch's): always shown, and the line kept.
  void finish(const std::string& line);
  bool to_terminal() const { return terminal_; }

 private:
  bool enabled_, terminal_;
  double log_seconds_;
  bool shown_ = false, pending_ = false;  // pending: a terminal line without its newline
  std::chrono::steady_clock::time_point last_;
};

// "|#########           |  45%": `fraction` of a 20-character bar.
std::string progress_bar(double fraction);
// Seconds as m:ss ("12:05"), for times left.
std::string clock_text(double seconds);
// "123/300 clips  45.6 clips/s  ETA 0:04": counts, rate and time left since `start`.
std::string progress_counts(int64_t done, int64_t total, const std::string& unit,
                            std::chrono::steady_clock::time_point start);

}  // namespace mmp
