#include "layers/resnet.h"

namespace mmp {

BasicBlock::BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator& gen)
    : conv1_(in_planes, planes, 3, stride, 1, false, gen),
      bn1_(planes, gen),
      conv2_(planes, planes, 3, 1, 1, false, gen),
      bn2_(planes, gen) {
  register_module("conv1", &conv1_);
  register_module("bn1", &bn1_);
  register_module("conv2", &conv2_);
  register_module("bn2", &bn2_);
  if (stride != 1 || in_planes != planes) {
    downsample_ = std::make_unique<ModuleList>();
    downsample_conv_ = &downsample_->add(std::make_unique<Conv2d>(in_planes, planes, 1, stride, 0, false, gen));
    downsample_bn_ = &downsample_->add(std::make_unique<BatchNorm2d>(planes, gen));
    register_module("downsample", downsample_.get());
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor out = conv2_.forward(bn1_.forward_relu(conv1_.forward(x)));
  const Tensor identity = downsample_ ? downsample_bn_->forward(downsample_conv_->forward(x)) : x;
  return bn2_.forward_relu(out, identity);
}

ResNet18::ResNet18(int64_t in_channels, Generator& gen, int64_t width)
    : width_(width), conv1_(in_channels, width, 7, 2, 3, false, gen), bn1_(width, gen) {
  register_module("conv1", &conv1_);
  register_module("bn1", &bn1_);
  int64_t in_planes = width;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = width << stage;
    for (int block = 0; block < 2; ++block) {
      const int64_t stride = (stage > 0 && block == 0) ? 2 : 1;
      layers_[stage].add(std::make_unique<BasicBlock>(in_planes, planes, stride, gen));
      in_planes = planes;
    }
    register_module("layer" + std::to_string(stage + 1), &layers_[stage]);
  }
}

Tensor ResNet18::forward(const Tensor& x) {
  Tensor out = max_pool2d(bn1_.forward_relu(conv1_.forward(x)), 3, 2, 1);
  for (auto& stage : layers_)
    for (size_t i = 0; i < stage.size(); ++i) out = static_cast<BasicBlock&>(stage[i]).forward(out);
  return out;
}

}  // namespace mmp
