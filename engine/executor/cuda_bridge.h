// engine/executor/cuda_bridge.h — the plain-C++ face of the CUDA code in kernels/cuda/.
//
// Implemented by kernels/cuda/*.cu when the build has nvcc (VECGRAPH_WITH_CUDA), and by
// engine/executor/cuda_unavailable.cpp otherwise, so the engine compiles and links either way and no
// CUDA type leaks into engine headers. Every function here is safe to call without a driver:
// with none, Probe() reports kNoDevice ("no GPU"), never an error to the user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/executor/backend.h"

namespace vecgraph::cuda {

struct GpuInfo {
  std::string name;
  size_t total_memory = 0;  // bytes
  int cc_major = 0, cc_minor = 0;
  int device_count = 0;
  int driver_version = 0;   // e.g. 13000
  int runtime_version = 0;
};

// True when this build contains CUDA kernels.
bool Compiled();

// Checks for a driver and a usable device 0 (cheap pre-check: cudaDriverGetVersion). On failure
// returns false and fills *failure (kNoDevice for no driver / no device).
bool Probe(GpuInfo* info, exec::DeviceFailure* failure);

// Distances for rows [begin, end) of t on device 0, staged through pinned buffers allocated once.
// Errors are classified (sticky → kIllegalAddress, out of memory → kOutOfMemory, ...).
exec::DeviceFailure Distances(const exec::DistanceTask& t, size_t begin, size_t end);

// Exact k-NN (k <= kMaxDeviceK) of n_queries queries against a device-resident matrix: the rows
// are uploaded on first use and cached under (object, version) within the memory budget (LRU
// eviction; engine/executor/residency.h holds the bookkeeping). Output per query q, best first:
// out_index[q*k + j] (row index in [0, n_rows), −1 when n_rows < k) and out_dist[q*k + j], ordered
// by ascending distance, ties by smaller index. Distances use kernels/cpu/metric_math.h.
inline constexpr size_t kMaxDeviceK = 1024;
struct MatrixKey {
  uint64_t object = 0;   // who owns the rows (e.g. an index instance id)
  uint64_t version = 0;  // bumped whenever the rows change
};
exec::DeviceFailure KnnResident(const MatrixKey& key, const float* host_rows, size_t n_rows, size_t dims,
                                Metric metric, const float* queries, size_t n_queries, size_t k,
                                int64_t* out_index, float* out_dist);

// Frees device buffers and caches (after an out-of-memory failure, or when the budget shrinks).
void ReleaseBuffers();

// Device memory budget in bytes for caches and staging (config 'gpu_memory_mb').
void SetMemoryBudget(size_t bytes);

// Counters of the KnnResident residency cache (engine/executor/residency.h); all zero without CUDA.
struct CacheStats {
  uint64_t hits = 0, misses = 0, evictions = 0;
  size_t bytes_resident = 0, entries = 0, budget = 0;
};
CacheStats GetCacheStats();

// One activation hop (backend.h HopTask), items [begin, end), on device 0 (kernels/cuda/spread.cu).
// The graph's CSC (pull) or CSR (push) stays on the device, cached under (graph_id, graph_version);
// the pulses go up and the sums come back each call. Same formulas and order as the CPU (no
// fused multiply-add), so results are bit-identical. Errors are classified as for Distances.
exec::DeviceFailure SpreadHop(const exec::HopTask& t, size_t begin, size_t end);

// Frees the device-resident graphs and scratch of SpreadHop (after an out-of-memory failure).
void ReleaseSpreadBuffers();

}  // namespace vecgraph::cuda
