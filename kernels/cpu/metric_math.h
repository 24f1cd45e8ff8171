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

VG_HD float DotDistance(float dot) { return -dot; }

VG_HD float L2DistanceFromSquared(float l2sq) {
  if (!(l2sq > 0.0f)) return 0.0f;
#if defined(__CUDA_ARCH__)
  return sqrtf(l2sq);
#else
  return __builtin_sqrtf(l2sq);
#endif
}

}  // namespace vecgraph::kernels
