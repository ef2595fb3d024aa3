// The JPEG decoder (libjpeg-turbo through its libjpeg API), whole and partial. Input: four
// bytes placing a crop box (its corners as fractions of the image), then the JPEG. Where
// both decode, the partial decode must give the whole decode's pixels in the box.
#include <cstring>

#include "data/jpeg_decoder.h"
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t* corners = data;
  const uint8_t* jpeg = data + 4;
  const size_t jpeg_size = size - 4;
  mmp::Image whole;
  bool decoded = false;
  mmp::fuzz::read_or_refuse([&] {
    whole = mmp::decode_jpeg(jpeg, jpeg_size, "fuzz.jpg");
    decoded = true;
  });
  if (!decoded) return 0;
  // A box of at least one pixel inside the image.
  const int w = whole.width, h = whole.height;
  const int x0 = corners[0] * (w - 1) / 255, y0 = corners[1] * (h - 1) / 255;
  const int x1 = x0 + 1 + corners[2] * (w - 1 - x0) / 255, y1 = y0 + 1 + corners[3] * (h - 1 - y0) / 255;
  const mmp::CropBox box{y0, x0, y1 - y0, x1 - x0};
  mmp::Image scratch;
  mmp::fuzz::read_or_refuse([&] {
    const mmp::PixelRegion region = mmp::decode_jpeg_box(jpeg, jpeg_size, w, h, box, "fuzz.jpg", scratch);
    if (region.width != box.width || region.height != box.height) std::abort();
    for (int y = 0; y < box.height; ++y) {
      const uint8_t* expected = whole.rgb.data() + (static_cast<size_t>(y0 + y) * w + x0) * 3;
      if (std::memcmp(region.rgb + y * region.stride, expected, static_cast<size_t>(box.width) * 3) != 0) std::abort();
    }
  });
  return 0;
}
