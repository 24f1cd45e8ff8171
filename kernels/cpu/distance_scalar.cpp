// kernels/cpu/distance_scalar.cpp — the scalar reference kernels and IsaName().
//
// Plain loops that accumulate in double and return float: the reference every SIMD table is
// tested against (tests/kernels_test.cpp), and the fallback when no SIMD table can run. Built with
// -fno-tree-vectorize so it stays the plain reference it claims to be.
#include "kernels/cpu/distance.h"
#include "kernels/cpu/typed_kernels.hpp"

namespace vecgraph::kernels {
namespace {

double DotD(const float* a, const float* b, size_t dims) {
  double s = 0.0;
  for (size_t i = 0; i < dims; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

double L2SqD(const float* a, const float* b, size_t dims) {
  double s = 0.0;
  for (size_t i = 0; i < dims; ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return s;
}

float Dot(const float* a, const float* b, size_t dims) {
  return static_cast<float>(DotD(a, b, dims));
}
float L2Sq(const float* a, const float* b, size_t dims) {
  return static_cast<float>(L2SqD(a, b, dims));
}
float NormSq(const float* a, size_t dims) { return static_cast<float>(DotD(a, a, dims)); }

void DotBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = Dot(q, rows + r * dims, dims);
}
void L2SqBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = L2Sq(q, rows + r * dims, dims);
}
void DotNormBatch(const float* q, const float* rows, size_t n_rows, size_t dims, float* dots,
                  float* norms_sq) {
  for (size_t r = 0; r < n_rows; ++r) {
    dots[r] = Dot(q, rows + r * dims, dims);
    norms_sq[r] = NormSq(rows + r * dims, dims);
  }
}
void DotMulti(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
              size_t dims, float* out) {
  for (size_t q = 0; q < n_queries; ++q) {
    DotBatch(queries + q * dims, rows, n_rows, dims, out + q * n_rows);
  }
}
void L2SqMulti(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
               size_t dims, float* out) {
  for (size_t q = 0; q < n_queries; ++q) {
    L2SqBatch(queries + q * dims, rows, n_rows, dims, out + q * n_rows);
  }
}

void DotGather(const float* q, const float* const* rows, size_t n, size_t dims, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = Dot(q, rows[r], dims);
}
void L2SqGather(const float* q, const float* const* rows, size_t n, size_t dims, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = L2Sq(q, rows[r], dims);
}

constexpr KernelTable kScalarTable{
    Isa::kScalar,
    /* dot */ &Dot,
    /* l2sq */ &L2Sq,
    /* norm_sq */ &NormSq,
    /* dot_batch */ &DotBatch,
    /* l2sq_batch */ &L2SqBatch,
    /* dot_norm_batch */ &DotNormBatch,
    /* dot_multi */ &DotMulti,
    /* l2sq_multi */ &L2SqMulti,
    /* dot_gather */ &DotGather,
    /* l2sq_gather */ &L2SqGather,
    /* dot_u8s8_gather */ &DotU8S8Gather,
    /* dot_i8 */ &DotI8,
    /* l2sq_i8 */ &L2SqI8,
    /* f16_to_f32 */ &F16ToF32,
    /* bf16_to_f32 */ &BF16ToF32,
    /* hamming */ &Hamming,
};

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kSse2: return "sse2";
    case Isa::kSse42: return "sse4.2";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "unknown";
}

const KernelTable& ScalarKernels() { return kScalarTable; }

}  // namespace vecgraph::kernels
