#pragma once
// Image transforms with torchvision's semantics on PIL images: bilinear resizing as
// PIL computes it (antialiased when shrinking, 8-bit fixed point), RandomResizedCrop's
// box choice, horizontal flip, ToTensor + Normalize; and the official loaders' frame
// sampling.
#include <cstdint>
#include <vector>

#include "data/media.h"

namespace mmp {

// A source of uniform numbers in [0, 1) for the random transforms.
class UniformSource {
 public:
  virtual ~UniformSource() = default;
  virtual double next() = 0;
};

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// RGB8 pixels held elsewhere (an Image, a memory-mapped cache): `height` rows of
// `width` pixels, `stride` bytes from one row to the next.
struct PixelRegion {
  const uint8_t* rgb = nullptr;
  int width = 0, height = 0;
  size_t stride = 0;

  static PixelRegion of(const Image& img);
  PixelRegion crop(const CropBox& box) const;  // a view, checked to lie inside
};

// PIL's Image.resize(size, BILINEAR): a triangle filter widened by the scale factor
// when shrinking, horizontal then vertical, 22-bit fixed-point weights.
Image resize_bilinear(const Image& src, int width, int height);

// The loaders' frame transform in one pass over per-thread scratch memory:
// resize_bilinear of `src` (a crop: RandomResizedCrop's box) to width x height,
// mirrored when `flip` (RandomHorizontalFlip), then to_normalized_chw into `out`
// (3 x height x width floats). The same floats as those steps one after the other.
void resize_to_normalized_chw(const PixelRegion& src, int width, int height, bool flip, float* out);

// transforms.RandomResizedCrop.get_params: up to 10 draws of an area share in
// [scale_min, scale_max] and a log-uniform aspect ratio in [ratio_min, ratio_max];
// else the centre crop with the ratio clamped to that range.
CropBox random_resized_crop_box(int width, int height, UniformSource& rng, double scale_min = 0.08,
                                double scale_max = 1.0, double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0);

// ToTensor then Normalize(ImageNet mean, std): writes 3 x height x width floats.
void to_normalized_chw(const Image& img, float* out);

// T frame indices out of `count`, as the official loaders pick them: the frames split
// into T equal segments; training takes a random frame of each, evaluation its middle one.
std::vector<int> pick_frames(int count, int frames, bool train, UniformSource& rng);

}  // namespace mmp
