// `mmp step` end to end: files in, files out, equal to PyTorch; bad input gets one
// clear line and a non-zero exit.
#include <catch2/catch.hpp>

#include "engine/safetensors.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

// Splits the model fixture into the weights and batch files `mmp step` reads.
void write_inputs(const SafetensorsFile& fx, const std::string& dir) {
  NamedTensors weights, batch;
  for (const auto& [name, t] : fx.tensors) {
    if (name.rfind("weights/", 0) == 0) weights.emplace_back(name.substr(8), t);
    if (name == "audio" || name == "visual" || name == "label") batch.emplace_back(name, t);
  }
  save_safetensors(dir + "/weights.safetensors", weights);
  save_safetensors(dir + "/batch.safetensors", batch);
}

}  // namespace

TEST_CASE("mmp step writes the logits, losses, per-loss gradients and BN statistics of PyTorch", "[unit][cli]") {
  const std::string dir = temp_dir("step");
  const SafetensorsFile fx = load_fixture("av_model_gated.safetensors");
  write_inputs(fx, dir);
  const CommandResult r = run_mmp("step --weights " + dir + "/weights.safetensors --batch " + dir +
                                  "/batch.safetensors --out " + dir + "/out.safetensors");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const SafetensorsFile out = load_safetensors(dir + "/out.safetensors");
  int compared = 0;
  for (const auto& [name, t] : out.tensors) {
    const Tensor* expected = fx.find(name);
    INFO(name);
    REQUIRE(expected != nullptr);  // every output has its PyTorch counterpart
    CHECK(relative_error(t, *expected) < 1e-4);
    ++compared;
  }
  // ... and every PyTorch gradient and statistic has its output.
  for (const auto& [name, t] : fx.tensors)
    if (name.rfind("grad/", 0) == 0 || name.rfind("buffers/", 0) == 0) CHECK(out.find(name) != nullptr);
  CHECK(compared > 300);
}

TEST_CASE("mmp step rejects bad input with one clear line", "[unit][cli]") {
  const std::string dir = temp_dir("step_errors");
  write_inputs(load_fixture("av_model_concat.safetensors"), dir);
  const std::string w = dir + "/weights.safetensors", b = dir + "/batch.safetensors", o = dir + "/o.safetensors";

  CommandResult r = run_mmp("step --weights " + dir + "/missing.safetensors --batch " + b + " --out " + o);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("mmp: error:") && Contains("missing.safetensors: cannot open"));

  save_safetensors(dir + "/nolabel.safetensors", {{"audio", zeros({2, 1, 64, 48})}, {"visual", zeros({2, 2, 3, 64, 64})}});
  r = run_mmp("step --weights " + w + " --batch " + dir + "/nolabel.safetensors --out " + o);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("nolabel.safetensors: no tensor 'label'"));

  r = run_mmp("step --weights " + w + " --batch " + b + " --out " + o + " --classes 7");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("--classes 7 but") && Contains("6 classes"));

  r = run_mmp("step --weights " + w + " --batch " + b + " --out " + o + " --fusion film");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("holds a concat head"));

  save_safetensors(dir + "/badlabel.safetensors",
                   {{"audio", zeros({2, 1, 64, 48})}, {"visual", zeros({2, 2, 3, 64, 64})},
                    {"label", from_vector<int64_t>({1, 9}, {2})}});
  save_safetensors(dir + "/gray.safetensors",
                   {{"audio", zeros({2, 1, 64, 48})}, {"visual", zeros({2, 2, 1, 64, 64})},
                    {"label", from_vector<int64_t>({1, 2}, {2})}});
  r = run_mmp("step --weights " + w + " --batch " + dir + "/gray.safetensors --out " + o);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains(dir + "/gray.safetensors: visual") && Contains("1 channels per frame") &&
                           Contains("takes 3"));
  r = run_mmp("step --weights " + w + " --batch " + dir + "/badlabel.safetensors --out " + o);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("label 9 of sample 1 is outside [0, 6)"));
  CHECK(r.output.find("terminate") == std::string::npos);
}

// The step fixture's starting weights and first batch as files for `mmp step`
// (dir/w.safetensors, dir/b.safetensors); returns the weights.
NamedTensors write_step_inputs(const SafetensorsFile& fx, const std::string& dir) {
  NamedTensors weights, batch;
  for (const auto& [name, t] : fx.tensors)
    if (name.rfind("weights/", 0) == 0) weights.emplace_back(name.substr(8), t);
  for (const char* k : {"audio", "visual", "label"}) batch.emplace_back(k, *fx.find(k));
  save_safetensors(dir + "/w.safetensors", weights);
  save_safetensors(dir + "/b.safetensors", batch);
  return weights;
}

TEST_CASE("mmp step takes the integrator's options: --rescale and OGM-GE's window", "[unit][cli]") {
  const SafetensorsFile fx = load_fixture("step_methods.safetensors");
  const std::string dir = temp_dir("step_options");
  const NamedTensors weights = write_step_inputs(fx, dir);
  const std::string in = "step --weights " + dir + "/w.safetensors --batch " + dir + "/b.safetensors --lr " +
                         fx.metadata.at("lr") + " --out " + dir;
  // The paper's whole-encoder rescale gives the reference's mmpareto-encoder gradients.
  CommandResult r = run_mmp(in + "/encoder.safetensors --method mmpareto --rescale encoder");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const SafetensorsFile encoder = load_safetensors(dir + "/encoder.safetensors");
  int compared = 0;
  for (const auto& [name, t] : weights) {
    const Tensor* g = encoder.find("final_grad/" + name);
    if (!g) continue;
    INFO(name);
    CHECK(relative_error(*g, *fx.find("mmpareto-encoder/final_grad/" + name)) < 1e-3);  // f32 against f64
    ++compared;
  }
  CHECK(compared > 100);
  r = run_mmp(in + "/bad.safetensors --method mmpareto --rescale layer");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("--rescale") && Contains("layer"));
  // Before OGM-GE's first epoch the encoders get the plain multimodal gradient.
  r = run_mmp(in + "/ogm.safetensors --method ogm-ge --ogm-start 2 --ogm-end 5 --epoch 1");
  REQUIRE(r.exit_code == 0);
  const SafetensorsFile ogm = load_safetensors(dir + "/ogm.safetensors");
  for (const char* name : {"audio_net.conv1.weight", "visual_net.layer4.1.conv2.weight"}) {
    INFO(name);
    CHECK(max_abs_difference(*ogm.find(std::string("final_grad/") + name), *ogm.find(std::string("grad/mm/") + name)) ==
          0.0);
  }
  CHECK(ogm.find("stats/weight_mm_audio")->item() == 1.0);
}

TEST_CASE("mmp step --dtype f64 is PyTorch's float64 step to 1e-10", "[unit][cli]") {
  const SafetensorsFile fx = load_fixture("step_methods.safetensors");
  const std::string dir = temp_dir("step_f64");
  const NamedTensors weights = write_step_inputs(fx, dir);
  for (const char* method : {"uniform", "mmpareto", "cagrad"}) {
    INFO(method);
    const CommandResult r = run_mmp("step --dtype f64 --weights " + dir + "/w.safetensors --batch " + dir +
                                    "/b.safetensors --method " + method + " --lr " + fx.metadata.at("lr") +
                                    " --momentum " + fx.metadata.at("momentum") + " --weight-decay " +
                                    fx.metadata.at("weight_decay") + " --out " + dir + "/o.safetensors");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const SafetensorsFile out = load_safetensors(dir + "/o.safetensors");
    int compared = 0;
    for (const auto& [name, t] : weights) {
      const Tensor* g = out.find("final_grad/" + name);
      if (!g) continue;
      INFO(name);
      CHECK(g->dtype() == DType::F64);
      CHECK(relative_error(*g, *fx.find(std::string(method) + "/final_grad/" + name)) < 1e-10);
      ++compared;
    }
    CHECK(compared > 100);
  }
  const CommandResult bad = run_mmp("step --dtype f16 --weights " + dir + "/w.safetensors --batch " + dir +
                                    "/b.safetensors --out " + dir + "/x.safetensors");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("--dtype must be f32 or f64, got 'f16'"));
}
