#include "engine/ops/op_util.h"

#include "engine/ops.h"
#include "engine/precision.h"

namespace mmp::detail {

Tensor empty_in_layout_of(const Shape& shape, DType dtype, Device device, std::initializer_list<Tensor> like) {
  for (const Tensor& t : like)
    if (t.defined() && t.shape() == shape && t.is_channels_last() && !t.is_contiguous())
      return empty_channels_last(shape, dtype, device);
  return Tensor::empty(shape, dtype, device);
}

bool wants_channels_last(const Tensor& x) {
  return x.ndim() == 4 && x.device().is_cuda() && (x.dtype() == DType::F32 || x.dtype() == DType::BF16) &&
         current_precision() != Precision::fp32;
}

Tensor autocast(const Tensor& x) {
  if (!x.defined() || x.dtype() != DType::F32 || !x.device().is_cuda() || current_precision() != Precision::bf16)
    return x;
  return to_dtype(x, DType::BF16);
}

bool tf32_allowed(const Tensor& x) {
  return x.dtype() == DType::F32 && x.device().is_cuda() && current_precision() == Precision::tf32;
}

std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.dtype() == b.dtype()) return {a, b};
  if (a.dtype() == DType::BF16 && is_floating(b.dtype())) return {to_dtype(a, b.dtype()), b};
  if (b.dtype() == DType::BF16 && is_floating(a.dtype())) return {a, to_dtype(b, a.dtype())};
  return {a, b};  // other mixes are refused by the op
}

void check_same_device_and_dtype(const char* op, const std::vector<Tensor>& inputs) {
  const Tensor* first = nullptr;
  for (const auto& t : inputs) {
    MMP_CHECK(t.defined(), op, ": an input is an undefined tensor");
    if (!first) {
      first = &t;
      continue;
    }
    MMP_CHECK(t.device() == first->device(), op, ": inputs on different devices (", first->str(),
              " and ", t.str(), ")");
    MMP_CHECK(t.dtype() == first->dtype(), op, ": inputs of different dtypes (", first->str(),
              " and ", t.str(), ")");
  }
}

void check_floating(const char* op, const Tensor& x) {
  MMP_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor, got ", x.str());
}

Tensor broadcast_view(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int nd = static_cast<int>(shape.size());
  const int lead = nd - x.ndim();
  Strides strides(nd, 0);
  for (int d = 0; d < x.ndim(); ++d) {
    MMP_CHECK(x.shape()[d] == shape[lead + d] || x.shape()[d] == 1, "cannot broadcast ", x.str(),
              " to ", shape_str(shape));
    strides[lead + d] = x.shape()[d] == 1 ? 0 : x.strides()[d];
  }
  return x.as_strided(shape, strides, x.offset());
}

}  // namespace mmp::detail
