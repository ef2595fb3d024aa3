// CUDA graphs: a captured sequence of ops replays on new inputs as the ops would run,
// a capture that waits for the device fails cleanly, and training steps replayed from
// the step's graph (TrainStep::use_device_graph) give the eager steps' results.
#include <catch2/catch.hpp>
#include <cmath>

#include "data/loader.h"
#include "data/synthetic.h"
#include "engine/device.h"
#include "engine/device_graph.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "mmpareto/train_step.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

TEST_CASE("a captured graph replays its ops on the inputs' new values", "[cuda][graph]") {
  const Device cuda = Device::cuda(0);
  Generator gen(1);
  const Tensor x = randn({64, 48}, gen, DType::F32, cuda), w = randn({32, 48}, gen, DType::F32, cuda);
  Tensor y;
  DeviceGraph graph(cuda);
  graph.capture([&] { y = sum(relu(linear(x, w, Tensor())) * 2.0, {1}); });
  REQUIRE(graph.captured());
  for (int round = 0; round < 3; ++round) {
    x.copy_(randn({64, 48}, gen, DType::F32, cuda));  // new values at the same address
    graph.replay();
    const Tensor expected = sum(relu(linear(x, w, Tensor())) * 2.0, {1});
    CHECK(relative_error(y, expected) < 1e-6);
  }
}

TEST_CASE("a capture that waits for the device fails, naming the cause, and leaves the device usable",
          "[cuda][graph]") {
  const Device cuda = Device::cuda(0);
  const Tensor x = ones({1000}, DType::F32, cuda);
  {
    DeviceGraph graph(cuda);
    CHECK_THROWS(graph.capture([&] { (void)sum(x).item(); }));
    CHECK_FALSE(graph.captured());
  }
  CHECK(sum(x).item() == 1000.0);  // the stream is out of capture and works
  DeviceGraph again(cuda);
  Tensor y;
  again.capture([&] { y = x * 3.0; });
  again.replay();
  CHECK(y.to(Device::cpu()).to_vector<float>()[999] == 3.0f);
}

TEST_CASE("steps replayed from the step's CUDA graph equal eager steps, partial batches eager", "[cuda][graph]") {
  // 72 samples in batches of 16: four full batches and one of 8 per epoch. With the graph:
  // step 1 eager, step 2 captured, then every full batch replayed, the partial one eager.
  const SyntheticAV data(SyntheticOptions{.samples = 72});
  for (const char* method : {"uniform", "mmpareto"}) {
    for (const Precision precision : {Precision::fp32, Precision::bf16}) {
      DYNAMIC_SECTION(method << " " << precision_name(precision)) {
        const PrecisionScope scope(precision);
        std::vector<std::array<double, kObjectives>> losses[2];
        NamedTensors state[2];
        int64_t replays = 0;
        for (int graphed = 0; graphed < 2; ++graphed) {
          Generator gen(3);
          AVClassifierConfig config;
          config.width = 4;
          AVClassifier model(config, gen);
          model.to(Device::cuda(0));
          model.train();
          OptimizerOptions sgd;
          sgd.lr = 0.01;
          sgd.momentum = 0.9;
          // measure=false: uniform takes its single-sweep path, mmpareto its per-objective one.
          TrainStep step(model, make_integrator(method), make_optimizer(model.named_parameters(), sgd), 4,
                         /*measure=*/false);
          if (graphed) step.use_device_graph(true);
          LoaderOptions lo;
          lo.batch_size = 16;
          lo.seed = 5;
          lo.device = Device::cuda(0);
          DataLoader loader(data, lo);
          for (int epoch = 0; epoch < 2; ++epoch) {
            loader.start_epoch(epoch);
            Batch batch;
            while (loader.next(batch)) losses[graphed].push_back(step.run(batch, epoch, 0.01).losses);
          }
          replays = step.graph_replays();
          for (const auto& [name, t] : model.state_dict()) state[graphed].emplace_back(name, t.to(Device::cpu()));
        }
        CHECK(replays == 2 + 4);
        REQUIRE(losses[0].size() == 10);
        REQUIRE(losses[1].size() == 10);
        // The same kernels on the same values: equal up to the order of atomic additions.
        const double tolerance = precision == Precision::fp32 ? 1e-5 : 1e-3;
        for (size_t s = 0; s < losses[0].size(); ++s)
          for (int k = 0; k < kObjectives; ++k) {
            INFO("step " << s + 1 << " loss " << kObjectiveNames[k]);
            CHECK(losses[1][s][k] == Approx(losses[0][s][k]).epsilon(tolerance));
          }
        for (size_t i = 0; i < state[0].size(); ++i) {
          INFO(state[0][i].first);
          if (state[0][i].second.dtype() == DType::I64)  // batch-norm counters: every forward, replayed or not
            CHECK(state[1][i].second.item() == state[0][i].second.item());
          else
            CHECK(relative_error(state[1][i].second, state[0][i].second) < tolerance);
        }
      }
    }
  }
}

TEST_CASE("a label out of range makes the loss NaN on CUDA, replayed or not; the step names the label",
          "[cuda][graph]") {
  const Device cuda = Device::cuda(0);
  Generator gen(2);
  const Tensor logits = randn({4, 3}, gen, DType::F32, cuda);
  const Tensor labels = from_vector<int64_t>({0, 1, 2, 1}, {4}, cuda);
  Tensor loss;
  DeviceGraph graph(cuda);
  graph.capture([&] { loss = cross_entropy(logits, labels); });
  graph.replay();
  CHECK(loss.item() == Approx(cross_entropy(logits, labels).item()));
  labels.copy_(from_vector<int64_t>({0, 1, 7, 1}, {4}));
  graph.replay();
  CHECK(std::isnan(loss.item()));
  CHECK(std::isnan(cross_entropy(logits, labels).item()));

  AVClassifierConfig config;
  config.width = 2;
  config.classes = 3;
  AVClassifier model(config, gen);
  model.to(cuda);
  model.train();
  TrainStep step(model, make_integrator("uniform"), make_optimizer(model.named_parameters(), OptimizerOptions{}), 1);
  const Batch batch{randn({4, 1, 16, 16}, gen, DType::F32, cuda), randn({4, 2, 3, 16, 16}, gen, DType::F32, cuda),
                    labels};
  CHECK_THROWS_WITH(step.run(batch, 0, 0.01), Contains("label 7 of sample 2 is outside [0, 3)"));
}
