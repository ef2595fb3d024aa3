#pragma once
// Running the `mmp` binary from tests (its path comes from CMake as MMP_BINARY).
#include <string>

namespace mmp::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `environment`: variable assignments for this run, e.g. "MMP_MEDIA_LIBRARY=/none".
CommandResult run_mmp(const std::string& args, const std::string& environment = "");
// A fresh folder under the system temp dir for one test, removed when the process ends.
std::string temp_dir(const std::string& name);

}  // namespace mmp::testing
