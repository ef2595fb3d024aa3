// Random fills through the backends' Philox kernels.
#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace mmp {

uint64_t Generator::advance(uint64_t n) {
  const uint64_t first = offset_;
  offset_ += n;
  return first;
}

namespace {

// Fills t (contiguous or not) through a dense temporary when needed.
template <class Fill>
void fill_dense(const Tensor& t, Fill fill) {
  detail::check_floating("random fill", t);
  t.storage()->bump_version();
  if (t.numel() == 0) return;
  if (t.is_contiguous()) {
    fill(t);
    return;
  }
  Tensor dense = Tensor::empty(t.shape(), t.dtype(), t.device());
  fill(dense);
  t.copy_(dense);
}

}  // namespace

void uniform_(const Tensor& t, Generator& gen, double lo, double hi) {
  fill_dense(t, [&](const Tensor& d) {
    backend(d.device()).fill_uniform(d, gen.seed(), gen.advance(d.numel()), lo, hi);
  });
}

void normal_(const Tensor& t, Generator& gen, double mean, double std) {
  fill_dense(t, [&](const Tensor& d) {
    backend(d.device()).fill_normal(d, gen.seed(), gen.advance(d.numel()), mean, std);
  });
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  normal_(t, gen);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  uniform_(t, gen);
  return t;
}

}  // namespace mmp
