#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

#ifdef MMP_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace mmp {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) MMP_CHECK(s >= 0, "negative size in shape ", shape_str(shape));
  auto storage = std::make_shared<Storage>(mmp::numel(shape) * dtype_size(dtype), device);
  return from_storage(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape,
                            const Strides& strides, int64_t offset, DType dtype) {
  MMP_CHECK(shape.size() == strides.size(), "shape ", shape_str(shape), " and strides ",
            shape_str(strides), " differ in rank");
  MMP_CHECK(shape.size() <= kMaxDims, "tensors have at most ", kMaxDims, " dims, got ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

const Shape& Tensor::shape() const {
  MMP_CHECK(defined(), "use of an undefined tensor");
  return impl_->shape;
}
const Strides& Tensor::strides() const { return impl_->strides; }
int64_t Tensor::offset() const { return impl_->offset; }
int64_t Tensor::size(int64_t dim) const { return shape()[normalize_dim(dim, ndim(), "size")]; }
int64_t Tensor::numel() const { return mmp::numel(shape()); }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to lay out
  int64_t expected = 1;
  for (int d = ndim() - 1; d >= 0; --d) {
    if (impl_->shape[d] == 1) continue;
    if (impl_->strides[d] != expected) return false;
    expected *= impl_->shape[d];
  }
  return true;
}

bool Tensor::is_channels_last() const {
  if (ndim() != 4) return false;
  if (numel() == 0) return true;
  const Strides expected = channels_last_strides(impl_->shape);
  for (int d = 0; d < 4; ++d)
    if (impl_->shape[d] != 1 && impl_->strides[d] != expected[d]) return false;
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return ::mmp::str(dtype_name(dtype()), shape_str(shape()), " on ", device().str());
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(impl_->dtype);
}

Tensor Tensor::contiguous() const { return mmp::contiguous(*this); }
Tensor Tensor::to(Device device) const { return mmp::to_device(*this, device); }
Tensor Tensor::to(DType dtype) const { return mmp::to_dtype(*this, dtype); }
Tensor Tensor::clone() const { return mmp::clone(*this); }

Tensor Tensor::detach() const {
  return from_storage(impl_->storage, impl_->shape, impl_->strides, impl_->offset, impl_->dtype);
}

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
  return from_storage(impl_->storage, shape, strides, offset, impl_->dtype);
}

void Tensor::copy_(const Tensor& src) const {
  MMP_CHECK(src.shape() == shape(), "copy_: source ", src.str(), " into ", str());
  storage()->bump_version();
  if (numel() == 0) return;
  if (src.device() == device()) {
    backend(device()).copy(src, *this);
    return;
  }
  // Cross-device: move a dense copy of the source, then convert in place.
  Tensor dense = src.detach().contiguous();
  if (is_contiguous() && dense.dtype() == dtype()) {
    copy_between_devices(dense, *this);
    return;
  }
  Tensor staged = Tensor::empty(shape(), dense.dtype(), device());
  copy_between_devices(dense, staged);
  backend(device()).copy(staged, *this);
}

void Tensor::fill_(double value) const {
  storage()->bump_version();
  if (numel() > 0) backend(device()).fill(*this, value);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = detach();
  if (!host.device().is_cpu()) host = host.to(Device::cpu());
  if (host.dtype() != dtype_of<T> || !host.is_contiguous()) {
    Tensor converted = Tensor::empty(shape(), dtype_of<T>);
    converted.copy_(host);
    host = converted;
  }
  std::vector<T> out(numel());
  if (!out.empty()) std::memcpy(out.data(), host.raw_data(), out.size() * sizeof(T));
  return out;
}

double Tensor::item() const {
  MMP_CHECK(numel() == 1, "item() of a tensor with ", numel(), " elements (", str(), ")");
  return to_vector<double>()[0];
}

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

const Tensor& Tensor::set_requires_grad(bool on) const {
  MMP_CHECK(impl_->grad_fn == nullptr, "set_requires_grad on a tensor made by an op (",
            impl_->grad_fn->name, "): only leaves can be marked");
  MMP_CHECK(!on || is_floating(dtype()), "only floating tensors can require grad, not ", str());
  impl_->requires_grad = on;
  if (!on) impl_->leaf_node.reset();
  return *this;
}

bool Tensor::is_leaf() const { return impl_->grad_fn == nullptr; }

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
  if (!grad.defined()) {
    impl_->grad.reset();
    return;
  }
  MMP_CHECK(grad.shape() == shape(), "set_grad: gradient ", grad.str(), " for ", str());
  impl_->grad = grad.detach().impl_ptr();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

// ---- factories ---------------------------------------------------------------

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

Tensor empty_channels_last(const Shape& shape, DType dtype, Device device) {
  const Tensor flat = Tensor::empty({numel(shape)}, dtype, device);
  return Tensor::from_storage(flat.storage(), shape, channels_last_strides(shape), 0, dtype);
}

Tensor pinned_empty(const Shape& shape, DType dtype, Device device) {
#ifdef MMP_HAVE_CUDA
  if (device.is_cuda()) {
    const size_t bytes = static_cast<size_t>(numel(shape)) * dtype_size(dtype);
    auto storage =
        std::make_shared<Storage>(cuda::pinned_allocate(bytes, device.index), bytes, Device::cpu(), cuda::pinned_free);
    return Tensor::from_storage(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
  }
#endif
  return Tensor::empty(shape, dtype);
}

Tensor arange(int64_t n, DType dtype, Device device) {
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<double>(i);
  Tensor host = from_vector(values, {n});
  Tensor out = Tensor::empty({n}, dtype, device);
  out.copy_(host);
  return out;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  MMP_CHECK(static_cast<int64_t>(values.size()) == numel(shape), "from_vector: ", values.size(),
            " values for shape ", shape_str(shape));
  Tensor host = Tensor::empty(shape, dtype_of<T>);
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * sizeof(T));
  if (device.is_cpu()) return host;
  Tensor out = Tensor::empty(shape, dtype_of<T>, device);
  out.copy_(host);
  return out;
}

template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);

}  // namespace mmp
