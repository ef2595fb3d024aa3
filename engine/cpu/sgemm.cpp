// Single-precision GEMM for the convolution kernels, after BLIS (Van Zee & van de
// Geijn, 2015): A and B are packed into micro-panels sized for the caches, and a
// register-blocked micro-kernel computes one MR x NR tile of C per call. Written with
// GCC vector extensions, so the same code becomes AVX-512, AVX2 or SSE depending on
// -march. It writes C directly (no zeroing pass) and never spawns threads inside an
// OpenMP region.
#include "engine/cpu/sgemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "engine/cpu/workspace.h"

namespace mmp::cpu {
namespace {

// Micro-tiles of kMR rows x kVectors vectors: 24 accumulators of the 32 AVX-512
// registers (rows of 8 divide the 64-multiple channel counts of ResNets), 12 of 16 for AVX2.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kMR = 8;
constexpr int kVectors = 3;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
constexpr int kMR = 6;
constexpr int kVectors = 2;
#else
constexpr int kLanes = 4;
constexpr int kMR = 6;
constexpr int kVectors = 2;
#endif
constexpr int kNR = kVectors * kLanes;
constexpr int64_t kKC = 256;  // depth of a packed panel
constexpr int64_t kMC = 16 * kMR;
constexpr int64_t kNC = 128 * kNR;

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef float UnalignedVec __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

inline Vec load(const float* p) { return *reinterpret_cast<const UnalignedVec*>(p); }
inline void store(float* p, Vec v) { *reinterpret_cast<UnalignedVec*>(p) = v; }

// C[0:mr, 0:nr] (=|+=) A~ · B~ for packed panels a[k * kMR + i] and b[k * V * kLanes + j].
// The last column panel of a product is as narrow as its columns allow (V vectors), so
// widths that kNR does not divide (64 channels, 147 = 3 * 7 * 7 rows) waste no lanes.
template <int V>
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                  bool accumulate, int mr, int nr) {
  constexpr int kWidth = V * kLanes;
  Vec acc[kMR][V];
#pragma GCC unroll 16
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = Vec{};
  for (int64_t k = 0; k < kc; ++k) {
    Vec bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = load(b + k * kWidth + v * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i) {
      const float ai = a[k * kMR + i];  // a scalar operand is broadcast
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] += ai * bv[v];
    }
  }
  if (mr == kMR && nr == kWidth) {
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) store(row + v * kLanes, accumulate ? load(row + v * kLanes) + acc[i][v] : acc[i][v]);
    }
    return;
  }
  float tile[kMR][kWidth];
  for (int i = 0; i < kMR; ++i)
    for (int v = 0; v < V; ++v) store(tile[i] + v * kLanes, acc[i][v]);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i][j] : tile[i][j];
}

// The vectors that a column panel of nr columns spans.
inline int panel_vectors(int64_t nr) { return static_cast<int>((nr + kLanes - 1) / kLanes); }

void micro_kernel_for(int vectors, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
                      int mr, int nr) {
  static_assert(kVectors >= 2 && kVectors <= 3);
  if (vectors == 1) return micro_kernel<1>(kc, a, b, c, ldc, accumulate, mr, nr);
  if (vectors == 2) return micro_kernel<2>(kc, a, b, c, ldc, accumulate, mr, nr);
  return micro_kernel<kVectors>(kc, a, b, c, ldc, accumulate, mr, nr);
}

// dst[p * ld_dst + r] = src[r * ld_src + p] for r < rows, p < len: the transposing half
// of packing. In 8 x 8 blocks through AVX registers where the CPU has them, as scalar
// stores of one element per cache line are what made packing slow.
void transpose_rows(const float* src, int64_t ld_src, int rows, int64_t len, float* dst, int64_t ld_dst) {
  int r = 0;
#if defined(__AVX2__)
  for (; r + 8 <= rows; r += 8) {
    int64_t p = 0;
    for (; p + 8 <= len; p += 8) {
      const float* s = src + r * ld_src + p;
      __m256 v[8], t[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(s + i * ld_src);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        v[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        v[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        v[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      float* d = dst + p * ld_dst + r;
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(d + i * ld_dst, _mm256_permute2f128_ps(v[i], v[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ld_dst, _mm256_permute2f128_ps(v[i], v[i + 4], 0x31));
      }
    }
    for (; p < len; ++p)
      for (int i = 0; i < 8; ++i) dst[p * ld_dst + r + i] = src[(r + i) * ld_src + p];
  }
#endif
  for (; r < rows; ++r)
    for (int64_t p = 0; p < len; ++p) dst[p * ld_dst + r] = src[r * ld_src + p];
}

// A~: rows [i0, i0 + mc) x depth [p0, p0 + kc) of op(A) as kMR-row panels
// (panel[p * kMR + i]), zero-padded. Each loop reads memory along its rows.
void pack_a(const float* a, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
    float* panel = out + ir * kc;
    if (trans) {  // op(A)[i][p] = a[p][i]: rows of a are contiguous in i
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + i0 + ir;
        for (int i = 0; i < kMR; ++i) panel[p * kMR + i] = i < mr ? src[i] : 0.0f;
      }
    } else {  // op(A)[i][p] = a[i][p]: rows contiguous in p
      transpose_rows(a + (i0 + ir) * lda + p0, lda, mr, kc, panel, kMR);
      for (int64_t p = 0; p < kc; ++p)
        for (int i = mr; i < kMR; ++i) panel[p * kMR + i] = 0.0f;
    }
  }
}

// B~: depth [p0, p0 + kc) x columns [j0, j0 + nc) of op(B) as column panels
// (panel[p * width + j]) of kNR columns, the last one panel_vectors(nr) * kLanes wide,
// zero-padded.
void pack_b(const float* b, int64_t ldb, bool trans, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t jr = 0; jr < nc; jr += kNR) {
    const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
    const int width = panel_vectors(nr) * kLanes;
    float* panel = out + jr * kc;
    if (!trans) {  // op(B)[p][j] = b[p][j]: rows contiguous in j
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + jr;
        if (nr == width) {
          std::memcpy(panel + p * width, src, width * sizeof(float));
        } else {
          for (int j = 0; j < width; ++j) panel[p * width + j] = j < nr ? src[j] : 0.0f;
        }
      }
    } else {  // op(B)[p][j] = b[j][p]: rows of b contiguous in p
      transpose_rows(b + (j0 + jr) * ldb + p0, ldb, nr, kc, panel, width);
      for (int64_t p = 0; p < kc; ++p)
        for (int j = nr; j < width; ++j) panel[p * width + j] = 0.0f;
    }
  }
}

// One thread's share: rows [m_begin, m_end) and columns [n_begin, n_end) of C.
void sgemm_block(const SgemmArgs& g, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  float* a_packed = workspace<float>(kPackA, kMC * kKC);
  float* b_packed = workspace<float>(kPackB, kKC * kNC);
  for (int64_t jc = n_begin; jc < n_end; jc += kNC) {
    const int64_t nc = std::min(kNC, n_end - jc);
    for (int64_t pc = 0; pc < g.k; pc += kKC) {
      const int64_t kc = std::min(kKC, g.k - pc);
      const bool accumulate = g.accumulate || pc > 0;
      pack_b(g.b, g.ldb, g.trans_b, pc, kc, jc, nc, b_packed);
      for (int64_t ic = m_begin; ic < m_end; ic += kMC) {
        const int64_t mc = std::min(kMC, m_end - ic);
        pack_a(g.a, g.lda, g.trans_a, ic, mc, pc, kc, a_packed);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += kMR)
            micro_kernel_for(panel_vectors(nr), kc, a_packed + ir * kc, b_packed + jr * kc,
                             g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, accumulate,
                             static_cast<int>(std::min<int64_t>(kMR, mc - ir)), nr);
        }
      }
    }
  }
}

}  // namespace

void sgemm(const SgemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) {
    if (!g.accumulate)
      for (int64_t i = 0; i < g.m; ++i) std::fill(g.c + i * g.ldc, g.c + i * g.ldc + g.n, 0.0f);
    return;
  }
  // Threads split C in whole micro-panels: by columns when there are plenty, else by
  // rows. Small products stay on one thread.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || g.m * g.n * g.k < (int64_t(1) << 21)) {
    sgemm_block(g, 0, g.m, 0, g.n);
    return;
  }
  const int64_t col_panels = (g.n + kNR - 1) / kNR, row_panels = (g.m + kMR - 1) / kMR;
  const bool by_columns = col_panels >= 4 * threads || col_panels >= row_panels;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    if (by_columns) {
      const int64_t begin = col_panels * t / threads * kNR, end = std::min(g.n, col_panels * (t + 1) / threads * kNR);
      if (begin < end) sgemm_block(g, 0, g.m, begin, end);
    } else {
      const int64_t begin = row_panels * t / threads * kMR, end = std::min(g.m, row_panels * (t + 1) / threads * kMR);
      if (begin < end) sgemm_block(g, begin, end, 0, g.n);
    }
  }
}

}  // namespace mmp::cpu
