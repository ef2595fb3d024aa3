#pragma once
// Sums of CUDA tensors over the ranks through the NCCL plugin (libmmp-nccl.so), queued
// on the device's communication queue. Each sum starts after the work queued on the
// compute queue so far (an event), so it can run beside the compute that follows: one
// objective's gradients are summed while the next backward sweep computes. Every
// collective of the job goes through this one queue, in the order the program issues
// it, which is the order NCCL needs on every rank.
#include <vector>

#include "engine/device_queue.h"
#include "engine/nccl_plugin_abi.h"

namespace mmp {

class NcclReduction {
 public:
  // `comm` is the plugin's communicator for `device`; both outlive this.
  NcclReduction(const MmpNcclPlugin& plugin, void* comm, Device device);
  NcclReduction(const NcclReduction&) = delete;
  NcclReduction& operator=(const NcclReduction&) = delete;

  // In place: t = the sum over the ranks; compute work queued afterwards sees it.
  void all_reduce_sum(const Tensor& t);
  // The same, but the compute queue goes on at once; t is held (and must not be
  // touched) until finish().
  void all_reduce_sum_async(const Tensor& t);
  // Compute work queued afterwards comes after every asynchronous sum.
  void finish();

 private:
  void launch(const Tensor& t);

  const MmpNcclPlugin& nccl_;
  void* comm_;
  Device device_;
  QueueEvent computed_, communicated_;
  std::vector<Tensor> in_flight_;
  char error_[1024] = {};
};

}  // namespace mmp
