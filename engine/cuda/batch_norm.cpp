// CUDA batch normalisation (training) through cuDNN's spatial mode, which keeps
// PyTorch's semantics: biased variance to normalise, unbiased for the running
// estimate, and the saved mean and inverse std reused by backward. bf16 activations
// (with f32 parameters) and NHWC ones go to own kernels (batch_norm_kernels.cu), which
// also fuse the residual add and ReLU after them; with a ReLU, cuDNN's graph API
// (batch_norm_graph.h) takes them instead when the CudaBatchNorm policy asks for it, or
// when it is timed faster for the pass and shape (batch_norm_choice.h).
#include "engine/cuda/batch_norm_choice.h"
#include "engine/cuda/batch_norm_graph.h"
#include "engine/cuda/batch_norm_kernels.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cudnn_descriptors.h"
#include "engine/cuda/runtime.h"
#include "engine/precision.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace mmp::cuda {
namespace {

struct BatchNormDescriptors {
  BatchNormDescriptors(const Tensor& x)
      : data(x.dtype(), x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]),
        param(x.dtype(), 1, x.shape()[1], 1, 1) {}
  TensorDescriptor data;   // x, y and their gradients
  TensorDescriptor param;  // scale, bias, means and variances: [1, C, 1, 1]
};

// bf16 and NHWC activations; cuDNN takes the NCHW f32 and f64 ones, without an epilogue.
bool own_kernels(const Tensor& x) {
  return x.dtype() == DType::BF16 || (x.dtype() == DType::F32 && x.is_channels_last() && !x.is_contiguous());
}

#if MMP_HAVE_CUDNN_FRONTEND
// Whether tensors are as cuDNN's graphs declare them: `activations` dense NHWC of x's
// shape, `per_channel` dense f32 [C], all 16-byte aligned (undefined ones pass).
bool graph_layout(const Tensor& x, std::initializer_list<const Tensor*> activations,
                  std::initializer_list<const Tensor*> per_channel) {
  const auto& s = x.shape();
  const Strides nhwc{s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};
  for (const Tensor* t : activations)
    if (t->defined() && !(t->shape() == s && t->strides() == nhwc && t->dtype() == x.dtype() && vector_aligned(*t)))
      return false;
  for (const Tensor* t : per_channel)
    if (t->defined() &&
        !(t->shape() == Shape{s[1]} && t->is_contiguous() && t->dtype() == DType::F32 && vector_aligned(*t)))
      return false;
  return true;
}

// Whether the policy lets cuDNN's graph API take this fused batch norm + ReLU and the
// tensors are laid out as its graphs say (whether cuDNN runs the shape is asked after).
bool graph_may_take(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                    const BatchNormEpilogue& epilogue) {
  return epilogue.relu && current_cuda_batch_norm() != CudaBatchNorm::own && x.ndim() == 4 &&
         graph_layout(x, {&x, &y, &epilogue.residual},
                      {&weight, &bias, &running_mean, &running_var, &save_mean, &save_invstd});
}

// The forward's engine: cuDNN's graph where the policy asks for it and cuDNN runs the
// shape; under the timed policy the faster of the two (timed at the first call, on this
// call's buffers, the running statistics on copies so that the real ones move once, by
// the engine chosen).
BatchNormEngine forward_engine(int device, const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                               const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                               const BatchNormEpilogue& epilogue) {
  auto graph_supported = [&] {
    return batch_norm_graph_supported(device, x, epilogue.residual.defined(), running_mean.defined(), momentum, eps);
  };
  if (current_cuda_batch_norm() == CudaBatchNorm::cudnn_graph)
    return graph_supported() ? BatchNormEngine::cudnn_graph : BatchNormEngine::own;
  Tensor trial_mean, trial_var, trial_mask;
  auto run = [&](BatchNormEngine e) {
    if (running_mean.defined() && !trial_mean.defined()) {
      trial_mean = running_mean.clone();
      trial_var = running_var.clone();
    }
    if (e == BatchNormEngine::own) {
      BatchNormEpilogue trial = epilogue;
      batch_norm_train_kernels(device, x, weight, bias, trial_mean, trial_var, y, save_mean, save_invstd, momentum,
                               eps, trial);
    } else {
      if (!trial_mask.defined()) trial_mask = relu_mask_bits(x);
      batch_norm_graph_forward(device, x, weight, bias, trial_mean, trial_var, y, save_mean, save_invstd, momentum,
                               eps, epilogue.residual, trial_mask);
    }
  };
  const BatchNormCall call{BatchNormPass::forward, epilogue.residual.defined(), running_mean.defined(), momentum, eps};
  return choose_batch_norm_engine(device, call, x, graph_supported, run);
}
#endif

}  // namespace

#if MMP_HAVE_CUDNN_FRONTEND
bool batch_norm_graph_built() { return true; }
#else
bool batch_norm_graph_built() { return false; }
bool batch_norm_graph_backward_supported(int, const Tensor&, bool) { return false; }
bool batch_norm_graph_supported(int, const Tensor&, bool, bool, double, double, std::string* refusal) {
  if (refusal) *refusal = "this build has no cudnn-frontend headers";
  return false;
}
void release_batch_norm_graphs() {}
#endif

void CudaBackend::batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                                   const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                                   BatchNormEpilogue& epilogue) {
  epilogue.relu_mask = Tensor();  // set again by whichever path packs the ReLU's mask
#if MMP_HAVE_CUDNN_FRONTEND
  if (own_kernels(x) &&
      graph_may_take(x, weight, bias, running_mean, running_var, y, save_mean, save_invstd, epilogue) &&
      forward_engine(device_, x, weight, bias, running_mean, running_var, y, save_mean, save_invstd, momentum, eps,
                     epilogue) == BatchNormEngine::cudnn_graph) {
    epilogue.relu_mask = relu_mask_bits(x);
    return batch_norm_graph_forward(device_, x, weight, bias, running_mean, running_var, y, save_mean, save_invstd,
                                    momentum, eps, epilogue.residual, epilogue.relu_mask);
  }
#endif
  if (own_kernels(x))
    return batch_norm_train_kernels(device_, x, weight, bias, running_mean, running_var, y, save_mean, save_invstd,
                                    momentum, eps, epilogue);
  MMP_CHECK(!epilogue.any(), "batch norm of ", x.str(), " on CUDA: cuDNN's path takes no fused epilogue");
  DeviceGuard guard(device_);
  const BatchNormDescriptors d(x);
  MMP_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn(device_), CUDNN_BATCHNORM_SPATIAL, kCudnnOne.for_type(x.dtype()), kCudnnZero.for_type(x.dtype()), d.data.get(),
      x.raw_data(), d.data.get(), y.raw_data(), d.param.get(), weight.raw_data(), bias.raw_data(), momentum,
      running_mean.defined() ? running_mean.raw_data() : nullptr,
      running_var.defined() ? running_var.raw_data() : nullptr, eps, save_mean.raw_data(), save_invstd.raw_data()));
}

// The NCHW f32 (fp32 precision) path stays on cuDNN's measured kernels, unfused.
bool CudaBackend::fuses_batch_norm_epilogue(const Tensor& x) const { return own_kernels(x); }

void CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                      const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                      const Tensor& grad_weight, const Tensor& grad_bias, double eps,
                                      const BatchNormEpilogue& epilogue) {
#if MMP_HAVE_CUDNN_FRONTEND
  // Behind a ReLU whose mask the forward packed (either engine's), laid out as its graph
  // says, when the policy allows it, cuDNN runs the shape, and (timed) it is the faster.
  const CudaBatchNorm policy = current_cuda_batch_norm();
  if (epilogue.relu && epilogue.relu_mask.defined() && policy != CudaBatchNorm::own &&
      graph_layout(x, {&x, &grad_y, &grad_x, &epilogue.grad_residual},
                   {&weight, &save_mean, &save_invstd, &grad_weight, &grad_bias})) {
    auto graph_supported = [&] {
      return batch_norm_graph_backward_supported(device_, x, epilogue.grad_residual.defined());
    };
    auto graph_backward = [&] {
      batch_norm_graph_backward(device_, x, grad_y, weight, save_mean, save_invstd, epilogue.relu_mask, grad_x,
                                grad_weight, grad_bias, epilogue.grad_residual);
    };
    // Both engines only write the gradients: timing them on this call's buffers is safe.
    auto run = [&](BatchNormEngine e) {
      if (e == BatchNormEngine::cudnn_graph) return graph_backward();
      batch_norm_backward_kernels(device_, x, grad_y, weight, save_mean, save_invstd, grad_x, grad_weight, grad_bias,
                                  epilogue);
    };
    const bool graph = policy == CudaBatchNorm::cudnn_graph
                           ? graph_supported()
                           : choose_batch_norm_engine(device_, {BatchNormPass::backward, epilogue.grad_residual.defined()},
                                                      x, graph_supported, run) == BatchNormEngine::cudnn_graph;
    if (graph) return graph_backward();
  }
#endif
  if (own_kernels(x))
    return batch_norm_backward_kernels(device_, x, grad_y, weight, save_mean, save_invstd, grad_x, grad_weight,
                                       grad_bias, epilogue);
  MMP_CHECK(!epilogue.any(), "batch norm backward of ", x.str(), " on CUDA: cuDNN's path takes no fused epilogue");
  DeviceGuard guard(device_);
  const BatchNormDescriptors d(x);
  // cuDNN always writes all three gradients: give it scratch for the unwanted ones.
  const Tensor gx = grad_x.defined() ? grad_x : empty_like(x);
  const Tensor gw = grad_weight.defined() ? grad_weight : empty_like(weight);
  const Tensor gb = grad_bias.defined() ? grad_bias : empty_like(weight);
  const DType t = x.dtype();
  MMP_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      cudnn(device_), CUDNN_BATCHNORM_SPATIAL, kCudnnOne.for_type(t), kCudnnZero.for_type(t), kCudnnOne.for_type(t),
      kCudnnZero.for_type(t), d.data.get(), x.raw_data(), d.data.get(), grad_y.raw_data(), d.data.get(), gx.raw_data(),
      d.param.get(), weight.raw_data(), gw.raw_data(), gb.raw_data(), eps, save_mean.raw_data(),
      save_invstd.raw_data()));
}

}  // namespace mmp::cuda
