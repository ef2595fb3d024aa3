#include "engine/cuda/batch_norm_choice.h"

#include <cuda_runtime_api.h>

#include <bit>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/runtime.h"

namespace mmp::cuda {
namespace {

// A CUDA event that keeps time (QueueEvent's do not: ordering is all they are for).
class TimingEvent {
 public:
  TimingEvent() { MMP_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~TimingEvent() { cudaEventDestroy(event_); }
  TimingEvent(const TimingEvent&) = delete;
  TimingEvent& operator=(const TimingEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Milliseconds per call of `call`, which queues work on the compute stream: a warm-up call,
// then the mean of three between two events (a gap while the host queues a call counts,
// as it does in an eager step; a replayed CUDA graph has none).
float milliseconds_per_call(int device, const std::function<void()>& call) {
  constexpr int kTimedCalls = 3;
  call();
  const TimingEvent start, stop;
  MMP_CUDA_CHECK(cudaEventRecord(start.get(), stream(device)));
  for (int i = 0; i < kTimedCalls; ++i) call();
  MMP_CUDA_CHECK(cudaEventRecord(stop.get(), stream(device)));
  MMP_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  MMP_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms / kTimedCalls;
}

bool capturing(int device) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  MMP_CUDA_CHECK(cudaStreamIsCapturing(stream(device), &status));
  return status != cudaStreamCaptureStatusNone;
}

// device, pass, dtype, N, C, H, W, residual, running, momentum and eps (as f32 bits)
using Key = std::tuple<int, int, int, int64_t, int64_t, int64_t, int64_t, bool, bool, uint32_t, uint32_t>;

struct Choices {
  std::mutex mutex;  // held while timing too: one shape at a time on the stream
  std::map<Key, size_t> index;
  std::vector<BatchNormChoice> made;
};

Choices& choices() {
  static Choices all;
  return all;
}

}  // namespace

const char* batch_norm_engine_name(BatchNormEngine e) { return e == BatchNormEngine::cudnn_graph ? "cudnn-graph" : "own"; }

BatchNormEngine choose_batch_norm_engine(int device, const BatchNormCall& call, const Tensor& x,
                                         const std::function<bool()>& graph_supported,
                                         const std::function<void(BatchNormEngine)>& run) {
  const Shape& s = x.shape();
  MMP_CHECK(s.size() == 4, "batch norm engine choice: x must be [N, C, H, W], got ", x.str());
  const Key key{device, static_cast<int>(call.pass), static_cast<int>(x.dtype()), s[0], s[1], s[2], s[3],
                call.residual, call.running, std::bit_cast<uint32_t>(static_cast<float>(call.momentum)),
                std::bit_cast<uint32_t>(static_cast<float>(call.eps))};
  Choices& all = choices();
  // Held while timing too (one shape at a time on the stream; a step's first calls).
  const std::lock_guard<std::mutex> lock(all.mutex);
  if (const auto found = all.index.find(key); found != all.index.end()) return all.made[found->second].engine;
  if (capturing(device) || !graph_supported()) return BatchNormEngine::own;
  DeviceGuard guard(device);
  BatchNormChoice c;
  c.device = device;
  c.call = call;
  c.dtype = x.dtype();
  c.shape = s;
  c.own_ms = milliseconds_per_call(device, [&] { run(BatchNormEngine::own); });
  try {
    c.graph_ms = milliseconds_per_call(device, [&] { run(BatchNormEngine::cudnn_graph); });
  } catch (const std::exception& e) {
    c.graph_ms = std::numeric_limits<float>::infinity();
    c.graph_error = e.what();
  }
  c.engine = c.graph_ms < c.own_ms ? BatchNormEngine::cudnn_graph : BatchNormEngine::own;
  all.index.emplace(key, all.made.size());
  all.made.push_back(c);
  return c.engine;
}

std::vector<BatchNormChoice> batch_norm_choices() {
  Choices& all = choices();
  const std::lock_guard<std::mutex> lock(all.mutex);
  return all.made;
}

}  // namespace mmp::cuda
