// libmmp-nccl.so: the C table of nccl_plugin_abi.h over NCCL.
#include <nccl.h>

#include <cstdio>
#include <cstring>

#include "engine/nccl_plugin_abi.h"

namespace {

int fail(ncclResult_t rc, const char* what, char* error, size_t error_size) {
  std::snprintf(error, error_size, "%s failed: %s", what, ncclGetErrorString(rc));
  return 1;
}

int version(int* out, char* error, size_t error_size) {
  const ncclResult_t rc = ncclGetVersion(out);
  return rc == ncclSuccess ? 0 : fail(rc, "ncclGetVersion", error, error_size);
}

int unique_id(unsigned char* id, char* error, size_t error_size) {
  static_assert(sizeof(ncclUniqueId) == MMP_NCCL_ID_BYTES, "ncclUniqueId size");
  ncclUniqueId u;
  const ncclResult_t rc = ncclGetUniqueId(&u);
  if (rc != ncclSuccess) return fail(rc, "ncclGetUniqueId", error, error_size);
  std::memcpy(id, &u, sizeof u);
  return 0;
}

int init(void** comm, int rank, int size, const unsigned char* id, char* error, size_t error_size) {
  ncclUniqueId u;
  std::memcpy(&u, id, sizeof u);
  ncclComm_t c = nullptr;
  const ncclResult_t rc = ncclCommInitRank(&c, size, u, rank);
  if (rc != ncclSuccess) return fail(rc, "ncclCommInitRank", error, error_size);
  *comm = c;
  return 0;
}

int all_reduce_sum(void* comm, void* data, size_t count, int is_double, void* stream, char* error, size_t error_size) {
  const ncclResult_t rc = ncclAllReduce(data, data, count, is_double ? ncclFloat64 : ncclFloat32, ncclSum,
                                        static_cast<ncclComm_t>(comm), static_cast<cudaStream_t>(stream));
  return rc == ncclSuccess ? 0 : fail(rc, "ncclAllReduce", error, error_size);
}

void destroy(void* comm) { ncclCommDestroy(static_cast<ncclComm_t>(comm)); }

}  // namespace

extern "C" __attribute__((visibility("default"))) const MmpNcclPlugin* mmp_nccl_plugin(void) {
  static const MmpNcclPlugin plugin{MMP_NCCL_PLUGIN_ABI, version, unique_id, init, all_reduce_sum, destroy};
  return &plugin;
}
