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

namespace vecgraph {

double PairDistance(Metric metric, const float* a, const float* b, size_t dims);
// metric must be cosine or dot.
double PairSimilarity(Metric metric, const float* a, const float* b, size_t dims);
double Norm(const float* a, size_t dims);

// out[r] = distance(q, rows[r]) for r in [0, n_rows). q_norm = |q| (used by cosine only).
// scratch must hold n_rows floats (cosine only; may be null for other metrics).
void BatchDistances(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm,
                    const float* rows, size_t n_rows, size_t dims, float* out, float* scratch);

}  // namespace vecgraph
