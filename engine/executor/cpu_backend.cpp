#include "engine/executor/cpu_backend.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/vector/distance.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/topk.h"

namespace vecgraph::exec {

struct CpuBackend::Arena {
  explicit Arena(int n) : threads(n), arena(n) {}
  int threads;
  tbb::task_arena arena;
};

int CpuBackend::MaxThreads() {
  // Reads, never sets, the process-wide limits (a global_control would change the host).
  size_t n = static_cast<size_t>(std::max(tbb::info::default_concurrency(), 1));
  const size_t allowed = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  if (allowed > 0) n = std::min(n, allowed);
  return static_cast<int>(std::min<size_t>(n, 256));
}

namespace {
int EffectiveThreads(int requested) { return std::clamp(requested, 1, CpuBackend::MaxThreads()); }
}  // namespace

CpuBackend::CpuBackend(int threads) : arena_(std::make_shared<Arena>(EffectiveThreads(threads))) {}
CpuBackend::~CpuBackend() = default;

std::shared_ptr<CpuBackend::Arena> CpuBackend::arena() const {
  std::lock_guard<std::mutex> lock(mu_);
  return arena_;
}

int CpuBackend::threads() const { return arena()->threads; }

void CpuBackend::set_threads(int threads) {
  auto fresh = std::make_shared<Arena>(EffectiveThreads(threads));
  std::lock_guard<std::mutex> lock(mu_);
  arena_ = std::move(fresh);  // batches still running keep the old arena alive
}

void CpuBackend::Execute(const std::function<void()>& fn) {
  auto a = arena();
  if (a->threads == 1) {
    fn();
    return;
  }
  a->arena.execute(fn);
}

void ComputeDistancesSerial(const DistanceTask& t, size_t begin, size_t end) {
  if (end <= begin) return;
  const kernels::KernelTable& kt = kernels::Kernels();
  size_t n = end - begin;
  const float* rows = t.rows + begin * t.dims;
  thread_local std::vector<float> scratch;
  if (t.metric == Metric::kCosine && scratch.size() < n) scratch.resize(n);
  for (size_t q = 0; q < t.n_queries; ++q) {
    float qn = t.query_norms ? t.query_norms[q] : 0.0f;
    BatchDistances(kt, t.metric, t.queries + q * t.dims, qn, rows, n, t.dims, t.out + q * t.n_rows + begin,
                   scratch.data());
  }
}

DeviceFailure CpuBackend::Distances(const DistanceTask& t, size_t begin, size_t end) {
  auto a = arena();
  size_t n = end > begin ? end - begin : 0;
  size_t floats = n * t.dims * (t.n_queries ? t.n_queries : 1);
  if (a->threads == 1 || floats < 2 * kMinParallelFloats) {
    ComputeDistancesSerial(t, begin, end);
    return {};
  }
  size_t grain = kMinParallelFloats / (t.dims * (t.n_queries ? t.n_queries : 1)) + 1;
  a->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(begin, end, grain),
                      [&](const tbb::blocked_range<size_t>& r) { ComputeDistancesSerial(t, r.begin(), r.end()); });
  });
  return {};
}

namespace {

// The hop kernels must not fuse multiply and add (HopTask promises one rounded product and one
// rounded add per term, so push, pull and every backend agree bit for bit). x86-64 without -mfma
// cannot fuse anyway; this keeps it true where FMA is baseline (aarch64).
#if defined(__clang__)
#define VG_NO_CONTRACT_BODY _Pragma("clang fp contract(off)")
#define VG_NO_CONTRACT_FN
#elif defined(__GNUC__)
#define VG_NO_CONTRACT_BODY
#define VG_NO_CONTRACT_FN __attribute__((optimize("fp-contract=off")))
#else
#define VG_NO_CONTRACT_BODY
#define VG_NO_CONTRACT_FN
#endif

// out[v*Q + q] for v in [begin, end): in-edges in CSC order, one product and one add per term.
template <size_t kQ>
VG_NO_CONTRACT_FN void PullRange(const HopTask& t, size_t begin, size_t end) {
  VG_NO_CONTRACT_BODY
  const size_t nq = kQ != 0 ? kQ : t.n_queries;
  for (size_t v = begin; v < end; ++v) {
    double acc[kQ != 0 ? kQ : kMaxHopQueries];
    for (size_t q = 0; q < nq; ++q) acc[q] = 0.0;
    for (uint64_t e = t.in_offsets[v], e_end = t.in_offsets[v + 1]; e < e_end; ++e) {
      const double* p = t.pulse + static_cast<size_t>(t.in_src[e]) * nq;
      const double w = static_cast<double>(t.in_w[e]);
      for (size_t q = 0; q < nq; ++q) acc[q] += p[q] * w;
    }
    double* o = t.out + v * nq;
    for (size_t q = 0; q < nq; ++q) o[q] = acc[q];
  }
}

// Pulse gathers this many edges ahead are prefetched (they miss L2 once the pulses outgrow it).
constexpr uint64_t kPrefetchEdges = 32;

// One query: the common case, kept free of the inner query loop.
VG_NO_CONTRACT_FN void PullRange1(const HopTask& t, size_t begin, size_t end) {
  VG_NO_CONTRACT_BODY
  const uint64_t* off = t.in_offsets;
  const uint32_t* src = t.in_src;
  const float* w = t.in_w;
  const double* pulse = t.pulse;
  const uint64_t last = off[end];
  for (size_t v = begin; v < end; ++v) {
    double acc = 0.0;
    for (uint64_t e = off[v], e_end = off[v + 1]; e < e_end; ++e) {
      if (e + kPrefetchEdges < last) __builtin_prefetch(pulse + src[e + kPrefetchEdges]);
      acc += pulse[src[e]] * static_cast<double>(w[e]);
    }
    t.out[v] = acc;
  }
}

VG_NO_CONTRACT_FN void PushRange(const HopTask& t, size_t begin, size_t end) {
  VG_NO_CONTRACT_BODY
  const size_t nq = t.n_queries;
  for (size_t i = begin; i < end; ++i) {
    const uint32_t u = t.frontier[i];
    const uint64_t first = t.out_offsets[u];
    const uint64_t deg = t.out_offsets[u + 1] - first;
    double* c = t.contrib + t.slot_offsets[i] * nq;
    const double* p = t.frontier_pulse + i * nq;
    for (uint64_t j = 0; j < deg; ++j) {
      const double w = static_cast<double>(t.out_w[first + j]);
      for (size_t q = 0; q < nq; ++q) c[j * nq + q] = p[q] * w;
    }
  }
}

}  // namespace

void ComputeSpreadHopSerial(const HopTask& t, size_t begin, size_t end) {
  if (end <= begin) return;
  if (t.direction == HopTask::Direction::kPush) return PushRange(t, begin, end);
  switch (t.n_queries) {
    case 1: return PullRange1(t, begin, end);
    case 2: return PullRange<2>(t, begin, end);
    case 4: return PullRange<4>(t, begin, end);
    case 8: return PullRange<8>(t, begin, end);
    default: return PullRange<0>(t, begin, end);
  }
}

DeviceFailure CpuBackend::SpreadHop(const HopTask& t, size_t begin, size_t end) {
  if (end <= begin) return {};
  auto a = arena();
  const size_t items = end - begin;
  const double work = static_cast<double>(t.EdgesIn(begin, end) + items) * static_cast<double>(t.n_queries);
  if (a->threads == 1 || work < 2.0 * kMinParallelEdges) {
    ComputeSpreadHopSerial(t, begin, end);
    return {};
  }
  // Items per chunk so a chunk holds about kMinParallelEdges edge-queries on average; the
  // auto partitioner splits further where degrees are skewed.
  size_t grain = static_cast<size_t>(static_cast<double>(items) * kMinParallelEdges / work);
  grain = std::min(std::max<size_t>(grain, 16), items);
  a->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(begin, end, grain),
                      [&](const tbb::blocked_range<size_t>& r) { ComputeSpreadHopSerial(t, r.begin(), r.end()); });
  });
  return {};
}

void ComputeKnnExactSerial(const KnnTask& t, size_t begin, size_t end) {
  const kernels::KernelTable& kt = kernels::Kernels();
  thread_local std::vector<float> dists, scratch;
  if (dists.size() < t.n_rows) {
    dists.resize(t.n_rows);
    scratch.resize(t.n_rows);
  }
  for (size_t q = begin; q < end; ++q) {
    const float* qv = t.queries + q * t.dims;
    float qn = static_cast<float>(Norm(qv, t.dims));
    BatchDistances(kt, t.metric, qv, qn, t.rows, t.n_rows, t.dims, dists.data(), scratch.data());
    kernels::TopK top(t.k);
    // Ties by smaller row index: the heap orders by (distance, index).
    top.PushBatch(dists.data(), nullptr, t.n_rows);
    std::vector<kernels::Neighbor> best = top.Sorted();
    for (size_t j = 0; j < t.k; ++j) {
      bool have = j < best.size();
      t.out_ids[q * t.k + j] = have ? t.row_ids[best[j].id] : -1;
      t.out_dists[q * t.k + j] = have ? best[j].distance : INFINITY;
    }
  }
}

DeviceFailure CpuBackend::KnnExact(const KnnTask& t, size_t begin, size_t end) {
  auto a = arena();
  if (a->threads == 1 || end - begin < 2) {
    ComputeKnnExactSerial(t, begin, end);
    return {};
  }
  a->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(begin, end, 1),
                      [&](const tbb::blocked_range<size_t>& r) { ComputeKnnExactSerial(t, r.begin(), r.end()); });
  });
  return {};
}

}  // namespace vecgraph::exec
