// engine/vector/distance.h — metric distances over the dispatched CPU kernels.
//
// PairDistance / PairSimilarity serve the scalar SQL functions; BatchDistances serves the CPU
// backend (one query against a block of rows); RowDistance streams one row. All compute in
// float32 with the same kernels and the same per-element math (kernels/cpu/metric_math.h).
//
// The one rule for every distance (vec_distance, vec_topk, hnsw_knn, hnsw_knn_batch): it is a
// float32 value. When float32 arithmetic cannot be trusted on finite input — a sum overflows
// (|x| near 1e38), or a cosine's norms are outside the range where float32 squares keep their
// precision (CosinePartsInRange: tiny vectors such as [1e-30, 0], huge ones) — it is recomputed in
// double precision (cosine scale-free: every non-zero vector has a direction) and rounded to
// float32, which is ±infinity when the distance itself is beyond float32's range (a dot product
// of two vectors near 1e38). So no result is NaN, and a ranking by these values puts −infinity
// first and +infinity last. Zero vectors: cosine similarity 0 (distance 1). Rows holding NaN or
// infinity stay non-finite so callers can report them.
#pragma once

#include <cstddef>

#include "engine/vector/codec.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/metric_math.h"

namespace vecgraph {

float PairDistance(Metric metric, const float* a, const float* b, size_t dims);
// metric must be cosine or dot. 1 − cosine distance, or a·b (= −dot distance).
float PairSimilarity(Metric metric, const float* a, const float* b, size_t dims);
// int8 vectors: Σ a·b, Σ (a − b)² and the norms exactly in integers (kernels dot_i8 / l2sq_i8),
// then the metric in double, rounded once to float32 (zero vectors: cosine similarity 0).
float PairDistanceI8(Metric metric, const int8_t* a, const int8_t* b, size_t dims);
float PairSimilarityI8(Metric metric, const int8_t* a, const int8_t* b, size_t dims);
// |a|: float32 kernels when that is exact enough, else double (no under- or overflow for any
// finite float input). 0 only for a zero vector.
double Norm(const float* a, size_t dims);
// The unit vector a / |a| (a zero vector stays zero), normalised in double by a plain sequential
// loop, so the same bits on every ISA: what the cosine index stores and vec_normalize returns.
void UnitVector(const float* a, size_t dims, float* out);
// The recomputation for one row (double precision, scale-free cosine), rounded to float32.
float WideDistance(Metric metric, const float* q, const float* row, size_t dims);

// out[r] = distance(q, rows[r]) for r in [0, n_rows). q_norm = |q| (used by cosine only).
// scratch must hold n_rows floats (cosine only; may be null for other metrics).
void BatchDistances(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm,
                    const float* rows, size_t n_rows, size_t dims, float* out, float* scratch);

// RowDistance for cosine: the same, with the norm check of BatchDistances.
inline float RowCosineDistance(const kernels::KernelTable& kt, const float* q, float q_norm, const float* row,
                               size_t dims) {
  float dot, nsq;
  kt.dot_norm_batch(q, row, 1, dims, &dot, &nsq);
  float d = kernels::CosineDistanceFromParts(dot, q_norm, nsq);
  if (__builtin_expect(!__builtin_isfinite(d) || !kernels::CosinePartsInRange(q_norm, nsq), 0)) {
    float scratch;
    BatchDistances(kt, Metric::kCosine, q, q_norm, row, 1, dims, &d, &scratch);
  }
  return d;
}

// One row: the same arithmetic as BatchDistances with n_rows = 1 (bit-identical), inlined for
// producers that stream rows one at a time (vec_topk on the CPU).
inline float RowDistance(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm, const float* row,
                         size_t dims) {
  float d;
  switch (metric) {
    case Metric::kCosine: return RowCosineDistance(kt, q, q_norm, row, dims);
    case Metric::kDot: {
      float dot;
      kt.dot_batch(q, row, 1, dims, &dot);
      d = kernels::DotDistance(dot);
      break;
    }
    default: {
      float l2;
      kt.l2sq_batch(q, row, 1, dims, &l2);
      d = kernels::L2DistanceFromSquared(l2);
      break;
    }
  }
  if (__builtin_expect(!__builtin_isfinite(d), 0)) {
    float scratch;
    BatchDistances(kt, metric, q, q_norm, row, 1, dims, &d, &scratch);  // the overflow fallback
  }
  return d;
}



}  // namespace vecgraph
