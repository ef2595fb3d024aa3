#pragma once
// Running the `mmp` binary from tests (its path comes from CMake as MMP_BINARY).
#include <string>

namespace mmp::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `prefix` goes before the binary: variable assignments ("MMP_MEDIA_LIBRARY=/none") or a
// launcher (mpi_launcher(2)).
CommandResult run_mmp(const std::string& args, const std::string& prefix = "");
// `mpirun` starting `ranks` processes of this machine (as root too; oversubscribed, over
// shared memory).
std::string mpi_launcher(int ranks);
// A fresh folder under the system temp dir for one test, removed when the process ends.
std::string temp_dir(const std::string& name);
// A whole file's contents ("" when it cannot be read).
std::string read_text(const std::string& path);

}  // namespace mmp::testing
