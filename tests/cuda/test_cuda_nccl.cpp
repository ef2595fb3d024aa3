// The NCCL plugin on the card: one rank (NCCL refuses two on one GPU; several ranks are
// checked on CPU ranks through MPI, tests/test_distributed.cpp), through the same C table
// the communicator uses, on the compute stream.
#include <catch2/catch.hpp>

#include "engine/cuda/cuda_backend.h"
#include "engine/nccl_plugin_abi.h"
#include "engine/ops.h"
#include "engine/plugin.h"
#include "tests/support/compare.h"

using namespace mmp;
using namespace mmp::testing;

TEST_CASE("the NCCL plugin loads and sums on the card (one rank)", "[cuda]") {
  std::string error;
  const auto* nccl = static_cast<const MmpNcclPlugin*>(
      open_plugin(plugin_path("libmmp-nccl.so", "MMP_NCCL_LIBRARY"), MMP_NCCL_PLUGIN_ENTRY, error));
  INFO(error);
  REQUIRE(nccl != nullptr);
  REQUIRE(nccl->abi == MMP_NCCL_PLUGIN_ABI);
  char message[1024] = {};
  int version = 0;
  REQUIRE(nccl->version(&version, message, sizeof message) == 0);
  CHECK(version >= 21000);
  unsigned char id[MMP_NCCL_ID_BYTES] = {};
  REQUIRE(nccl->unique_id(id, message, sizeof message) == 0);
  void* comm = nullptr;
  INFO(message);
  REQUIRE(nccl->init(&comm, 0, 1, id, 0, message, sizeof message) == 0);
  Generator gen(2);
  for (const DType dtype : {DType::F32, DType::F64}) {
    const Tensor host = randn({1000, 37}, gen, dtype);
    const Tensor t = host.to(Device::cuda(0));
    REQUIRE(nccl->all_reduce_sum(comm, t.raw_data(), static_cast<size_t>(t.numel()), dtype == DType::F64,
                                 cuda::compute_stream_handle(0), message, sizeof message) == 0);
    CHECK(relative_error(t.to(Device::cpu()), host) == 0.0);  // the sum over one rank is itself
  }
  nccl->destroy(comm);
}
