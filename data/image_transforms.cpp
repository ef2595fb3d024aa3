#include "data/image_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <immintrin.h>

#include "engine/error.h"

namespace mmp {
namespace {

// PIL's Resample.c: precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int ksize = 0;
  std::vector<int> bounds;   // per output pixel: first input pixel, count
  std::vector<int32_t> kk;   // per output pixel: ksize fixed-point weights
};

Coefficients bilinear_coefficients(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the bilinear filter's support is 1
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.kk.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::fabs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      c.kk[xx * c.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define MMP_RESAMPLE_AVX512 1
#else
#define MMP_RESAMPLE_AVX512 0
#endif

// out row j = clip8(sum over the filter taps t of kk[j][t] * in row (bounds[2j] - first + t)),
// for rows of row_size bytes: PIL's 8-bit vertical pass, vectorised along the rows, into
// the row_size bytes at out_row(j). With AVX-512, 64 bytes at a time whose sums stay in
// registers from the first tap to the clip; otherwise whole rows of sums in memory,
// which the compiler vectorises.
template <class OutRow>
void resample_rows(const uint8_t* in, int row_size, int first, const Coefficients& c, int out_rows, OutRow out_row) {
#if !MMP_RESAMPLE_AVX512
  thread_local std::vector<int32_t> acc;
  acc.resize(row_size);
#endif
  for (int j = 0; j < out_rows; ++j) {
    const uint8_t* rows = in + static_cast<size_t>(c.bounds[2 * j] - first) * row_size;
    const int taps = c.bounds[2 * j + 1];
    const int32_t* k = c.kk.data() + static_cast<size_t>(j) * c.ksize;
    uint8_t* o = out_row(j);
#if MMP_RESAMPLE_AVX512
    const __m512i half = _mm512_set1_epi32(1 << (kPrecisionBits - 1)), zero = _mm512_setzero_si512(),
                  top = _mm512_set1_epi32(255);
    auto widen = [](const uint8_t* p) {
      return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    };
    auto clipped = [&](__m512i sums) {  // clip8 of 16 sums, as bytes
      const __m512i shifted = _mm512_srai_epi32(sums, kPrecisionBits);
      return _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(shifted, zero), top));
    };
    auto clip_store = [&](__m512i sums, uint8_t* p) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), clipped(sums));
    };
    int i = 0;
    for (; i + 64 <= row_size; i += 64) {
      __m512i a0 = half, a1 = half, a2 = half, a3 = half;
      for (int t = 0; t < taps; ++t) {
        const uint8_t* r = rows + static_cast<size_t>(t) * row_size + i;
        const __m512i w = _mm512_set1_epi32(k[t]);
        a0 = _mm512_add_epi32(a0, _mm512_mullo_epi32(widen(r), w));
        a1 = _mm512_add_epi32(a1, _mm512_mullo_epi32(widen(r + 16), w));
        a2 = _mm512_add_epi32(a2, _mm512_mullo_epi32(widen(r + 32), w));
        a3 = _mm512_add_epi32(a3, _mm512_mullo_epi32(widen(r + 48), w));
      }
      clip_store(a0, o + i);
      clip_store(a1, o + i + 16);
      clip_store(a2, o + i + 32);
      clip_store(a3, o + i + 48);
    }
    for (; i < row_size; i += 16) {  // the rest, 16 bytes at a time, the last ones masked
      const __mmask16 m = row_size - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (row_size - i)) - 1);
      __m512i a = half;
      for (int t = 0; t < taps; ++t) {
        const __m128i bytes = _mm_maskz_loadu_epi8(m, rows + static_cast<size_t>(t) * row_size + i);
        a = _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(bytes), _mm512_set1_epi32(k[t])));
      }
      _mm_mask_storeu_epi8(o + i, m, clipped(a));
    }
#else
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < taps; ++t) {
      const uint8_t* r = rows + static_cast<size_t>(t) * row_size;
      const int32_t w = k[t];
#pragma omp simd
      for (int i = 0; i < row_size; ++i) acc[i] += r[i] * w;
    }
    for (int i = 0; i < row_size; ++i) o[i] = clip8(acc[i]);
#endif
  }
}

// out[x * rows + y] = in[y * cols + x] for 4-byte pixels, in square blocks so that both
// sides stay in cache; within a block by 4 x 4 tiles transposed in SSE registers.
void transpose_pixels(const uint32_t* in, int rows, int cols, uint32_t* out) {
  constexpr int kBlock = 16;
  auto at = [](const uint32_t* p, size_t i) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)); };
  for (int y0 = 0; y0 < rows; y0 += kBlock) {
    const int y1 = std::min(rows, y0 + kBlock);
    for (int x0 = 0; x0 < cols; x0 += kBlock) {
      const int x1 = std::min(cols, x0 + kBlock);
      int x = x0;
      for (; x + 4 <= x1; x += 4) {
        int y = y0;
        for (; y + 4 <= y1; y += 4) {
          const size_t i = static_cast<size_t>(y) * cols + x;
          const __m128i r0 = at(in, i), r1 = at(in, i + cols), r2 = at(in, i + 2 * cols), r3 = at(in, i + 3 * cols);
          const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpackhi_epi32(r0, r1);
          const __m128i t2 = _mm_unpacklo_epi32(r2, r3), t3 = _mm_unpackhi_epi32(r2, r3);
          uint32_t* o = out + static_cast<size_t>(x) * rows + y;
          _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm_unpacklo_epi64(t0, t2));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(o + rows), _mm_unpackhi_epi64(t0, t2));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * rows), _mm_unpacklo_epi64(t1, t3));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 3 * rows), _mm_unpackhi_epi64(t1, t3));
        }
        for (; y < y1; ++y)
          for (int c = x; c < x + 4; ++c)
            out[static_cast<size_t>(c) * rows + y] = in[static_cast<size_t>(y) * cols + c];
      }
      for (; x < x1; ++x)
        for (int y = y0; y < y1; ++y) out[static_cast<size_t>(x) * rows + y] = in[static_cast<size_t>(y) * cols + x];
    }
  }
}

// columns[x * rows + y] = source pixel (first_row + y, x) as an RGBX word, for `rows`
// rows. By bands of rows: a band is first copied whole (reads along memory, which the
// prefetcher follows; reading the source down its columns waits on memory), then
// transposed out of L1, one word load per pixel (the band's spare byte lets the last
// pixel's load read past it).
void transpose_to_rgbx_columns(const PixelRegion& src, int first_row, int rows, uint32_t* columns) {
  constexpr int kBand = 16;
  const size_t row_bytes = static_cast<size_t>(src.width) * 3;
  thread_local std::vector<uint8_t> band;
  band.resize(kBand * row_bytes + 1);
  for (int y0 = 0; y0 < rows; y0 += kBand) {
    const int band_rows = std::min(kBand, rows - y0);
    for (int r = 0; r < band_rows; ++r)
      std::memcpy(band.data() + r * row_bytes, src.rgb + static_cast<size_t>(first_row + y0 + r) * src.stride,
                  row_bytes);
    for (int x = 0; x < src.width; ++x) {
      uint32_t* out = columns + static_cast<size_t>(x) * rows + y0;
      const uint8_t* in = band.data() + static_cast<size_t>(x) * 3;
      for (int r = 0; r < band_rows; ++r) std::memcpy(out + r, in + r * row_bytes, 4);
    }
  }
}

// PIL's resize of `src` to width x height, mirrored when `flip`: RGBX rows of the result
// (width * 4 bytes each), valid until this thread's next call. PIL resamples
// horizontally the rows the vertical pass reads, then vertically; the weights sum to
// 1 << 22, so a pixel's sum fits its 32-bit accumulators. Both passes are the same row
// pass, the horizontal one on the transposed image, so that both are vectorised along
// memory; pixels travel as 4-byte words so that the transposes move one word each.
// Integer sums: the result is PIL's, byte for byte (mirroring only reorders the
// horizontal pass's output).
const uint8_t* resize_rgbx(const PixelRegion& src, int width, int height, bool flip) {
  MMP_CHECK(src.width > 0 && src.height > 0 && width > 0 && height > 0, "resize of an empty image or to ", width,
            "x", height);
  const Coefficients horizontal = bilinear_coefficients(src.width, width);
  const Coefficients vertical = bilinear_coefficients(src.height, height);
  const int y_first = vertical.bounds[0];
  const int y_last = vertical.bounds[2 * (height - 1)] + vertical.bounds[2 * (height - 1) + 1];
  const int mid_rows = y_last - y_first;
  thread_local std::vector<uint32_t> columns, resized_columns, mid, dst;
  columns.resize(static_cast<size_t>(src.width) * mid_rows);
  transpose_to_rgbx_columns(src, y_first, mid_rows, columns.data());
  resized_columns.resize(static_cast<size_t>(width) * mid_rows);
  const int column_bytes = mid_rows * 4;
  auto* resized = reinterpret_cast<uint8_t*>(resized_columns.data());
  resample_rows(reinterpret_cast<const uint8_t*>(columns.data()), column_bytes, 0, horizontal, width,
                [&](int j) { return resized + static_cast<size_t>(flip ? width - 1 - j : j) * column_bytes; });
  mid.resize(resized_columns.size());
  transpose_pixels(resized_columns.data(), width, mid_rows, mid.data());
  dst.resize(static_cast<size_t>(width) * height);
  auto* out = reinterpret_cast<uint8_t*>(dst.data());
  resample_rows(reinterpret_cast<const uint8_t*>(mid.data()), width * 4, y_first, vertical, height,
                [&](int j) { return out + static_cast<size_t>(j) * width * 4; });
  return out;
}

// torchvision's ToTensor + Normalize arithmetic, in its order, so the floats are the same.
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};

// a / b without a division: the product by the reciprocal, corrected once by its exact
// residual (Markstein), which rounds as the division does for the operands used here:
// the every-byte test compares all 768 (byte, channel) results with torchvision's.
// Two divisions per value were most of the normalisation's time.
inline float divided(float a, float b, float reciprocal) {
  const float q = a * reciprocal;
  return std::fma(std::fma(-q, b, a), reciprocal, q);
}

}  // namespace

PixelRegion PixelRegion::of(const Image& img) {
  return {img.rgb.data(), img.width, img.height, static_cast<size_t>(img.width) * 3};
}

PixelRegion PixelRegion::crop(const CropBox& box) const {
  MMP_CHECK(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0 && box.top + box.height <= height &&
                box.left + box.width <= width,
            "crop (", box.top, ", ", box.left, ", ", box.height, ", ", box.width, ") outside a ", width, "x", height,
            " image");
  return {rgb + static_cast<size_t>(box.top) * stride + static_cast<size_t>(box.left) * 3, box.width, box.height,
          stride};
}

Image resize_bilinear(const Image& src, int width, int height) {
  const uint8_t* rgbx = resize_rgbx(PixelRegion::of(src), width, height, false);
  Image dst;
  dst.width = width;
  dst.height = height;
  dst.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i)
    std::memcpy(dst.rgb.data() + 3 * i, rgbx + 4 * i, 3);
  return dst;
}

void resize_to_normalized_chw(const PixelRegion& src, int width, int height, bool flip, float* out) {
  const uint8_t* rgbx = resize_rgbx(src, width, height, flip);
  const size_t plane = static_cast<size_t>(width) * height;
  for (int ch = 0; ch < 3; ++ch) {
    float* o = out + ch * plane;
    const float mean = kMean[ch], std = kStd[ch], inverse_std = 1.0f / std;
#pragma omp simd
    for (size_t i = 0; i < plane; ++i)
      o[i] = divided(divided(static_cast<float>(rgbx[4 * i + ch]), 255.0f, 1.0f / 255.0f) - mean, std, inverse_std);
  }
}

CropBox random_resized_crop_box(int width, int height, UniformSource& rng, double scale_min, double scale_max,
                                double ratio_min, double ratio_max) {
  const double area = static_cast<double>(width) * height;
  const double log_min = std::log(ratio_min), log_max = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (scale_min + (scale_max - scale_min) * rng.next());
    const double aspect = std::exp(log_min + (log_max - log_min) * rng.next());
    const int w = static_cast<int>(std::lround(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      // torch.randint(0, H - h + 1): uniform over the valid offsets
      const int top = std::min(height - h, static_cast<int>(rng.next() * (height - h + 1)));
      const int left = std::min(width - w, static_cast<int>(rng.next() * (width - w + 1)));
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = static_cast<int>(std::lround(w / ratio_min));
  } else if (in_ratio > ratio_max) {
    w = static_cast<int>(std::lround(h * ratio_max));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void to_normalized_chw(const Image& img, float* out) {
  // Written per channel plane so that it vectorises.
  const size_t plane = static_cast<size_t>(img.width) * img.height;
  const uint8_t* p = img.rgb.data();
  for (int ch = 0; ch < 3; ++ch) {
    float* o = out + ch * plane;
    const float mean = kMean[ch], std = kStd[ch];
#pragma omp simd
    for (size_t i = 0; i < plane; ++i) o[i] = (static_cast<float>(p[3 * i + ch]) / 255.0f - mean) / std;
  }
}

std::vector<int> pick_frames(int count, int frames, bool train, UniformSource& rng) {
  MMP_CHECK(count >= 1 && frames >= 1, "frame sampling: ", count, " frames available, ", frames, " wanted");
  std::vector<int> picked(frames);
  const int segment = std::max(1, count / frames);
  for (int i = 0; i < frames; ++i) {
    const int offset = train ? std::min(segment - 1, static_cast<int>(rng.next() * segment)) : segment / 2;
    picked[i] = std::min(count - 1, i * segment + offset);  // fewer frames than wanted: repeats
  }
  return picked;
}

}  // namespace mmp
