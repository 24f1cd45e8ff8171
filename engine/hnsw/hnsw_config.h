// engine/hnsw/hnsw_config.h — HNSW index options, limits and build constants.
//
// Names follow Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs" (TPAMI 2018); the paper's name of each field is
// given in brackets. The SQL layer maps its options (dim, metric, M, ef_construction, ef_search)
// onto this struct and calls Validate() before creating an index.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"
#include "engine/vector/codec.h"

namespace vecgraph::hnsw {

// Internal node ids: dense slots 0..n-1, separate from SQLite rowids (int64).
using NodeId = uint32_t;
inline constexpr NodeId kInvalidNode = 0xFFFFFFFFu;
// Largest number of node slots (tombstones included).
inline constexpr size_t kMaxNodes = 0xFFFFFFF0u;

inline constexpr uint32_t kMinDim = 1;
inline constexpr uint32_t kMaxDim = 16000;
inline constexpr uint32_t kMinM = 2;
inline constexpr uint32_t kMaxM = 128;
inline constexpr uint32_t kMaxEf = 1u << 16;
// Highest level a node can get. With P(level >= L) = M^-L, M >= 2 and a 64-bit hash, levels above
// 63 cannot occur; the cap also bounds hostile records.
inline constexpr int kMaxLevel = 63;

// Parallel build: inserts are processed in batches of exactly this many rows (the last batch of a
// call may be smaller). Each batch searches the graph as it was at the batch start, so the graph
// depends on this constant and never on the thread count. See docs/hnsw_engine.md.
inline constexpr size_t kBuildBatchSize = 256;

// What the k-NN query walks read (hnsw_codes.h). Persisted in the header (byte 44).
//   kAuto  the search codes up to search_codes_max_dim dimensions, the float vectors above
//   kNone  always the float vectors (the walk of the paper and of hnswlib)
//   kInt8  always the 8-bit search codes (any dimension); the best ef nodes of each walk are
//          re-scored from the float vectors, so reported distances stay exact
enum class Quantizer : uint8_t { kAuto = 0, kNone = 1, kInt8 = 2 };
inline constexpr uint8_t kMaxQuantizer = 2;
inline constexpr uint32_t kMaxRescore = 1024;

struct HnswConfig {
  // [d] Dimensions of every vector. Required (default 0 = unset); 1..16000.
  uint32_t dim = 0;

  // Distance. Default cosine. Results mean what vec_distance means:
  //   cosine = 1 − cos similarity (1 against a zero vector); l2 = Euclidean (not squared);
  //   dot = −a·b. Cosine stores unit vectors (zero stays zero) and searches by inner product.
  Metric metric = Metric::kCosine;

  // [M, M_max] Links kept per node on levels ≥ 1, and links a new node selects on every level.
  // Default 16; 2..128. Level 0 keeps up to [M_max0] = 2·M links; the level multiplier
  // [m_L] is 1/ln(M).
  uint32_t M = 16;

  // [efConstruction] Candidate list size while inserting. Default 200; 1..65536. The build uses
  // max(ef_construction, M).
  uint32_t ef_construction = 200;

  // [ef] Default candidate list size while searching. Default 64; 1..65536. A query uses
  // max(ef, k).
  uint32_t ef_search = 64;

  // Seed of the level draw. Not in the paper, which draws l = ⌊−ln(unif(0,1))·m_L⌋ from a global
  // RNG; here unif(0,1) comes from a hash of (rowid, seed), so a row gets the same level on
  // every replica and in every thread. Default 100 (hnswlib's default random_seed). Persisted.
  uint64_t seed = 100;

  // [keepPrunedConnections] (alg. 4): fill a node's links up to its capacity with candidates the
  // heuristic discarded. Default false, as hnswlib (which also keeps every candidate when there
  // are fewer than M of them). Persisted: it changes the graph.
  bool keep_pruned_connections = false;

  // Filtered search (not in the paper). ExactWhenSelective(n) says "scan the n passing rows
  // exactly" instead of a filtered graph walk when
  //   n ≤ filter_exact_max_rows, or n ≤ filter_exact_max_fraction × live rows, or
  //   n · s^0.9 ≤ filter_graph_cost_rows, with s = n / live rows.
  // The last rule is a cost model: a filtered walk (ef 64) costs about filter_graph_cost_rows ×
  // s^−0.9 exact row scans. Refitted for the two-hop walk with materialised lists on 100k×128
  // and GloVe-100 (bench/hnsw_bench.cpp --filter: walk 110–160 µs at 5–10 % passing, scan about
  // 150 ns per row; a walk computing its lists on the way costs 2–3× that): 400 puts the switch
  // at 5 % on 100k rows (where the fraction rule below switches anyway), 17 % on 12k rows and
  // 40 % (the whole two-hop range) under 2.5k rows.
  // The fraction rule is about recall, not cost: below 5 % passing, the two-hop walk (below)
  // finds too few passing neighbours per expansion (recall@10 0.77–0.89 at 2 %, 0.96 at 5 % on
  // 100k×128 clustered and GloVe-100 at ef 64), so those filters are answered exactly.
  // Runtime only (not persisted).
  uint64_t filter_exact_max_rows = 1024;
  double filter_exact_max_fraction = 0.05;
  double filter_graph_cost_rows = 400;
  // A filtered walk with fewer than filter_hop_fraction of the searched rows passing scores
  // passing nodes only and reaches the next ones through non-passing neighbours (two hops, as
  // ACORN-1 does on an ordinary HNSW graph): at 10 % it computes about a quarter of the
  // distances of a walk that scores every node it meets. Above, that walk (hnswlib's) is used:
  // most neighbours pass, and scoring them is cheaper than reading second-hop lists. 0.4 from
  // bench/hnsw_bench.cpp (--filter) on 100k×128 clustered and GloVe-100. Runtime only.
  double filter_hop_fraction = 0.4;

  // Search codes (not in the paper; hnsw_codes.h): query walks read an 8-bit copy of each vector
  // when dim ≤ search_codes_max_dim. They cost dim + 16 bytes per node on top of the 4·dim of the
  // float vector: about 20 % more index memory at d = 128 (where the links are a larger share),
  // about 24 % at d = 768, where the float vectors are nearly the whole index. The default keeps
  // them up to 256 dimensions, so the index stays within 1.2× hnswlib's memory; above, the walk
  // reads the float vectors. Runtime only (not persisted): the codes live in memory only.
  uint32_t search_codes_max_dim = 256;

  // Not in the paper: which vectors the query walks read (Quantizer above). Default kAuto.
  // Persisted (the SQL option quantizer=none|int8).
  Quantizer quantizer = Quantizer::kAuto;
  // Not in the paper: how many of a coded walk's ef best nodes (by code distance, ties by rowid)
  // are re-scored from the float vectors: R·k with rescore = R (at least k), or all ef with 0
  // (the default). Fewer rows re-scored read fewer float vectors (3 KB each at d = 768); the
  // answer is the best k of those, with exact distances. 0..kMaxRescore. Persisted.
  uint32_t rescore = 0;
  // The walks read the search codes.
  bool Coded() const {
    return quantizer == Quantizer::kInt8 || (quantizer == Quantizer::kAuto && dim <= search_codes_max_dim);
  }

  // InvalidArgument naming the bad field, expected range and value found.
  Status Validate() const;

  uint32_t MaxLinks0() const { return 2 * M; }  // [M_max0]
  uint32_t MaxLinks() const { return M; }       // [M_max]
  uint32_t EfConstruction() const { return ef_construction < M ? M : ef_construction; }
};

}  // namespace vecgraph::hnsw
