#include "tests/support/fixtures.h"

#include <cstdlib>

namespace mmp::testing {

// The source tree's fixtures, or MMP_FIXTURE_DIR's where the tests run from a copy of
// the tree at another path (tools/gpu-check.sh on a GPU machine).
std::string fixture_path(const std::string& name) {
  const char* dir = std::getenv("MMP_FIXTURE_DIR");
  return std::string(dir && *dir ? dir : MMP_FIXTURE_DIR) + "/" + name;
}

SafetensorsFile load_fixture(const std::string& name) { return load_safetensors(fixture_path(name)); }

}  // namespace mmp::testing
