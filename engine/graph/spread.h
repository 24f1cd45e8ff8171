// engine/graph/spread.h — spreading activation over a Graph (csr.h): the engine behind the SQL
// table-valued function spread_activation (extension/spread_activation.cpp, docs/spread_activation.md).
//
// Semantics (one seed set; a batch runs each set independently):
//   x₀ = the seeds. For hop h = 1..H: the frontier is every node u with x_{h−1}[u] > 0 and
//   x_{h−1}[u] ≥ θ, minus nodes excluded by the refractory rule ('once': a node fires at most once),
//   by max_fanout (nodes with more out-edges never fire) and by max_frontier (only the B largest
//   x_{h−1}[u] fire, ties by smaller node id). An empty frontier stops the spread.
//   x_h[v] = δ · Σ over frontier nodes u and edges (u, v, w) of x_{h−1}[u] / n(u) · w, with the
//   normaliser n(u) = 1 ('none'), Σ out-weights ('out'), out-degree ('degree') or √out-degree
//   ('sqrt_degree'); a node whose normaliser is 0 spreads nothing.
//   A[v] = x₀[v] + Σ_h x_h[v] ('sum') or max_h x_h[v] ('max'); depth[v] = the first h with
//   x_h[v] > 0 (0 for seeds). Rows: every node with A > min_activation, by activation descending
//   then node ascending, cut to top_k. Seeds absent from the graph are returned (depth 0); they
//   behave as isolated nodes (they fire, spread nothing, and can take a max_frontier slot).
//
// How it works
//   Sets run in groups of up to tuning.max_group_queries (SpMM-style): state is node-major
//   (x[v·Q + q]), so one pass over the graph serves every set of the group. Each hop is one batch
//   for the hybrid executor (op 'spread', engine/executor/backend.h HopTask), in one of two
//   directions, chosen per hop (direction-optimising, Beamer et al.):
//     push (sparse frontier): items are frontier nodes; each writes x/n(u)·w into its own slots,
//          and the slots are added into their destinations in (source, CSR) order;
//     pull (dense frontier): items are all nodes; each sums its in-edges in CSC order.
//   Both add the same terms in the same order, so push, pull, any thread count and the simulated
//   device give bit-identical results. Per-node work around the hops (frontier selection,
//   activation updates) runs on the executor's CPU arena in fixed chunks, without sqlite3 calls.
//   State arrays come from a scratch pooled on the Graph and are reset through the lists of
//   touched nodes, so a query costs O(nodes and edges it touches), not O(graph); rows are ranked
//   by a bounded selection when top_k cuts them (spread.cpp explains both).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/executor/backend.h"
#include "engine/graph/csr.h"

namespace vecgraph::exec {
class Executor;
}

namespace vecgraph::graph {

enum class Normalize : uint8_t { kNone = 0, kOut, kDegree, kSqrtDegree };
enum class Accumulate : uint8_t { kSum = 0, kMax };
enum class Refractory : uint8_t { kNone = 0, kOnce };
// Engine-only (tests, benchmarks): force a hop direction.
enum class HopDirection : uint8_t { kAuto = 0, kPush, kPull };

// Engine thresholds (not SQL options); defaults measured by bench/spread_hop_bench.cpp.
struct SpreadTuning {
  // Auto direction: pull when the frontier's out-edges exceed this fraction of all edges.
  double pull_fraction = 0.10;
  // Sets per group (≤ exec::kMaxHopQueries) and the state bytes a group may use.
  size_t max_group_queries = exec::kMaxHopQueries;
  size_t max_group_bytes = size_t{256} << 20;
  // Per-node passes run in parallel chunks of this many nodes.
  size_t chunk_nodes = size_t{1} << 14;
};

struct SpreadOptions {
  double decay = 0.5;          // δ, 0 < δ ≤ 1                         option 'decay'
  double threshold = 0.01;     // θ ≥ 0                                 option 'threshold'
  int max_hops = 3;            // H, 0..64                              option 'max_hops'
  Normalize normalize = Normalize::kNone;        //                     option 'normalize'
  Accumulate accumulate = Accumulate::kSum;      //                     option 'accumulate'
  Refractory refractory = Refractory::kNone;     //                     option 'refractory'
  uint64_t max_fanout = 0;     // 0 = off                               option 'max_fanout'
  uint64_t max_frontier = 0;   // B, 0 = off                            option 'max_frontier'
  uint64_t top_k = 0;          // 0 = all rows (per set)                option 'top_k'
  double min_activation = 0;   // rows need A > this                    option 'min_activation'
  HopDirection direction = HopDirection::kAuto;
  SpreadTuning tuning;

  static constexpr int kMaxHops = 64;
  // "option 'decay': expected a number in (0, 1], found 1.5".
  Status Validate() const;
};

// Where the edges come from (SQL options src_col, dst_col, weight_col, directed).
struct EdgeSource {
  std::string src_col = "src";
  std::string dst_col = "dst";
  std::string weight_col = "weight";  // empty (JSON null): no weight column, every edge weighs 1.0
  bool directed = true;
};

struct ParsedOptions {
  EdgeSource source;
  SpreadOptions spread;
};

// Parses the options JSON object. A wrong value: "option 'decay': expected a number in (0, 1],
// found 1.5"; anything else (malformed JSON, not an object, unknown or repeated key) has no
// "option '" prefix: "unknown option 'speed': expected one of src_col, ...".
StatusOr<ParsedOptions> ParseOptions(std::string_view json);

struct Seed {
  int64_t id = 0;
  double activation = 0;
};
using SeedSet = std::vector<Seed>;

struct SeedInput {
  bool batched = false;        // a JSON array of seed sets
  std::vector<SeedSet> sets;   // one set unless batched
};

// Seeds as JSON: [id, ...] (1.0 each), {"id": activation, ...} (keys are strings holding
// integers), one integer, or (batched) an array of such arrays/objects. Ids may also be strings
// holding integers. Errors name the element: "element 2: expected an integer node id, found 1.5",
// "query 1: key 'x': expected a string holding an integer node id".
StatusOr<SeedInput> ParseSeeds(std::string_view json);

// Duplicates summed, ids ascending, activations ≤ 0 dropped. Errors on a non-finite activation.
StatusOr<SeedSet> NormalizeSeeds(SeedSet set);

struct ResultRow {
  int64_t node = 0;
  double activation = 0;
  int depth = 0;
  size_t query = 0;  // the set's position in the input
};

// What a call did (tests, benchmarks).
struct SpreadStats {
  int groups = 0;
  int hops = 0;  // hops run, summed over groups
  int push_hops = 0;
  int pull_hops = 0;
  uint64_t edges_touched = 0;
  int device_hops = 0;   // hops the executor sent to a device (whole or split)
  int fallbacks = 0;     // of which fell back to the CPU after a device failure
};

// A hop task over g's CSR and CSC for n_queries sets; the caller sets direction, the frontier or
// pulse vector and the output.
exec::HopTask GraphHopTask(const Graph& g, size_t n_queries);

// Runs every set (rows of set i have query = i), rows grouped by set in input order, each group
// ordered by activation descending then node ascending. ex: null → exec::Executor::Global().
StatusOr<std::vector<ResultRow>> Spread(const Graph& g, const std::vector<SeedSet>& sets, const SpreadOptions& opts,
                                        exec::Executor* ex = nullptr, SpreadStats* stats = nullptr);

}  // namespace vecgraph::graph
