#include "engine/device.h"

#include "engine/error.h"

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/device_blocks.h"
#include "engine/cuda/cuda_backend.h"
#endif

namespace mmp {

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    MMP_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
              "bad device '", text, "': expected cpu, cuda or cuda:N");
    return Device::cuda(std::stoi(digits));
  }
  MMP_THROW("bad device '", text, "': expected cpu, cuda or cuda:N");
}

bool cuda_compiled() {
#ifdef MMP_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef MMP_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

DeviceMemory device_memory(Device device) {
  DeviceMemory m;
#ifdef MMP_HAVE_CUDA
  if (device.is_cuda()) {
    const auto s = cuda::device_allocator(device.index).stats();
    m = {s.bytes_in_use, s.bytes_in_use + s.bytes_cached, s.peak_bytes_in_use, s.peak_bytes_reserved};
  }
#endif
  return m;
}

std::string device_name(Device device) {
#ifdef MMP_HAVE_CUDA
  if (device.is_cuda()) return cuda::device_name(device.index);
#endif
  return device.str();
}

void reset_peak_memory(Device device) {
#ifdef MMP_HAVE_CUDA
  if (device.is_cuda()) cuda::device_allocator(device.index).reset_peaks();
#endif
}

void release_device_resources() {
#ifdef MMP_HAVE_CUDA
  if (cuda_device_count() > 0) cuda::release_all();
#endif
}

}  // namespace mmp
