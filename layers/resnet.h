#pragma once
// ResNet-18 (BasicBlock, [2, 2, 2, 2]) as the official MMPareto/OGM-GE backbone: a 7x7
// stem for 1 (spectrogram), 3 (RGB) or 2 (flow) channels, no pooling or fc at the end
// (the classifier pools). `width` scales the 64-128-256-512 channels, for small test
// models; the paper's model has width 64.
#include <memory>

#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"

namespace mmp {

class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator& gen);
  Tensor forward(const Tensor& x);

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  // 1x1 conv + BN on the shortcut when the shape changes (named downsample.0/.1).
  std::unique_ptr<ModuleList> downsample_;
  Conv2d* downsample_conv_ = nullptr;
  BatchNorm2d* downsample_bn_ = nullptr;
};

class ResNet18 : public Module {
 public:
  ResNet18(int64_t in_channels, Generator& gen, int64_t width = 64);
  // [N, C, H, W] -> [N, 8 * width, H / 32, W / 32]
  Tensor forward(const Tensor& x);
  int64_t out_channels() const { return 8 * width_; }

 private:
  int64_t width_;
  Conv2d conv1_;
  BatchNorm2d bn1_;
  ModuleList layers_[4];
};

}  // namespace mmp
