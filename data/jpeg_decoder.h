#pragma once
// JPEG decoding through libjpeg-turbo's libjpeg API with its defaults (accurate integer
// IDCT, fancy chroma upsampling): the library and settings PIL decodes with, so pixels
// come out byte-identical to the official loader's Image.open(...).convert("RGB").
// A truncated or corrupt stream, which libjpeg would patch with grey after a warning,
// is an error naming `what` (for decode_jpeg_box: in the part it reads), and so is an
// image over 8192x8192 pixels, refused from its header before anything is allocated.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_transforms.h"
#include "data/media.h"

namespace mmp {

// The whole image.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what);

// The pixels of `box` of a width x height JPEG (another size is an error), the same
// bytes as decode_jpeg gives there, decoding only what they depend on: rows below the
// box are not read (damage there goes unseen), rows above and columns aside are
// entropy-decoded but not
// transformed (jpeg_skip_scanlines, jpeg_crop_scanline). With a 1-pixel column margin,
// which chroma upsampling reads, the result is exact for the layouts tests check every
// row and column offset of: greyscale and colour with 4:2:0 or 4:4:4 chroma, baseline;
// others are decoded whole. A view into `scratch`, valid until its next use. Takes
// 35-40% less time than decode_jpeg for RandomResizedCrop's boxes.
PixelRegion decode_jpeg_box(const uint8_t* data, size_t size, int width, int height, const CropBox& box,
                            const std::string& what, Image& scratch);

}  // namespace mmp
