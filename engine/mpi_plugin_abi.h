#pragma once
// The boundary between `mmp` and libmmp-mpi.so, the plugin that links MPI (Open MPI or
// any MPI: the plugin is compiled against the machine's own mpi.h). `mmp` opens it only
// when launched by mpirun or srun with several ranks (engine/distributed.cpp). A plain
// C table, as the media plugin's.
#include <cstddef>
#include <cstdint>

extern "C" {

#define MMP_MPI_PLUGIN_ABI 1

// Every function returns 0 on success; on failure non-zero, with a NUL-terminated
// message in error[0..error_size).
struct MmpMpiPlugin {
  uint32_t abi;  // MMP_MPI_PLUGIN_ABI
  // MPI_Init (errors returned, not fatal), this rank and the number of ranks, the
  // library's version text.
  int (*init)(int* rank, int* size, char* version, size_t version_size, char* error, size_t error_size);
  // In place on every rank: the elementwise sum over ranks of `count` values (f32, or
  // f64 when is_double) in host memory.
  int (*all_reduce_sum)(void* data, size_t count, int is_double, char* error, size_t error_size);
  // out[r] = rank r's value, on every rank.
  int (*all_gather_u64)(uint64_t value, uint64_t* out, char* error, size_t error_size);
  int (*broadcast)(void* data, size_t bytes, int root, char* error, size_t error_size);
  int (*barrier)(char* error, size_t error_size);
  void (*abort)(int code);  // ends every rank of the job
  void (*finalize)(void);
};

// Exported by the plugin: const MmpMpiPlugin* mmp_mpi_plugin(void).
#define MMP_MPI_PLUGIN_ENTRY "mmp_mpi_plugin"

}  // extern "C"
