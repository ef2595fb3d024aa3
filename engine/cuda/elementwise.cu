// CUDA copy, fill and elementwise kernels over the shared functors (engine/functors.h).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/loop_plan.h"

namespace mmp::cuda {
namespace {

template <class Out, class In>
__global__ void copy_kernel(LoopPlan<2> plan, Out* out, const In* in) {
  if (plan.flat()) {
    MMP_GRID_STRIDE_LOOP(i, plan.numel) out[i] = static_cast<Out>(in[i]);
    return;
  }
  MMP_GRID_STRIDE_LOOP(i, plan.numel) {
    int64_t off[2];
    plan.offsets(i, off);
    out[off[0]] = static_cast<Out>(in[off[1]]);
  }
}

template <class T>
__global__ void fill_kernel(LoopPlan<1> plan, T* out, T value) {
  MMP_GRID_STRIDE_LOOP(i, plan.numel) {
    int64_t off[1];
    plan.offsets(i, off);
    out[off[0]] = value;
  }
}

// The functors compute in C = compute_t<T> (float for bf16 storage).
template <class T, class F>
__global__ void unary_kernel(LoopPlan<2> plan, T* out, const T* in, F f) {
  using C = compute_t<T>;
  if (plan.flat()) {
    MMP_GRID_STRIDE_LOOP(i, plan.numel) out[i] = static_cast<T>(f(static_cast<C>(in[i])));
    return;
  }
  MMP_GRID_STRIDE_LOOP(i, plan.numel) {
    int64_t off[2];
    plan.offsets(i, off);
    out[off[0]] = static_cast<T>(f(static_cast<C>(in[off[1]])));
  }
}

template <class T, class F>
__global__ void binary_kernel(LoopPlan<3> plan, T* out, const T* a, const T* b, F f) {
  using C = compute_t<T>;
  if (plan.flat()) {
    MMP_GRID_STRIDE_LOOP(i, plan.numel) out[i] = static_cast<T>(f(static_cast<C>(a[i]), static_cast<C>(b[i])));
    return;
  }
  MMP_GRID_STRIDE_LOOP(i, plan.numel) {
    int64_t off[3];
    plan.offsets(i, off);
    out[off[0]] = static_cast<T>(f(static_cast<C>(a[off[1]]), static_cast<C>(b[off[2]])));
  }
}

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  DeviceGuard guard(device_);
  const auto plan = plan_loop<2>(dst.shape(), {&dst.strides(), &src.strides()});
  const int grid = grid_for(plan.numel, kThreads, device_);
  MMP_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using out_t = scalar_t;
    MMP_DISPATCH_ALL(src.dtype(), "copy", [&] {
      copy_kernel<<<grid, kThreads, 0, stream(device_)>>>(plan, static_cast<out_t*>(dst.raw_data()),
                                                          static_cast<const scalar_t*>(src.raw_data()));
    });
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::fill(const Tensor& dst, double value) {
  DeviceGuard guard(device_);
  const auto plan = plan_loop<1>(dst.shape(), {&dst.strides()});
  MMP_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    fill_kernel<<<grid_for(plan.numel, kThreads, device_), kThreads, 0, stream(device_)>>>(
        plan, static_cast<scalar_t*>(dst.raw_data()), static_cast<scalar_t>(value));
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::unary(UnaryKind kind, ScalarParams p, const Tensor& x, const Tensor& out) {
  DeviceGuard guard(device_);
  const auto plan = plan_loop<2>(out.shape(), {&out.strides(), &x.strides()});
  const int grid = grid_for(plan.numel, kThreads, device_);
  MMP_DISPATCH_FLOATING_BF16(out.dtype(), "unary op", [&] {
    visit_unary<compute_t<scalar_t>>(kind, p, [&](auto f) {
      unary_kernel<<<grid, kThreads, 0, stream(device_)>>>(plan, static_cast<scalar_t*>(out.raw_data()),
                                                           static_cast<const scalar_t*>(x.raw_data()), f);
    });
  });
  MMP_CUDA_CHECK_LAUNCH();
}

void CudaBackend::binary(BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(device_);
  const auto plan = plan_loop<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  const int grid = grid_for(plan.numel, kThreads, device_);
  MMP_DISPATCH_FLOATING_BF16(out.dtype(), "binary op", [&] {
    visit_binary<compute_t<scalar_t>>(kind, p, [&](auto f) {
      binary_kernel<<<grid, kThreads, 0, stream(device_)>>>(plan, static_cast<scalar_t*>(out.raw_data()),
                                                            static_cast<const scalar_t*>(a.raw_data()),
                                                            static_cast<const scalar_t*>(b.raw_data()), f);
    });
  });
  MMP_CUDA_CHECK_LAUNCH();
}

}  // namespace mmp::cuda
