#pragma once
// Batch norm + (residual add +) ReLU through cuDNN's graph API: the NormAddRelu engine
// forward, which also writes the ReLU's mask as packed bits, and DReluForkDNorm backward,
// which takes such a mask (and gives the residual its gradient, the masked one). The own
// kernels write and read the same format, so either backward follows either forward. cuDNN
// runs them on NHWC bf16 (channels a multiple of 8) and f32 (of 4) on compute capability
// 8.0 and up; whether it does for a given shape is known once its plans are built. They
// replace the own fused kernels (batch_norm_kernels.h) where the CudaBatchNorm policy
// (engine/precision.h) asks for them. Built only with the cudnn-frontend headers
// (MMP_HAVE_CUDNN_FRONTEND); without them nothing is supported.
#include <string>

#include "engine/backend.h"

namespace mmp::cuda {

// Whether this build has the graph path at all. This, the two "supported" queries (false
// without it) and release_batch_norm_graphs exist in every CUDA build; the rest only in
// those with it.
bool batch_norm_graph_built();

// Whether cuDNN runs both passes for x's shape and dtype (NHWC x; a residual of x's
// layout when `residual`); builds and keeps their plans on the first ask. When it does
// not, `refusal` (if given) gets cuDNN's reason.
bool batch_norm_graph_supported(int device, const Tensor& x, bool residual, bool running, double momentum,
                                double eps, std::string* refusal = nullptr);

// Drops every plan and its memory (runtime's release_all, before the cuDNN handles go).
void release_batch_norm_graphs();

// Whether cuDNN runs the backward for x (with the residual's gradient when `residual`).
bool batch_norm_graph_backward_supported(int device, const Tensor& x, bool residual);

// Backend::batch_norm_train with a ReLU (after the add of `residual`, when defined);
// writes the packed mask (relu_mask_bits' format) for the backward.
void batch_norm_graph_forward(int device, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                              const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                              const Tensor& residual, const Tensor& mask);

// Backend::batch_norm_backward behind a ReLU whose packed mask it takes; any of
// grad_x, grad_weight, grad_bias and grad_residual may be undefined.
void batch_norm_graph_backward(int device, const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& mask,
                               const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                               const Tensor& grad_residual);

}  // namespace mmp::cuda
