#include "tests/support/fixtures.h"

namespace mmp::testing {

std::string fixture_path(const std::string& name) { return std::string(MMP_FIXTURE_DIR) + "/" + name; }

SafetensorsFile load_fixture(const std::string& name) { return load_safetensors(fixture_path(name)); }

}  // namespace mmp::testing
