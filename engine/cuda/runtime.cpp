#include "engine/cuda/runtime.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/cuda/batch_norm_graph.h"
#include "engine/cuda/device_blocks.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace mmp::cuda {
namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  std::once_flag once;
  std::atomic<bool> created{false};
  cudaStream_t stream = nullptr, copy_stream = nullptr, communication_stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;
  cudnnHandle_t cudnn = nullptr;
  int multiprocessors = 0;
};

std::array<DeviceState, kMaxDevices>& states() {
  static std::array<DeviceState, kMaxDevices> all;
  return all;
}

std::atomic<bool> released{false};

DeviceState& state(int device) {
  MMP_CHECK(device >= 0 && device < device_count(), "cuda:", device, " does not exist (",
            device_count(), " CUDA devices visible)");
  MMP_CHECK(!released, "CUDA used after the process released its devices");
  DeviceState& s = states()[device];
  std::call_once(s.once, [&] {
    DeviceGuard guard(device);
    MMP_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    MMP_CUDA_CHECK(cudaStreamCreateWithFlags(&s.copy_stream, cudaStreamNonBlocking));
    MMP_CUDA_CHECK(cudaStreamCreateWithFlags(&s.communication_stream, cudaStreamNonBlocking));
    MMP_CUBLAS_CHECK(cublasCreate(&s.cublas));
    MMP_CUBLAS_CHECK(cublasSetStream(s.cublas, s.stream));
    // cuBLAS's scratch memory, ours for good (set after the stream, which resets it):
    // left to itself, cuBLAS takes memory a CUDA graph's capture does not see
    // (engine/device_graph.h). 32 MiB is what cuBLAS asks for on Hopper.
    constexpr size_t kCublasWorkspace = size_t{32} << 20;
    MMP_CUDA_CHECK(cudaMalloc(&s.cublas_workspace, kCublasWorkspace));
    MMP_CUBLAS_CHECK(cublasSetWorkspace(s.cublas, s.cublas_workspace, kCublasWorkspace));
    // Full f32 products, as PyTorch's default (torch.backends.cuda.matmul.allow_tf32 = False).
    MMP_CUBLAS_CHECK(cublasSetMathMode(s.cublas, CUBLAS_DEFAULT_MATH));
    MMP_CUDNN_CHECK(cudnnCreate(&s.cudnn));
    MMP_CUDNN_CHECK(cudnnSetStream(s.cudnn, s.stream));
    MMP_CUDA_CHECK(cudaDeviceGetAttribute(&s.multiprocessors, cudaDevAttrMultiProcessorCount, device));
    s.created = true;
  });
  return s;
}

}  // namespace

const char* cublas_status_name(cublasStatus_t status) { return cublasGetStatusString(status); }

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no driver" error
      return 0;
    }
    return std::min(n, kMaxDevices);
  }();
  return count;
}

cudaStream_t stream(int device) { return state(device).stream; }
cudaStream_t copy_stream(int device) { return state(device).copy_stream; }
cudaStream_t communication_stream(int device) { return state(device).communication_stream; }
cublasHandle_t cublas(int device) { return state(device).cublas; }
cudnnHandle_t cudnn(int device) { return state(device).cudnn; }
int multiprocessor_count(int device) { return state(device).multiprocessors; }

void synchronize(int device) { MMP_CUDA_CHECK(cudaStreamSynchronize(stream(device))); }

void release_all() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Nothing is thrown from here: it runs at exit, and a device in an error state
    // should still be reset.
    try {
      release_batch_norm_graphs();  // their plans use the cuDNN handles, their buffers the cache
    } catch (...) {
    }
    for (int d = 0; d < device_count(); ++d) {
      if (!states()[d].created) continue;
      cudaSetDevice(d);
      cudaStreamSynchronize(states()[d].copy_stream);
      cudaStreamSynchronize(states()[d].communication_stream);
      try {
        device_allocator(d).empty_cache();  // blocks live tensors hold stay: a leak check names them
      } catch (const Error&) {
      }
    }
    released = true;
    release_pinned_pool();
    for (int d = 0; d < device_count(); ++d) {
      DeviceState& s = states()[d];
      if (!s.created) continue;
      cudaSetDevice(d);
      cudnnDestroy(s.cudnn);
      cublasDestroy(s.cublas);
      cudaFree(s.cublas_workspace);
      cudaStreamDestroy(s.copy_stream);
      cudaStreamDestroy(s.communication_stream);
      cudaStreamDestroy(s.stream);
      cudaDeviceReset();  // destroys the context: a leak check reports what is left then
    }
  });
}

DeviceGuard::DeviceGuard(int device) {
  MMP_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) MMP_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() { cudaSetDevice(previous_); }

int grid_for(long long n, int threads, int device) {
  const long long blocks = (n + threads - 1) / threads;
  const long long cap = static_cast<long long>(multiprocessor_count(device)) * 32;
  return static_cast<int>(std::max<long long>(1, std::min(blocks, cap)));
}

int resident_blocks(const void* kernel, int threads, int device) {
  static std::mutex mutex;
  static std::map<std::tuple<const void*, int, int>, int> known;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, added] = known.try_emplace({kernel, threads, device}, 0);
  if (added) {
    DeviceGuard guard(device);
    MMP_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&it->second, kernel, threads, 0));
    it->second = std::max(it->second, 1);
  }
  return it->second;
}

}  // namespace mmp::cuda
