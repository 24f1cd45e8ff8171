// kernels/cpu/distance_simd.hpp — the SIMD distance kernels, written once as templates over an
// xsimd architecture tag and instantiated by each per-ISA translation unit (distance_<isa>.cpp).
//
// How it works
//   - Every function lives in an unnamed namespace: each TU that includes this header gets its own
//     copy with internal linkage, so the AVX-512 instantiation can never be picked by the linker
//     for the SSE2 table (the weak-symbol trap of per-ISA TUs). Include it only from per-ISA TUs.
//   - Pairwise kernels (dot, l2sq, norm_sq): four independent accumulators over 4 vectors per
//     step, then one vector per step, then a zero-padded partial load for the tail.
//   - Batch kernels (one query, many rows): one row after the other, in address order, each with
//     the pairwise kernel's four accumulators; the query's tail is loaded once per call. Reading
//     rows strictly sequentially matters most: interleaving 2 or 4 rows (one query chunk shared by
//     several rows) halved the throughput from memory on Zen 4 (10-12 GB/s instead of 20-24),
//     the hardware prefetcher no longer seeing one stream.
//   - Software prefetch (kPrefetchBytes ahead, one per cache line) is implemented but off: on
//     contiguous rows it cost 10-25% on Zen 4 (1, 2, 4, 16 KiB ahead all measured), the hardware
//     prefetcher already streaming at the single-core limit.
//   - Multi kernels (several queries, many rows): blocks of kMultiQueries queries against one row:
//     each row chunk is loaded once into a register and feeds kMultiQueries accumulators, the
//     query chunks are folded into the FMAs from L1. The accumulators are reduced together
//     (transpose-and-add), not one hadd each. Rows are walked in L2-sized tiles so that, with
//     more than kMultiQueries queries, only the first query block reads them from memory.
//   - Tails (dims not a multiple of the lane count) use LoadPartial: a masked load on AVX-512 and
//     AVX2, a zero-padded copy elsewhere. Zero lanes add nothing to any of the accumulations.
//   - n_rows == 0 and dims >= 1 are handled everywhere; dims == 0 returns 0.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/distance.h"
#include "kernels/cpu/typed_kernels.hpp"

// GCC 12's AVX-512 intrinsics use _mm512_undefined_ps() and warn "'__Y' is used uninitialized"
// once inlined here (GCC bug 105593, fixed in later releases): a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vecgraph::kernels {
namespace {  // internal linkage on purpose, see the header comment

template <class A>
using Vec = xsimd::batch<float, A>;

template <class A>
inline constexpr size_t kLanes = Vec<A>::size;

// Floats per cache line (the prefetch step).
inline constexpr size_t kLineFloats = 16;
// Batch kernels: prefetch distance in bytes, 0 = off (see the header comment for why it is off).
inline constexpr size_t kPrefetchBytes = 0;
// Queries sharing each row chunk in the multi kernels (one accumulator each).
inline constexpr size_t kMultiQueries = 8;
// Bytes of rows per tile in the multi kernels (stays in L2 while all query blocks visit it).
inline constexpr size_t kMultiTileBytes = 96 * 1024;

inline void Prefetch(const float* p) { __builtin_prefetch(p, 0, 3); }

// Loads p[0, rem) with 0 < rem < lanes; the other lanes are zero. Never reads past p + rem.
template <class A>
inline Vec<A> LoadPartial(const float* p, size_t rem) {
#if defined(__AVX512F__)
  if constexpr (kLanes<A> == 16) {
    const __mmask16 mask = static_cast<__mmask16>((1u << rem) - 1u);
    return Vec<A>(_mm512_maskz_loadu_ps(mask, p));
  }
#endif
#if defined(__AVX2__)
  if constexpr (kLanes<A> == 8) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), lane);
    return Vec<A>(_mm256_maskload_ps(p, mask));
  }
#endif
  alignas(64) float buf[kLanes<A>] = {};
  for (size_t i = 0; i < rem; ++i) buf[i] = p[i];
  return Vec<A>::load_aligned(buf);
}

template <class A>
inline Vec<A> Load(const float* p) {
  return Vec<A>::load_unaligned(p);
}

// The accumulation steps. kOut accumulators per (query,row) pair; x is the query, y the row.
struct DotOp {
  static constexpr size_t kOut = 1;
  template <class V>
  static inline void Step(V* acc, const V& x, const V& y) {
    acc[0] = xsimd::fma(x, y, acc[0]);
  }
};
struct L2Op {
  static constexpr size_t kOut = 1;
  template <class V>
  static inline void Step(V* acc, const V& x, const V& y) {
    const V d = x - y;
    acc[0] = xsimd::fma(d, d, acc[0]);
  }
};
struct NormOp {  // |x|²; y is ignored (its loads are dead code)
  static constexpr size_t kOut = 1;
  template <class V>
  static inline void Step(V* acc, const V& x, const V&) {
    acc[0] = xsimd::fma(x, x, acc[0]);
  }
};
struct DotNormOp {  // q·row and |row|²
  static constexpr size_t kOut = 2;
  template <class V>
  static inline void Step(V* acc, const V& x, const V& y) {
    acc[0] = xsimd::fma(x, y, acc[0]);
    acc[1] = xsimd::fma(y, y, acc[1]);
  }
};

// ---- pairwise ------------------------------------------------------------------------------

template <class A, class Op>
inline float Pair(const float* a, const float* b, size_t dims) {
  static_assert(Op::kOut == 1);
  constexpr size_t W = kLanes<A>;
  Vec<A> acc0(0.f), acc1(0.f), acc2(0.f), acc3(0.f);
  size_t i = 0;
  for (; i + 4 * W <= dims; i += 4 * W) {
    Op::Step(&acc0, Load<A>(a + i), Load<A>(b + i));
    Op::Step(&acc1, Load<A>(a + i + W), Load<A>(b + i + W));
    Op::Step(&acc2, Load<A>(a + i + 2 * W), Load<A>(b + i + 2 * W));
    Op::Step(&acc3, Load<A>(a + i + 3 * W), Load<A>(b + i + 3 * W));
  }
  for (; i + W <= dims; i += W) Op::Step(&acc0, Load<A>(a + i), Load<A>(b + i));
  if (i < dims) {
    Op::Step(&acc1, LoadPartial<A>(a + i, dims - i), LoadPartial<A>(b + i, dims - i));
  }
  return xsimd::hadd((acc0 + acc1) + (acc2 + acc3));
}

template <class A>
float Dot(const float* a, const float* b, size_t dims) {
  return Pair<A, DotOp>(a, b, dims);
}
template <class A>
float L2Sq(const float* a, const float* b, size_t dims) {
  return Pair<A, L2Op>(a, b, dims);
}
template <class A>
float NormSq(const float* a, size_t dims) {
  return Pair<A, NormOp>(a, a, dims);
}

// ---- gather: one query, rows at arbitrary addresses ------------------------------------------
// Rows are float vectors (dot_gather, l2sq_gather). The 8-bit search codes have their own
// integer kernel (dot_u8s8_gather, typed_kernels.hpp).

// Rows scored together by the gather kernels: each row keeps the pairwise kernel's four
// accumulators, so R rows need 4·R vector registers (AVX-512 has 32, the others 16).
template <class A>
inline constexpr size_t kGatherRows = kLanes<A> == 16 ? 4 : 2;
// Cache lines prefetched per row of the next group (longer rows: the first kGatherPrefetchLines).
inline constexpr size_t kGatherPrefetchLines = 16;

// W consecutive row elements as floats.
template <class A>
inline Vec<A> LoadRow(const float* p) {
  return Load<A>(p);
}
// p[0, rem) with 0 < rem < lanes, the other lanes zero; never reads past p + rem.
template <class A>
inline Vec<A> LoadRowPartial(const float* p, size_t rem) {
  return LoadPartial<A>(p, rem);
}

// R rows against the query, each accumulated exactly like Pair<A, Op>(q, row, dims) (same
// accumulators, same order, same reduction), so every float result is bit-identical to the
// pairwise kernel's. The R rows' loads interleave: R·4 independent FMA chains instead of 4, which
// hides the FMA latency and the misses of rows that are not in cache yet.
template <class A, class Op, size_t R, class Row>
inline void GatherGroup(const float* q, const Row* const* rows, size_t dims, float* out) {
  static_assert(Op::kOut == 1);
  constexpr size_t W = kLanes<A>;
  Vec<A> acc[R][4];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t u = 0; u < 4; ++u) acc[r][u] = Vec<A>(0.f);
  size_t i = 0;
  for (; i + 4 * W <= dims; i += 4 * W) {
#pragma GCC unroll 4
    for (size_t u = 0; u < 4; ++u) {
      const Vec<A> x = Load<A>(q + i + u * W);
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) Op::Step(&acc[r][u], x, LoadRow<A>(rows[r] + i + u * W));
    }
  }
  for (; i + W <= dims; i += W) {
    const Vec<A> x = Load<A>(q + i);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) Op::Step(&acc[r][0], x, LoadRow<A>(rows[r] + i));
  }
  if (i < dims) {
    const Vec<A> x = LoadPartial<A>(q + i, dims - i);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) Op::Step(&acc[r][1], x, LoadRowPartial<A>(rows[r] + i, dims - i));
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) out[r] = xsimd::hadd((acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3]));
}

// Groups of kGatherRows rows; while one group is scored, the next group's rows are prefetched
// (their first kGatherPrefetchLines lines). The last n % kGatherRows rows go one at a time.
template <class A, class Op, class Row>
inline void GatherImpl(const float* q, const Row* const* rows, size_t n, size_t dims, float* out) {
  constexpr size_t R = kGatherRows<A>;
  const size_t lines = std::min((dims * sizeof(Row) + 63) / 64, kGatherPrefetchLines);
  size_t r = 0;
  for (; r + R <= n; r += R) {
    const size_t next_end = std::min(n, r + 2 * R);
    for (size_t p = r + R; p < next_end; ++p) {
      const char* row = reinterpret_cast<const char*>(rows[p]);
      for (size_t l = 0; l < lines; ++l) __builtin_prefetch(row + l * 64, 0, 3);
    }
    GatherGroup<A, Op, R>(q, rows + r, dims, out + r);
  }
  for (; r < n; ++r) GatherGroup<A, Op, 1>(q, rows + r, dims, out + r);
}

template <class A>
void DotGather(const float* q, const float* const* rows, size_t n, size_t dims, float* out) {
  GatherImpl<A, DotOp>(q, rows, n, dims, out);
}
template <class A>
void L2SqGather(const float* q, const float* const* rows, size_t n, size_t dims, float* out) {
  GatherImpl<A, L2Op>(q, rows, n, dims, out);
}

// ---- batch: one query, many rows -------------------------------------------------------------

// One row against the query: four groups of Op::kOut accumulators over 4 vectors per step, then
// one vector per step, then the zero-padded tail (q_tail is the query's tail, loaded once).
// Rows are walked strictly in address order, one after the other: interleaving several rows
// (4 streams 512 bytes apart) halves the throughput from memory on Zen 4, because the hardware
// prefetcher then no longer sees one sequential stream. `pf`, when not null, is the address
// kPrefetchBytes ahead of `row`; one prefetch is issued per cache line.
template <class A, class Op>
inline void BatchRow(const float* q, const float* row, const float* pf, size_t dims,
                     const Vec<A>& q_tail, float* out0, float* out1) {
  constexpr size_t W = kLanes<A>;
  constexpr size_t K = Op::kOut;
  Vec<A> acc[4][K];
#pragma GCC unroll 4
  for (size_t u = 0; u < 4; ++u)
#pragma GCC unroll 2
    for (size_t k = 0; k < K; ++k) acc[u][k] = Vec<A>(0.f);

  size_t i = 0;
  for (; i + 4 * W <= dims; i += 4 * W) {
    if (pf != nullptr) {
#pragma GCC unroll 4
      for (size_t l = 0; l < 4 * W; l += kLineFloats) Prefetch(pf + i + l);
    }
#pragma GCC unroll 4
    for (size_t u = 0; u < 4; ++u) {
      Op::Step(acc[u], Load<A>(q + i + u * W), Load<A>(row + i + u * W));
    }
  }
  for (; i + W <= dims; i += W) Op::Step(acc[0], Load<A>(q + i), Load<A>(row + i));
  if (i < dims) Op::Step(acc[1], q_tail, LoadPartial<A>(row + i, dims - i));

#pragma GCC unroll 2
  for (size_t k = 0; k < K; ++k) {
    const float sum = xsimd::hadd((acc[0][k] + acc[1][k]) + (acc[2][k] + acc[3][k]));
    if (k == 0) *out0 = sum;
    else *out1 = sum;
  }
}

template <class A, class Op>
inline void BatchImpl(const float* q, const float* rows, size_t n_rows, size_t dims, float* out0,
                      float* out1) {
  if (n_rows == 0) return;
  constexpr size_t W = kLanes<A>;
  const size_t tail = dims % W;
  const Vec<A> q_tail = tail ? LoadPartial<A>(q + (dims - tail), tail) : Vec<A>(0.f);
  // Rows [0, n_pf) get a prefetch kPrefetchBytes ahead; the prefetched range stays in bounds.
  const size_t pf_floats = kPrefetchBytes / sizeof(float);
  const size_t pf_rows = (pf_floats + dims - 1) / dims;
  const size_t n_pf = (kPrefetchBytes > 0 && n_rows > pf_rows) ? n_rows - pf_rows : 0;
  size_t r = 0;
  for (; r < n_pf; ++r) {
    const float* row = rows + r * dims;
    BatchRow<A, Op>(q, row, row + pf_floats, dims, q_tail, out0 + r,
                    Op::kOut > 1 ? out1 + r : nullptr);
  }
  for (; r < n_rows; ++r) {
    BatchRow<A, Op>(q, rows + r * dims, nullptr, dims, q_tail, out0 + r,
                    Op::kOut > 1 ? out1 + r : nullptr);
  }
}

template <class A>
void DotBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* out) {
  if (dims == 0) {
    for (size_t r = 0; r < n_rows; ++r) out[r] = 0.f;
    return;
  }
  BatchImpl<A, DotOp>(q, rows, n_rows, dims, out, nullptr);
}
template <class A>
void L2SqBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* out) {
  if (dims == 0) {
    for (size_t r = 0; r < n_rows; ++r) out[r] = 0.f;
    return;
  }
  BatchImpl<A, L2Op>(q, rows, n_rows, dims, out, nullptr);
}
template <class A>
void DotNormBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* dots,
                  float* norms_sq) {
  if (dims == 0) {
    for (size_t r = 0; r < n_rows; ++r) dots[r] = norms_sq[r] = 0.f;
    return;
  }
  BatchImpl<A, DotNormOp>(q, rows, n_rows, dims, dots, norms_sq);
}

// ---- multi: several queries, many rows -------------------------------------------------------

#if defined(__AVX512F__)
// Horizontal sums of eight zmm vectors: element k of the result is the sum of a[k].
// (Two-source permutes rather than _mm512_shuffle_f32x4, which trips a false -Wuninitialized in
// GCC 12's headers.)
inline __m256 Reduce8(const __m512* a) {
  const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                       31);
  __m512 s[4];
  for (int k = 0; k < 4; ++k) {  // 512 -> 256 bits: s[k] = [a(2k) folded | a(2k+1) folded]
    s[k] = _mm512_add_ps(_mm512_permutex2var_ps(a[2 * k], lo, a[2 * k + 1]),
                         _mm512_permutex2var_ps(a[2 * k], hi, a[2 * k + 1]));
  }
  // 256 -> 128 bits: 128-bit lane j of x holds a(j) folded, of y holds a(4 + j).
  const __m512i even = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  const __m512i odd = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30,
                                        31);
  const __m512 x = _mm512_add_ps(_mm512_permutex2var_ps(s[0], even, s[1]),
                                 _mm512_permutex2var_ps(s[0], odd, s[1]));
  const __m512 y = _mm512_add_ps(_mm512_permutex2var_ps(s[2], even, s[3]),
                                 _mm512_permutex2var_ps(s[2], odd, s[3]));
  // Inside each 128-bit lane j: element 0 = sum a(j), element 1 = sum a(4 + j).
  __m512 p = _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
  p = _mm512_add_ps(p, _mm512_permute_ps(p, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps256(_mm512_permutexvar_ps(order, p));
}
#endif

// Writes the horizontal sums of acc[0..QB) to out[a * stride], reducing several accumulators
// together where that is cheaper than QB separate hadds: own intrinsics on AVX-512 (xsimd 8.1's
// AVX-512 haddp returns its sums in the wrong order), xsimd::haddp on SSE/AVX (checked by the
// tests), one hadd per accumulator elsewhere.
template <class A, size_t QB>
inline void ReduceStore(const Vec<A>* acc, float* out, size_t stride) {
  [[maybe_unused]] constexpr size_t W = kLanes<A>;
#if defined(__AVX512F__)
  if constexpr (W == 16 && QB > 1) {
    for (size_t g = 0; g < QB; g += 8) {
      __m512 group[8];
#pragma GCC unroll 8
      for (size_t k = 0; k < 8; ++k) {
        group[k] = (g + k < QB) ? static_cast<__m512>(acc[g + k]) : _mm512_setzero_ps();
      }
      alignas(32) float sums[8];
      _mm256_store_ps(sums, Reduce8(group));
      for (size_t k = 0; k < 8 && g + k < QB; ++k) out[(g + k) * stride] = sums[k];
    }
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr ((W == 4 || W == 8) && QB > 1) {
    for (size_t g = 0; g < QB; g += W) {
      Vec<A> group[W];
#pragma GCC unroll 8
      for (size_t k = 0; k < W; ++k) group[k] = (g + k < QB) ? acc[g + k] : Vec<A>(0.f);
      alignas(32) float sums[W];
      xsimd::haddp(group).store_aligned(sums);
      for (size_t k = 0; k < W && g + k < QB; ++k) out[(g + k) * stride] = sums[k];
    }
    return;
  }
#endif
#pragma GCC unroll 8
  for (size_t k = 0; k < QB; ++k) out[k * stride] = xsimd::hadd(acc[k]);
}

// QB queries (stride dims, starting at q) against one row. Result a goes to out[a * n_rows].
// The row chunk is loaded once and used by QB independent accumulators; the query chunks come
// from L1. One row at a time keeps the reads from memory a single sequential stream.
template <class A, class Op, size_t QB>
inline void MultiRow(const float* q, const float* row, size_t dims, size_t n_rows, float* out) {
  constexpr size_t W = kLanes<A>;
  Vec<A> acc[QB];
#pragma GCC unroll 16
  for (size_t a = 0; a < QB; ++a) acc[a] = Vec<A>(0.f);
  size_t i = 0;
  for (; i + W <= dims; i += W) {
    const Vec<A> rv = Load<A>(row + i);
#pragma GCC unroll 16
    for (size_t a = 0; a < QB; ++a) Op::Step(&acc[a], Load<A>(q + a * dims + i), rv);
  }
  if (i < dims) {
    const size_t rem = dims - i;
    const Vec<A> rv = LoadPartial<A>(row + i, rem);
#pragma GCC unroll 16
    for (size_t a = 0; a < QB; ++a) Op::Step(&acc[a], LoadPartial<A>(q + a * dims + i, rem), rv);
  }
  ReduceStore<A, QB>(acc, out, n_rows);
}

// Rows [r0, r1) against QB queries.
template <class A, class Op, size_t QB>
inline void MultiTile(const float* q, const float* rows, size_t r0, size_t r1, size_t n_rows,
                      size_t dims, float* out) {
  for (size_t r = r0; r < r1; ++r) MultiRow<A, Op, QB>(q, rows + r * dims, dims, n_rows, out + r);
}

template <class A, class Op, size_t QB>
inline void MultiTileLeft(size_t left, const float* q, const float* rows, size_t r0, size_t r1,
                          size_t n_rows, size_t dims, float* out) {
  if constexpr (QB > 0) {
    if (left == QB) {
      MultiTile<A, Op, QB>(q, rows, r0, r1, n_rows, dims, out);
    } else {
      MultiTileLeft<A, Op, QB - 1>(left, q, rows, r0, r1, n_rows, dims, out);
    }
  }
}

template <class A, class Op>
inline void MultiImpl(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
                      size_t dims, float* out) {
  if (n_rows == 0 || n_queries == 0) return;
  if (dims == 0) {
    for (size_t k = 0; k < n_queries * n_rows; ++k) out[k] = 0.f;
    return;
  }
  // Tiles of rows that stay in L2 while every block of queries visits them: the first block
  // reads the rows from memory, the others from L2.
  size_t tile_rows = kMultiTileBytes / (dims * sizeof(float));
  if (tile_rows == 0) tile_rows = 1;
  for (size_t r0 = 0; r0 < n_rows; r0 += tile_rows) {
    const size_t r1 = (n_rows - r0 > tile_rows) ? r0 + tile_rows : n_rows;
    size_t qi = 0;
    for (; qi + kMultiQueries <= n_queries; qi += kMultiQueries) {
      MultiTile<A, Op, kMultiQueries>(queries + qi * dims, rows, r0, r1, n_rows, dims,
                                      out + qi * n_rows);
    }
    MultiTileLeft<A, Op, kMultiQueries - 1>(n_queries - qi, queries + qi * dims, rows, r0, r1,
                                            n_rows, dims, out + qi * n_rows);
  }
}

template <class A>
void DotMulti(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
              size_t dims, float* out) {
  MultiImpl<A, DotOp>(queries, n_queries, rows, n_rows, dims, out);
}
template <class A>
void L2SqMulti(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
               size_t dims, float* out) {
  MultiImpl<A, L2Op>(queries, n_queries, rows, n_rows, dims, out);
}

// The table for one architecture tag.
template <class A>
constexpr KernelTable MakeKernelTable(Isa isa) {
  return KernelTable{
      isa,
      /* dot */ &Dot<A>,
      /* l2sq */ &L2Sq<A>,
      /* norm_sq */ &NormSq<A>,
      /* dot_batch */ &DotBatch<A>,
      /* l2sq_batch */ &L2SqBatch<A>,
      /* dot_norm_batch */ &DotNormBatch<A>,
      /* dot_multi */ &DotMulti<A>,
      /* l2sq_multi */ &L2SqMulti<A>,
      /* dot_gather */ &DotGather<A>,
      /* l2sq_gather */ &L2SqGather<A>,
      /* dot_u8s8_gather */ &DotU8S8Gather,
      /* dot_i8 */ &DotI8,
      /* l2sq_i8 */ &L2SqI8,
      /* f16_to_f32 */ &F16ToF32,
      /* bf16_to_f32 */ &BF16ToF32,
      /* hamming */ &Hamming,
  };
}

}  // namespace
}  // namespace vecgraph::kernels

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
