#pragma once
// Several processes training one model, data parallel: the ranks of a job launched by
// `mpirun` or `srun`. MPI starts the ranks and sums host tensors; NCCL sums CUDA tensors.
// Both come from plugins beside mmp (libmmp-mpi.so, libmmp-nccl.so) opened only when a
// job has several ranks, so a single-process run needs neither library.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmp {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string describe() const = 0;  // "1 process", "4 ranks, Open MPI v4.1.4, NCCL 2.27.3"
  // Whether training sums its gradients through this communicator: several ranks, or one
  // rank put on the data-parallel path on purpose (MMP_DISTRIBUTED=1).
  virtual bool data_parallel() const { return size() > 1; }
  // In place on every rank: t = the sum of every rank's t. A dense f32 or f64 tensor on
  // the CPU or a CUDA device (work queued on the device's compute stream).
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // The same, begun without waiting where the transport allows it (NCCL: on the
  // device's communication queue, beside the compute that follows); t must be left
  // alone until finish_reductions(). Host tensors are summed at once.
  virtual void all_reduce_sum_async(const Tensor& t) { all_reduce_sum(t); }
  // Work queued afterwards sees the results of every all_reduce_sum_async.
  virtual void finish_reductions() {}
  // Every rank's value, on every rank (to check that ranks agree).
  virtual std::vector<uint64_t> all_gather(uint64_t value) = 0;
  virtual void barrier() = 0;
  // Prints "rank R: message" and ends every rank of the job with a failure status.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

// How this process was launched: the ranks of its job and its rank among those on its
// node (Open MPI's, MPICH's or Slurm's variables); 1 and 0 when run alone. A job of
// several ranks is distributed (MPI, and NCCL for CUDA tensors); so is one rank with
// MMP_DISTRIBUTED=1 in its environment (`mpirun -np 1 -x MMP_DISTRIBUTED=1 mmp ...`),
// which runs the data-parallel path on one GPU, to check it against the plain process.
struct Launch {
  int ranks = 1;
  int local_rank = 0;
  bool distributed = false;
};
Launch launch_from_environment();

// The communicator of the job: MPI (with NCCL for CUDA tensors) when the launch is
// distributed, a one-process communicator otherwise. Created on first use.
Communicator& world();
// Finalises MPI when it was started; the end of main calls it.
void finish_world();

// While it lives on this thread, training-mode batch norm normalises with the batch
// statistics of every rank's samples together (the sums all-reduced over `group`), in
// forward and backward: PyTorch's SyncBatchNorm.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(Communicator& group);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  Communicator* previous_;
};
Communicator* sync_batch_norm_group();  // null outside a scope

// The differentiable all-reduce: the sum of every rank's x; its backward sums the
// gradients over the ranks alike (every rank's loss depends on every rank's x).
Tensor all_reduce_sum(const Tensor& x, Communicator& group);

}  // namespace mmp
