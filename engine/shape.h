#pragma once
// Shapes and strides (in elements) and the rules that combine them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mmp {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// Kernels index with fixed-size arrays; no tensor in this project needs more.
inline constexpr int kMaxDims = 8;

int64_t numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
// The strides of a 4-d [N, C, H, W] shape laid out channels-last (NHWC in memory), the
// layout tensor cores prefer for convolutions.
Strides channels_last_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
// Whether two layouts of `shape` put every element at the same place: their strides agree
// on every dim longer than 1 (a [N, C, 1, 1] tensor is NCHW and NHWC at once, whichever
// strides its maker chose).
bool same_memory_order(const Shape& shape, const Strides& a, const Strides& b);

// Numpy/PyTorch broadcasting of two shapes; nothing when they do not broadcast (the
// caller names the tensors in its error).
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// Maps a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int normalize_dim(int64_t dim, int ndim, const char* op);

}  // namespace mmp
