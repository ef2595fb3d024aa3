// The audio-visual model on CUDA (cuDNN convolutions and batch norm) against the CPU
// and against the PyTorch fixture: logits, losses, per-loss gradients, BN statistics.
#include <catch2/catch.hpp>

#include "mmpareto/objectives.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

// Twenty layers of f32 arithmetic summed in other orders by cuDNN than by the CPU.
constexpr double kTolerance = 1e-4;

}  // namespace

TEST_CASE("the AVClassifier on CUDA equals the CPU and PyTorch", "[cuda]") {
  for (const char* fusion : {"concat", "gated"}) {
    DYNAMIC_SECTION(fusion) {
      const SafetensorsFile fx = load_fixture(std::string("av_model_") + fusion + ".safetensors");
      const ObjectiveGradients cpu = fixture_objective_gradients(fx, Device::cpu());
      const ObjectiveGradients gpu = fixture_objective_gradients(fx, Device::cuda(0));
      CHECK(relative_error(gpu.outputs.out.to(Device::cpu()), cpu.outputs.out) < kTolerance);
      CHECK(relative_error(gpu.outputs.out.to(Device::cpu()), *fx.find("out")) < kTolerance);
      for (int k = 0; k < kObjectives; ++k) {
        CHECK(relative_error(gpu.losses[k].to(Device::cpu()), cpu.losses[k]) < kTolerance);
        for (size_t j = 0; j < cpu.parameters.size(); ++j) {
          INFO(kObjectiveNames[k] << " " << cpu.parameters[j].first);
          REQUIRE(gpu.grads[k][j].defined() == cpu.grads[k][j].defined());
          if (!cpu.grads[k][j].defined()) continue;
          CHECK(relative_error(gpu.grads[k][j].to(Device::cpu()), cpu.grads[k][j]) < kTolerance);
          const Tensor* expected = fx.find(std::string("grad/") + kObjectiveNames[k] + "/" + cpu.parameters[j].first);
          REQUIRE(expected != nullptr);
          CHECK(relative_error(gpu.grads[k][j].to(Device::cpu()), *expected) < kTolerance);
        }
      }
    }
  }
}

TEST_CASE("CUDA batch norm updates the running statistics as the CPU does", "[cuda]") {
  Generator gen(3);
  const Tensor x = randn({4, 3, 5, 5}, gen), w = randn({3}, gen), b = randn({3}, gen);
  const Tensor rm_cpu = zeros({3}), rv_cpu = ones({3});
  const Tensor rm_gpu = rm_cpu.to(Device::cuda(0)), rv_gpu = rv_cpu.to(Device::cuda(0));
  const Tensor y_cpu = batch_norm(x, w, b, rm_cpu, rv_cpu, true, 0.1, 1e-5);
  const Tensor y_gpu = batch_norm(x.to(Device::cuda(0)), w.to(Device::cuda(0)), b.to(Device::cuda(0)), rm_gpu, rv_gpu,
                                  true, 0.1, 1e-5);
  CHECK(relative_error(y_gpu.to(Device::cpu()), y_cpu) < 1e-5);
  CHECK(relative_error(rm_gpu.to(Device::cpu()), rm_cpu) < 1e-5);
  CHECK(relative_error(rv_gpu.to(Device::cpu()), rv_cpu) < 1e-5);
}
