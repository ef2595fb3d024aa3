// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016) for 3x3 stride-1 layers: each 2x2 output tile costs 16
// multiplications per channel pair instead of 36, as 16 GEMMs in the transformed
// domain. Backward passes use the adjoint transforms (exact in exact arithmetic):
//   y  = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//   dd = B [ Σ_co (G g Gᵀ) ⊙ (A dy Aᵀ) ] Bᵀ        (scattered back over overlapping tiles)
//   dg = Gᵀ [ Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B) ] G
// Tiles are processed in chunks so the transformed data stays in cache.
#include "engine/cpu/winograd.h"

#include <algorithm>
#include <cstring>
#include <omp.h>
#include <vector>

#include "engine/cpu/dense_gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/workspace.h"

namespace mmp::cpu {
namespace {

struct Tiling {
  int64_t tiles_h, tiles_w, per_image, total;
  Tiling(const ConvGeometry& g)
      : tiles_h((g.ho + 1) / 2), tiles_w((g.wo + 1) / 2), per_image(tiles_h * tiles_w), total(g.n * per_image) {}
};

// Filters are transformed in blocks of this many (co, c) pairs, transposed so each
// step is a vector operation across the block and the stores are contiguous.
constexpr int64_t kFilterBlock = 16;

// The 3x3 filter gradient Gᵀ r G from the 4x4 accumulated products r[ξ][co][c].
template <class T>
void filter_transform_adjoint(const T* r, const ConvGeometry& g, T* gw) {
  const int64_t pairs = g.co * g.c, blocks = (pairs + kFilterBlock - 1) / kFilterBlock;
  parallel_for(blocks, 16, [&](int64_t b_begin, int64_t b_end) {
    for (int64_t blk = b_begin; blk < b_end; ++blk) {
      const int64_t p0 = blk * kFilterBlock, count = std::min(kFilterBlock, pairs - p0);
      T s[16][kFilterBlock] = {}, e[12][kFilterBlock], k[9][kFilterBlock];
      for (int x = 0; x < 16; ++x)
        for (int64_t q = 0; q < count; ++q) s[x][q] = r[x * pairs + p0 + q];
      for (int j = 0; j < 4; ++j)  // Gᵀ s: 3 rows x 4 columns
        for (int64_t q = 0; q < kFilterBlock; ++q) {
          const T s0 = s[0 * 4 + j][q], s1 = s[1 * 4 + j][q], s2 = s[2 * 4 + j][q], s3 = s[3 * 4 + j][q];
          e[0 * 4 + j][q] = s0 + T(0.5) * (s1 + s2);
          e[1 * 4 + j][q] = T(0.5) * (s1 - s2);
          e[2 * 4 + j][q] = T(0.5) * (s1 + s2) + s3;
        }
      for (int i = 0; i < 3; ++i)  // (Gᵀ s) G
        for (int64_t q = 0; q < kFilterBlock; ++q) {
          const T e0 = e[i * 4 + 0][q], e1 = e[i * 4 + 1][q], e2 = e[i * 4 + 2][q], e3 = e[i * 4 + 3][q];
          k[i * 3 + 0][q] = e0 + T(0.5) * (e1 + e2);
          k[i * 3 + 1][q] = T(0.5) * (e1 - e2);
          k[i * 3 + 2][q] = T(0.5) * (e1 + e2) + e3;
        }
      for (int64_t q = 0; q < count; ++q)
        for (int x = 0; x < 9; ++x) gw[(p0 + q) * 9 + x] = k[x][q];
    }
  });
}

// Tile t = (tile row R, column tx) with R = n * tiles_h + ty; a chunk is a range of
// whole tile rows, so that each transform works on contiguous runs of tiles: for one
// channel and tile row, the 4 input rows are combined vertically, split into even
// and odd columns (tile tx starts at padded column 2 tx), and every transformed
// value is then a vector expression over tx, stored contiguously.

// V[ξ][c][(R - r0) * tiles_w + tx] for tile rows [r0, r1) of x [N, C, H, W]. Per
// channel and tile row: the 4 input rows are copied into zero-padded rows, the
// vertical half of Bᵀ d B is taken on their even and odd columns (tile tx starts at
// padded column 2 tx), and the horizontal half is then a vector expression over tx.
template <class T>
void transform_input_tiles(const T* x, const ConvGeometry& g, const Tiling& tl, int64_t r0, int64_t r1, T* v) {
  const int64_t count = (r1 - r0) * tl.tiles_w, stride_xi = g.c * count;
  const int64_t padded_w = 2 * tl.tiles_w + 2, half = tl.tiles_w + 1;
  const int64_t lo = g.pad, hi = std::min(padded_w, g.pad + g.w);  // padded columns inside the image
  parallel_for(g.c, 1, [&](int64_t c_begin, int64_t c_end) {
    std::vector<T> scratch(4 * padded_w + 8 * half, T(0));
    T* rows = scratch.data();  // 4 padded input rows
    T* even = rows + 4 * padded_w;  // per vertical combination k: even then odd columns
    for (int64_t c = c_begin; c < c_end; ++c)
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
        const T* plane = x + (n * g.c + c) * g.h * g.w;
        for (int a = 0; a < 4; ++a) {
          const int64_t y = 2 * ty - g.pad + a;
          T* row = rows + a * padded_w;
          if (y < 0 || y >= g.h) {
            std::fill(row + lo, row + hi, T(0));
          } else {
            std::memcpy(row + lo, plane + y * g.w, (hi - lo) * sizeof(T));
          }
        }
        const T *p0 = rows, *p1 = rows + padded_w, *p2 = rows + 2 * padded_w, *p3 = rows + 3 * padded_w;
        T *e0 = even, *e1 = even + 2 * half, *e2 = even + 4 * half, *e3 = even + 6 * half;  // [even | odd]
        for (int parity = 0; parity < 2; ++parity) {
          const int64_t o = parity * half;
#pragma omp simd
          for (int64_t j = 0; j < half; ++j) {
            const int64_t col = 2 * j + parity;
            e0[o + j] = p0[col] - p2[col];
            e1[o + j] = p1[col] + p2[col];
            e2[o + j] = p2[col] - p1[col];
            e3[o + j] = p1[col] - p3[col];
          }
        }
        T* out = v + c * count + (r - r0) * tl.tiles_w;
        for (int k = 0; k < 4; ++k) {
          const T* E = even + 2 * k * half;
          const T* O = E + half;
          T* o0 = out + (k * 4 + 0) * stride_xi;
          T* o1 = out + (k * 4 + 1) * stride_xi;
          T* o2 = out + (k * 4 + 2) * stride_xi;
          T* o3 = out + (k * 4 + 3) * stride_xi;
#pragma omp simd
          for (int64_t tx = 0; tx < tl.tiles_w; ++tx) {
            o0[tx] = E[tx] - E[tx + 1];
            o1[tx] = O[tx] + E[tx + 1];
            o2[tx] = E[tx + 1] - O[tx];
            o3[tx] = O[tx] - O[tx + 1];
          }
        }
      }
  });
}

// Q[ξ][co][(R - r0) * tiles_w + tx] = A dy Aᵀ for the 2x2 tiles of gy [N, Co, Ho, Wo].
template <class T>
void transform_grad_tiles(const T* gy, const ConvGeometry& g, const Tiling& tl, int64_t r0, int64_t r1, T* q) {
  const int64_t count = (r1 - r0) * tl.tiles_w, stride_xi = g.co * count, w2 = 2 * tl.tiles_w;
  parallel_for(g.co, 1, [&](int64_t c_begin, int64_t c_end) {
    std::vector<T> scratch(2 * w2 + 8 * tl.tiles_w, T(0));
    T* rows = scratch.data();  // the tile row's 2 gradient rows, zero-padded to 2 tiles_w
    T* comb = rows + 2 * w2;   // rows of A dy: 4 x (even, odd)
    for (int64_t co = c_begin; co < c_end; ++co)
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
        const T* plane = gy + (n * g.co + co) * g.ho * g.wo;
        for (int a = 0; a < 2; ++a) {
          const int64_t y = 2 * ty + a;
          if (y < g.ho) {
            std::memcpy(rows + a * w2, plane + y * g.wo, g.wo * sizeof(T));
          } else {
            std::fill(rows + a * w2, rows + a * w2 + g.wo, T(0));
          }
        }
        const T* d0 = rows;
        const T* d1 = rows + w2;
        T* c0 = comb;  // (dy0, dy0 + dy1, dy0 - dy1, -dy1), even then odd columns
        const int64_t tw = tl.tiles_w;
        for (int parity = 0; parity < 2; ++parity) {
          const int64_t o = parity * tw;
#pragma omp simd
          for (int64_t tx = 0; tx < tw; ++tx) {
            const T a = d0[2 * tx + parity], b = d1[2 * tx + parity];
            c0[0 * 2 * tw + o + tx] = a;
            c0[1 * 2 * tw + o + tx] = a + b;
            c0[2 * 2 * tw + o + tx] = a - b;
            c0[3 * 2 * tw + o + tx] = -b;
          }
        }
        T* out = q + co * count + (r - r0) * tl.tiles_w;
        for (int k = 0; k < 4; ++k) {
          const T* E = comb + k * 2 * tw;
          const T* O = E + tw;
          T* o0 = out + (k * 4 + 0) * stride_xi;
          T* o1 = out + (k * 4 + 1) * stride_xi;
          T* o2 = out + (k * 4 + 2) * stride_xi;
          T* o3 = out + (k * 4 + 3) * stride_xi;
#pragma omp simd
          for (int64_t tx = 0; tx < tw; ++tx) {
            o0[tx] = E[tx];
            o1[tx] = E[tx] + O[tx];
            o2[tx] = E[tx] - O[tx];
            o3[tx] = -O[tx];
          }
        }
      }
  });
}

// Runs f(ξ) for the 16 transformed-domain products, spread over the threads (each
// GEMM then runs on one thread, which suits their modest sizes).
template <class F>
void for_each_xi(F&& f) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int xi = 0; xi < 16; ++xi) f(xi);
}

// Tile rows per chunk: the transformed input, gradient and product of a chunk stay
// near 8 MB, with at least 64 tiles so the GEMMs have columns to work with.
template <class T>
int64_t rows_per_chunk(const ConvGeometry& g, const Tiling& t) {
  const int64_t per_row = 16 * (g.c + g.co) * t.tiles_w * static_cast<int64_t>(sizeof(T));
  const int64_t min_rows = (64 + t.tiles_w - 1) / t.tiles_w;
  return std::clamp<int64_t>((int64_t(8) << 20) / per_row, min_rows, g.n * t.tiles_h);
}

}  // namespace

template <class T>
void winograd_filter_transform(const T* w, const ConvGeometry& g, T* u) {
  const int64_t pairs = g.co * g.c, blocks = (pairs + kFilterBlock - 1) / kFilterBlock;
  parallel_for(blocks, 16, [&](int64_t b_begin, int64_t b_end) {
    for (int64_t blk = b_begin; blk < b_end; ++blk) {
      const int64_t p0 = blk * kFilterBlock, count = std::min(kFilterBlock, pairs - p0);
      T k[9][kFilterBlock] = {}, e[12][kFilterBlock];
      for (int64_t q = 0; q < count; ++q)
        for (int x = 0; x < 9; ++x) k[x][q] = w[(p0 + q) * 9 + x];
      for (int j = 0; j < 3; ++j)  // G g: 4 rows x 3 columns
        for (int64_t q = 0; q < kFilterBlock; ++q) {
          const T k0 = k[0 * 3 + j][q], k1 = k[1 * 3 + j][q], k2 = k[2 * 3 + j][q];
          e[0 * 3 + j][q] = k0;
          e[1 * 3 + j][q] = T(0.5) * (k0 + k1 + k2);
          e[2 * 3 + j][q] = T(0.5) * (k0 - k1 + k2);
          e[3 * 3 + j][q] = k2;
        }
      for (int i = 0; i < 4; ++i) {  // (G g) Gᵀ, stored as U[ξ = 4 i + j][co][c]
        T* row[4];
        for (int j = 0; j < 4; ++j) row[j] = u + (i * 4 + j) * pairs + p0;
        for (int64_t q = 0; q < count; ++q) {
          const T a = e[i * 3 + 0][q], b = e[i * 3 + 1][q], c = e[i * 3 + 2][q];
          row[0][q] = a;
          row[1][q] = T(0.5) * (a + b + c);
          row[2][q] = T(0.5) * (a - b + c);
          row[3][q] = c;
        }
      }
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
  T* v = workspace<T>(kWinogradData, 16 * g.c * max_count);
  T* m = workspace<T>(kWinogradProduct, 16 * g.co * max_count);
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tl.tiles_w;
    transform_input_tiles(x, g, tl, r0, r1, v);
    for_each_xi([&](int xi) {
      dense_gemm(false, false, g.co, count, g.c, u + xi * g.co * g.c, v + xi * g.c * count, m + xi * g.co * count);
    });
    // Aᵀ m A per tile, vectorised over the tiles of a row, then interleaved into the output rows.
    parallel_for(g.co, 1, [&](int64_t c_begin, int64_t c_end) {
      std::vector<T> scratch(4 * tl.tiles_w + 2 * (2 * tl.tiles_w));
      T* col[4];  // per column j of the tile: the vertical half of Aᵀ m A, for output rows 0 and 1
      for (int j = 0; j < 4; ++j) col[j] = scratch.data() + j * tl.tiles_w;
      T* out_rows = scratch.data() + 4 * tl.tiles_w;  // 2 rows of 2 * tiles_w
      for (int64_t co = c_begin; co < c_end; ++co)
        for (int64_t r = r0; r < r1; ++r) {
          const T* mt = m + co * count + (r - r0) * tl.tiles_w;
          const int64_t stride_xi = g.co * count;
          for (int a = 0; a < 2; ++a) {
            for (int j = 0; j < 4; ++j) {
              const T* m0 = mt + (0 * 4 + j) * stride_xi;
              const T* m1 = mt + (1 * 4 + j) * stride_xi;
              const T* m2 = mt + (2 * 4 + j) * stride_xi;
              const T* m3 = mt + (3 * 4 + j) * stride_xi;
              T* cj = col[j];
              if (a == 0) {
#pragma omp simd
                for (int64_t tx = 0; tx < tl.tiles_w; ++tx) cj[tx] = m0[tx] + m1[tx] + m2[tx];
              } else {
#pragma omp simd
                for (int64_t tx = 0; tx < tl.tiles_w; ++tx) cj[tx] = m1[tx] - m2[tx] - m3[tx];
              }
            }
            T* orow = out_rows + a * 2 * tl.tiles_w;
            for (int64_t tx = 0; tx < tl.tiles_w; ++tx) {
              orow[2 * tx] = col[0][tx] + col[1][tx] + col[2][tx];
              orow[2 * tx + 1] = col[1][tx] - col[2][tx] - col[3][tx];
            }
          }
          const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
          T* plane = y + (n * g.co + co) * g.ho * g.wo;
          for (int a = 0; a < 2; ++a)
            if (2 * ty + a < g.ho) std::memcpy(plane + (2 * ty + a) * g.wo, out_rows + a * 2 * tl.tiles_w, g.wo * sizeof(T));
        }
    });
  }
}

template <class T>
void backward_input_images(const T* gy, const T* u, T* gx, const ConvGeometry& g, int64_t n0, int64_t n1) {
  const Tiling tl(g);
  const int64_t rows = rows_per_chunk<T>(g, tl), end_row = n1 * tl.tiles_h;
  const int64_t max_count = rows * tl.tiles_w;
  T* q = workspace<T>(kWinogradGrad, 16 * g.co * max_count);
  T* s = workspace<T>(kWinogradProduct, 16 * g.c * max_count);
  std::fill(gx + n0 * g.c * g.h * g.w, gx + n1 * g.c * g.h * g.w, T(0));
  const int64_t padded_w = 2 * tl.tiles_w + 2, half = tl.tiles_w + 1;
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tl.tiles_w;
    transform_grad_tiles(gy, g, tl, r0, r1, q);
    for_each_xi([&](int xi) {  // S[ξ] = U[ξ]ᵀ · Q[ξ]
      dense_gemm(true, false, g.c, count, g.co, u + xi * g.co * g.c, q + xi * g.co * count, s + xi * g.c * count);
    });
    // B s Bᵀ per tile: horizontally first (into the even/odd columns of 4 padded rows,
    // where neighbouring tiles overlap by one even and one odd column), then vertically
    // into the image rows. One thread per channel plane, as tiles overlap.
    parallel_for(g.c, 1, [&](int64_t c_begin, int64_t c_end) {
      std::vector<T> scratch(8 * half + 4 * padded_w);
      T* even = scratch.data();       // 4 rows of `half`
      T* odd = even + 4 * half;
      T* prow = odd + 4 * half;       // 4 padded rows
      const int64_t stride_xi = g.c * count;
      for (int64_t c = c_begin; c < c_end; ++c)
        for (int64_t r = r0; r < r1; ++r) {
          const T* st = s + c * count + (r - r0) * tl.tiles_w;
          std::fill(even, even + 8 * half, T(0));
          for (int k = 0; k < 4; ++k) {
            const T* s0 = st + (k * 4 + 0) * stride_xi;
            const T* s1 = st + (k * 4 + 1) * stride_xi;
            const T* s2 = st + (k * 4 + 2) * stride_xi;
            const T* s3 = st + (k * 4 + 3) * stride_xi;
            T* E = even + k * half;
            T* O = odd + k * half;
            // d[.][0] = s0, d[.][1] = s1 - s2 + s3, d[.][2] = s1 + s2 - s0, d[.][3] = -s3, at
            // padded columns 2tx, 2tx+1, 2tx+2, 2tx+3.
            for (int64_t tx = 0; tx < tl.tiles_w; ++tx) {
              E[tx] += s0[tx];
              O[tx] += s1[tx] - s2[tx] + s3[tx];
              E[tx + 1] += s1[tx] + s2[tx] - s0[tx];
              O[tx + 1] -= s3[tx];
            }
          }
          for (int k = 0; k < 4; ++k)
            for (int64_t j = 0; j < half; ++j) {
              prow[k * padded_w + 2 * j] = even[k * half + j];
              prow[k * padded_w + 2 * j + 1] = odd[k * half + j];
            }
          // Vertically: image rows y0 + a get (row0, row1 - row2 + row3, row1 + row2 - row0, -row3).
          const int64_t n = r / tl.tiles_h, ty = r % tl.tiles_h;
          T* plane = gx + (n * g.c + c) * g.h * g.w;
          const T* p0 = prow;
          const T* p1 = prow + padded_w;
          const T* p2 = prow + 2 * padded_w;
          const T* p3 = prow + 3 * padded_w;
          const int64_t lo = g.pad, hi = std::min(padded_w, g.pad + g.w);
          for (int a = 0; a < 4; ++a) {
            const int64_t yy = 2 * ty - g.pad + a;
            if (yy < 0 || yy >= g.h) continue;
            T* dst = plane + yy * g.w - g.pad;
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) {
              const T v = a == 0 ? p0[j] : a == 1 ? p1[j] - p2[j] + p3[j] : a == 2 ? p1[j] + p2[j] - p0[j] : -p3[j];
              dst[j] += v;
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
  T* r = workspace<T>(kWinogradFilter, 16 * g.co * g.c);
  T* v = workspace<T>(kWinogradData, 16 * g.c * max_count);
  T* q = workspace<T>(kWinogradGrad, 16 * g.co * max_count);
  for (int64_t r0 = n0 * tl.tiles_h; r0 < end_row; r0 += rows) {
    const int64_t r1 = std::min(end_row, r0 + rows), count = (r1 - r0) * tl.tiles_w;
    transform_input_tiles(x, g, tl, r0, r1, v);
    transform_grad_tiles(gy, g, tl, r0, r1, q);
    for_each_xi([&](int xi) {  // R[ξ] += Q[ξ] · V[ξ]ᵀ
      dense_gemm(false, true, g.co, g.c, count, q + xi * g.co * count, v + xi * g.c * count, r + xi * g.co * g.c,
                 /*accumulate=*/r0 > n0 * tl.tiles_h);
    });
  }
  return r;
}

}  // namespace

template <class T>
void winograd_forward(const T* x, const T* u, T* y, const ConvGeometry& g) {
  for_thread_ranges(g.n, [&](int64_t n0, int64_t n1, int) { forward_images(x, u, y, g, n0, n1); });
}

template <class T>
void winograd_backward_input(const T* gy, const T* u, T* gx, const ConvGeometry& g) {
  for_thread_ranges(g.n, [&](int64_t n0, int64_t n1, int) { backward_input_images(gy, u, gx, g, n0, n1); });
}

template <class T>
void winograd_backward_weight(const T* x, const T* gy, T* gw, const ConvGeometry& g) {
  // Each thread sums its images' part; the parts are added, then transformed back.
  std::vector<T*> parts(omp_get_max_threads(), nullptr);
  const int used = for_thread_ranges(g.n, [&](int64_t n0, int64_t n1, int t) {
    parts[t] = backward_weight_images(x, gy, g, n0, n1);
  });
  T* total = parts[0];
  const int64_t size = 16 * g.co * g.c;
  for (int t = 1; t < used; ++t) {
    const T* part = parts[t];
    parallel_for(size, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) total[i] += part[i];
    });
  }
  filter_transform_adjoint(total, g, gw);
}

bool winograd_applies(const ConvGeometry& g) { return g.kh == 3 && g.kw == 3 && g.stride == 1; }

template void winograd_filter_transform<float>(const float*, const ConvGeometry&, float*);
template void winograd_filter_transform<double>(const double*, const ConvGeometry&, double*);
template void winograd_forward<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_forward<double>(const double*, const double*, double*, const ConvGeometry&);
template void winograd_backward_input<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_backward_input<double>(const double*, const double*, double*, const ConvGeometry&);
template void winograd_backward_weight<float>(const float*, const float*, float*, const ConvGeometry&);
template void winograd_backward_weight<double>(const double*, const double*, double*, const ConvGeometry&);

}  // namespace mmp::cpu
