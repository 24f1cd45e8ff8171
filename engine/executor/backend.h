// engine/executor/backend.h — what a compute backend does for the executor.
//
// A backend computes a range of a batch's items into caller-owned output slots. Items are
// independent and outputs disjoint, so the executor can split a batch between two backends and
// re-run any range on the CPU after a device failure, with results identical to either alone.
// CUDA types never appear here: the CUDA backend lives behind engine/executor/cuda_bridge.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/executor/types.h"
#include "engine/vector/codec.h"

namespace vecgraph::exec {

// op 'similarity': distances of n_queries queries against n_rows rows, query-major output
// out[q * n_rows + r]. The range [begin, end) a backend is given is a range of rows.
struct DistanceTask {
  Metric metric = Metric::kCosine;
  const float* queries = nullptr;
  const float* query_norms = nullptr;  // |q| per query (cosine)
  size_t n_queries = 0;
  const float* rows = nullptr;
  size_t n_rows = 0;
  size_t dims = 0;
  float* out = nullptr;

  double WorkUnits() const { return static_cast<double>(n_rows) * static_cast<double>(dims) * sizeof(float); }
};

// op 'spread': one hop of spreading activation (engine/graph/spread.h) for n_queries seed sets at
// once. Values are node-major, x[v * n_queries + q]; nodes are dense indices 0..n_nodes-1.
//   kPull, items = destination nodes v: out[v*Q + q] = Σ over the in-edges (u, v, w) of v, in CSC
//          order, of pulse[u*Q + q] · double(w); pulse is 0 for nodes that do not fire.
//   kPush, items = frontier entries i: for the j-th out-edge (frontier[i], v, w) in CSR order,
//          contrib[(slot_offsets[i] + j)*Q + q] = frontier_pulse[i*Q + q] · double(w); the caller
//          adds the contributions into their destinations in slot order.
// Every term is one double product and the sums run in a fixed order, so a backend that follows
// these formulas (no fused multiply-add, no reordering) gives bit-identical results to the CPU.
// Work units: edges touched × n_queries. n_queries is at most kMaxHopQueries.
inline constexpr size_t kMaxHopQueries = 32;
struct HopTask {
  enum class Direction : uint8_t { kPull = 0, kPush };
  Direction direction = Direction::kPull;
  uint64_t graph_id = 0;       // who owns the CSR/CSC (device caches key on it)
  uint64_t graph_version = 0;  // bumped whenever the arrays change (graphs are immutable: 0)
  size_t n_nodes = 0;
  size_t n_edges = 0;
  size_t n_queries = 1;
  // CSC (in-edges), for kPull.
  const uint64_t* in_offsets = nullptr;  // n_nodes + 1
  const uint32_t* in_src = nullptr;      // n_edges
  const float* in_w = nullptr;           // n_edges
  // CSR (out-edges), for kPush.
  const uint64_t* out_offsets = nullptr;  // n_nodes + 1
  const uint32_t* out_dst = nullptr;      // n_edges
  const float* out_w = nullptr;           // n_edges
  // kPull
  const double* pulse = nullptr;  // n_nodes * n_queries
  double* out = nullptr;          // n_nodes * n_queries
  // kPush
  const uint32_t* frontier = nullptr;      // n_frontier node indices, ascending
  size_t n_frontier = 0;
  const double* frontier_pulse = nullptr;  // n_frontier * n_queries
  const uint64_t* slot_offsets = nullptr;  // n_frontier + 1; slot_offsets[0] == 0
  double* contrib = nullptr;               // slot_offsets[n_frontier] * n_queries

  size_t Items() const { return direction == Direction::kPull ? n_nodes : n_frontier; }
  // Edges read by items [begin, end).
  uint64_t EdgesIn(size_t begin, size_t end) const {
    if (end <= begin) return 0;
    return direction == Direction::kPull ? in_offsets[end] - in_offsets[begin] : slot_offsets[end] - slot_offsets[begin];
  }
  double WorkUnits() const { return static_cast<double>(EdgesIn(0, Items())) * static_cast<double>(n_queries); }
};

// op 'knn' on a device: exact top-k of n_queries queries against a row matrix (hnsw_knn_batch
// sends large query batches here; its CPU path searches the HNSW graph instead). Items are
// queries. Output per query q, best first (ascending distance, ties by smaller row index):
// out_ids[q*k + j] = row_ids[row index] (−1 padding when n_rows < k), out_dists[q*k + j]
// (+inf padding). Distances mean what vec_distance means for the metric. The device may keep the
// rows resident under (object, version). Work units: queries × rows.
struct KnnTask {
  Metric metric = Metric::kCosine;
  const float* queries = nullptr;
  size_t n_queries = 0;
  size_t dims = 0;
  const float* rows = nullptr;
  const int64_t* row_ids = nullptr;
  size_t n_rows = 0;
  size_t k = 0;
  uint64_t object = 0, version = 0;
  int64_t* out_ids = nullptr;
  float* out_dists = nullptr;

  double WorkUnits() const { return static_cast<double>(n_queries) * static_cast<double>(n_rows); }
};

// The outcome of a backend call: kNone, or the class of device failure with a message.
struct DeviceFailure {
  DeviceError error = DeviceError::kNone;
  std::string message;
  // A simulated device reports the time its model says the call took (>= the real time); the
  // executor learns from this instead of the wall clock. −1: use the wall clock.
  double modeled_us = -1;
  bool ok() const { return error == DeviceError::kNone; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Rows [begin, end) of t. The CPU backend never fails.
  virtual DeviceFailure Distances(const DistanceTask& t, size_t begin, size_t end) = 0;
  // Items [begin, end) of one activation hop (HopTask). The CPU backend never fails.
  virtual DeviceFailure SpreadHop(const HopTask& t, size_t begin, size_t end) = 0;
  // Queries [begin, end) of an exact k-NN (KnnTask). The CPU backend never fails.
  virtual DeviceFailure KnnExact(const KnnTask& t, size_t begin, size_t end) = 0;
  // Drop device-resident caches (after an out-of-memory failure). No-op by default.
  virtual void Evict() {}
};

}  // namespace vecgraph::exec
