#include "engine/shape.h"

#include <algorithm>

#include "engine/error.h"

namespace mmp {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

Strides channels_last_strides(const Shape& shape) {
  MMP_CHECK(shape.size() == 4, "channels-last layout of a ", shape.size(), "-d shape ", shape_str(shape),
            " (only 4-d [N, C, H, W])");
  const int64_t c = std::max<int64_t>(shape[1], 1), h = std::max<int64_t>(shape[2], 1),
                w = std::max<int64_t>(shape[3], 1);
  return {h * w * c, 1, w * c, c};
}

bool same_memory_order(const Shape& shape, const Strides& a, const Strides& b) {
  if (a.size() != shape.size() || b.size() != shape.size()) return false;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] > 1 && a[d] != b[d]) return false;
  return true;
}

std::string shape_str(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_dim(int64_t dim, int ndim, const char* op) {
  MMP_CHECK(ndim > 0, op, ": a 0-d tensor has no dim ", dim);
  MMP_CHECK(dim >= -ndim && dim < ndim, op, ": dim ", dim, " out of range for a ", ndim, "-d tensor");
  return static_cast<int>(dim < 0 ? dim + ndim : dim);
}

}  // namespace mmp
