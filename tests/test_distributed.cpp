// Data-parallel training with real MPI ranks (mpirun on this machine): the same
// weights as one process with the whole global batch, ranks that agree bit for bit,
// per-rank batch norm, and a killed rank ending the job.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "engine/safetensors.h"
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

}  // namespace

TEST_CASE("mpirun -np 2 and 3 with --sync-bn train the weights of one process with the whole batch", "[slow][mpi]") {
  // In float64 (--dtype f64) the sums over ranks differ from one process's only in the
  // order of the additions: what is left is rounding at 1e-16, and every difference in
  // semantics (a rank's share, a missed all-reduce) would show at 1e-3 or more. In f32
  // the orders of summation differ at 1e-7 and MMPareto's conflict test can flip on a
  // cosine near 0, after which the runs part by design.
  const std::string dir = temp_dir("distributed");
  for (const char* method : {"uniform", "mmpareto", "mgda"}) {
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

TEST_CASE("per-rank batch norm (no --sync-bn) trains, ranks agree, the statistics are rank 0's", "[slow][mpi]") {
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

TEST_CASE("a batch too small for the ranks is refused, naming the sizes", "[slow][mpi]") {
  const CommandResult r = run_mmp("train --method uniform --epochs 1 --samples 40 --batch 4 --width 2 --quiet --out ''",
                                  mpi_launcher(3));
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("global batch of 4 over 3 ranks") && Contains("rank"));
}
