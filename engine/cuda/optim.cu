// CUDA optimizer updates over the shared rules of engine/optim_math.h, for a whole list
// of parameters in one launch (a multi-tensor apply), and the integrators' per-segment
// scaling, also in one launch.
#include <algorithm>
#include <cmath>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"

namespace mmp::cuda {
namespace {

// Up to this many tensors per launch, passed by value (12 KB of kernel parameters;
// CUDA 12.1+ takes up to 32 KB). Element i belongs to the first tensor whose `end`
// exceeds it.
constexpr int kTensorsPerLaunch = 256;

template <class T>
struct TensorList {
  T* param[kTensorsPerLaunch];
  const T* grad[kTensorsPerLaunch];
  T* state1[kTensorsPerLaunch];
  T* state2[kTensorsPerLaunch];
  long long end[kTensorsPerLaunch];  // running totals of the tensors' sizes
  int count;
};

__device__ __forceinline__ int owner(const long long* end, int count, long long i) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (end[mid] > i) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

template <class T>
__global__ void sgd_kernel(TensorList<T> list, long long total, SgdParams o) {
  MMP_GRID_STRIDE_LOOP(i, total) {
    const int t = owner(list.end, list.count, i);
    const long long j = i - (t > 0 ? list.end[t - 1] : 0);
    T unused = 0;
    sgd_update(list.param[t][j], list.grad[t][j], list.state1[t] ? list.state1[t][j] : unused, o);
  }
}

template <class T>
__global__ void adam_kernel(TensorList<T> list, long long total, AdamParams o, double bias1, double bias2_sqrt) {
  MMP_GRID_STRIDE_LOOP(i, total) {
    const int t = owner(list.end, list.count, i);
    const long long j = i - (t > 0 ? list.end[t - 1] : 0);
    adam_update(list.param[t][j], list.grad[t][j], list.state1[t][j], list.state2[t][j], o, bias1, bias2_sqrt);
  }
}

// Calls launch(list, total) for each run of up to kTensorsPerLaunch tensors.
template <class T, class Launch>
void for_each_list(const std::vector<OptimizerTensors>& tensors, Launch&& launch) {
  for (size_t first = 0; first < tensors.size(); first += kTensorsPerLaunch) {
    TensorList<T> list{};
    long long total = 0;
    list.count = static_cast<int>(std::min<size_t>(kTensorsPerLaunch, tensors.size() - first));
    for (int k = 0; k < list.count; ++k) {
      const OptimizerTensors& t = tensors[first + k];
      list.param[k] = static_cast<T*>(t.param.raw_data());
      list.grad[k] = static_cast<const T*>(t.grad.raw_data());
      list.state1[k] = t.state1.defined() ? static_cast<T*>(t.state1.raw_data()) : nullptr;
      list.state2[k] = t.state2.defined() ? static_cast<T*>(t.state2.raw_data()) : nullptr;
      total += t.param.numel();
      list.end[k] = total;
    }
    if (total > 0) launch(list, total);
  }
}

constexpr int kSegmentsPerLaunch = 512;

struct SegmentList {
  long long start[kSegmentsPerLaunch];  // in the flat buffer
  long long end[kSegmentsPerLaunch];    // running totals of the segments' sizes
  double factor[kSegmentsPerLaunch];
  int count;
};

template <class T>
__global__ void scale_segments_kernel(T* x, SegmentList list, long long total) {
  MMP_GRID_STRIDE_LOOP(i, total) {
    const int s = owner(list.end, list.count, i);
    const long long j = list.start[s] + i - (s > 0 ? list.end[s - 1] : 0);
    x[j] = static_cast<T>(static_cast<compute_t<T>>(x[j]) * static_cast<compute_t<T>>(list.factor[s]));
  }
}

}  // namespace

void CudaBackend::sgd_step(const std::vector<OptimizerTensors>& tensors, const SgdParams& o) {
  if (tensors.empty()) return;
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING(tensors.front().param.dtype(), "sgd", [&] {
    for_each_list<scalar_t>(tensors, [&](const TensorList<scalar_t>& list, long long total) {
      sgd_kernel<<<grid_for(total, kThreads, device_), kThreads, 0, stream(device_)>>>(list, total, o);
      MMP_CUDA_CHECK_LAUNCH();
    });
  });
}

void CudaBackend::adam_step(const std::vector<OptimizerTensors>& tensors, const AdamParams& o) {
  if (tensors.empty()) return;
  DeviceGuard guard(device_);
  const double bias1 = 1 - std::pow(o.beta1, static_cast<double>(o.step));
  const double bias2_sqrt = std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step)));
  MMP_DISPATCH_FLOATING(tensors.front().param.dtype(), "adam", [&] {
    for_each_list<scalar_t>(tensors, [&](const TensorList<scalar_t>& list, long long total) {
      adam_kernel<<<grid_for(total, kThreads, device_), kThreads, 0, stream(device_)>>>(list, total, o, bias1,
                                                                                        bias2_sqrt);
      MMP_CUDA_CHECK_LAUNCH();
    });
  });
}

void CudaBackend::scale_segments(const Tensor& flat, const std::vector<int64_t>& offsets,
                                 const std::vector<int64_t>& counts, const std::vector<double>& factors) {
  DeviceGuard guard(device_);
  MMP_DISPATCH_FLOATING_BF16(flat.dtype(), "scale_segments", [&] {
    for (size_t first = 0; first < offsets.size(); first += kSegmentsPerLaunch) {
      SegmentList list{};
      list.count = static_cast<int>(std::min<size_t>(kSegmentsPerLaunch, offsets.size() - first));
      long long total = 0;
      for (int s = 0; s < list.count; ++s) {
        list.start[s] = offsets[first + s];
        total += counts[first + s];
        list.end[s] = total;
        list.factor[s] = factors[first + s];
      }
      if (total == 0) continue;
      scale_segments_kernel<<<grid_for(total, kThreads, device_), kThreads, 0, stream(device_)>>>(
          static_cast<scalar_t*>(flat.raw_data()), list, total);
      MMP_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace mmp::cuda
