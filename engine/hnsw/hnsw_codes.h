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
//   - Code-space distances need one kernel call per expanded node (KernelTable::dot_u8_gather,
//     S = Σ q[j]·code[j]) and two multiply-adds per row: q·x̂ = lo·Σq + step·S;
//     |q − x̂|² = |q|² − 2·q·x̂ + |x̂|² with |x̂|² kept per vector.
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

}  // namespace vecgraph::hnsw
