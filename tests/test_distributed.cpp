// Data-parallel training with real MPI ranks (mpirun on this machine): the same
// weights as one process with the whole global batch, ranks that agree bit for bit,
// per-rank batch norm, and a killed rank ending the job.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "data/synthetic.h"
#include "engine/autograd.h"
#include "engine/distributed.h"
#include "engine/safetensors.h"
#include "mmpareto/train_step.h"
#include "tests/support/cli.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;
using Catch::Matchers::Contains;

namespace {

// One epoch of 5 steps: 78 samples in global batches of 16 (the last of 14), at width 4.
std::string train_args(const std::string& method, const std::string& out, const std::string& extra) {
  return "train --method " + method + " --epochs 1 --samples 78 --test-samples 32 --batch 16 --width 4 --quiet " +
         "--loader-workers 1 --out " + out + " " + extra;
}

double worst_relative_error(const std::string& a_path, const std::string& b_path, std::string& worst_name) {
  const SafetensorsFile a = load_safetensors(a_path), b = load_safetensors(b_path);
  double worst = 0;
  for (const auto& [name, t] : a.tensors) {
    if (t.dtype() == DType::I64) continue;  // num_batches_tracked
    const Tensor* other = b.find(name);
    REQUIRE(other != nullptr);
    const double e = relative_error(t, *other);
    if (e > worst) {
      worst = e;
      worst_name = name;
    }
  }
  return worst;
}

// Two ranks that drew the same samples, simulated in one process: an all-reduce doubles.
// An asynchronous one doubles only at finish_reductions(), as a transport whose sums
// land late would: a step that read its buffers before then would not be one process's.
class TwinRanks final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string describe() const override { return "2 twin ranks in one process"; }
  void all_reduce_sum(const Tensor& t) override { t.copy_(mul_scalar(t, 2.0)); }
  void all_reduce_sum_async(const Tensor& t) override { in_flight_.push_back(t); }
  void finish_reductions() override {
    for (const Tensor& t : in_flight_) all_reduce_sum(t);
    in_flight_.clear();
  }
  std::vector<uint64_t> all_gather(uint64_t value) override { return {value, value}; }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message) override { throw Error(message); }

 private:
  std::vector<Tensor> in_flight_;
};

}  // namespace

TEST_CASE("a step over two ranks with the same samples is one process's step", "[unit][trainer]") {
  // Each rank's losses are taken at half (its share) and the buffers summed: halving and
  // doubling are exact in binary, so the updates are one process's bit for bit, on the
  // per-objective path and on the single-sweep path of the fixed-weight methods.
  SyntheticOptions so;
  so.samples = 8;
  const SyntheticAV data(so);
  std::vector<int64_t> indices(8);
  for (int64_t i = 0; i < 8; ++i) indices[i] = i;
  const Batch batch = make_batch(data, indices, 0);
  AVClassifierConfig config;
  config.width = 2;
  struct Case {
    const char* method;
    bool measure;
  };
  for (const Case c : {Case{"uniform", false}, Case{"one-joint", false}, Case{"uniform", true}, Case{"mmpareto", true},
                       Case{"ogm-ge", true}}) {
    DYNAMIC_SECTION(c.method << (c.measure ? "" : ", single sweep")) {
      NamedTensors after[2];
      StepReport reports[2];
      TwinRanks twins;
      for (int run = 0; run < 2; ++run) {
        Generator gen(5);
        AVClassifier model(config, gen);
        model.train();
        OptimizerOptions sgd;
        sgd.lr = 0.05;
        TrainStep step(model, make_integrator(c.method), make_optimizer(model.named_parameters(), sgd), 3, c.measure,
                       run == 1 ? &twins : nullptr);
        reports[run] = step.run(batch, 0, sgd.lr);
        after[run] = model.named_parameters();
      }
      CHECK(reports[1].samples == 16);  // the global batch
      for (int k = 0; k < kObjectives; ++k) CHECK(reports[1].losses[k] == reports[0].losses[k]);
      for (size_t j = 0; j < after[0].size(); ++j) {
        INFO(after[0][j].first);
        CHECK(after[1][j].second.to_vector<float>() == after[0][j].second.to_vector<float>());
      }
    }
  }
}

TEST_CASE("synchronised batch norm over two ranks with the same samples is one process's batch norm", "[unit][trainer]") {
  // The composed path (sums all-reduced in f64, a differentiable all-reduce) against the
  // fused kernel: forward, gradients and running statistics.
  Generator gen(7);
  const Tensor x = randn({4, 3, 5, 6}, gen).set_requires_grad(true), w = randn({3}, gen).set_requires_grad(true);
  const Tensor b = randn({3}, gen).set_requires_grad(true), probe = randn({4, 3, 5, 6}, gen);
  auto run = [&](Communicator* group) {
    std::unique_ptr<SyncBatchNormScope> scope;
    if (group) scope = std::make_unique<SyncBatchNormScope>(*group);
    const Tensor rm = zeros({3}), rv = ones({3});
    // The rank's loss at its share (half), as TrainStep takes it.
    const Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
    const Tensor loss = mul_scalar(sum(mul(y, probe)), group ? 0.5 : 1.0);
    std::vector<Tensor> out = grad({loss}, {x, w, b});
    if (group)  // the parameters' gradients summed over the twin ranks
      for (size_t i = 1; i < out.size(); ++i) out[i] = mul_scalar(out[i], 2.0);
    out.push_back(y);
    out.push_back(rm);
    out.push_back(rv);
    return out;
  };
  TwinRanks twins;
  const auto one = run(nullptr);
  auto two = run(&twins);
  // The global batch holds every sample twice: the gradient of the global loss reaches
  // each copy of x at half (the two copies' together are one process's), and the running
  // variance's unbiased estimate counts 2N values instead of N.
  two[0] = mul_scalar(two[0], 2.0);
  const double n = 4 * 5 * 6;
  const Tensor biased = mul_scalar(add_scalar(one[5], -0.9), 10.0 * (n - 1) / n);
  const Tensor expected_var = add_scalar(mul_scalar(biased, 0.1 * 2 * n / (2 * n - 1)), 0.9);
  const char* names[] = {"grad x", "grad weight", "grad bias", "y", "running mean", "running var"};
  for (size_t i = 0; i < one.size(); ++i) {
    INFO(names[i]);
    CHECK(relative_error(two[i], i == 5 ? expected_var : one[i]) < 1e-6);
  }
}

TEST_CASE("mpirun -np 2 and 3 with --sync-bn train the weights of one process with the whole batch", "[mpi]") {
  // In float64 (--dtype f64) the sums over ranks differ from one process's only in the
  // order of the additions: what is left is rounding at 1e-16, and every difference in
  // semantics (a rank's share, a missed all-reduce) would show at 1e-3 or more. In f32
  // the orders of summation differ at 1e-7 and MMPareto's conflict test can flip on a
  // cosine near 0, after which the runs part by design.
  const std::string dir = temp_dir("distributed");
  for (const char* method : {"uniform", "mmpareto", "mgda", "ogm-ge"}) {  // OGM-GE: scores summed, noise seeded
    CommandResult single = run_mmp(train_args(method, dir + "/one", "--dtype f64"));
    INFO(single.output);
    REQUIRE(single.exit_code == 0);
    for (int ranks : {2, 3}) {  // 3 ranks: shares 6/5/5 of 16, then 5/5/4 of the last 14
      const std::string out = dir + "/" + std::to_string(ranks) + "_" + method;
      const CommandResult r = run_mmp(train_args(method, out, "--dtype f64 --sync-bn"), mpi_launcher(ranks));
      INFO(method << " on " << ranks << " ranks: " << r.output);
      REQUIRE(r.exit_code == 0);
      CHECK_THAT(r.output, Contains("data parallel: " + std::to_string(ranks) + " ranks"));
      CHECK_THAT(r.output, Contains("parameters identical on all " + std::to_string(ranks) + " ranks"));
      std::string worst_name;
      const double worst = worst_relative_error(out + "/" + method + "/last.safetensors",
                                                dir + "/one/" + method + "/last.safetensors", worst_name);
      INFO("worst tensor " << worst_name);
      CHECK(worst < 1e-10);
    }
  }
}

TEST_CASE("one rank put on the data-parallel path (MMP_DISTRIBUTED=1) trains one process's weights bit for bit", "[mpi]") {
  // What gpu-check runs on one GPU with NCCL: MPI starts, every gradient is summed over
  // the one rank and divided by one, and nothing else changes. Unbound: mpirun binds a
  // rank to one core by default, and the CPU kernels' sums split over another number of
  // threads round differently (1.8e-3 apart after these 5 MMPareto steps).
  const std::string dir = temp_dir("distributed_one_rank");
  const CommandResult single = run_mmp(train_args("mmpareto", dir + "/one", ""));
  INFO(single.output);
  REQUIRE(single.exit_code == 0);
  const CommandResult r = run_mmp(train_args("mmpareto", dir + "/rank", ""), mpi_launcher(1) + " --bind-to none -x MMP_DISTRIBUTED=1");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("data parallel: 1 rank, ") && Contains("parameters identical on all 1 rank after"));
  CHECK_THAT(single.output, !Contains("data parallel"));
  auto hash = [](const std::string& output) {
    const size_t at = output.find("parameters hash ");
    return at == std::string::npos ? std::string() : output.substr(at + 16, 16);
  };
  CHECK(hash(single.output).size() == 16);
  CHECK(hash(r.output) == hash(single.output));
  std::string worst_name;
  CHECK(worst_relative_error(dir + "/rank/mmpareto/last.safetensors", dir + "/one/mmpareto/last.safetensors",
                             worst_name) == 0.0);
}

TEST_CASE("per-rank batch norm (no --sync-bn) trains, ranks agree, the statistics are rank 0's", "[mpi]") {
  const std::string dir = temp_dir("distributed_local_bn");
  const CommandResult r = run_mmp(train_args("mmpareto", dir + "/two", ""), mpi_launcher(2));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("per-rank batch norm") && Contains("parameters identical on all 2 ranks"));
  // Unlike with --sync-bn, not the one-process run: each rank normalised with its own half.
  REQUIRE(run_mmp(train_args("mmpareto", dir + "/one", "")).exit_code == 0);
  std::string worst_name;
  CHECK(worst_relative_error(dir + "/two/mmpareto/last.safetensors", dir + "/one/mmpareto/last.safetensors",
                             worst_name) > 1e-4);
}

TEST_CASE("a batch too small for the ranks is refused, naming the sizes", "[mpi]") {
  const CommandResult r = run_mmp("train --method uniform --epochs 1 --samples 40 --batch 4 --width 2 --quiet --out ''",
                                  mpi_launcher(3));
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("global batch of 4 over 3 ranks") && Contains("rank"));
}
