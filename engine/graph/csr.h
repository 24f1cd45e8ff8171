// engine/graph/csr.h — an immutable weighted directed graph in CSR and CSC form.
//
// Built once from edge arrays (src, dst, weight as int64 / int64 / double, e.g. the rows of an
// edge table read by extension/spread_activation.cpp) and then shared read-only by any number of
// concurrent queries (std::shared_ptr<const Graph>).
//
// How it works
//   - Node ids are mapped to dense indices 0..n-1 in ascending id order (ids() is sorted), so
//     "ties by smaller node id" and "ties by smaller index" are the same thing. When the ids span
//     a small range (rowids, typically) a direct table does the mapping in O(m + range);
//     otherwise the endpoints are sorted and deduplicated, and mapped by binary search.
//   - Edge e becomes (s[e], d[e], w[e]); an undirected graph (directed = false) adds (d, s, w)
//     right after each row with s != d, so a self-loop is added once.
//   - CSR (out-edges): a stable counting sort of the edges by source, so the out-edges of u are in
//     row order. CSC (in-edges): a stable counting sort of the CSR positions by destination, so
//     the in-edges of v are ordered by (source, row order). This order is what makes push and
//     pull hops add the same terms in the same order (engine/executor/backend.h HopTask).
//   - Parallel edges are kept (their contributions add up); self-loops are allowed.
//   - Weights are validated (finite, >= 0, within float32 range) and stored as float32; every
//     sum over them runs in double. Both sorts are parallel on the executor's CPU arena, with
//     one histogram per chunk so the result never depends on the thread count.
//   - Limits: fewer than 2^32 - 1 distinct nodes (indices are uint32), any number of edges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine/common/status.h"

namespace vecgraph::exec {
class Executor;
}

namespace vecgraph::graph {

class Graph {
 public:
  // Builds the graph from parallel arrays (equal sizes). Errors (InvalidArgument) name the edge by
  // its node ids: "edge (3, 4) has a negative weight -0.5". ex: whose CPU arena runs the parallel
  // parts (null: exec::Executor::Global()).
  static StatusOr<std::shared_ptr<const Graph>> Build(std::span<const int64_t> src, std::span<const int64_t> dst,
                                                      std::span<const double> weight, bool directed,
                                                      exec::Executor* ex = nullptr);

  size_t num_nodes() const { return ids_.size(); }
  size_t num_edges() const { return out_dst_.size(); }  // after undirected expansion
  bool directed() const { return directed_; }

  // Node ids, ascending; dense index i is ids()[i].
  const std::vector<int64_t>& ids() const { return ids_; }
  // Dense index of `id`, or −1 when the graph has no such node.
  int64_t Find(int64_t id) const;

  // CSR: out-edges of u are positions [out_offsets()[u], out_offsets()[u + 1]).
  const uint64_t* out_offsets() const { return out_off_.data(); }
  const uint32_t* out_dst() const { return out_dst_.data(); }
  const float* out_weight() const { return out_w_.data(); }
  // CSC: in-edges of v are positions [in_offsets()[v], in_offsets()[v + 1]).
  const uint64_t* in_offsets() const { return in_off_.data(); }
  const uint32_t* in_src() const { return in_src_.data(); }
  const float* in_weight() const { return in_w_.data(); }

  uint64_t out_degree(size_t u) const { return out_off_[u + 1] - out_off_[u]; }
  // Σ of u's out-weights (as stored), summed in double in CSR order.
  double out_weight_sum(size_t u) const { return out_wsum_[u]; }

  // Unique per Graph instance in this process (device caches key on it).
  uint64_t uid() const { return uid_; }
  // Bytes held by the arrays.
  size_t MemoryBytes() const;

  // Reusable query scratch (engine/graph/spread.cpp), so repeated queries do not allocate.
  struct Scratch {
    virtual ~Scratch() = default;
    virtual size_t Bytes() const = 0;
  };
  // Returns a pooled scratch or null; GiveScratch keeps at most kMaxPooledScratch of them, each
  // at most kMaxPooledScratchBytes (larger ones are freed).
  std::unique_ptr<Scratch> TakeScratch() const;
  void GiveScratch(std::unique_ptr<Scratch> s) const;
  static constexpr size_t kMaxPooledScratch = 2;
  static constexpr size_t kMaxPooledScratchBytes = size_t{512} << 20;

 private:
  Graph() = default;

  bool directed_ = true;
  uint64_t uid_ = 0;
  std::vector<int64_t> ids_;
  std::vector<uint64_t> out_off_;
  std::vector<uint32_t> out_dst_;
  std::vector<float> out_w_;
  std::vector<uint64_t> in_off_;
  std::vector<uint32_t> in_src_;
  std::vector<float> in_w_;
  std::vector<double> out_wsum_;

  mutable std::mutex scratch_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> scratch_;
};

}  // namespace vecgraph::graph
