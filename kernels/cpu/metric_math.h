// kernels/cpu/metric_math.h — per-element metric math shared by the CPU kernels and the CUDA
// kernels (compiled as __host__ __device__ under nvcc), so both backends turn raw sums into
// distances with the very same code, and the CPU tests exercise it.
//
// Definitions (docs/reference.md):
//   cosine similarity = q·r / (|q|·|r|), clamped to [−1, 1]; 0 when either vector is zero
//   cosine distance   = 1 − cosine similarity  (so 1 against a zero vector)
//   dot distance      = −q·r
//   l2 distance       = sqrt(max(Σ(q−r)², 0))
#pragma once

#if defined(__CUDACC__)
#define VG_HD __host__ __device__ __forceinline__
#else
#define VG_HD inline
#endif

namespace vecgraph::kernels {

VG_HD float CosineSimilarityFromParts(float dot, float q_norm, float r_norm_sq) {
  // q_norm is |q| (already a square root); r_norm_sq is |r|².
  // Zero vectors: similarity 0. NaN inputs propagate (callers detect non-finite results).
  if (q_norm == 0.0f || r_norm_sq == 0.0f) return 0.0f;
#if defined(__CUDA_ARCH__)
  float denom = q_norm * sqrtf(r_norm_sq);
#else
  float denom = q_norm * __builtin_sqrtf(r_norm_sq);
#endif
  float s = dot / denom;
  if (s > 1.0f) s = 1.0f;
  if (s < -1.0f) s = -1.0f;
  return s;
}

VG_HD float CosineDistanceFromParts(float dot, float q_norm, float r_norm_sq) {
  return 1.0f - CosineSimilarityFromParts(dot, q_norm, r_norm_sq);
}

// 0 − dot, not −dot: a zero dot product is distance +0, never −0.
VG_HD float DotDistance(float dot) { return 0.0f - dot; }

// Whether float32 parts are trustworthy for a cosine: |q| in [2^−50, 2^50] and |r|² in
// [2^−100, 2^100]. Outside (a tiny vector whose squares underflow — |r|² of [1e-30, 0] is 0 in
// float32 — or a huge one whose dot product can overflow), the CPU recomputes the distance in
// double precision, scale-free (engine/vector/distance.cpp). q_norm = 0 is an exactly zero query
// (callers compute |q| in double), which needs no recomputation; r_norm_sq = 0 may be a tiny
// vector, so it is recomputed. Devices use the float parts as they are; the CPU re-checks the
// rows they report at the zero-vector rule (distance exactly 1) or non-finite.
VG_HD bool CosinePartsInRange(float q_norm, float r_norm_sq) {
  const float kLo = 0x1p-50f, kHi = 0x1p50f, kLo2 = 0x1p-100f, kHi2 = 0x1p100f;
  return (q_norm == 0.0f || (q_norm >= kLo && q_norm <= kHi)) && r_norm_sq >= kLo2 && r_norm_sq <= kHi2;
}

VG_HD float L2DistanceFromSquared(float l2sq) {
  if (!(l2sq > 0.0f)) return 0.0f;
#if defined(__CUDA_ARCH__)
  return sqrtf(l2sq);
#else
  return __builtin_sqrtf(l2sq);
#endif
}

}  // namespace vecgraph::kernels
