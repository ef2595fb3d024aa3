#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace mmp {

Backend& backend(Device device) {
  if (device.is_cpu()) return cpu::backend();
#ifdef MMP_HAVE_CUDA
  return cuda::backend(device.index);
#else
  MMP_THROW("no backend for ", device.str(), ": this build has no CUDA support (configure with MMP_WITH_CUDA=ON)");
#endif
}

void copy_between_devices(const Tensor& src, const Tensor& dst) {
  MMP_CHECK(src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype() &&
                src.numel() == dst.numel(),
            "copy between devices needs two dense tensors of one dtype: ", src.str(), " -> ", dst.str());
#ifdef MMP_HAVE_CUDA
  cuda::copy_between_devices(src, dst);
#else
  MMP_THROW("cannot copy ", src.str(), " to ", dst.device().str(), ": this build has no CUDA support");
#endif
}

}  // namespace mmp
