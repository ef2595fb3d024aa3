#include "engine/device_graph.h"

#include "engine/error.h"

#ifdef MMP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_blocks.h"
#include "engine/cuda/runtime.h"
#endif

namespace mmp {

#ifdef MMP_HAVE_CUDA
struct DeviceGraph::Recording {
  int pool = -1;
  cudaGraphExec_t exec = nullptr;
};
#else
struct DeviceGraph::Recording {};
#endif

bool DeviceGraph::supported(Device device) { return device.is_cuda() && device.index < cuda_device_count(); }

DeviceGraph::DeviceGraph(Device device) : device_(device), recording_(std::make_unique<Recording>()) {
  MMP_CHECK(supported(device), "CUDA graphs need a CUDA device, not ", device.str(),
            cuda_compiled() ? "" : " (this build has no CUDA backend)");
#ifdef MMP_HAVE_CUDA
  recording_->pool = cuda::device_allocator(device.index).create_pool();
#endif
}

DeviceGraph::~DeviceGraph() {
#ifdef MMP_HAVE_CUDA
  // Nothing may throw here, even on a device in an error state.
  int previous = 0;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device_.index) == cudaSuccess;
  if (recording_->exec) cudaGraphExecDestroy(recording_->exec);
  if (switched) cudaSetDevice(previous);
  cudaGetLastError();
  // Replays still queued run before any later work that may take the pool's blocks.
  cuda::device_allocator(device_.index).release_pool(recording_->pool);
#endif
}

bool DeviceGraph::captured() const {
#ifdef MMP_HAVE_CUDA
  return recording_->exec != nullptr;
#else
  return false;
#endif
}

void DeviceGraph::capture(const std::function<void()>& work) {
  MMP_CHECK(!captured(), "this graph is captured already");
#ifdef MMP_HAVE_CUDA
  const int d = device_.index;
  cuda::DeviceGuard guard(d);
  CachingAllocator& allocator = cuda::device_allocator(d);
  const cudaStream_t stream = cuda::stream(d);
  // The pool first: from then on no thread gives memory back, which would wait for the
  // stream under capture.
  allocator.begin_pool(recording_->pool);
  // Thread-local: the loader's threads may go on uploading (on their own stream) meanwhile.
  const cudaError_t began = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (began != cudaSuccess) allocator.end_pool();
  MMP_CUDA_CHECK(began);
  cudaGraph_t graph = nullptr;
  try {
    work();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    allocator.end_pool();
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // the capture's failure, now handled
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  allocator.end_pool();
  if (ended != cudaSuccess) {
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    MMP_THROW("capturing a CUDA graph failed (", cudaGetErrorString(ended),
              "): the captured work waited for the device or used another stream");
  }
  const cudaError_t instantiated = cudaGraphInstantiate(&recording_->exec, graph, 0);
  cudaGraphDestroy(graph);
  MMP_CUDA_CHECK(instantiated);
#else
  (void)work;
#endif
}

void DeviceGraph::replay() {
  MMP_CHECK(captured(), "replay of a graph not captured");
#ifdef MMP_HAVE_CUDA
  cuda::DeviceGuard guard(device_.index);
  MMP_CUDA_CHECK(cudaGraphLaunch(recording_->exec, cuda::stream(device_.index)));
#endif
}

}  // namespace mmp
