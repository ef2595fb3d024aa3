#pragma once
// Batch normalisation (training) by own kernels: for bf16 activations with f32
// parameters and statistics, which cuDNN's batch-norm API does not take (PyTorch also
// runs its own kernels there), and for NHWC activations in f32 or bf16. Same
// contract as Backend::batch_norm_train/backward; x's strides say NCHW or NHWC
// (channels-last); per-channel sums accumulate in double. They also run every fused
// epilogue (residual add and ReLU), which cuDNN's batch-norm API does not take.
#include "engine/backend.h"

namespace mmp::cuda {

void batch_norm_train_kernels(int device, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& running_mean, const Tensor& running_var, const Tensor& y,
                              const Tensor& save_mean, const Tensor& save_invstd, double momentum, double eps,
                              BatchNormEpilogue& epilogue);
void batch_norm_backward_kernels(int device, const Tensor& x, const Tensor& grad_y, const Tensor& weight,
                                 const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                                 const Tensor& grad_weight, const Tensor& grad_bias, const BatchNormEpilogue& epilogue);

// A packed ReLU mask for x: one bit per element in memory order, the lowest index in
// the lowest bit of its byte (cuDNN's graphs' format too). The forward writes one for
// bf16 rows of whole vectors and hands it over in BatchNormEpilogue::relu_mask.
Tensor relu_mask_bits(const Tensor& x);

// Whether t's data starts on a 16-byte boundary, as vector accesses (and cuDNN's graphs)
// need; an undefined tensor does.
bool vector_aligned(const Tensor& t);

// How the kernels walk x when the other tensors of a pass are 16-byte aligned (tests say
// which path they check): "channels" (NCHW), "rows" (rows of C, one value per access) or
// "row vectors" (rows of C, 16 bytes per access).
const char* batch_norm_walk(const Tensor& x);

}  // namespace mmp::cuda
