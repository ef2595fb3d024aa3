// libmmp-mpi.so: the C table of mpi_plugin_abi.h over MPI. Errors are returned (the
// communicator's error handler is MPI_ERRORS_RETURN), so mmp can name the rank and the
// cause before it ends the job.
#include <dlfcn.h>
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

#include "engine/mpi_plugin_abi.h"

namespace {

int fail(int code, const char* what, char* error, size_t error_size) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  std::snprintf(error, error_size, "%s failed: %s", what, text);
  return 1;
}

int init(int* rank, int* size, char* version, size_t version_size, char* error, size_t error_size) {
  // mmp opens this plugin with RTLD_LOCAL; Open MPI 4's components, which it opens
  // itself, expect libmpi's symbols in the global scope: put them there.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    const int rc = MPI_Init(nullptr, nullptr);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Init", error, error_size);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::snprintf(version, version_size, "%s", text);
  if (char* end = std::strpbrk(version, ",\n")) *end = '\0';  // "Open MPI v4.1.4", without the build details
  return 0;
}

int all_reduce_sum(void* data, size_t count, int is_double, char* error, size_t error_size) {
  // MPI counts are ints: large buffers go in pieces.
  const size_t element = is_double ? 8 : 4;
  for (size_t done = 0; done < count;) {
    const int n = static_cast<int>(std::min<size_t>(count - done, INT_MAX / 2));
    const int rc = MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + done * element, n,
                                 is_double ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Allreduce", error, error_size);
    done += static_cast<size_t>(n);
  }
  return 0;
}

int all_gather_u64(uint64_t value, uint64_t* out, char* error, size_t error_size) {
  const int rc = MPI_Allgather(&value, 1, MPI_UINT64_T, out, 1, MPI_UINT64_T, MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Allgather", error, error_size);
}

int broadcast(void* data, size_t bytes, int root, char* error, size_t error_size) {
  const int rc = MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Bcast", error, error_size);
}

int barrier(char* error, size_t error_size) {
  const int rc = MPI_Barrier(MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Barrier", error, error_size);
}

void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const MmpMpiPlugin* mmp_mpi_plugin(void) {
  static const MmpMpiPlugin plugin{MMP_MPI_PLUGIN_ABI, init, all_reduce_sum, all_gather_u64, broadcast, barrier,
                                   abort_job, finalize};
  return &plugin;
}
