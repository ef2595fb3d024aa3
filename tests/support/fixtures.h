#pragma once
// Locating and reading the committed fixture files (tests/fixtures/).
#include <string>

#include "engine/safetensors.h"
#include "mmpareto/objectives.h"

namespace mmp::testing {

// The path of a fixture file: the directory CMake names (or the MMP_FIXTURE_DIR
// environment variable, for a copy of the tree elsewhere) + name.
std::string fixture_path(const std::string& name);
SafetensorsFile load_fixture(const std::string& name);

// The model of an av_model_*.safetensors fixture (its `weights/`) on `device` in
// training mode, and its per-loss gradients on the fixture's batch.
ObjectiveGradients fixture_objective_gradients(const SafetensorsFile& fixture, Device device);

}  // namespace mmp::testing
