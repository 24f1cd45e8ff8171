// engine/vector/distance.h — metric distances over the dispatched CPU kernels.
//
// PairDistance / PairSimilarity serve the scalar SQL functions; BatchDistances serves the CPU
// backend (one query against a block of rows). Both compute in float32 with the same kernels and
// the same per-element math (kernels/cpu/metric_math.h). If float arithmetic overflows on finite
// input (|x| near 1e38), the value is recomputed in double so no result is ever NaN.
#pragma once

#include <cstddef>

#include "engine/vector/codec.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/metric_math.h"

namespace vecgraph {

double PairDistance(Metric metric, const float* a, const float* b, size_t dims);
// metric must be cosine or dot.
double PairSimilarity(Metric metric, const float* a, const float* b, size_t dims);
double Norm(const float* a, size_t dims);

// out[r] = distance(q, rows[r]) for r in [0, n_rows). q_norm = |q| (used by cosine only).
// scratch must hold n_rows floats (cosine only; may be null for other metrics).
void BatchDistances(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm,
                    const float* rows, size_t n_rows, size_t dims, float* out, float* scratch);

// One row: the same arithmetic as BatchDistances with n_rows = 1 (bit-identical), inlined for
// producers that stream rows one at a time (vec_topk on the CPU).
inline float RowDistance(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm, const float* row,
                         size_t dims) {
  float d;
  switch (metric) {
    case Metric::kCosine: {
      float dot, nsq;
      kt.dot_norm_batch(q, row, 1, dims, &dot, &nsq);
      d = kernels::CosineDistanceFromParts(dot, q_norm, nsq);
      break;
    }
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
