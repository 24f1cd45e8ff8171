// engine/hnsw/hnsw_codes.h — the search codes: an 8-bit copy of every stored vector that the
// k-NN graph walk reads instead of the float vector.
//
// How it works
//   - Each stored vector x (the unit vector for cosine) gets its own scale: lo = min x[j],
//     step = (max x[j] − lo) / 255, code[j] = round((x[j] − lo) / step) ∈ 0..255, so
//     x̂[j] = lo + step·code[j] is within step/2 of x[j] (per-vector scalar quantisation, as in
//     LVQ). A vector needs dim bytes instead of 4·dim: the graph walk touches a quarter of the
//     memory, and the codes plus the level-0 links of a 100k×128 index (26 MB) stay in the last
//     level cache where the floats (51 MB) did not.
//   - Code-space distances need one kernel call per expanded node and two multiply-adds per row.
//     The query is quantized too (QuantizeQuery: q[j] ≈ s_q·t[j], t[j] ∈ −127..127, per query),
//     so the sum is over integers, S = Σ t[j]·code[j] (KernelTable::dot_u8s8_gather: exact in
//     int32, 64 products per instruction with AVX-512 VNNI), and q·x̂ ≈ lo·Σq + step·s_q·S;
//     |q − x̂|² = |q|² − 2·q·x̂ + |x̂|² with |x̂|² kept per vector. The exact integer sum makes
//     the walk the same on every ISA.
//   - Only query-time walks use them (k-NN search, filtered search, batch search). The best ef
//     nodes of a walk are re-scored from the float vectors before they are sorted and cut to k,
//     so reported distances and the order of the rows returned are exact; only which nodes the
//     walk visits depends on the codes. Inserts build the graph from the float vectors: the
//     graph, and everything persisted, is unchanged by the codes.
//   - The codes are a pure function of the stored vector (no trained parameters), so every
//     connection, process and reload computes the same bytes and walks the same way. They live
//     only in memory and are rebuilt from the vectors on load; nothing is stored on disk.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace vecgraph::hnsw {

// Per-vector scale of the codes (16 bytes: four to a cache line).
struct CodeScale {
  float lo = 0;    // x̂[j] = lo + step·code[j]
  float step = 0;
  float sq = 0;    // |x̂|² (for L2)
  float pad = 0;
};
static_assert(sizeof(CodeScale) == 16);

// Encodes x[0, dim) into code[0, dim) and its scale. Deterministic (double arithmetic, round half
// away from zero); a constant vector gets step 0 and codes 0.
inline CodeScale EncodeCodes(const float* x, size_t dim, uint8_t* code) {
  CodeScale s;
  if (dim == 0) return s;
  float lo = x[0], hi = x[0];
  for (size_t j = 1; j < dim; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  const double step = (static_cast<double>(hi) - lo) / 255.0;
  s.lo = lo;
  s.step = static_cast<float>(step);
  double sq = 0;
  for (size_t j = 0; j < dim; ++j) {
    double c = 0;
    if (s.step > 0) c = std::clamp(std::round((static_cast<double>(x[j]) - lo) / step), 0.0, 255.0);
    code[j] = static_cast<uint8_t>(c);
    const double xh = static_cast<double>(s.lo) + static_cast<double>(s.step) * c;
    sq += xh * xh;
  }
  s.sq = static_cast<float>(sq);
  return s;
}

// The query side of a coded walk: q[j] ≈ scale · code[j] with code[j] = round(q[j] / scale) ∈
// −127..127 and scale = max |q[j]| / 127 (0 for a zero query). Returns the scale. Deterministic
// (double arithmetic; ±0.5 then truncation: half away from zero, without a libm call per
// element), so the integer sums Σ code[j]·x_code[j] the walk orders nodes by are the same on
// every machine.
inline float QuantizeQuery(const float* q, size_t dim, int8_t* code) {
  double m = 0;
  for (size_t j = 0; j < dim; ++j) m = std::max(m, std::fabs(static_cast<double>(q[j])));
  if (!(m > 0)) {
    std::fill(code, code + dim, int8_t{0});
    return 0;
  }
  const double inv = 127.0 / m;
  for (size_t j = 0; j < dim; ++j) {
    const double x = std::clamp(static_cast<double>(q[j]) * inv, -127.0, 127.0);
    code[j] = static_cast<int8_t>(static_cast<int>(x + (x >= 0 ? 0.5 : -0.5)));
  }
  return static_cast<float>(m / 127.0);
}

}  // namespace vecgraph::hnsw
