// Winograd F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016) for 3x3 stride-1 layers:
// each 4x4 output tile costs 36 multiplications per channel pair instead of 144, as 36
// GEMMs in the transformed domain. Backward passes use the adjoint transforms (exact
// in exact arithmetic):
//   y  = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//   dd = B [ Σ_co (G g Gᵀ) ⊙ (A dy Aᵀ) ] Bᵀ        (scattered back over overlapping tiles)
//   dg = Gᵀ [ Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B) ] G
// Every transform is a product with one of the three small matrices below, applied
// down the rows of a tile row (a vector expression along the image row) and across
// each tile's columns (a vector expression over all tiles of a chunk). Tiles are
// processed in chunks so the transformed data stays in cache. An infinite input makes
// its tiles NaN (the transforms subtract it from itself), where direct summation gives
// infinities: either way the loss is not finite, and training stops on it.
#include "engine/cpu/winograd.h"

#include <algorithm>
#include <cstring>
#include <omp.h>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/cpu/dense_gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/workspace.h"
#include "engine/precision.h"

namespace mmp::cpu {
namespace {

constexpr int kTile = 4;        // output tile side m
constexpr int kAlpha = 6;       // input tile side m + 2
// The interpolation points 0, -1, 1, 1/2, -2 (and infinity): in f32 their rounding
// error is about 2/3 of that of the usual 0, ±1, ±2 (Barabasz et al., "Error analysis
// and improving the accuracy of Winograd convolution for deep neural networks", 2020).
// Every coefficient of Bᵀ and Aᵀ is exact in binary.
constexpr double kBT[kAlpha][kAlpha] = {{1, -1.5, -2, 1.5, 1, 0},   {0, 1, -2.5, 0.5, 1, 0},
                                        {0, -1, 0.5, 2.5, 1, 0},    {0, -2, -1, 2, 1, 0},
                                        {0, 0.5, -1, -0.5, 1, 0},   {0, 1, -1.5, -2, 1.5, 1}};
constexpr double kG[kAlpha][3] = {{1, 0, 0},
                                  {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                  {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                  {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                  {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                  {0, 0, 1}};
constexpr double kAT[kTile][kAlpha] = {
    {1, 1, 1, 1, 1, 0}, {0, -1, 1, 0.5, -2, 0}, {0, 1, 1, 0.25, 4, 0}, {0, -1, 1, 0.125, -8, 1}};

// out[o][t] = Σ_i M[o][i] in[i][t] for t < n (M transposed when `Transposed`), with
// the matrix known at compile time: zero coefficients drop out (a zero term is -0.0,
// which adding leaves any value unchanged, so the compiler removes it) and ±1 need no
// multiplication.
template <const auto& M, bool Transposed>
struct Transform {
  using Matrix = std::remove_cvref_t<decltype(M)>;
  static constexpr size_t kOut = std::extent_v<Matrix, Transposed ? 1 : 0>;
  static constexpr size_t kIn = std::extent_v<Matrix, Transposed ? 0 : 1>;

  template <class T>
  static void apply(const T* const* in, T* const* out, int64_t n) {
    run(in, out, n, std::make_index_sequence<kOut>{});
  }

 private:
  template <size_t O, size_t I, class T>
  static T term(const T* const* in, int64_t t) {
    constexpr double c = Transposed ? M[I][O] : M[O][I];
    if constexpr (c == 0) {
      return T(-0.0);
    } else if constexpr (c == 1) {
      return in[I][t];
    } else if constexpr (c == -1) {
      return -in[I][t];
    } else {
      return T(c) * in[I][t];
    }
  }
  template <size_t O, class T, size_t... I>
  static T sum(const T* const* in, int64_t t, std::index_sequence<I...>) {
    return (term<O, I>(in, t) + ...);
  }
  template <class T, size_t... O>
  static void run(const T* const* in, T* const* out, int64_t n, std::index_sequence<O...>) {
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) ((out[O][t] = sum<O>(in, t, std::make_index_sequence<kIn>{})), ...);
  }
};

struct Tiling {
  int64_t tiles_h, tiles_w, total;
  Tiling(const ConvGeometry& g)
      : tiles_h((g.ho + kTile - 1) / kTile),
        tiles_w((g.wo + kTile - 1) / kTile),
        total(g.n * tiles_h * tiles_w) {}
  // A tile row's input columns, zero-padded: tile tx reads padded columns 4 tx .. 4 tx + 5.
  int64_t padded_w() const { return kTile * (tiles_w + 1); }
};

// Channels per thread for a transform of `count` tiles: small layers run on one
// thread, where starting the others costs more than the work.
int64_t channel_grain(int64_t count) { return std::max<int64_t>(1, kParallelGrain / (kWinogradPoints * count)); }

// Scratch for one transform on this thread, kept between calls.
template <class T>
T* transform_scratch(int64_t elements) {
  return workspace<T>(kWinogradScratch, static_cast<size_t>(elements));
}

// Filters are transformed in blocks of this many (co, c) pairs, each step a vector
// operation across the block.
constexpr int64_t kFilterBlock = 16;

// The 3x3 filter gradient Gᵀ r G from the 6x6 accumulated products r[ξ][co][c].
template <class T>
void filter_transform_adjoint(const T* r, const ConvGeometry& g, T* gw) {
  const int64_t pairs = g.co * g.c, blocks = (pairs + kFilterBlock - 1) / kFilterBlock;
  parallel_for(blocks, 16, [&](int64_t b_begin, int64_t b_end) {
    for (int64_t blk = b_begin; blk < b_end; ++blk) {
      const int64_t p0 = blk * kFilterBlock, count = std::min(kFilterBlock, pairs - p0);
      T s[kWinogradPoints][kFilterBlock] = {}, e[3 * kAlpha][kFilterBlock], k[9][kFilterBlock];
      for (int x = 0; x < kWinogradPoints; ++x)
        for (int64_t q = 0; q < count; ++q) s[x][q] = r[x * pairs + p0 + q];
      for (int l = 0; l < kAlpha; ++l) {  // Gᵀ s, column l
        const T* in[kAlpha];
        T* out[3];
        for (int a = 0; a < kAlpha; ++a) in[a] = s[a * kAlpha + l];
        for (int i = 0; i < 3; ++i) out[i] = e[i * kAlpha + l];
        Transform<kG, true>::apply(in, out, kFilterBlock);
      }
      for (int i = 0; i < 3; ++i) {  // (Gᵀ s) G, row i
        const T* in[kAlpha];
        T* out[3];
        for (int l = 0; l < kAlpha; ++l) in[l] = e[i * kAlpha + l];
        for (int j = 0; j < 3; ++j) out[j] = k[i * 3 + j];
        Transform<kG, true>::apply(in, out, kFilterBlock);
      }
      for (int64_t q = 0; q < count; ++q)
        for (int x = 0; x < 9; ++x) gw[(p0 + q) * 9 + x] = k[x][q];
    }
  });
}

// Tile t = (tile row R, column tx) with R = n * tiles_h + ty; a chunk is a range of
// whole tile rows [r0, r1), and transformed values are stored as
// X[ξ][channel][(R - r0) * tiles_w + tx].

// The second half of an input or gradient tile transform, after the rows of a tile
// row were combined down (`combined`: 6 rows, tile tx at columns 4 tx + j): each
// tile's columns are gathered into columns[(k * width + j) * count + t] (tile t of the
// chunk) ...
template <int Width, class T>
void gather_tile_columns(T* const* combined, int64_t tw, int64_t first_tile, int64_t count, T* columns) {
  for (int64_t tx = 0, t = first_tile; tx < tw; ++tx, ++t)
    for (int k = 0; k < kAlpha; ++k)
      for (int j = 0; j < Width; ++j) columns[(k * Width + j) * count + t] = combined[k][kTile * tx + j];
}

// ... and, once the chunk's tile rows are gathered, combined across by `Across` into
// out[(k * 6 + l) * stride_xi + tile].
template <class Across, class T>
void transform_across_tiles(const T* columns, int64_t count, T* out, int64_t stride_xi) {
  constexpr int kWidth = static_cast<int>(Across::kIn);
  for (int k = 0; k < kAlpha; ++k) {
    const T* in[kWidth];
    T* o[kAlpha];
    for (int j = 0; j < kWidth; ++j) in[j] = columns + (k * kWidth + j) * count;
    for (int l = 0; l < kAlpha; ++l) o[l] = out + (k * kAlpha + l) * stride_xi;
    Across::apply(in, o, count);
  }
}

// V = Bᵀ d B for the tiles of x [N, C, H, W]. Per channel: for each tile row, the 6
// input rows are copied into zero-padded rows and combined down the rows (Bᵀ ·), and
// each tile's 6 columns gathered; then the columns of all tiles are combined (· B).
template <class T>
void transform_input_tiles(const T* x, const ConvGeometry& g, const Tiling& tl, int64_t r0, int64_t r1, T* v) {
  const int64_t count = (r1 - r0) * tl.tiles_w, stride_xi = g.c * count, tw = tl.tiles_w;
  const int64_t padded_w = tl.padded_w();
  const int64_t lo = g.pad, hi = std::min(padded_w, g.pad + g.w);  // padded columns inside the image
  parallel_for(g.c, channel_grain(count), [&](int64_t c_begin, int64_t c_end) {
    T* scratch = transform_scratch<T>(2 * kAlpha * padded_w + kWinogradPoints * count);
    T* rows[kAlpha];      // the input rows
    T* combined[kAlpha];  // Bᵀ · rows
    for (int a = 0; a < kAlpha; ++a) {
      rows[a] = scratch + a * padded_w;
      combined[a] = scratch + (kAlpha + a) * padded_w;
      std::fill(rows[a], rows[a] + lo, T(0));
      std::fill(rows[a] + hi, rows[a] + padded_w, T(0));
    }
    T* columns = scratch + 2 * kAlpha * padded_w;  // [k][b][tile]: row k, column b of each tile
    for (int64_t c = c_begin; c < c_end; ++c) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
        const T* plane = x + (n * g.c + c) * g.h * g.w;
        for (int a = 0; a < kAlpha; ++a) {
          const int64_t y = kTile * ty - g.pad + a;
          if (y < 0 || y >= g.h) {
            std::fill(rows[a] + lo, rows[a] + hi, T(0));
          } else {
            std::memcpy(rows[a] + lo, plane + y * g.w, (hi - lo) * sizeof(T));
          }
        }
        Transform<kBT, false>::apply(rows, combined, padded_w);
        gather_tile_columns<kAlpha>(combined, tw, (r - r0) * tw, count, columns);
      }
      transform_across_tiles<Transform<kBT, false>>(columns, count, v + c * count, stride_xi);
    }
  });
}

// Q = A dy Aᵀ for the 4x4 tiles of gy [N, Co, Ho, Wo], in the same two steps.
template <class T>
void transform_grad_tiles(const T* gy, const ConvGeometry& g, const Tiling& tl, int64_t r0, int64_t r1, T* q) {
  const int64_t count = (r1 - r0) * tl.tiles_w, stride_xi = g.co * count, tw = tl.tiles_w, row_w = kTile * tw;
  parallel_for(g.co, channel_grain(count), [&](int64_t c_begin, int64_t c_end) {
    T* scratch = transform_scratch<T>((kTile + kAlpha) * row_w + kAlpha * kTile * count);
    T* rows[kTile];       // the tile row's gradient rows, zero-padded to 4 tiles_w
    T* combined[kAlpha];  // A · rows
    for (int a = 0; a < kTile; ++a) {
      rows[a] = scratch + a * row_w;
      std::fill(rows[a] + g.wo, rows[a] + row_w, T(0));
    }
    for (int a = 0; a < kAlpha; ++a) combined[a] = scratch + (kTile + a) * row_w;
    T* columns = scratch + (kTile + kAlpha) * row_w;  // [k][j][tile]
    for (int64_t co = c_begin; co < c_end; ++co) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
        const T* plane = gy + (n * g.co + co) * g.ho * g.wo;
        for (int a = 0; a < kTile; ++a) {
          const int64_t y = kTile * ty + a;
          if (y < g.ho) {
            std::memcpy(rows[a], plane + y * g.wo, g.wo * sizeof(T));
          } else {
            std::fill(rows[a], rows[a] + g.wo, T(0));
          }
        }
        Transform<kAT, true>::apply(rows, combined, row_w);
        gather_tile_columns<kTile>(combined, tw, (r - r0) * tw, count, columns);
      }
      transform_across_tiles<Transform<kAT, true>>(columns, count, q + co * count, stride_xi);
    }
  });
}

// Runs f(ξ) for the 36 transformed-domain products of `flops` multiply-adds in all,
// spread over the threads when there is enough work (each GEMM then runs on one
// thread, which suits their modest sizes).
template <class F>
void for_each_xi(int64_t flops, F&& f) {
#pragma omp parallel for schedule(dynamic, 1) if (flops >= (int64_t(1) << 21))
  for (int xi = 0; xi < kWinogradPoints; ++xi) f(xi);
}

// Tile rows per chunk: the transformed input, gradient and product of a chunk stay
// near 8 MB, with at least 64 tiles so the GEMMs have columns to work with.
template <class T>
int64_t rows_per_chunk(const ConvGeometry& g, const Tiling& t) {
  const int64_t per_row = kWinogradPoints * (g.c + g.co) * t.tiles_w * static_cast<int64_t>(sizeof(T));
  const int64_t min_rows = (64 + t.tiles_w - 1) / t.tiles_w;
  return std::min(std::max((int64_t(8) << 20) / per_row, min_rows), g.n * t.tiles_h);
}

}  // namespace

template <class T>
void winograd_filter_transform(const T* w, const ConvGeometry& g, T* u) {
  const int64_t pairs = g.co * g.c, blocks = (pairs + kFilterBlock - 1) / kFilterBlock;
  parallel_for(blocks, 16, [&](int64_t b_begin, int64_t b_end) {
    for (int64_t blk = b_begin; blk < b_end; ++blk) {
      const int64_t p0 = blk * kFilterBlock, count = std::min(kFilterBlock, pairs - p0);
      T k[9][kFilterBlock] = {}, e[kAlpha * 3][kFilterBlock], f[kWinogradPoints][kFilterBlock];
      for (int64_t q = 0; q < count; ++q)
        for (int x = 0; x < 9; ++x) k[x][q] = w[(p0 + q) * 9 + x];
      for (int j = 0; j < 3; ++j) {  // G g, column j
        const T* in[3];
        T* out[kAlpha];
        for (int a = 0; a < 3; ++a) in[a] = k[a * 3 + j];
        for (int i = 0; i < kAlpha; ++i) out[i] = e[i * 3 + j];
        Transform<kG, false>::apply(in, out, kFilterBlock);
      }
      for (int i = 0; i < kAlpha; ++i) {  // (G g) Gᵀ, row i
        const T* in[3];
        T* out[kAlpha];
        for (int j = 0; j < 3; ++j) in[j] = e[i * 3 + j];
        for (int l = 0; l < kAlpha; ++l) out[l] = f[i * kAlpha + l];
        Transform<kG, false>::apply(in, out, kFilterBlock);
      }
      for (int x = 0; x < kWinogradPoints; ++x) std::copy_n(f[x], count, u + x * pairs + p0);  // U[ξ][co][c]
    }
  });
}

namespace {

// The three passes over the tile rows of images [n0, n1). Called once per thread on
// its own images (for_thread_ranges), or once for all images, where the loops inside
// parallelise themselves.
template <class T>
void forward_images(const T* x, const T* u, T* y, const ConvGeometry& g, int64_t n0, int64_t n1) {
  const Tiling tl(g);
  const int64_t rows = rows_per_chunk<T>(g, tl), end_row = n1 * tl.tiles_h;
  const int64_t max_count = rows * tl.tiles_w;
  T* v = workspace<T>(kWinogradData, kWinogradPoints * g.c * max_count);
  T* m = workspace<T>(kWinogradProduct, kWinogradPoints * g.co * max_count);
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tl.tiles_w;
    transform_input_tiles(x, g, tl, r0, r1, v);
    for_each_xi(kWinogradPoints * g.co * g.c * count, [&](int xi) {
      dense_gemm(false, false, g.co, count, g.c, u + xi * g.co * g.c, v + xi * g.c * count, m + xi * g.co * count);
    });
    // Aᵀ m A, over all tiles of the chunk: down each tile's rows, then across its
    // columns; the 4x4 results are then interleaved into the output rows.
    const int64_t stride_xi = g.co * count, tw = tl.tiles_w;
    parallel_for(g.co, channel_grain(count), [&](int64_t c_begin, int64_t c_end) {
      T* down = transform_scratch<T>(kTile * kAlpha * count + kTile * kTile * count + kTile * tw);  // [i][l][tile]
      T* result = down + kTile * kAlpha * count;     // [i][j][tile]
      T* out_row = result + kTile * kTile * count;   // one output row of the tile row
      for (int64_t co = c_begin; co < c_end; ++co) {
        for (int l = 0; l < kAlpha; ++l) {
          const T* in[kAlpha];
          T* out[kTile];
          for (int k = 0; k < kAlpha; ++k) in[k] = m + (k * kAlpha + l) * stride_xi + co * count;
          for (int i = 0; i < kTile; ++i) out[i] = down + (i * kAlpha + l) * count;
          Transform<kAT, false>::apply(in, out, count);
        }
        for (int i = 0; i < kTile; ++i) {
          const T* in[kAlpha];
          T* out[kTile];
          for (int l = 0; l < kAlpha; ++l) in[l] = down + (i * kAlpha + l) * count;
          for (int j = 0; j < kTile; ++j) out[j] = result + (i * kTile + j) * count;
          Transform<kAT, false>::apply(in, out, count);
        }
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
          T* plane = y + (n * g.co + co) * g.ho * g.wo;
          for (int i = 0; i < kTile && kTile * ty + i < g.ho; ++i) {
            for (int64_t tx = 0, t = (r - r0) * tw; tx < tw; ++tx, ++t)
              for (int j = 0; j < kTile; ++j) out_row[kTile * tx + j] = result[(i * kTile + j) * count + t];
            std::memcpy(plane + (kTile * ty + i) * g.wo, out_row, g.wo * sizeof(T));
          }
        }
      }
    });
  }
}

template <class T>
void backward_input_images(const T* gy, const T* u, T* gx, const ConvGeometry& g, int64_t n0, int64_t n1) {
  const Tiling tl(g);
  const int64_t rows = rows_per_chunk<T>(g, tl), end_row = n1 * tl.tiles_h;
  const int64_t max_count = rows * tl.tiles_w;
  T* q = workspace<T>(kWinogradGrad, kWinogradPoints * g.co * max_count);
  T* s = workspace<T>(kWinogradProduct, kWinogradPoints * g.c * max_count);
  std::fill(gx + n0 * g.c * g.h * g.w, gx + n1 * g.c * g.h * g.w, T(0));
  const int64_t padded_w = tl.padded_w(), tw = tl.tiles_w;
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tw;
    transform_grad_tiles(gy, g, tl, r0, r1, q);
    for_each_xi(kWinogradPoints * g.co * g.c * count, [&](int xi) {  // S[ξ] = U[ξ]ᵀ · Q[ξ]
      dense_gemm(true, false, g.c, count, g.co, u + xi * g.co * g.c, q + xi * g.co * count, s + xi * g.c * count);
    });
    // B s Bᵀ: across each tile's columns over all tiles of the chunk; then per tile
    // row, the tiles' columns are added into 6 padded rows (neighbouring tiles overlap
    // by two columns), which are combined down into the image rows. One thread per
    // channel plane, as tiles overlap.
    parallel_for(g.c, channel_grain(count), [&](int64_t c_begin, int64_t c_end) {
      T* across = transform_scratch<T>(kWinogradPoints * count + 2 * kAlpha * padded_w);  // [k][b][tile]
      T* prow[kAlpha];        // the tile row's padded rows
      T* image_rows[kAlpha];  // B · prow
      for (int k = 0; k < kAlpha; ++k) prow[k] = across + kWinogradPoints * count + k * padded_w;
      for (int a = 0; a < kAlpha; ++a) image_rows[a] = prow[0] + (kAlpha + a) * padded_w;
      const int64_t stride_xi = g.c * count;
      const int64_t lo = g.pad, hi = std::min(padded_w, g.pad + g.w);
      for (int64_t c = c_begin; c < c_end; ++c) {
        for (int k = 0; k < kAlpha; ++k) {
          const T* in[kAlpha];
          T* out[kAlpha];
          for (int l = 0; l < kAlpha; ++l) in[l] = s + (k * kAlpha + l) * stride_xi + c * count;
          for (int b = 0; b < kAlpha; ++b) out[b] = across + (k * kAlpha + b) * count;
          Transform<kBT, true>::apply(in, out, count);
        }
        for (int64_t r = r0; r < r1; ++r) {
          for (int k = 0; k < kAlpha; ++k) {
            T* row = prow[k];
            std::fill(row, row + padded_w, T(0));
            for (int64_t tx = 0, t = (r - r0) * tw; tx < tw; ++tx, ++t)
              for (int b = 0; b < kAlpha; ++b) row[kTile * tx + b] += across[(k * kAlpha + b) * count + t];
          }
          Transform<kBT, true>::apply(prow, image_rows, padded_w);
          const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
          T* plane = gx + (n * g.c + c) * g.h * g.w;
          for (int a = 0; a < kAlpha; ++a) {
            const int64_t yy = kTile * ty - g.pad + a;
            if (yy < 0 || yy >= g.h) continue;
            T* dst = plane + yy * g.w - g.pad;
            const T* src = image_rows[a];
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) dst[j] += src[j];
          }
        }
      }
    });
  }
}

// The transformed-domain weight gradient R[ξ] of images [n0, n1), in this thread's
// workspace.
template <class T>
T* backward_weight_images(const T* x, const T* gy, const ConvGeometry& g, int64_t n0, int64_t n1) {
  const Tiling tl(g);
  const int64_t rows = rows_per_chunk<T>(g, tl), end_row = n1 * tl.tiles_h;
  const int64_t max_count = rows * tl.tiles_w;
  T* r = workspace<T>(kWinogradFilter, kWinogradPoints * g.co * g.c);
  T* v = workspace<T>(kWinogradData, kWinogradPoints * g.c * max_count);
  T* q = workspace<T>(kWinogradGrad, kWinogradPoints * g.co * max_count);
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tl.tiles_w;
    transform_input_tiles(x, g, tl, r0, r1, v);
    transform_grad_tiles(gy, g, tl, r0, r1, q);
    for_each_xi(kWinogradPoints * g.co * g.c * count, [&](int xi) {  // R[ξ] += Q[ξ] · V[ξ]ᵀ
      dense_gemm(false, true, g.co, g.c, count, q + xi * g.co * count, v + xi * g.c * count, r + xi * g.co * g.c,
                 /*accumulate=*/r0 > n0 * tl.tiles_h);
    });
  }
  return r;
}

// Runs body(n0, n1, part) over the images: split among the threads when each share
// gives the GEMMs enough tiles to work with, else all in one call, whose transforms
// and GEMMs then run in parallel themselves (the 7x7 and 9x6 maps of the last stage
// hold a handful of tiles per image). Returns the number of parts.
template <class F>
int over_images(const ConvGeometry& g, F&& body) {
  constexpr int64_t kMinTilesPerThread = 128;
  if (Tiling(g).total < kMinTilesPerThread * omp_get_max_threads()) {
    body(int64_t{0}, g.n, 0);
    return 1;
  }
  return for_thread_ranges(g.n, body);
}

}  // namespace

template <class T>
void winograd_forward(const T* x, const T* u, T* y, const ConvGeometry& g) {
  over_images(g, [&](int64_t n0, int64_t n1, int) { forward_images(x, u, y, g, n0, n1); });
}

template <class T>
void winograd_backward_input(const T* gy, const T* u, T* gx, const ConvGeometry& g) {
  over_images(g, [&](int64_t n0, int64_t n1, int) { backward_input_images(gy, u, gx, g, n0, n1); });
}

template <class T>
void winograd_backward_weight(const T* x, const T* gy, T* gw, const ConvGeometry& g) {
  // Each part sums its images' products; the parts are added, then transformed back.
  std::vector<T*> parts(omp_get_max_threads(), nullptr);
  const int used = over_images(g, [&](int64_t n0, int64_t n1, int t) {
    parts[t] = backward_weight_images(x, gy, g, n0, n1);
  });
  T* total = parts[0];
  const int64_t size = kWinogradPoints * g.co * g.c;
  for (int t = 1; t < used; ++t) {
    const T* part = parts[t];
    parallel_for(size, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) total[i] += part[i];
    });
  }
  filter_transform_adjoint(total, g, gw);
}

bool winograd_applies(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.stride == 1 && current_cpu_convolution() == CpuConvolution::winograd;
}

template void winograd_filter_transform<float>(const float*, const ConvGeometry&, float*);
template void winograd_filter_transform<double>(const double*, const ConvGeometry&, double*);
template void winograd_forward<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_forward<double>(const double*, const double*, double*, const ConvGeometry&);
template void winograd_backward_input<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_backward_input<double>(const double*, const double*, double*, const ConvGeometry&);
template void winograd_backward_weight<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_backward_weight<double>(const double*, const double*, double*, const ConvGeometry&);

}  // namespace mmp::cpu
