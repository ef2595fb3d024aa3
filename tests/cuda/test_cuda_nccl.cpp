// The NCCL plugin on the card: one rank (NCCL refuses two on one GPU; several ranks are
// checked on CPU ranks through MPI, tests/test_distributed.cpp), through the same C table
// the communicator uses, on the communication queue beside the compute queue.
#include <catch2/catch.hpp>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/nccl_reduction.h"
#include "engine/cuda/runtime.h"
#include "engine/distributed.h"
#include "engine/nccl_plugin_abi.h"
#include "engine/ops.h"
#include "engine/plugin.h"
#include "data/synthetic.h"
#include "mmpareto/train_step.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

const MmpNcclPlugin* open_nccl_plugin() {
  std::string error;
  const auto* nccl = static_cast<const MmpNcclPlugin*>(
      open_plugin(plugin_path("libmmp-nccl.so", "MMP_NCCL_LIBRARY"), MMP_NCCL_PLUGIN_ENTRY, error));
  INFO(error);
  REQUIRE(nccl != nullptr);
  REQUIRE(nccl->abi == MMP_NCCL_PLUGIN_ABI);
  return nccl;
}

// Two ranks that drew the same samples, simulated over one NCCL rank: every sum goes
// through NCCL on the communication queue (the sum over one rank is the value) and is
// then doubled; asynchronous ones are doubled after finish(), so a step that read its
// buffers before NCCL was done would differ from one process's.
class TwinRanksOverNccl final : public Communicator {
 public:
  explicit TwinRanksOverNccl(NcclReduction& nccl) : nccl_(nccl) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string describe() const override { return "2 twin ranks over one NCCL rank"; }
  void all_reduce_sum(const Tensor& t) override {
    if (t.device().is_cuda()) nccl_.all_reduce_sum(t);
    t.copy_(mul_scalar(t, 2.0));
  }
  void all_reduce_sum_async(const Tensor& t) override {
    nccl_.all_reduce_sum_async(t);
    in_flight_.push_back(t);
  }
  void finish_reductions() override {
    nccl_.finish();
    for (const Tensor& t : in_flight_) t.copy_(mul_scalar(t, 2.0));
    in_flight_.clear();
  }
  std::vector<uint64_t> all_gather(uint64_t value) override { return {value, value}; }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message) override { throw Error(message); }

 private:
  NcclReduction& nccl_;
  std::vector<Tensor> in_flight_;
};

// A communicator of one rank on cuda:0.
void* one_rank_communicator(const MmpNcclPlugin& nccl) {
  char message[1024] = {};
  unsigned char id[MMP_NCCL_ID_BYTES] = {};
  REQUIRE(nccl.unique_id(id, message, sizeof message) == 0);
  void* comm = nullptr;
  INFO(message);
  const cuda::DeviceGuard current(0);
  REQUIRE(nccl.init(&comm, 0, 1, id, message, sizeof message) == 0);
  return comm;
}

}  // namespace

TEST_CASE("the NCCL plugin loads and sums on the card (one rank)", "[cuda]") {
  const MmpNcclPlugin* nccl = open_nccl_plugin();
  char message[1024] = {};
  int version = 0;
  REQUIRE(nccl->version(&version, message, sizeof message) == 0);
  CHECK(version >= 21000);
  void* comm = one_rank_communicator(*nccl);
  Generator gen(2);
  for (const DType dtype : {DType::F32, DType::F64}) {
    const Tensor host = randn({1000, 37}, gen, dtype);
    const Tensor t = host.to(Device::cuda(0));
    REQUIRE(nccl->all_reduce_sum(comm, t.raw_data(), static_cast<size_t>(t.numel()), dtype == DType::F64,
                                 cuda::queue_stream_handle(0, static_cast<int>(Queue::communication)), message,
                                 sizeof message) == 0);
    // Read after the communication queue's work (the copy below runs on the compute queue).
    REQUIRE(cudaStreamSynchronize(static_cast<cudaStream_t>(
                cuda::queue_stream_handle(0, static_cast<int>(Queue::communication)))) == cudaSuccess);
    CHECK(relative_error(t.to(Device::cpu()), host) == 0.0);  // the sum over one rank is itself
  }
  nccl->destroy(comm);
}

TEST_CASE("NCCL sums on the communication queue, ordered with the compute queue by events", "[cuda]") {
  const MmpNcclPlugin* nccl = open_nccl_plugin();
  void* comm = one_rank_communicator(*nccl);
  {
    NcclReduction reduction(*nccl, comm, Device::cuda(0));
    Generator gen(3);
    const Tensor a = randn({512, 512}, gen), b = randn({512, 512}, gen);
    const Tensor expected = matmul(a, b);
    // Each buffer is written by a product queued just before its sum, and the compute
    // queue goes on with more products while the sums run; after finish() the buffers
    // hold the products (the sum over one rank is the value itself).
    std::vector<Tensor> buffers;
    const Tensor ac = a.to(Device::cuda(0)), bc = b.to(Device::cuda(0));
    for (int i = 0; i < 4; ++i) {
      buffers.push_back(matmul(ac, bc));
      reduction.all_reduce_sum_async(buffers.back());
      (void)matmul(bc, ac);  // unrelated compute beside the sums
    }
    reduction.finish();
    for (const Tensor& t : buffers)  // read by compute work queued after finish()
      CHECK(relative_error(mul_scalar(t, 3.0).to(Device::cpu()), mul_scalar(expected, 3.0)) < 1e-5);
    // A synchronous sum followed by compute on the result.
    const Tensor t = matmul(ac, bc);
    reduction.all_reduce_sum(t);
    CHECK(relative_error(mul_scalar(t, 2.0).to(Device::cpu()), mul_scalar(expected, 2.0)) < 1e-5);
    CHECK_THROWS_WITH(reduction.all_reduce_sum(ones({3}, DType::I64, Device::cuda(0))),
                      Catch::Contains("needs a dense f32 or f64 tensor"));
  }
  nccl->destroy(comm);
}

TEST_CASE("training with NCCL sums overlapped on the communication queue is one process's training", "[cuda]") {
  const MmpNcclPlugin* nccl = open_nccl_plugin();
  void* comm = one_rank_communicator(*nccl);
  {
    NcclReduction reduction(*nccl, comm, Device::cuda(0));
    TwinRanksOverNccl twins(reduction);
    const SyntheticAV data(SyntheticOptions{.samples = 48});
    AVClassifierConfig config;
    config.width = 4;
    for (const char* method : {"uniform", "mmpareto"}) {
      for (const bool measure : {false, true}) {
        DYNAMIC_SECTION(method << (measure ? ", per objective" : ", single sweep")) {
          NamedTensors after[2];
          for (int run = 0; run < 2; ++run) {
            Generator gen(5);
            AVClassifier model(config, gen);
            model.to(Device::cuda(0));
            model.train();
            OptimizerOptions sgd;
            sgd.lr = 0.05;
            TrainStep step(model, make_integrator(method), make_optimizer(model.named_parameters(), sgd), 3, measure,
                           run == 1 ? &twins : nullptr);
            for (int s = 0; s < 3; ++s) {
              std::vector<int64_t> indices;
              for (int64_t i = 0; i < 16; ++i) indices.push_back(16 * s + i);
              const Batch batch = make_batch(data, indices, 0).to(Device::cuda(0));
              const StepReport report = step.run(batch, 0, sgd.lr);
              CHECK(report.samples == (run == 1 ? 32 : 16));
            }
            after[run] = model.named_parameters();
          }
          // Halving and doubling are exact; what may differ is the order of the card's
          // atomic sums between the two runs.
          for (size_t j = 0; j < after[0].size(); ++j) {
            INFO(after[0][j].first);
            CHECK(relative_error(after[1][j].second.to(Device::cpu()), after[0][j].second.to(Device::cpu())) < 1e-5);
          }
        }
      }
    }
  }
  nccl->destroy(comm);
}
