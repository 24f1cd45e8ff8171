// kernels/cpu/distance.h — CPU distance kernels with run-time ISA dispatch.
//
// How it works
//   Each instruction set has its own translation unit (distance_<isa>.cpp) compiled with only that
//   ISA's flags (never -march=native). Each TU instantiates the same xsimd templates
//   (distance_simd.hpp) for its architecture tag and exports one KernelTable. At first use,
//   ChooseIsa() picks the best table that the CPU *and the OS* support (`__builtin_cpu_supports`
//   checks XCR0; xsimd 8.1's own detection does not). A scalar reference table (distance_scalar.cpp)
//   exists beside the SIMD ones; tests compare every available table against it.
//
// Conventions
//   - Vectors are float32, row-major, `dims` floats per row, rows contiguous (stride = dims).
//   - Pointers need not be aligned (unaligned loads everywhere).
//   - All results are float. Squared L2 is returned (callers take the square root).
//   - "batch" = one query against many rows; "gather" = one query against rows given by pointers;
//     "multi" = several queries against many rows, output
//     laid out query-major: out[q * n_rows + r].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vecgraph::kernels {

enum class Isa : uint8_t { kScalar = 0, kSse2, kSse42, kAvx2, kAvx512, kNeon };

// The name reported by vecgraph_info().simd: "avx512", "avx2", "sse4.2", "sse2", "neon", "scalar".
const char* IsaName(Isa isa);

struct KernelTable {
  Isa isa;
  // Pairwise.
  float (*dot)(const float* a, const float* b, size_t dims);
  float (*l2sq)(const float* a, const float* b, size_t dims);
  float (*norm_sq)(const float* a, size_t dims);
  // One query against n_rows rows: out[r].
  void (*dot_batch)(const float* q, const float* rows, size_t n_rows, size_t dims, float* out);
  void (*l2sq_batch)(const float* q, const float* rows, size_t n_rows, size_t dims, float* out);
  // One pass computing both q·row and |row|² (for cosine): dots[r], norms_sq[r].
  void (*dot_norm_batch)(const float* q, const float* rows, size_t n_rows, size_t dims, float* dots,
                         float* norms_sq);
  // n_queries queries against n_rows rows: out[q * n_rows + r]. Register-blocked over queries so
  // each row is loaded once per block of queries.
  void (*dot_multi)(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
                    size_t dims, float* out);
  void (*l2sq_multi)(const float* queries, size_t n_queries, const float* rows, size_t n_rows,
                     size_t dims, float* out);
  // One query against n rows at arbitrary addresses (rows[i], e.g. graph neighbours): out[i].
  // Bit-identical to dot / l2sq(q, rows[i], dims) for each row of the same table; several rows
  // are scored at once and the next ones prefetched, which the pairwise calls cannot do.
  void (*dot_gather)(const float* q, const float* const* rows, size_t n, size_t dims, float* out);
  void (*l2sq_gather)(const float* q, const float* const* rows, size_t n, size_t dims, float* out);
  // One int8 query against n rows of 8-bit codes at arbitrary addresses: out[i] = Σ_j q[j]·rows[i][j],
  // exact in int32 (|q[j]| ≤ 128, dims ≤ 65 536), so identical in every table. The quantized
  // HNSW walk (engine/hnsw/hnsw_codes.h) scores the search codes with it; the AVX-512 table uses
  // VNNI (vpdpbusd, 64 products per instruction) where the CPU has it.
  void (*dot_u8s8_gather)(const int8_t* q, const uint8_t* const* rows, size_t n, size_t dims, int32_t* out);
  // Compact element types (typed_kernels.hpp): exact results, identical in every table (the
  // AVX-512 table's dot_i8 uses VNNI and its hamming VPOPCNTDQ where the CPU has them).
  // int8: Σ a·b and Σ (a − b)², exact for dims ≤ 65 536 (elem_math.h).
  int32_t (*dot_i8)(const int8_t* a, const int8_t* b, size_t dims);
  uint32_t (*l2sq_i8)(const int8_t* a, const int8_t* b, size_t dims);
  // float16 / bfloat16 elements to float32 (exact).
  void (*f16_to_f32)(const uint16_t* in, size_t n, float* out);
  void (*bf16_to_f32)(const uint16_t* in, size_t n, float* out);
  // Packed bits: the number of differing bits over n_bytes.
  uint64_t (*hamming)(const uint8_t* a, const uint8_t* b, size_t n_bytes);
};

// The scalar reference table (always available).
const KernelTable& ScalarKernels();

// The table for `isa`, or nullptr when it is not compiled in or this CPU/OS cannot run it.
const KernelTable* KernelsFor(Isa isa);

// Every ISA this process can run, best last (always contains kScalar).
std::vector<Isa> SupportedIsas();

// The dispatched table: the best supported ISA, chosen once (thread-safe).
const KernelTable& Kernels();

}  // namespace vecgraph::kernels
