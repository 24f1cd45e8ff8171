// bench/kernels_bench.cpp — single-core throughput of the CPU distance kernels, per ISA.
//
//   kernels_bench [--benchmark_min_time=0.2] [--benchmark_filter=dot_batch]
//
// For every ISA in SupportedIsas() and two shapes of random unit-norm rows (100000×128, 51 MB;
// 50000×768, 154 MB: both far larger than the caches, so rows stream from memory):
//   dot_batch, dot_norm_batch, l2sq_batch   one query against all rows
//   dot_multi                               8 queries against all rows (rows read once)
// and, for the graph walks, 32 rows at random positions per call (an HNSW node's neighbours):
//   pair_loop32                             the pairwise kernel called once per row
//   dot_gather32                            the gather kernel (same bits, rows scored together)
//   dot_u8s8_gather32                       an int8 query against 8-bit codes (dims bytes a row;
//                                           the quantized HNSW walk's kernel)
// and stream_sum, a plain read of the same buffer (sum of floats, 8 SSE2 accumulators): the
// memory bandwidth the kernels should approach. The compact element types stream 256 MiB of rows
// of their own type (dims 128 and 768; bit rows have dims/8 bytes), one query against every row
// in order, bytes_per_second counting bytes of the type, beside stream_sum of the same 256 MiB:
//   i8_dot_stream, i8_l2sq_stream           int8 rows (dot_i8 / l2sq_i8 per row)
//   f16_to_f32_stream                       float16 rows converted to float32 (into a 1-row buffer)
//   bit_hamming_stream                      packed bit rows (hamming per row)
//   u8s8_gather_stream                      8-bit codes, 32 consecutive rows per dot_u8s8_gather call bytes_per_second counts the row bytes read once
// per iteration, so GB/s compares directly with stream_sum; items_per_second counts
// (query, row) distances.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/cpu/distance.h"

namespace vecgraph::kernels {
namespace {

struct Shape {
  size_t n_rows;
  size_t dims;
};
constexpr Shape kShapes[] = {{100000, 128}, {50000, 768}};
constexpr size_t kMultiQueries = 8;

std::string ShapeName(const Shape& s) {
  return std::to_string(s.n_rows) + "x" + std::to_string(s.dims);
}

// Random unit-norm vectors, generated once per shape.
const std::vector<float>& Rows(const Shape& s) {
  static std::map<std::pair<size_t, size_t>, std::unique_ptr<std::vector<float>>> cache;
  auto& slot = cache[{s.n_rows, s.dims}];
  if (!slot) {
    slot = std::make_unique<std::vector<float>>(s.n_rows * s.dims);
    std::mt19937 rng(static_cast<unsigned>(s.n_rows * 31 + s.dims));
    std::normal_distribution<float> dist;
    for (size_t r = 0; r < s.n_rows; ++r) {
      float* row = slot->data() + r * s.dims;
      double nn = 0;
      for (size_t i = 0; i < s.dims; ++i) {
        row[i] = dist(rng);
        nn += static_cast<double>(row[i]) * row[i];
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(nn));
      for (size_t i = 0; i < s.dims; ++i) row[i] *= inv;
    }
  }
  return *slot;
}

std::vector<float> Queries(const Shape& s, size_t n) {
  std::vector<float> q(n * s.dims);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  for (float& x : q) x = dist(rng);
  return q;
}

void SetCounters(benchmark::State& state, const Shape& s, size_t n_queries) {
  const auto iters = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iters * static_cast<int64_t>(s.n_rows * s.dims * sizeof(float)));
  state.SetItemsProcessed(iters * static_cast<int64_t>(s.n_rows * n_queries));
}

void BmDotBatch(benchmark::State& state, const KernelTable* t, Shape s) {
  const std::vector<float>& rows = Rows(s);
  const std::vector<float> q = Queries(s, 1);
  std::vector<float> out(s.n_rows);
  for (auto _ : state) {
    t->dot_batch(q.data(), rows.data(), s.n_rows, s.dims, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s, 1);
}

void BmL2SqBatch(benchmark::State& state, const KernelTable* t, Shape s) {
  const std::vector<float>& rows = Rows(s);
  const std::vector<float> q = Queries(s, 1);
  std::vector<float> out(s.n_rows);
  for (auto _ : state) {
    t->l2sq_batch(q.data(), rows.data(), s.n_rows, s.dims, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s, 1);
}

void BmDotNormBatch(benchmark::State& state, const KernelTable* t, Shape s) {
  const std::vector<float>& rows = Rows(s);
  const std::vector<float> q = Queries(s, 1);
  std::vector<float> dots(s.n_rows), norms(s.n_rows);
  for (auto _ : state) {
    t->dot_norm_batch(q.data(), rows.data(), s.n_rows, s.dims, dots.data(), norms.data());
    benchmark::DoNotOptimize(dots.data());
    benchmark::DoNotOptimize(norms.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s, 1);
}

void BmDotMulti(benchmark::State& state, const KernelTable* t, Shape s) {
  const std::vector<float>& rows = Rows(s);
  const std::vector<float> q = Queries(s, kMultiQueries);
  std::vector<float> out(s.n_rows * kMultiQueries);
  for (auto _ : state) {
    t->dot_multi(q.data(), kMultiQueries, rows.data(), s.n_rows, s.dims, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s, kMultiQueries);
}

// 32 rows at random positions per call, cycling through a fixed random sequence of 2^16 rows.
constexpr size_t kGatherRows = 32;
std::vector<uint32_t> RandomRowIds(const Shape& s) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(s.n_rows - 1));
  std::vector<uint32_t> ids(size_t{1} << 16);
  for (uint32_t& id : ids) id = pick(rng);
  return ids;
}

template <typename Row, typename Fn>
void GatherLoop(benchmark::State& state, const Shape& s, const Row* base, size_t row_elems, Fn&& score) {
  const std::vector<uint32_t> ids = RandomRowIds(s);
  const std::vector<float> q = Queries(s, 1);
  std::vector<const Row*> rows(kGatherRows);
  std::vector<float> out(kGatherRows);
  size_t at = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kGatherRows; ++i) rows[i] = base + static_cast<size_t>(ids[(at + i) & 0xFFFF]) * row_elems;
    at += kGatherRows;
    score(q.data(), rows.data(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kGatherRows));
}

void BmPairLoop(benchmark::State& state, const KernelTable* t, Shape s) {
  GatherLoop(state, s, Rows(s).data(), s.dims, [&](const float* q, const float* const* rows, float* out) {
    for (size_t i = 0; i < kGatherRows; ++i) out[i] = t->dot(q, rows[i], s.dims);
  });
}

void BmDotGather(benchmark::State& state, const KernelTable* t, Shape s) {
  GatherLoop(state, s, Rows(s).data(), s.dims, [&](const float* q, const float* const* rows, float* out) {
    t->dot_gather(q, rows, kGatherRows, s.dims, out);
  });
}

void BmDotU8S8Gather(benchmark::State& state, const KernelTable* t, Shape s) {
  static std::map<std::pair<size_t, size_t>, std::vector<uint8_t>> codes;
  std::vector<uint8_t>& c = codes[{s.n_rows, s.dims}];
  if (c.empty()) {
    c.resize(s.n_rows * s.dims);
    std::mt19937 rng(5);
    for (uint8_t& b : c) b = static_cast<uint8_t>(rng());
  }
  std::vector<int8_t> qcode(s.dims);
  std::mt19937 rng(6);
  for (int8_t& b : qcode) b = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<int32_t> isum(kGatherRows);
  GatherLoop(state, s, c.data(), s.dims, [&](const float*, const uint8_t* const* rows, float* out) {
    t->dot_u8s8_gather(qcode.data(), rows, kGatherRows, s.dims, isum.data());
    out[0] = static_cast<float>(isum[0]);
  });
}

// The streaming-read baseline: sum all floats of the buffer, several independent accumulators.
float StreamSum(const float* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm_add_ps(a0, _mm_loadu_ps(p + i));
    a1 = _mm_add_ps(a1, _mm_loadu_ps(p + i + 4));
    a2 = _mm_add_ps(a2, _mm_loadu_ps(p + i + 8));
    a3 = _mm_add_ps(a3, _mm_loadu_ps(p + i + 12));
    a4 = _mm_add_ps(a4, _mm_loadu_ps(p + i + 16));
    a5 = _mm_add_ps(a5, _mm_loadu_ps(p + i + 20));
    a6 = _mm_add_ps(a6, _mm_loadu_ps(p + i + 24));
    a7 = _mm_add_ps(a7, _mm_loadu_ps(p + i + 28));
  }
  const __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                              _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, s);
  float total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#else
  float acc[8] = {};
  for (; i + 8 <= n; i += 8) {
    for (size_t k = 0; k < 8; ++k) acc[k] += p[i + k];
  }
  float total = 0;
  for (float a : acc) total += a;
#endif
  for (; i < n; ++i) total += p[i];
  return total;
}

void BmStreamSum(benchmark::State& state, Shape s) {
  const std::vector<float>& rows = Rows(s);
  for (auto _ : state) {
    float sum = StreamSum(rows.data(), rows.size());
    benchmark::DoNotOptimize(sum);
  }
  SetCounters(state, s, 0);
}

// ---- compact element types: 256 MiB of rows of the type, read in order ------------------------

constexpr size_t kTypedBytes = size_t{256} << 20;

const std::vector<uint8_t>& TypedBuffer() {
  static const std::vector<uint8_t> buf = [] {
    std::vector<uint8_t> b(kTypedBytes);
    std::mt19937_64 rng(23);
    for (size_t i = 0; i + 8 <= b.size(); i += 8) {
      const uint64_t x = rng() & 0x3bff3bff3bff3bffull;  // every 16-bit half a finite float16
      std::memcpy(b.data() + i, &x, 8);
    }
    return b;
  }();
  return buf;
}

enum class TypedKernel { kDotI8, kL2SqI8, kF16, kHamming, kU8S8 };

void BmTypedStream(benchmark::State& state, const KernelTable* t, TypedKernel k, size_t dims) {
  const std::vector<uint8_t>& buf = TypedBuffer();
  const size_t row_bytes = k == TypedKernel::kF16 ? 2 * dims : k == TypedKernel::kHamming ? dims / 8 : dims;
  const size_t n = kTypedBytes / row_bytes;
  std::vector<uint8_t> q(row_bytes, 1);
  std::vector<float> f(dims);
  std::vector<const uint8_t*> rows(kGatherRows);
  std::vector<int32_t> isum(kGatherRows);
  for (auto _ : state) {
    int64_t acc = 0;
    const uint8_t* p = buf.data();
    switch (k) {
      case TypedKernel::kDotI8:
        for (size_t r = 0; r < n; ++r) {
          acc += t->dot_i8(reinterpret_cast<const int8_t*>(q.data()), reinterpret_cast<const int8_t*>(p + r * row_bytes), dims);
        }
        break;
      case TypedKernel::kL2SqI8:
        for (size_t r = 0; r < n; ++r) {
          acc += t->l2sq_i8(reinterpret_cast<const int8_t*>(q.data()), reinterpret_cast<const int8_t*>(p + r * row_bytes), dims);
        }
        break;
      case TypedKernel::kF16:
        for (size_t r = 0; r < n; ++r) {
          t->f16_to_f32(reinterpret_cast<const uint16_t*>(p + r * row_bytes), dims, f.data());
          benchmark::DoNotOptimize(f.data());
        }
        break;
      case TypedKernel::kHamming:
        for (size_t r = 0; r < n; ++r) acc += static_cast<int64_t>(t->hamming(q.data(), p + r * row_bytes, row_bytes));
        break;
      case TypedKernel::kU8S8:
        for (size_t r = 0; r + kGatherRows <= n; r += kGatherRows) {
          for (size_t i = 0; i < kGatherRows; ++i) rows[i] = p + (r + i) * row_bytes;
          t->dot_u8s8_gather(reinterpret_cast<const int8_t*>(q.data()), rows.data(), kGatherRows, dims, isum.data());
          acc += isum[0];
        }
        break;
    }
    benchmark::DoNotOptimize(acc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n * row_bytes));
}

void BmStreamSumTyped(benchmark::State& state) {
  const std::vector<uint8_t>& buf = TypedBuffer();
  for (auto _ : state) {
    float sum = StreamSum(reinterpret_cast<const float*>(buf.data()), buf.size() / sizeof(float));
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kTypedBytes));
}

// Registered at static-initialisation time (the ISA list is only known at run time).
bool RegisterAll() {
  for (const Shape& s : kShapes) {
    const std::string shape = ShapeName(s);
    benchmark::RegisterBenchmark(("stream_sum/" + shape).c_str(), BmStreamSum, s);
    for (Isa isa : SupportedIsas()) {
      const KernelTable* t = KernelsFor(isa);
      const std::string suffix = std::string("/") + IsaName(isa) + "/" + shape;
      benchmark::RegisterBenchmark(("dot_batch" + suffix).c_str(), BmDotBatch, t, s);
      benchmark::RegisterBenchmark(("dot_norm_batch" + suffix).c_str(), BmDotNormBatch, t, s);
      benchmark::RegisterBenchmark(("l2sq_batch" + suffix).c_str(), BmL2SqBatch, t, s);
      benchmark::RegisterBenchmark(("dot_multi8" + suffix).c_str(), BmDotMulti, t, s);
      benchmark::RegisterBenchmark(("pair_loop32" + suffix).c_str(), BmPairLoop, t, s);
      benchmark::RegisterBenchmark(("dot_gather32" + suffix).c_str(), BmDotGather, t, s);
      benchmark::RegisterBenchmark(("dot_u8s8_gather32" + suffix).c_str(), BmDotU8S8Gather, t, s);
    }
  }
  benchmark::RegisterBenchmark("stream_sum/256MiB", BmStreamSumTyped);
  const std::pair<const char*, TypedKernel> typed[] = {{"i8_dot_stream", TypedKernel::kDotI8},
                                                       {"i8_l2sq_stream", TypedKernel::kL2SqI8},
                                                       {"f16_to_f32_stream", TypedKernel::kF16},
                                                       {"bit_hamming_stream", TypedKernel::kHamming},
                                                       {"u8s8_gather_stream", TypedKernel::kU8S8}};
  for (size_t dims : {size_t{128}, size_t{768}}) {
    for (Isa isa : SupportedIsas()) {
      for (const auto& [name, kind] : typed) {
        benchmark::RegisterBenchmark((std::string(name) + "/" + IsaName(isa) + "/" + std::to_string(dims)).c_str(),
                                     BmTypedStream, KernelsFor(isa), kind, dims);
      }
    }
  }
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace vecgraph::kernels

BENCHMARK_MAIN();
