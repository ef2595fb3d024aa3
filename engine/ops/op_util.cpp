#include "engine/ops/op_util.h"

namespace mmp::detail {

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
