#include "data/jpeg_decoder.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE without including it

#include <jpeglib.h>

#include "engine/error.h"

// jpeg_crop_scanline and jpeg_skip_scanlines, and PIL's pixels, are libjpeg-turbo's.
#if !defined(LIBJPEG_TURBO_VERSION)
#error "mmp needs libjpeg-turbo's libjpeg (Debian: libjpeg62-turbo-dev)"
#endif

namespace mmp {
namespace {

// libjpeg reports errors through a callback that must not return: it jumps back into
// run_decoder, which then frees the decoder and fails with the message.
struct ErrorManager {
  jpeg_error_mgr base;  // first, so that libjpeg's pointer to it is a pointer to this
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Level -1 is a warning: damaged data libjpeg would go on past, painting grey.
void jump_on_warning(j_common_ptr cinfo, int level) {
  if (level < 0) jump_on_error(cinfo);
}

// The layouts whose skipped rows and cropped columns tests check at every offset.
bool box_decodable(const jpeg_decompress_struct& c) {
  if (c.progressive_mode) return false;
  if (c.num_components == 1) return true;
  if (c.num_components != 3) return false;
  for (int i = 1; i < 3; ++i)
    if (c.comp_info[i].h_samp_factor != 1 || c.comp_info[i].v_samp_factor != 1) return false;
  const int h = c.comp_info[0].h_samp_factor, v = c.comp_info[0].v_samp_factor;
  return (h == 1 && v == 1) || (h == 2 && v == 2);
}

// Where the decoded pixels lie: `out` holds rows first_row.. of columns first_column..
// of the width x height image.
struct Decoded {
  int width = 0, height = 0;
  int first_row = 0, first_column = 0;
};

// Decodes the image into `out`, or only what `box` needs when it is given and the layout
// allows (else the whole image). Returns false with err.message set on failure. No local
// here has a destructor: a longjmp out of libjpeg would skip it.
bool run_decoder(const uint8_t* data, size_t size, const CropBox* box, int width, int height, Image& out,
                 Decoded& decoded, ErrorManager& err) {
  jpeg_decompress_struct cinfo{};  // zeroed: destroying it is safe even if creating it failed
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jump_on_error;
  err.base.emit_message = jump_on_warning;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  decoded.width = static_cast<int>(cinfo.image_width);
  decoded.height = static_cast<int>(cinfo.image_height);
  if (static_cast<int64_t>(decoded.width) * decoded.height > kMaxImagePixels) {
    std::snprintf(err.message, sizeof err.message, "a %dx%d image, larger than the %lld pixels mmp decodes",
                  decoded.width, decoded.height, static_cast<long long>(kMaxImagePixels));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (box != nullptr && (decoded.width != width || decoded.height != height)) {
    std::snprintf(err.message, sizeof err.message, "the image is %dx%d, not %dx%d", decoded.width, decoded.height,
                  width, height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  JDIMENSION first_column = 0, columns = cinfo.output_width, last_row = cinfo.output_height;
  if (box != nullptr && box_decodable(cinfo)) {
    // One column more on each side: fancy upsampling reads the neighbours' chroma. And
    // at least 16 (an iMCU): libjpeg-turbo 2.1 gave a box 2 columns wide at the left
    // edge other pixels. Both found by the test of every offset, which guards them.
    const int first = std::max(0, box->left - 1);
    const int end = std::min(decoded.width, std::max(box->left + box->width + 1, first + 16));
    first_column = static_cast<JDIMENSION>(first);
    columns = static_cast<JDIMENSION>(end - first);
    if (columns < cinfo.output_width) jpeg_crop_scanline(&cinfo, &first_column, &columns);
    last_row = static_cast<JDIMENSION>(box->top + box->height);
    const auto top = static_cast<JDIMENSION>(box->top);
    if (top > 0 && jpeg_skip_scanlines(&cinfo, top) != top) {
      std::snprintf(err.message, sizeof err.message, "cannot skip to row %d", box->top);
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
  }
  decoded.first_row = static_cast<int>(cinfo.output_scanline);
  decoded.first_column = static_cast<int>(first_column);
  const size_t stride = static_cast<size_t>(columns) * 3;
  out.width = static_cast<int>(columns);
  out.height = static_cast<int>(last_row) - decoded.first_row;
  out.rgb.resize(stride * out.height);
  while (cinfo.output_scanline < last_row) {
    constexpr JDIMENSION kRowsPerCall = 16;
    JSAMPROW rows[kRowsPerCall];
    const JDIMENSION n = std::min(kRowsPerCall, last_row - cinfo.output_scanline);
    for (JDIMENSION i = 0; i < n; ++i)
      rows[i] = out.rgb.data() + (cinfo.output_scanline - decoded.first_row + i) * stride;
    jpeg_read_scanlines(&cinfo, rows, n);
  }
  if (last_row == cinfo.output_height) {
    jpeg_finish_decompress(&cinfo);  // reads on to the end marker: damage past the last row fails too
  } else {
    jpeg_abort_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what) {
  ErrorManager err;
  Decoded decoded;
  Image out;
  MMP_CHECK(run_decoder(data, size, nullptr, 0, 0, out, decoded, err), what, ": cannot decode the image (",
            err.message, ")");
  return out;
}

PixelRegion decode_jpeg_box(const uint8_t* data, size_t size, int width, int height, const CropBox& box,
                            const std::string& what, Image& scratch) {
  MMP_CHECK(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 && box.top + box.height <= height &&
                box.left + box.width <= width,
            what, ": crop (", box.top, ", ", box.left, ", ", box.height, ", ", box.width, ") outside a ", width, "x",
            height, " image");
  ErrorManager err;
  Decoded decoded;
  MMP_CHECK(run_decoder(data, size, &box, width, height, scratch, decoded, err), what, ": cannot decode the image (",
            err.message, ")");
  const PixelRegion all{scratch.rgb.data(), scratch.width, scratch.height, static_cast<size_t>(scratch.width) * 3};
  return all.crop({box.top - decoded.first_row, box.left - decoded.first_column, box.height, box.width});
}

}  // namespace mmp
