// Reductions: sum, mean, argmax, dot, norm and the many-tensor dot products.
#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

using detail::saved;
using detail::should_record;

std::vector<int> sorted_dims(const std::vector<int64_t>& dims, int ndim, const char* op) {
  std::vector<int> out;
  for (int64_t d : dims) out.push_back(normalize_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  MMP_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": a dim is repeated");
  return out;
}

Shape keepdim_shape(const Shape& shape, const std::vector<int>& dims) {
  Shape out = shape;
  for (int d : dims) out[d] = 1;
  return out;
}

Shape dropdim_shape(const Shape& shape, const std::vector<int>& dims) {
  Shape out;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(shape[d]);
  return out;
}

// Runs of adjacent dims in `dims` (sorted).
int adjacent_runs(const std::vector<int>& dims) {
  int runs = 0;
  for (size_t i = 0; i < dims.size(); ++i) runs += i == 0 || dims[i] != dims[i - 1] + 1;
  return runs;
}

// Sums a contiguous tensor over `dims` (sorted), keeping them as size 1. Each run of
// adjacent dims is one [outer, r, inner] reduction, innermost run first.
Tensor sum_kernel(const Tensor& x, const std::vector<int>& dims) {
  // bf16 over several runs: the stages in f32, rounded to bf16 once at the end.
  if (x.dtype() == DType::BF16 && adjacent_runs(dims) > 1)
    return sum_kernel(x.detach().to(DType::F32), dims).to(DType::BF16);
  ProfileScope profile("sum", x.device());
  Tensor cur = x.contiguous();
  Shape shape = cur.shape();
  size_t i = dims.size();
  while (i > 0) {
    const int last = dims[--i];
    int first = last;
    while (i > 0 && dims[i - 1] == first - 1) first = dims[--i];
    int64_t outer = 1, r = 1, inner = 1;
    for (int d = 0; d < first; ++d) outer *= shape[d];
    for (int d = first; d <= last; ++d) r *= shape[d];
    for (int d = last + 1; d < static_cast<int>(shape.size()); ++d) inner *= shape[d];
    for (int d = first; d <= last; ++d) shape[d] = 1;
    Tensor out = Tensor::empty(shape, cur.dtype(), cur.device());
    if (out.numel() > 0) backend(cur.device()).sum(cur, out, outer, r, inner);
    cur = out;
  }
  return cur;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  detail::check_floating("sum", x);
  MMP_CHECK(!dims_in.empty(), "sum: no dims given (use sum(x) for a total)");
  const std::vector<int> dims = sorted_dims(dims_in, x.ndim(), "sum");
  Tensor out = sum_kernel(x, dims);
  if (!keepdim) out = out.as_strided(dropdim_shape(x.shape(), dims),
                                     contiguous_strides(dropdim_shape(x.shape(), dims)), out.offset());
  if (!should_record({x})) return out;
  return record("sum", {x}, out,
                [xs = x.shape(), kept = keepdim_shape(x.shape(), dims)](const Tensor& g, const std::vector<bool>&) {
                  return std::vector<Tensor>{expand(reshape(g, kept), xs)};
                });
}

Tensor sum(const Tensor& x) {
  if (x.ndim() == 0) return x;
  std::vector<int64_t> all(x.ndim());
  for (int d = 0; d < x.ndim(); ++d) all[d] = d;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count = 1;
  for (int d : sorted_dims(dims, x.ndim(), "mean")) count *= x.shape()[d];
  MMP_CHECK(count > 0, "mean over an empty dimension of ", x.str());
  return mul_scalar(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) {
  MMP_CHECK(x.numel() > 0, "mean of an empty tensor ", x.str());
  return mul_scalar(sum(x), 1.0 / static_cast<double>(x.numel()));
}

Tensor argmax(const Tensor& x, int64_t dim_in, bool keepdim) {
  const int dim = normalize_dim(dim_in, x.ndim(), "argmax");
  MMP_CHECK(x.ndim() > 0 && x.shape()[dim] > 0, "argmax over an empty dim of ", x.str());
  Tensor c = x.contiguous();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int d = dim + 1; d < x.ndim(); ++d) inner *= x.shape()[d];
  const Shape shape = keepdim ? keepdim_shape(x.shape(), {dim}) : dropdim_shape(x.shape(), {dim});
  Tensor out = Tensor::empty(shape, DType::I64, x.device());
  if (out.numel() > 0) backend(x.device()).argmax(c, out, outer, x.shape()[dim], inner);
  return out;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  MMP_CHECK(a.shape() == b.shape(), "dot: shapes differ: ", a.str(), " and ", b.str());
  return sum(mul(a, b));
}

Tensor norm(const Tensor& x) {
  detail::check_floating("norm", x);
  Tensor sq = dots({x}, {x});
  Tensor out = to_dtype(sqrt(sq), x.dtype()).as_strided({}, {}, 0);
  if (!should_record({x})) return out;
  Tensor keep_x = saved(x);
  Tensor keep_n = saved(out);
  // d||x||/dx = x / ||x||, taken as 0 at x = 0 (the subgradient PyTorch uses).
  return record(
      "norm", {x}, out,
      [keep_x, keep_n](const Tensor& g, const std::vector<bool>&) {
        const double n = keep_n.item();
        if (n == 0.0) return std::vector<Tensor>{zeros_like(keep_x)};
        return std::vector<Tensor>{mul(keep_x, mul_scalar(g, 1.0 / n))};
      },
      {keep_x, keep_n});
}

Tensor dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  MMP_CHECK(a.size() == b.size(), "dots: ", a.size(), " left and ", b.size(), " right tensors");
  MMP_CHECK(!a.empty(), "dots: no tensors");
  std::vector<Tensor> ca, cb;
  for (size_t i = 0; i < a.size(); ++i) {
    detail::check_same_device_and_dtype("dots", {a[i], b[i], a[0]});
    detail::check_floating("dots", a[i]);
    MMP_CHECK(a[i].numel() == b[i].numel(), "dots: pair ", i, " has ", a[i].numel(), " and ",
              b[i].numel(), " elements");
    ca.push_back(a[i].detach().contiguous());
    cb.push_back(b[i].detach().contiguous());
  }
  Tensor out = Tensor::empty({static_cast<int64_t>(a.size())}, DType::F64, a[0].device());
  backend(a[0].device()).dots(ca, cb, out);
  return out;
}

Tensor squared_norms(const std::vector<Tensor>& xs) { return dots(xs, xs); }

}  // namespace mmp
