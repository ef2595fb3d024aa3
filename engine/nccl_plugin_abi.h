#pragma once
// The boundary between `mmp` and libmmp-nccl.so, the plugin that links NCCL, opened by
// a multi-rank job on CUDA devices to sum gradients on the GPUs (engine/distributed.cpp).
// The ranks meet through MPI first: rank 0's NCCL id reaches the others by broadcast.
#include <cstddef>
#include <cstdint>

extern "C" {

#define MMP_NCCL_PLUGIN_ABI 2
#define MMP_NCCL_ID_BYTES 128  // sizeof(ncclUniqueId)

// Every function returns 0 on success; on failure non-zero with a message in `error`.
struct MmpNcclPlugin {
  uint32_t abi;  // MMP_NCCL_PLUGIN_ABI
  int (*version)(int* version, char* error, size_t error_size);
  int (*unique_id)(unsigned char* id, char* error, size_t error_size);  // MMP_NCCL_ID_BYTES bytes
  // A communicator of `size` ranks on the calling thread's current CUDA device, which the
  // caller sets: the plugin calls no CUDA runtime function of its own (mmp links the
  // runtime statically, so none is there for the plugin to find).
  int (*init)(void** comm, int rank, int size, const unsigned char* id, char* error, size_t error_size);
  // In place: the sum over ranks of `count` f32 (or f64) values on the device, queued on
  // `stream` (a cudaStream_t).
  int (*all_reduce_sum)(void* comm, void* data, size_t count, int is_double, void* stream, char* error,
                        size_t error_size);
  void (*destroy)(void* comm);
};

// Exported by the plugin: const MmpNcclPlugin* mmp_nccl_plugin(void).
#define MMP_NCCL_PLUGIN_ENTRY "mmp_nccl_plugin"

}  // extern "C"
