#pragma once
// Locating and reading the committed fixture files (tests/fixtures/).
#include <string>

#include "engine/safetensors.h"

namespace mmp::testing {

// The path of a fixture file: MMP_FIXTURE_DIR (set by CMake) + name.
std::string fixture_path(const std::string& name);
SafetensorsFile load_fixture(const std::string& name);

}  // namespace mmp::testing
