#pragma once
// Tensor: a handle to a strided view of shared storage, plus its autograd state.
// Copying a Tensor copies the handle (as in PyTorch); ops never change their inputs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace mmp {

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised contiguous tensor.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // A strided view of existing storage.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape,
                             const Strides& strides, int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t offset() const;
  int ndim() const { return static_cast<int>(shape().size()); }
  int64_t size(int64_t dim) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;      // row-major: the dims' order in memory is their order
  bool is_channels_last() const;   // 4-d and NHWC in memory (channels_last_strides)
  const std::shared_ptr<Storage>& storage() const;
  std::string str() const;  // "f32[2, 3] on cpu", for error messages

  // Address of element 0 of this view.
  void* raw_data() const;
  template <class T>
  T* data() const {
    MMP_CHECK(dtype() == dtype_of<T>, "tensor is ", str(), ", accessed as ", dtype_name(dtype_of<T>));
    return static_cast<T*>(raw_data());
  }

  // ---- copies and conversions (differentiable where it makes sense) --------
  Tensor contiguous() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;
  // A tensor sharing storage with this one, cut off from autograd.
  Tensor detach() const;
  // Host copy of the elements in row-major order.
  template <class T>
  std::vector<T> to_vector() const;
  // The value of a one-element tensor, as double.
  double item() const;

  // ---- raw views (no autograd; ops.h has the differentiable ones) ----------
  Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;

  // ---- in-place writes (outside autograd: optimizers, initialisers, kernels) ----
  // Copies `src` (same shape, any dtype/device/strides) into this view.
  void copy_(const Tensor& src) const;
  void fill_(double value) const;

  // ---- autograd -----------------------------------------------------------
  bool requires_grad() const;
  // Marks a leaf (a parameter) as needing gradients; returns *this.
  const Tensor& set_requires_grad(bool on) const;
  bool is_leaf() const;
  // Gradient accumulated into a leaf by backward(); undefined until then.
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  // The node that made this tensor (null for leaves and constants).
  const std::shared_ptr<Node>& grad_fn() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::F32;
  // autograd state
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;    // the op that produced this tensor
  std::shared_ptr<Node> leaf_node;  // for leaves: where backward delivers their gradient
  std::shared_ptr<TensorImpl> grad; // accumulated gradient of a leaf
};

// ---- factories ---------------------------------------------------------------
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::F32, Device device = Device::cpu());
Tensor arange(int64_t n, DType dtype = DType::F32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor empty_like(const Tensor& t);  // contiguous, same shape/dtype/device
// A 4-d tensor laid out channels-last (NHWC in memory), uninitialised.
Tensor empty_channels_last(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
// A CPU tensor in page-locked memory, for fast, asynchronous copies to `device` (a CUDA
// device; its context makes the allocation); plain host memory for the CPU.
Tensor pinned_empty(const Shape& shape, DType dtype, Device device);
// A tensor holding a copy of `values` (row-major), of dtype T.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());

}  // namespace mmp
