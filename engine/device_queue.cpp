#include "engine/device_queue.h"

#include <cstring>

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace mmp {

QueueEvent::QueueEvent(Device device) : device_(device) {
#ifdef MMP_HAVE_CUDA
  if (device.is_cuda()) event_ = cuda::event_create(device.index);
#endif
  MMP_CHECK(device.is_cpu() || event_ != nullptr, "no queue events on ", device.str(), " in this build");
}

QueueEvent::~QueueEvent() {
#ifdef MMP_HAVE_CUDA
  if (event_) cuda::event_destroy(event_);
#endif
}

void QueueEvent::record(Queue queue) {
#ifdef MMP_HAVE_CUDA
  if (event_) cuda::event_record(event_, device_.index, static_cast<int>(queue));
#endif
}

void QueueEvent::wait_on(Queue queue) const {
#ifdef MMP_HAVE_CUDA
  if (event_) cuda::event_wait(event_, device_.index, static_cast<int>(queue));
#endif
}

void QueueEvent::synchronize() const {
#ifdef MMP_HAVE_CUDA
  if (event_) cuda::event_synchronize(event_);
#endif
}

void copy_to_device_async(const Tensor& src, const Tensor& dst, Queue queue) {
  MMP_CHECK(src.device().is_cpu() && src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype() &&
                src.numel() == dst.numel(),
            "asynchronous upload needs a dense host tensor and a dense target of one dtype and size: ", src.str(),
            " -> ", dst.str());
  const size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  if (dst.device().is_cpu()) {
    if (bytes) std::memcpy(dst.raw_data(), src.raw_data(), bytes);
    return;
  }
#ifdef MMP_HAVE_CUDA
  cuda::copy_to_device_async(src.raw_data(), dst.raw_data(), bytes, dst.device().index, static_cast<int>(queue));
#else
  MMP_THROW("cannot copy to ", dst.device().str(), ": this build has no CUDA support");
#endif
}

}  // namespace mmp
