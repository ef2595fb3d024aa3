// CPU copy, fill and the elementwise kernels over the shared functors.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace mmp::cpu {

CpuBackend& backend() {
  static CpuBackend instance;
  return instance;
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  const auto plan = plan_loop<2>(dst.shape(), {&dst.strides(), &src.strides()});
  MMP_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using out_t = scalar_t;
    out_t* out = static_cast<out_t*>(dst.raw_data());
    MMP_DISPATCH_ALL(src.dtype(), "copy", [&] {
      const scalar_t* in = static_cast<const scalar_t*>(src.raw_data());
      for_each_run(plan, kParallelGrain, [&](const int64_t* off, int64_t n, const int64_t* st) {
        out_t* o = out + off[0];
        const scalar_t* x = in + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = static_cast<out_t>(x[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = static_cast<out_t>(x[i * st[1]]);
        }
      });
    });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  const auto plan = plan_loop<1>(dst.shape(), {&dst.strides()});
  MMP_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    scalar_t* out = static_cast<scalar_t*>(dst.raw_data());
    const scalar_t v = static_cast<scalar_t>(value);
    for_each_run(plan, kParallelGrain, [&](const int64_t* off, int64_t n, const int64_t* st) {
      scalar_t* o = out + off[0];
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = v;
    });
  });
}

void CpuBackend::unary(UnaryKind kind, ScalarParams p, const Tensor& x, const Tensor& out) {
  const auto plan = plan_loop<2>(out.shape(), {&out.strides(), &x.strides()});
  MMP_DISPATCH_FLOATING(out.dtype(), "unary op", [&] {
    scalar_t* po = static_cast<scalar_t*>(out.raw_data());
    const scalar_t* px = static_cast<const scalar_t*>(x.raw_data());
    visit_unary<scalar_t>(kind, p, [&](auto f) {
      for_each_run(plan, kParallelGrain, [&](const int64_t* off, int64_t n, const int64_t* st) {
        scalar_t* o = po + off[0];
        const scalar_t* a = px + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
        }
      });
    });
  });
}

void CpuBackend::binary(BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b, const Tensor& out) {
  const auto plan = plan_loop<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  MMP_DISPATCH_FLOATING(out.dtype(), "binary op", [&] {
    scalar_t* po = static_cast<scalar_t*>(out.raw_data());
    const scalar_t* pa = static_cast<const scalar_t*>(a.raw_data());
    const scalar_t* pb = static_cast<const scalar_t*>(b.raw_data());
    visit_binary<scalar_t>(kind, p, [&](auto f) {
      for_each_run(plan, kParallelGrain, [&](const int64_t* off, int64_t n, const int64_t* st) {
        scalar_t* o = po + off[0];
        const scalar_t* x = pa + off[1];
        const scalar_t* y = pb + off[2];
        // The dense and scalar-broadcast runs get loops the compiler vectorises.
        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
          const scalar_t yv = *y;
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
          const scalar_t xv = *x;
          for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
        }
      });
    });
  });
}

}  // namespace mmp::cpu
