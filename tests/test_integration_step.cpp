// Every integration method, a whole training step and then a second one from the
// optimizer state, against PyTorch: tests/fixtures/step_methods.safetensors, written
// by tools/reference/step_fixture.py (the official MMPareto step transcribed). Both
// sides compute in f64 from the same f32 values, and the reference's results are kept
// in f64: the exact mode agrees to 1e-10 relative per tensor (the second update relative
// to the size of its terms).
#include <catch2/catch.hpp>

#include "mmpareto/train_step.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

constexpr double kTolerance = 1e-10;

struct Case {
  const char* fixture_name;
  const char* method;
  bool per_tensor = true;
  bool measure = true;  // false: the single-sweep path of the fixed-weight methods
  bool probes = true;   // one-joint's unimodal heads: probes, or untouched (the official code)
};

NamedTensors with_prefix(const SafetensorsFile& f, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// The second step's update against the reference's, relative to the size of the step's
// terms (the first update, which momentum carries, and the new one): where they nearly
// cancel (a batch-norm weight whose second update is 150x smaller than its first), the
// rounding of the weights themselves (about 1) is large next to the difference.
double second_update_error(const Tensor& update, const Tensor& expected, const Tensor& first_expected) {
  const double scale = std::max(norm(expected).item(), norm(first_expected).item());
  return scale > 0 ? norm(sub(update, expected)).item() / scale : norm(update).item();
}

double stat(const std::vector<std::pair<std::string, double>>& stats, const std::string& name) {
  for (const auto& [n, v] : stats)
    if (n == name) return v;
  FAIL("no statistic " << name);
  return 0;
}

}  // namespace

TEST_CASE("each integration method's step equals PyTorch's, twice", "[unit][mmpareto]") {
  const SafetensorsFile fx = load_fixture("step_methods.safetensors");
  for (const Case c : {Case{"one-joint", "one-joint"}, Case{"uniform", "uniform"}, Case{"mmpareto", "mmpareto"},
                       Case{"mmpareto-encoder", "mmpareto", false}, Case{"mgda", "mgda"}, Case{"pcgrad", "pcgrad"},
                       Case{"cagrad", "cagrad"}, Case{"ogm", "ogm-ge"}, Case{"one-joint", "one-joint", true, false},
                       Case{"uniform", "uniform", true, false}, Case{"one-joint-official", "one-joint", true, true, false},
                       Case{"one-joint-official", "one-joint", true, false, false}}) {
    DYNAMIC_SECTION(c.fixture_name << (c.measure ? "" : " (single sweep)")) {
      const NamedTensors weights = with_prefix(fx, "weights/");
      Generator gen(0);
      AVClassifier model(infer_config(weights, "fixture"), gen);
      model.load_state_dict(weights, "fixture");
      model.to(DType::F64);  // as the reference: f64 from f32-representable starting values
      model.train();
      IntegratorOptions io;
      io.rescale_per_tensor = c.per_tensor;
      io.ogm_noise = false;  // the reference leaves out OGM-GE's random term
      io.one_joint_probes = c.probes;
      OptimizerOptions oo;
      oo.lr = std::stod(fx.metadata.at("lr"));
      oo.momentum = std::stod(fx.metadata.at("momentum"));
      oo.weight_decay = std::stod(fx.metadata.at("weight_decay"));
      TrainStep step(model, make_integrator(c.method, io), make_optimizer(model.named_parameters(), oo), 0, c.measure);
      const std::string p1 = std::string(c.fixture_name) + "/", p2 = p1 + "step2/";

      const Batch first{fx.find("audio")->to(DType::F64), fx.find("visual")->to(DType::F64), *fx.find("label")};
      const NamedTensors before = [&] {
        NamedTensors copy;
        for (const auto& [n, t] : model.named_parameters()) copy.emplace_back(n, t.clone());
        return copy;
      }();
      const StepReport r1 = step.run(first, 0, oo.lr);
      for (int k = 0; k < kObjectives; ++k)
        CHECK(r1.losses[k] == Approx(fx.find(p1 + "loss_" + kObjectiveNames[k])->item()).epsilon(kTolerance));
      const auto params = model.named_parameters();
      for (size_t j = 0; j < params.size(); ++j) {
        const auto& [name, p] = params[j];
        INFO(name);
        if (!fx.find(p1 + "final_grad/" + name)) {  // no gradient in the reference: untouched
          CHECK_FALSE(p.grad().defined());
          CHECK(max_abs_difference(p, before[j].second) == 0.0);
          CHECK(max_abs_difference(*fx.find(p1 + "update/" + name), zeros_like(p)) == 0.0);
          continue;
        }
        CHECK(relative_error(p.grad(), *fx.find(p1 + "final_grad/" + name)) < kTolerance);
        // The update, not the weights, is what the step computes: compare it.
        CHECK(relative_error(sub(p, before[j].second), *fx.find(p1 + "update/" + name)) < kTolerance);
      }
      for (const auto& [name, b] : model.named_buffers()) CHECK(relative_error(b, *fx.find("buffers/" + name)) < kTolerance);
      if (!c.measure) {  // no statistics on this path: check the second step's update and stop
        CHECK(r1.groups.empty());
        const Batch second{fx.find("audio2")->to(DType::F64), fx.find("visual2")->to(DType::F64), *fx.find("label2")};
        NamedTensors after_first;
        for (const auto& [n, t] : model.named_parameters()) after_first.emplace_back(n, t.clone());
        step.run(second, 0, oo.lr);
        for (size_t j = 0; j < params.size(); ++j)
          CHECK(second_update_error(sub(params[j].second, after_first[j].second),
                                    *fx.find(p1 + "step2/update/" + params[j].first),
                                    *fx.find(p1 + "update/" + params[j].first)) < kTolerance);
        return;
      }
      const auto s1 = step_statistics(r1);
      for (const char* key : {"cos_audio", "cos_visual", "weight_mm_audio", "weight_audio_audio", "weight_mm_visual",
                              "weight_visual_visual", "norm_mm_audio", "norm_sum_visual", "norm_final_audio",
                              "norm_final_visual"}) {
        INFO(key);
        CHECK(stat(s1, key) == Approx(fx.find(p1 + "stats/" + key)->item()).epsilon(kTolerance).margin(1e-13));
      }

      // Step 2: conflicting gradients, and momentum from step 1.
      const Batch second{fx.find("audio2")->to(DType::F64), fx.find("visual2")->to(DType::F64), *fx.find("label2")};
      NamedTensors after_first;
      for (const auto& [n, t] : model.named_parameters()) after_first.emplace_back(n, t.clone());
      const StepReport r2 = step.run(second, 0, oo.lr);
      const auto s2 = step_statistics(r2);
      // The fixture's second batch makes an encoder's gradients conflict for every method,
      // so the surgery branches run.
      CHECK(stat(s2, "conflict_audio") + stat(s2, "conflict_visual") >= 1.0);
      CHECK(std::min(stat(s2, "cos_audio"), stat(s2, "cos_visual")) < 0);
      for (const char* key : {"cos_audio", "cos_visual", "weight_mm_audio", "weight_audio_audio", "weight_mm_visual",
                              "weight_visual_visual", "norm_final_audio", "norm_final_visual"}) {
        INFO("step 2 " << key);
        CHECK(stat(s2, key) == Approx(fx.find(p2 + "stats/" + key)->item()).epsilon(kTolerance).margin(1e-13));
      }
      for (size_t j = 0; j < params.size(); ++j) {
        const auto& [name, p] = params[j];
        INFO("step 2 " << name);
        CHECK(second_update_error(sub(p, after_first[j].second), *fx.find(p2 + "update/" + name),
                                  *fx.find(p1 + "update/" + name)) < kTolerance);
      }
    }
  }
}

TEST_CASE("OGM-GE modulates only inside its epoch window, and its noise has the gradient's std", "[unit][mmpareto]") {
  const SafetensorsFile fx = load_fixture("step_methods.safetensors");
  const NamedTensors weights = with_prefix(fx, "weights/");
  const Batch batch{fx.find("audio")->to(DType::F64), fx.find("visual")->to(DType::F64), *fx.find("label")};
  // One step of OGM-GE at `epoch` from the fixture's weights; returns the report and
  // each parameter's final gradient.
  auto step_at = [&](int epoch, bool noise) {
    Generator gen(0);
    auto model = std::make_unique<AVClassifier>(infer_config(weights, "fixture"), gen);
    model->load_state_dict(weights, "fixture");
    model->to(DType::F64);
    model->train();
    IntegratorOptions io;
    io.ogm_start_epoch = 1;
    io.ogm_end_epoch = 2;
    io.ogm_noise = noise;
    OptimizerOptions oo;
    oo.lr = 0.01;
    TrainStep step(*model, make_integrator("ogm-ge", io), make_optimizer(model->named_parameters(), oo), 7);
    const StepReport r = step.run(batch, epoch, oo.lr);
    std::vector<Tensor> grads;
    for (const auto& [name, p] : model->named_parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(r, grads);
  };
  const NamedTensors names = [&] {
    Generator gen(0);
    return AVClassifier(infer_config(weights, "fixture"), gen).named_parameters();
  }();
  for (int epoch : {0, 3}) {  // outside [1, 2]: the multimodal gradient, untouched
    INFO("epoch " << epoch);
    const auto [r, grads] = step_at(epoch, true);
    for (const GroupReport& g : r.groups) CHECK(g.weights[0] == 1.0);
    for (size_t j = 0; j < grads.size(); ++j)
      if (names[j].first.find("_net.") != std::string::npos)
        CHECK(max_abs_difference(grads[j], r.objectives.grads[kMultimodal][j]) == 0.0);
  }
  // Inside: conv weights scaled by the group's coefficient, one modality damped.
  const auto [r, grads] = step_at(1, false);
  double damped = 1.0;
  for (const GroupReport& g : r.groups) damped = std::min(damped, g.weights[0]);
  CHECK(damped < 1.0);
  // With the enhancement: the difference from the scaled gradient is N(0, std(g)).
  const auto [rn, noisy] = step_at(1, true);
  size_t largest = 0;
  for (size_t j = 0; j < names.size(); ++j)
    if (names[j].first.find("_net.") != std::string::npos && names[j].second.ndim() == 4 &&
        names[j].second.numel() > names[largest].second.numel())
      largest = j;
  const std::string& name = names[largest].first;
  INFO(name << ", " << names[largest].second.numel() << " elements");
  const GroupReport& group = rn.groups[name.rfind("audio", 0) == 0 ? 0 : 1];
  REQUIRE(rn.groups[0].group == "audio");
  const Tensor g_mm = rn.objectives.grads[kMultimodal][largest];
  const auto scaled = mul_scalar(g_mm, group.weights[0]).to_vector<double>();
  const auto raw = g_mm.to_vector<double>(), got = noisy[largest].to_vector<double>();
  auto mean_std = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) s += (x - m) * (x - m);
    return std::make_pair(m, std::sqrt(s / static_cast<double>(v.size() - 1)));
  };
  std::vector<double> noise(got.size());
  for (size_t i = 0; i < got.size(); ++i) noise[i] = got[i] - scaled[i];
  const auto [noise_mean, noise_std] = mean_std(noise);
  const double grad_std = mean_std(raw).second;
  CHECK(noise_std == Approx(grad_std).epsilon(0.05));
  CHECK(std::abs(noise_mean) < 0.1 * grad_std);
  // Biases and BN parameters are not enhanced (the official code touches conv weights only).
  for (size_t j = 0; j < names.size(); ++j)
    if (names[j].first.find("_net.") != std::string::npos && names[j].second.ndim() == 1)
      CHECK(max_abs_difference(noisy[j], rn.objectives.grads[kMultimodal][j]) == 0.0);
}
