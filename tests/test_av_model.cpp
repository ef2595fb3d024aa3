// The audio-visual model against PyTorch: fixtures written by
// tools/reference/model_fixture.py (a width-4 AVClassifier computed in f64 by
// PyTorch), checked tensor by tensor in f32.
#include <catch2/catch.hpp>
#include <map>

#include "engine/autograd.h"
#include "layers/av_classifier.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

// f32 forward and backward through ~20 layers, against an f64 reference.
constexpr double kTolerance = 1e-4;

NamedTensors with_prefix_removed(const SafetensorsFile& f, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace

TEST_CASE("AVClassifier matches PyTorch: logits, losses, per-loss gradients, BN statistics", "[unit][model]") {
  for (const char* fusion : {"concat", "sum", "film", "gated"}) {
    DYNAMIC_SECTION(fusion) {
      const SafetensorsFile fx = load_fixture(std::string("av_model_") + fusion + ".safetensors");
      AVClassifierConfig config;
      config.classes = 6;
      config.width = std::stoi(fx.metadata.at("width"));
      config.fusion = parse_fusion(fusion);
      Generator gen(0);
      AVClassifier model(config, gen);
      model.load_state_dict(with_prefix_removed(fx, "weights/"), "fixture weights");
      model.train();

      const AVOutputs out = model.forward(*fx.find("audio"), *fx.find("visual"));
      const Tensor& label = *fx.find("label");
      const std::vector<std::pair<std::string, Tensor>> losses{{"mm", cross_entropy(out.out, label)},
                                                               {"audio", cross_entropy(out.out_audio, label)},
                                                               {"visual", cross_entropy(out.out_visual, label)}};
      CHECK(relative_error(out.out, *fx.find("out")) < kTolerance);
      CHECK(relative_error(out.out_audio, *fx.find("out_audio")) < kTolerance);
      CHECK(relative_error(out.out_visual, *fx.find("out_visual")) < kTolerance);
      for (const auto& [key, loss] : losses) {
        INFO("loss " << key);
        CHECK(relative_error(loss, *fx.find("loss_" + key)) < kTolerance);
      }

      const NamedTensors params = model.named_parameters();
      std::vector<Tensor> roots, inputs;
      for (const auto& [key, loss] : losses) roots.push_back(loss);
      for (const auto& [name, p] : params) inputs.push_back(p);
      const auto grads = grad_per_root(roots, inputs);
      int compared = 0;
      for (size_t k = 0; k < losses.size(); ++k)
        for (size_t j = 0; j < params.size(); ++j) {
          const std::string key = "grad/" + losses[k].first + "/" + params[j].first;
          const Tensor* expected = fx.find(key);
          INFO(key);
          REQUIRE(grads[k][j].defined() == (expected != nullptr));  // reaches exactly the same parameters
          if (!expected) continue;
          CHECK(relative_error(grads[k][j], *expected) < kTolerance);
          ++compared;
        }
      CHECK(compared > 3 * 60);
      for (const auto& [name, buffer] : model.named_buffers()) {
        INFO("buffer " << name);
        CHECK(relative_error(buffer, *fx.find("buffers/" + name)) < kTolerance);
      }
    }
  }
}

TEST_CASE("state dict names follow the official model", "[unit][model]") {
  Generator gen(1);
  AVClassifierConfig config;
  config.width = 2;
  AVClassifier model(config, gen);
  const NamedTensors state = model.state_dict();
  auto has = [&](const std::string& name) {
    for (const auto& [n, t] : state)
      if (n == name) return true;
    return false;
  };
  CHECK(has("audio_net.conv1.weight"));
  CHECK(has("visual_net.layer2.0.downsample.1.running_var"));
  CHECK(has("visual_net.layer4.1.bn2.num_batches_tracked"));
  CHECK(has("head.weight"));
  CHECK(has("head_audio.bias"));
  CHECK(has("head_video.weight"));
  CHECK_FALSE(has("audio_net.layer1.0.downsample.0.weight"));  // layer1 keeps its shape
  CHECK(state.size() == 246);  // len(state_dict()) of the PyTorch model (tools/reference/av_model.py)
}

TEST_CASE("loading a mismatched state dict names every problem and changes nothing", "[unit][model]") {
  Generator gen(2);
  AVClassifierConfig config;
  config.width = 2;
  AVClassifier model(config, gen);
  NamedTensors state = model.state_dict();
  const Tensor before = model.state_dict()[0].second.clone();
  state.erase(state.begin() + 1);                                      // missing
  state.emplace_back("head.extra", zeros({1}));                         // unexpected
  state[0].second = zeros({2, 3, 7, 7});                                // wrong shape
  state[2].second = ones(state[2].second.shape());
  CHECK_THROWS_WITH(model.load_state_dict(state, "w.safetensors"),
                    Catch::Matchers::Contains("w.safetensors does not match the model") &&
                        Catch::Matchers::Contains("1 missing (audio_net.bn1.weight)") &&
                        Catch::Matchers::Contains("1 unexpected (head.extra)") &&
                        Catch::Matchers::Contains("audio_net.conv1.weight [2, 3, 7, 7] in w.safetensors, [2, 1, 7, 7]"));
  CHECK(relative_error(model.state_dict()[0].second, before) == 0.0);
}

TEST_CASE("a state dict without batch-norm counters (older PyTorch) loads them as 0", "[unit][model]") {
  Generator gen(2);
  AVClassifierConfig config;
  config.width = 2;
  AVClassifier source(config, gen), model(config, gen);
  source.train();
  model.train();
  const Tensor audio = randn({2, 1, 32, 24}, gen), visual = randn({2, 2, 3, 32, 32}, gen);
  model.forward(audio, visual);  // counters at 1
  NamedTensors state;
  std::map<std::string, Tensor> kept;
  size_t dropped = 0;
  for (const auto& [name, t] : source.state_dict()) {
    if (name.find("num_batches_tracked") != std::string::npos) {
      ++dropped;
    } else {
      state.emplace_back(name, t);
      kept[name] = t;
    }
  }
  REQUIRE(dropped == 40);  // 20 batch norms per encoder
  model.load_state_dict(state, "old.pth");
  for (const auto& [name, t] : model.state_dict()) {
    INFO(name);
    if (name.find("num_batches_tracked") != std::string::npos) CHECK(t.item() == 0.0);
    else CHECK(relative_error(t, kept.at(name)) == 0.0);
  }
  model.forward(audio, visual);  // and counts on from there
  for (const auto& [name, t] : model.state_dict())
    if (name.find("num_batches_tracked") != std::string::npos) CHECK(t.item() == 1.0);
}

TEST_CASE("OGM-GE's modality scores are the official ones: each head with half its bias", "[unit][model]") {
  Generator gen(3);
  const Tensor a = randn({4, 16}, gen), v = randn({4, 16}, gen);
  for (const FusionKind kind : {FusionKind::Concat, FusionKind::Sum}) {
    AVClassifierConfig config;
    config.width = 2;  // 16-d features
    config.fusion = kind;
    AVClassifier model(config, gen);
    auto param = [&](const std::string& name) -> Tensor {
      for (const auto& [n, t] : model.named_parameters())
        if (n == name) return t.detach();
      FAIL("no parameter " << name);
      return Tensor();
    };
    const auto [out_a, out_v] = model.modality_logits(a, v);
    Tensor want_a, want_v;
    if (kind == FusionKind::Concat) {  // the head's weight split by modality
      const Tensor w = param("head.weight"), half_b = mul_scalar(param("head.bias"), 0.5);
      want_a = linear(a, slice(w, 1, 0, 16), half_b);
      want_v = linear(v, slice(w, 1, 16, 32), half_b);
    } else {  // main.py of OGM-GE: fc_x(a) and fc_y(v) with bias / 2
      want_a = linear(a, param("head.fc_x.weight"), mul_scalar(param("head.fc_x.bias"), 0.5));
      want_v = linear(v, param("head.fc_y.weight"), mul_scalar(param("head.fc_y.bias"), 0.5));
    }
    CHECK(max_abs_difference(out_a, want_a) < 1e-6);
    CHECK(max_abs_difference(out_v, want_v) < 1e-6);
  }
}
