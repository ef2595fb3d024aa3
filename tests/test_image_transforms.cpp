// Image transforms against torchvision on PIL images (tests/fixtures/image_transforms,
// written by tools/reference/image_fixture.py), and the random choices' rules.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

#include "data/image_transforms.h"
#include "data/jpeg_decoder.h"
#include "data/media.h"
#include "data/media_writer.h"
#include "engine/philox.h"
#include "tests/support/compare.h"
#include "tests/support/fixtures.h"

using namespace mmp;
using namespace mmp::testing;

namespace {

Image image_of(const Tensor& t) {
  Image img;
  img.height = static_cast<int>(t.shape()[0]);
  img.width = static_cast<int>(t.shape()[1]);
  img.rgb = t.to_vector<uint8_t>();
  return img;
}

int max_pixel_difference(const Image& a, const Tensor& expected) {
  const auto e = expected.to_vector<uint8_t>();
  REQUIRE(a.rgb.size() == e.size());
  int worst = 0;
  for (size_t i = 0; i < e.size(); ++i) worst = std::max(worst, std::abs(int(a.rgb[i]) - int(e[i])));
  return worst;
}

// Reference forms of the steps the fused frame transform does at once.
Image cropped(const Image& img, const CropBox& box) {
  Image out;
  out.width = box.width;
  out.height = box.height;
  for (int y = box.top; y < box.top + box.height; ++y)
    out.rgb.insert(out.rgb.end(), img.rgb.begin() + (static_cast<size_t>(y) * img.width + box.left) * 3,
                   img.rgb.begin() + (static_cast<size_t>(y) * img.width + box.left + box.width) * 3);
  return out;
}

Image mirrored(const Image& img) {
  Image out = img;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      std::copy_n(img.rgb.begin() + (static_cast<size_t>(y) * img.width + x) * 3, 3,
                  out.rgb.begin() + (static_cast<size_t>(y) * img.width + img.width - 1 - x) * 3);
  return out;
}

Tensor normalized(const Image& img) {
  Tensor out = Tensor::empty({3, img.height, img.width});
  to_normalized_chw(img, out.data<float>());
  return out;
}

Tensor fused(const PixelRegion& src, int width, int height, bool flip) {
  Tensor out = Tensor::empty({3, height, width});
  resize_to_normalized_chw(src, width, height, flip, out.data<float>());
  return out;
}

struct PhiloxUniform : UniformSource {
  uint64_t counter = 0;
  double next() override { return Philox4x32(5, counter++).uniform0(); }
};

}  // namespace

TEST_CASE("bilinear resize equals PIL's, shrinking and enlarging", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  for (const char* name : {"large", "small"}) {
    INFO(name);
    const Image resized = resize_bilinear(image_of(*fx.find(name)), 224, 224);
    CHECK(max_pixel_difference(resized, *fx.find(std::string(name) + "_resized")) == 0);
  }
  // RandomResizedCrop's resize of a box, as the loader does it.
  const Image large = image_of(*fx.find("large"));
  CHECK(max_abs_difference(fused(PixelRegion::of(large).crop({23, 61, 150, 190}), 224, 224, false),
                           normalized(image_of(*fx.find("large_cropped")))) == 0.0);
}

TEST_CASE("JPEG decoding equals PIL's Image.open(...).convert(\"RGB\")", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  for (const char* name : {"jpeg_420", "jpeg_444", "jpeg_422", "jpeg_progressive", "jpeg_gray"}) {
    INFO(name);
    const std::vector<uint8_t> bytes = fx.find(name)->to_vector<uint8_t>();
    const Tensor& expected = *fx.find(std::string(name) + "_decoded");
    const Image img = decode_image(bytes.data(), bytes.size(), name);
    CHECK(img.height == expected.shape()[0]);
    CHECK(img.width == expected.shape()[1]);
    CHECK(max_pixel_difference(img, expected) == 0);
  }
}

namespace {

// The boxes of a JPEG whose decode_jpeg_box differs from the same pixels of its whole
// decode, over every first and last row, every first and last column, every one-column
// box and random crops.
int boxes_decoded_differently(const std::vector<uint8_t>& jpeg) {
  const Image whole = decode_jpeg(jpeg.data(), jpeg.size(), "whole");
  Image scratch;
  const int w = whole.width, h = whole.height;
  const PixelRegion all = PixelRegion::of(whole);
  auto differs = [&](const CropBox& box) {
    const PixelRegion got = decode_jpeg_box(jpeg.data(), jpeg.size(), w, h, box, "box", scratch);
    const PixelRegion want = all.crop(box);
    for (int y = 0; y < box.height; ++y)
      if (!std::equal(got.rgb + y * got.stride, got.rgb + y * got.stride + box.width * 3, want.rgb + y * want.stride))
        return 1;
    return 0;
  };
  int bad = 0;
  for (int top = 0; top < h; ++top) bad += differs({top, 0, h - top, w});
  for (int bottom = 1; bottom <= h; ++bottom) bad += differs({0, 0, bottom, w});
  for (int left = 0; left < w; ++left) bad += differs({0, left, h, w - left}) + differs({0, left, h, 1});
  for (int right = 1; right <= w; ++right) bad += differs({0, 0, h, right});
  PhiloxUniform rng;
  for (int i = 0; i < 300; ++i) bad += differs(random_resized_crop_box(w, h, rng));
  return bad;
}

// A width x height frame with detail in every channel.
Image detailed_frame(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < 3; ++ch)
        img.rgb[(static_cast<size_t>(y) * width + x) * 3 + ch] = static_cast<uint8_t>(
            128 + 90 * std::sin(x / (5.0 + ch) + y / (7.0 - ch)) + 30 * std::cos(x * y / (40.0 + 9 * ch)));
  return img;
}

}  // namespace

TEST_CASE("a JPEG whose header announces a huge image is refused before allocating", "[unit][data]") {
  // Found by fuzz/jpeg_fuzzer.cpp: a few bytes announced 7.6 GB of pixels.
  Image small;
  small.width = small.height = 16;
  small.rgb.assign(16 * 16 * 3, 128);
  std::vector<uint8_t> bytes = encode_jpeg(small, 90);
  size_t frame = 0;  // the start-of-frame marker: FF C0..C2, length, precision, height, width
  for (size_t i = 0; i + 9 < bytes.size() && frame == 0; ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] >= 0xC0 && bytes[i + 1] <= 0xC2) frame = i;
  REQUIRE(frame > 0);
  for (const size_t at : {frame + 5, frame + 7}) bytes[at] = 0xEA, bytes[at + 1] = 0x60;  // 60000
  CHECK_THROWS_WITH(decode_jpeg(bytes.data(), bytes.size(), "huge.jpg"),
                    Catch::Matchers::Contains("huge.jpg") && Catch::Matchers::Contains("60000x60000 image, larger than"));
  Image scratch;
  CHECK_THROWS_WITH(decode_jpeg_box(bytes.data(), bytes.size(), 60000, 60000, CropBox{0, 0, 8, 8}, "huge.jpg", scratch),
                    Catch::Matchers::Contains("larger than"));
}

TEST_CASE("a PNG whose header announces more pixels than mmp decodes is refused from the header", "[unit][data]") {
  // The signature and an IHDR of 16384x16384 RGB: 768 MB of pixels, under stb_image's own
  // 1 GB bound, over the 8192x8192 that JPEG and video frames are held to.
  std::vector<uint8_t> bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                0,    0,   0x40, 0,  0,    0,    0x40, 0,    8, 2, 0, 0, 0, 0, 0, 0, 0};
  CHECK_THROWS_WITH(decode_image(bytes.data(), bytes.size(), "huge.png"),
                    Catch::Matchers::Contains("huge.png: a 16384x16384 image, larger than"));
}

TEST_CASE("decoding a JPEG's crop box gives the pixels of the whole decode there, at every offset", "[unit][data]") {
  // The cache's frames (stb: 4:2:0 chroma up to quality 90, 4:4:4 above), whose
  // boxes are decoded in part, and layouts decoded whole (4:2:2, progressive).
  SECTION("4:2:0, a cache frame's size") {
    CHECK(boxes_decoded_differently(encode_jpeg(detailed_frame(341, 256), 90)) == 0);
  }
  SECTION("4:2:0, odd size") { CHECK(boxes_decoded_differently(encode_jpeg(detailed_frame(301, 227), 90)) == 0); }
  SECTION("4:4:4, odd size") { CHECK(boxes_decoded_differently(encode_jpeg(detailed_frame(301, 227), 95)) == 0); }
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  for (const char* name : {"jpeg_gray", "jpeg_422", "jpeg_progressive"}) {
    DYNAMIC_SECTION(name) { CHECK(boxes_decoded_differently(fx.find(name)->to_vector<uint8_t>()) == 0); }
  }
  SECTION("errors") {
    const std::vector<uint8_t> jpeg = encode_jpeg(detailed_frame(40, 30), 90);
    Image scratch;
    CHECK_THROWS_WITH(decode_jpeg_box(jpeg.data(), jpeg.size(), 40, 31, {0, 0, 10, 10}, "frame 7", scratch),
                      Catch::Contains("frame 7") && Catch::Contains("40x30, not 40x31"));
    CHECK_THROWS_WITH(decode_jpeg_box(jpeg.data(), jpeg.size(), 40, 30, {25, 0, 10, 10}, "frame 7", scratch),
                      Catch::Contains("frame 7") && Catch::Contains("outside"));
    CHECK_THROWS_WITH(decode_jpeg_box(jpeg.data(), jpeg.size() / 2, 40, 30, {0, 0, 30, 40}, "frame 7", scratch),
                      Catch::Contains("frame 7") && Catch::Contains("cannot decode"));
  }
}

TEST_CASE("horizontal flip equals torchvision's hflip", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  const Image small = image_of(*fx.find("small"));
  CHECK(max_pixel_difference(mirrored(small), *fx.find("small_flipped")) == 0);
  // The loader's flip, at the image's own size (a resize that keeps every pixel).
  CHECK(max_abs_difference(fused(PixelRegion::of(small), small.width, small.height, true),
                           normalized(image_of(*fx.find("small_flipped")))) == 0.0);
}

TEST_CASE("ToTensor and ImageNet normalisation equal torchvision's", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  const Image img = image_of(*fx.find("small"));
  Tensor out = Tensor::empty({3, img.height, img.width});
  to_normalized_chw(img, out.data<float>());
  CHECK(max_abs_difference(out, *fx.find("small_normalized")) == 0.0);  // the same float operations
  // Every byte value of every channel, plainly and through the fused pass.
  const Image every_byte = image_of(*fx.find("every_byte"));
  const Tensor& expected = *fx.find("every_byte_normalized");
  CHECK(max_abs_difference(normalized(every_byte), expected) == 0.0);
  CHECK(max_abs_difference(fused(PixelRegion::of(every_byte), 256, 1, false), expected) == 0.0);
}

TEST_CASE("the fused frame transform equals crop, resize, flip and normalise one after the other", "[unit][data]") {
  const SafetensorsFile fx = load_fixture("image_transforms.safetensors");
  for (const char* name : {"large", "small"}) {
    const Image img = image_of(*fx.find(name));
    // Boxes that shrink, enlarge, keep the size, and touch the right and bottom edges
    // (whose last pixel ends the buffer).
    for (const CropBox box : {CropBox{23, 61, 150, 190}, CropBox{0, 0, img.height, img.width},
                              CropBox{img.height - 40, img.width - 30, 40, 30}, CropBox{5, 7, 20, 224}}) {
      if (box.top + box.height > img.height || box.left + box.width > img.width) continue;
      for (const bool flip : {false, true}) {
        INFO(name << " box " << box.top << "," << box.left << " " << box.height << "x" << box.width << " flip " << flip);
        Image expected = resize_bilinear(cropped(img, box), 224, 200);
        if (flip) expected = mirrored(expected);
        CHECK(max_abs_difference(fused(PixelRegion::of(img).crop(box), 224, 200, flip), normalized(expected)) == 0.0);
      }
    }
  }
  const Image small = image_of(*fx.find("small"));
  CHECK_THROWS_WITH(PixelRegion::of(small).crop({0, 1, small.height, small.width}),
                    Catch::Contains("outside a " + std::to_string(small.width)));
}

TEST_CASE("RandomResizedCrop boxes follow torchvision's rules", "[unit][data]") {
  PhiloxUniform rng;
  for (int trial = 0; trial < 2000; ++trial) {
    const CropBox b = random_resized_crop_box(480, 360, rng);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= 360);
    REQUIRE(b.left + b.width <= 480);
    const double share = static_cast<double>(b.width) * b.height / (480.0 * 360.0);
    const double ratio = static_cast<double>(b.width) / b.height;
    CHECK(share >= 0.07);  // 0.08 up to rounding of w and h
    CHECK(ratio >= 0.70);
    CHECK(ratio <= 1.42);
  }
  // An image too elongated for any draw: the centre crop with the ratio clamped to 4/3.
  const CropBox fallback = random_resized_crop_box(1000, 10, rng);
  CHECK(fallback.height == 10);
  CHECK(fallback.width == 13);
  CHECK(fallback.left == (1000 - 13) / 2);
}

TEST_CASE("frame sampling: one per segment, random in training, middle in evaluation", "[unit][data]") {
  PhiloxUniform rng;
  CHECK(pick_frames(9, 3, false, rng) == std::vector<int>{1, 4, 7});
  CHECK(pick_frames(3, 2, false, rng) == std::vector<int>{0, 1});
  CHECK(pick_frames(1, 2, false, rng) == std::vector<int>{0, 0});  // too few frames: repeated
  for (int trial = 0; trial < 100; ++trial) {
    const auto p = pick_frames(10, 2, true, rng);
    CHECK(p[0] >= 0);
    CHECK(p[0] < 5);
    CHECK(p[1] >= 5);
    CHECK(p[1] < 10);
  }
}
