// Training on a CUDA device against the CPU: the same seed gives the same first
// losses, the loader's uploaded batches are the ones it builds on the host, and
// checkpoints and resume points move between the devices.
#include <catch2/catch.hpp>
#include <filesystem>

#include "data/loader.h"
#include "data/synthetic.h"
#include "engine/safetensors.h"
#include "engine/ops.h"
#include "mmpareto/train_step.h"
#include "mmpareto/trainer.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"
#include "tests/support/forwarding_dataset.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

AVClassifierConfig small_model() {
  AVClassifierConfig c;
  c.width = 4;
  return c;
}

TrainOptions run_options(Device device, const std::string& dir) {
  TrainOptions o;
  o.method = "mmpareto";
  o.epochs = 2;
  o.batch_size = 16;
  o.device = device;
  o.out_dir = dir;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("the same seed trains the same first steps on CUDA as on the CPU", "[cuda]") {
  const SyntheticAV data(SyntheticOptions{.samples = 64});
  for (const char* method : {"uniform", "mmpareto", "mgda"}) {
    DYNAMIC_SECTION(method) {
      std::vector<std::array<double, kObjectives>> losses[2];
      for (int d = 0; d < 2; ++d) {
        const Device device = d == 0 ? Device::cpu() : Device::cuda(0);
        Generator gen(3);
        AVClassifier model(small_model(), gen);
        model.to(device);
        model.train();
        OptimizerOptions sgd;
        sgd.lr = 0.01;
        TrainStep step(model, make_integrator(method), make_optimizer(model.named_parameters(), sgd), 4);
        LoaderOptions lo;
        lo.batch_size = 16;
        lo.seed = 5;
        lo.device = device;
        DataLoader loader(data, lo);
        loader.start_epoch(0);
        Batch batch;
        for (int s = 0; s < 3 && loader.next(batch); ++s) losses[d].push_back(step.run(batch, 0, 0.01).losses);
      }
      REQUIRE(losses[1].size() == 3);
      for (int k = 0; k < kObjectives; ++k) {
        INFO(kObjectiveNames[k]);
        CHECK(losses[1][0][k] == Approx(losses[0][0][k]).epsilon(1e-5));  // the same weights and batch
        CHECK(losses[1][2][k] == Approx(losses[0][2][k]).epsilon(1e-3));  // after two updates in other orders
      }
    }
  }
}

TEST_CASE("the loader uploads to CUDA the batches it builds on the host", "[cuda]") {
  const SyntheticAV data(SyntheticOptions{.samples = 37});  // batches of 8: four and a partial one
  for (int workers : {0, 3}) {
    DYNAMIC_SECTION(workers << " workers") {
      LoaderOptions lo;
      lo.batch_size = 8;
      lo.workers = workers;
      lo.seed = 1;
      DataLoader host(data, lo);
      lo.device = Device::cuda(0);
      DataLoader device(data, lo);
      for (int epoch : {0, 1, 2}) {
        host.start_epoch(epoch);
        device.start_epoch(epoch);
        Batch h, d;
        int batches = 0;
        while (host.next(h)) {
          REQUIRE(device.next(d));
          REQUIRE(d.audio.device() == Device::cuda(0));
          CHECK(d.audio.to_vector<float>() == h.audio.to_vector<float>());
          CHECK(d.visual.to_vector<float>() == h.visual.to_vector<float>());
          CHECK(d.label.to_vector<int64_t>() == h.label.to_vector<int64_t>());
          // Work queued after the batch reads it as uploaded, while the next one is copied.
          CHECK(sum(d.visual).item() == Approx(sum(h.visual).item()).epsilon(1e-5));
          if (epoch == 1 && ++batches == 2) break;  // an epoch abandoned midway
        }
        if (epoch != 1) CHECK_FALSE(device.next(d));
      }
    }
  }
}

TEST_CASE("work queued on uploaded batches reads them as uploaded, however far the host runs ahead", "[cuda]") {
  // Nothing is read back until the end: the host queues long chains of kernels on each
  // batch and asks for the next ones at once, so the copy stream refills a slot while
  // work on the batch it held may still be queued (the released events must order
  // them), and compute may start before a copy has landed (the uploaded events must).
  SyntheticOptions big{.samples = 24 * 16};
  big.image_size = 112;  // 4.8 MB of frames per batch of 16: copies take a while
  const SyntheticAV data(big);
  LoaderOptions lo;
  lo.batch_size = 16;
  lo.workers = 4;
  lo.seed = 3;
  DataLoader host(data, lo);
  lo.device = Device::cuda(0);
  DataLoader device(data, lo);
  for (int epoch : {0, 1}) {
    host.start_epoch(epoch);
    device.start_epoch(epoch);
    std::vector<Tensor> queued;  // one device scalar per batch, read at the end
    Batch d;
    while (device.next(d)) {
      Tensor x = d.visual;
      for (int i = 0; i < 30; ++i) x = add_scalar(mul_scalar(x, 1.0), 0.0);  // equal values, many kernels
      queued.push_back(add(sum(square(x)), sum(d.audio)));
    }
    std::vector<double> expected;
    for (Batch h; host.next(h);) expected.push_back(sum(square(h.visual)).item() + sum(h.audio).item());
    REQUIRE(queued.size() == expected.size());
    for (size_t i = 0; i < queued.size(); ++i) {
      INFO("epoch " << epoch << ", batch " << i);
      CHECK(queued[i].item() == Approx(expected[i]).epsilon(1e-5));
    }
  }
}

TEST_CASE("a CUDA run resumes on the CPU and a CPU run on CUDA; checkpoints load on both", "[cuda]") {
  const SyntheticAV train_data(SyntheticOptions{.samples = 64}),
      test_data(SyntheticOptions{.samples = 32, .first_index = 64});
  const StoppingDataset stopping(train_data, 2);
  for (int first = 0; first < 2; ++first) {
    DYNAMIC_SECTION((first == 0 ? "cuda, then cpu" : "cpu, then cuda")) {
      const Device a = first == 0 ? Device::cuda(0) : Device::cpu(), b = first == 0 ? Device::cpu() : Device::cuda(0);
      TrainOptions o = run_options(a, temp_dir("cross_device_whole_" + std::to_string(first)));
      o.epochs = 3;
      Generator gen(0);
      AVClassifier whole(small_model(), gen);
      const TrainResult straight = train(whole, train_data, test_data, o);
      if (a.is_cuda()) CHECK(straight.memory.peak_allocated > 0);

      // The last checkpoint of a run on `a` loads on `b` and evaluates as it did.
      const std::string parts = temp_dir("cross_device_parts_" + std::to_string(first));
      Generator other(9);
      AVClassifier loaded(small_model(), other);
      loaded.load_state_dict(load_safetensors(o.out_dir + "/mmpareto/last.safetensors").tensors, "last.safetensors");
      loaded.to(b);
      CHECK(evaluate(loaded, test_data, 16, b).multimodal.accuracy ==
            Approx(straight.last().test.multimodal.accuracy).margin(1.5 / 32));

      // Interrupted in epoch 3 on `a`, resumed on `b`: the same run to f32 rounding.
      o.out_dir = parts;
      o.loader_workers = 1;  // StoppingDataset counts loads in order
      gen = Generator(0);
      AVClassifier first_part(small_model(), gen);
      CHECK_THROWS_WITH(train(first_part, stopping, test_data, o), Contains("interrupted in epoch 3"));
      o.device = b;
      o.resume = true;
      AVClassifier resumed(small_model(), other);
      const TrainResult rest = train(resumed, train_data, test_data, o);
      REQUIRE(rest.epochs.size() == 3);
      CHECK(rest.steps == straight.steps);
      CHECK(rest.last().loss_mm == Approx(straight.last().loss_mm).epsilon(1e-3));
      const auto x = resumed.state_dict(), y = whole.state_dict();
      for (size_t i = 0; i < x.size(); ++i) {
        INFO(x[i].first);
        CHECK(relative_error(x[i].second.to(Device::cpu()), y[i].second.to(Device::cpu())) < 1e-2);
      }
    }
  }
}
