// Views and layout ops: reshape, permute, slice, expand, cat, ... Views share
// storage with their input; their backward maps the gradient back to the input's shape.
#include <algorithm>
#include <numeric>

#include "engine/ops.h"
#include "engine/ops/op_util.h"
#include "engine/profiler.h"

namespace mmp {
namespace {

using detail::should_record;

Shape resolve_shape(const Shape& requested, const Tensor& x, const char* op) {
  const int64_t total = x.numel();
  Shape shape = requested;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      MMP_CHECK(infer < 0, op, ": more than one -1 in ", shape_str(requested), " for ", x.str());
      infer = static_cast<int>(i);
    } else {
      MMP_CHECK(shape[i] >= 0, op, ": bad size in ", shape_str(requested), " for ", x.str());
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    MMP_CHECK(known > 0 && total % known == 0, op, ": cannot view ", x.str(), " as ", shape_str(requested));
    shape[infer] = total / known;
  }
  MMP_CHECK(numel(shape) == total, op, ": cannot view ", x.str(), " as ", shape_str(requested));
  return shape;
}

// A view op: out shares x's storage; backward is given by `grad_fn`.
template <class GradFn>
Tensor view_op(const char* name, const Tensor& x, Tensor out, GradFn grad_fn) {
  if (!should_record({x})) return out;
  return record(name, {x}, out, [grad_fn](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_fn(g)};
  });
}

}  // namespace

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  ProfileScope profile("contiguous", x.device());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.copy_(x.detach());
  return view_op("contiguous", x, out, [](const Tensor& g) { return g; });
}

Tensor to_channels_last(const Tensor& x) {
  MMP_CHECK(x.ndim() == 4, "to_channels_last: needs a 4-d [N, C, H, W] tensor, got ", x.str());
  if (x.is_channels_last()) return x;
  ProfileScope profile("to_channels_last", x.device());
  Tensor out = empty_channels_last(x.shape(), x.dtype(), x.device());
  out.copy_(x.detach());
  return view_op("to_channels_last", x, out, [](const Tensor& g) { return g; });
}

Tensor clone(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.copy_(x.detach());
  return view_op("clone", x, out, [](const Tensor& g) { return g; });
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  out.copy_(x.detach());
  return view_op("to_device", x, out, [from = x.device()](const Tensor& g) { return to_device(g, from); });
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = detail::empty_in_layout_of(x.shape(), dtype, x.device(), {x});
  out.copy_(x.detach());
  if (!is_floating(dtype)) return out;
  return view_op("to_dtype", x, out, [from = x.dtype()](const Tensor& g) { return to_dtype(g, from); });
}

Tensor reshape(const Tensor& x, const Shape& requested) {
  const Shape shape = resolve_shape(requested, x, "reshape");
  if (shape == x.shape()) return x;
  Tensor src = x.is_contiguous() ? x.detach() : x.detach().contiguous();
  Tensor out = src.as_strided(shape, contiguous_strides(shape), src.offset());
  return view_op("reshape", x, out, [xs = x.shape()](const Tensor& g) { return reshape(g, xs); });
}

Tensor flatten(const Tensor& x, int64_t start_in, int64_t end_in) {
  if (x.ndim() == 0) return reshape(x, {1});
  const int start = normalize_dim(start_in, x.ndim(), "flatten");
  const int end = normalize_dim(end_in, x.ndim(), "flatten");
  MMP_CHECK(start <= end, "flatten: start dim ", start, " after end dim ", end);
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int d = start; d <= end; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  MMP_CHECK(static_cast<int>(dims.size()) == x.ndim(), "permute: ", dims.size(), " dims for ", x.str());
  std::vector<int64_t> inverse(dims.size(), -1);
  Shape shape(dims.size());
  Strides strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int d = normalize_dim(dims[i], x.ndim(), "permute");
    MMP_CHECK(inverse[d] < 0, "permute: dim ", d, " repeated");
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor out = x.detach().as_strided(shape, strides, x.offset());
  return view_op("permute", x, out, [inverse](const Tensor& g) { return permute(g, inverse); });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> dims(x.ndim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_dim(dim0, x.ndim(), "transpose")], dims[normalize_dim(dim1, x.ndim(), "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim_in, int64_t start, int64_t end, int64_t step) {
  const int dim = normalize_dim(dim_in, x.ndim(), "slice");
  const int64_t size = x.shape()[dim];
  MMP_CHECK(step > 0, "slice: step must be positive, got ", step);
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = x.detach().as_strided(shape, strides, x.offset() + start * x.strides()[dim]);
  return view_op("slice", x, out, [xs = x.shape(), dim, start, end, step](const Tensor& g) {
    Tensor full_grad = zeros(xs, g.dtype(), g.device());
    slice(full_grad, dim, start, end, step).copy_(g);
    return full_grad;
  });
}

Tensor select(const Tensor& x, int64_t dim_in, int64_t index) {
  const int dim = normalize_dim(dim_in, x.ndim(), "select");
  const int64_t size = x.shape()[dim];
  MMP_CHECK(index >= -size && index < size, "select: index ", index, " out of range for size ", size);
  if (index < 0) index += size;
  return squeeze(slice(x, dim, index, index + 1), dim);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  MMP_CHECK(shape.size() >= x.shape().size(), "expand: ", x.str(), " to fewer dims ", shape_str(shape));
  Tensor out = detail::broadcast_view(x.detach(), shape);
  return view_op("expand", x, out, [xs = x.shape()](const Tensor& g) { return sum_to(g, xs); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim_in) {
  const int dim = normalize_dim(dim_in, x.ndim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Strides strides = x.strides();
  const int64_t stride = dim < x.ndim() ? x.strides()[dim] * x.shape()[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, stride);
  Tensor out = x.detach().as_strided(shape, strides, x.offset());
  return view_op("unsqueeze", x, out, [dim](const Tensor& g) { return squeeze(g, dim); });
}

Tensor squeeze(const Tensor& x, int64_t dim_in) {
  const int dim = normalize_dim(dim_in, x.ndim(), "squeeze");
  MMP_CHECK(x.shape()[dim] == 1, "squeeze: dim ", dim, " of ", x.str(), " is not 1");
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor out = x.detach().as_strided(shape, strides, x.offset());
  return view_op("squeeze", x, out, [dim](const Tensor& g) { return unsqueeze(g, dim); });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim_in) {
  MMP_CHECK(!xs.empty(), "cat: no tensors");
  ProfileScope profile("cat", xs[0].device());
  detail::check_same_device_and_dtype("cat", xs);
  const int dim = normalize_dim(dim_in, xs[0].ndim(), "cat");
  Shape shape = xs[0].shape();
  shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (const auto& t : xs) {
    MMP_CHECK(t.ndim() == xs[0].ndim(), "cat: ", t.str(), " and ", xs[0].str(), " differ in rank");
    for (int d = 0; d < t.ndim(); ++d)
      MMP_CHECK(d == dim || t.shape()[d] == xs[0].shape()[d], "cat along dim ", dim, ": ", t.str(),
                " and ", xs[0].str(), " differ in dim ", d);
    shape[dim] += t.shape()[dim];
    sizes.push_back(t.shape()[dim]);
  }
  Tensor out = Tensor::empty(shape, xs[0].dtype(), xs[0].device());
  int64_t at = 0;
  for (const auto& t : xs) {
    slice(out, dim, at, at + t.shape()[dim]).copy_(t.detach());
    at += t.shape()[dim];
  }
  if (!should_record(xs)) return out;
  return record("cat", xs, out, [sizes, dim](const Tensor& g, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(sizes.size());
    int64_t begin = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs[i]) grads[i] = slice(g, dim, begin, begin + sizes[i]);
      begin += sizes[i];
    }
    return grads;
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int lead = x.ndim() - static_cast<int>(shape.size());
  MMP_CHECK(lead >= 0, "sum_to: ", x.str(), " has fewer dims than ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int d = 0; d < x.ndim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims.push_back(d);
  Tensor out = dims.empty() ? x : sum(x, dims, /*keepdim=*/true);
  return reshape(out, shape);
}

}  // namespace mmp
