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

ObjectiveGradients fixture_objective_gradients(const SafetensorsFile& fx, Device device) {
  NamedTensors weights;
  for (const auto& [name, t] : fx.tensors)
    if (name.rfind("weights/", 0) == 0) weights.emplace_back(name.substr(8), t);
  Generator gen(0);
  AVClassifier model(infer_config(weights, "fixture"), gen);
  model.load_state_dict(weights, "fixture");
  model.to(device);
  model.train();
  const Batch batch = Batch{*fx.find("audio"), *fx.find("visual"), *fx.find("label")}.to(device);
  return compute_objective_gradients(model, batch);
}

}  // namespace mmp::testing
