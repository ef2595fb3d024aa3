#include "engine/cuda/nccl_reduction.h"

#include "engine/cuda/cuda_backend.h"

namespace mmp {

NcclReduction::NcclReduction(const MmpNcclPlugin& plugin, void* comm, Device device)
    : nccl_(plugin), comm_(comm), device_(device), computed_(device), communicated_(device) {
  MMP_CHECK(device.is_cuda(), "NCCL sums tensors on CUDA devices, not on ", device.str());
}

void NcclReduction::launch(const Tensor& t) {
  MMP_CHECK(t.device() == device_ && t.is_contiguous() && (t.dtype() == DType::F32 || t.dtype() == DType::F64),
            "NCCL all-reduce on ", device_.str(), ": needs a dense f32 or f64 tensor there, got ", t.str());
  computed_.record(Queue::compute);
  computed_.wait_on(Queue::communication);
  MMP_CHECK(nccl_.all_reduce_sum(comm_, t.raw_data(), static_cast<size_t>(t.numel()), t.dtype() == DType::F64,
                                 cuda::queue_stream_handle(device_.index, static_cast<int>(Queue::communication)),
                                 error_, sizeof error_) == 0,
            error_);
}

void NcclReduction::all_reduce_sum(const Tensor& t) {
  if (t.numel() == 0) return;
  launch(t);
  communicated_.record(Queue::communication);
  communicated_.wait_on(Queue::compute);
}

void NcclReduction::all_reduce_sum_async(const Tensor& t) {
  if (t.numel() == 0) return;
  launch(t);
  in_flight_.push_back(t);
}

void NcclReduction::finish() {
  if (in_flight_.empty()) return;
  communicated_.record(Queue::communication);
  communicated_.wait_on(Queue::compute);
  // The compute queue now waits for the sums, so the memory may go back to the
  // caching allocator (whose blocks are reused in the compute queue's order).
  in_flight_.clear();
}

}  // namespace mmp
