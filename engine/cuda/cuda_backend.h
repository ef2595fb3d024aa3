#pragma once
// The CUDA backend: cuBLAS for GEMM, own kernels over the shared functors for the
// rest. This header has no CUDA types, so the engine core can include it.
#include "engine/backend.h"

namespace mmp::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {}
  int device() const { return device_; }

  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void synchronize() override;
  void unary(UnaryKind kind, ScalarParams p, const Tensor& x, const Tensor& out) override;
  void binary(BinaryKind kind, ScalarParams p, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void sum(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) override;
  void argmax(const Tensor& x, const Tensor& out, int64_t outer, int64_t r, int64_t inner) override;
  void dots(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const Tensor& out) override;
  void gemm(const GemmArgs& args) override;
  void log_softmax(const Tensor& x, const Tensor& out) override;
  void nll_loss(const Tensor& logp, const Tensor& labels, const Tensor& out) override;
  void nll_loss_backward(const Tensor& grad_out, const Tensor& labels, const Tensor& grad_logp) override;
  void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& out, const ConvGeometry& g,
                      ConvState& state) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                             const ConvGeometry& g, ConvState& state) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Tensor& grad_weight,
                              const ConvGeometry& g) override;
  void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const Tensor& y, const Tensor& save_mean,
                        const Tensor& save_invstd, double momentum, double eps,
                        BatchNormEpilogue& epilogue) override;
  bool fuses_batch_norm_epilogue(const Tensor& x) const override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& grad_x, const Tensor& grad_weight,
                           const Tensor& grad_bias, double eps, const BatchNormEpilogue& epilogue) override;
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const ConvGeometry& g) override;
  void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x,
                           const ConvGeometry& g) override;
  void sgd_step(const std::vector<OptimizerTensors>& tensors, const SgdParams& p) override;
  void adam_step(const std::vector<OptimizerTensors>& tensors, const AdamParams& p) override;
  void scale_segments(const Tensor& flat, const std::vector<int64_t>& offsets, const std::vector<int64_t>& counts,
                      const std::vector<double>& factors) override;
  void fill_uniform(const Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) override;
  void fill_normal(const Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) override;

 private:
  int device_;
};

CudaBackend& backend(int device);
int device_count();
std::string device_name(int device);
// Hands back everything the process holds on its CUDA devices (cached blocks, the
// page-locked pool, library handles, streams) and resets them (runtime.cpp), so that a
// leak check at exit sees only memory live tensors still hold. No CUDA work may follow.
void release_all();
void copy_between_devices(const Tensor& src, const Tensor& dst);
// Scratch memory for a library call (cuDNN's workspaces) from the caching allocator: at
// least one byte, so that its address is a real one.
Tensor device_scratch(size_t bytes, int device);
// Page-locked host memory from a pool (pinned_pool.cpp).
void* pinned_allocate(size_t bytes, int device);
void pinned_free(void* ptr);
void release_pinned_pool();

// The compute, copy and communication streams seen from code without CUDA types
// (engine/device_queue.h): events are cudaEvent_t behind void*, `queue` is a Queue's
// value (0 compute, 1 copy, 2 communication).
void* queue_stream_handle(int device, int queue);  // the cudaStream_t (for the NCCL plugin)
void* event_create(int device);
void event_destroy(void* event);
void event_record(void* event, int device, int queue);
void event_wait(void* event, int device, int queue);
void event_synchronize(void* event);
void copy_to_device_async(const void* src, void* dst, size_t bytes, int device, int queue);

}  // namespace mmp::cuda
