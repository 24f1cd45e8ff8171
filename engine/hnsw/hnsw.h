// engine/hnsw/hnsw.h — the HNSW index engine (pure C++, no SQLite calls). The SQL virtual table
// `hnsw_knn` stores it in shadow tables and drives it through this API.
//
// How it works (details and measurements: docs/hnsw_engine.md)
//   - Storage. Internal node ids are dense uint32 slots, separate from SQLite rowids (int64;
//     RowidMap maps rowid → id). Level 0 lives in two parallel contiguous arrays with computed
//     offsets: vectors (id × dim floats, 64-byte aligned) and links (id × M_max0 uint32, a list
//     ends at the first kInvalidNode). Upper levels live in one pool of M-slot lists, addressed
//     by a per-node offset. Per-node level and flags are byte arrays.
//   - Metric. cosine stores unit vectors (a zero vector stays zero) and searches by inner
//     product; dot searches by −a·b; l2 by squared L2. Reported distances are recomputed with the
//     batch kernels (engine/vector/distance.h BatchDistances) against the stored vectors, so they
//     equal ExactSearch's bit for bit.
//   - Insert = batched insert (Malkov & Yashunin alg. 1, heuristic alg. 4). A batch of up to
//     kBuildBatchSize rows: (1) every row searches the graph as it was at the batch start, in
//     parallel and read-only; its candidates are completed with exact distances to the earlier
//     rows of the same batch; it selects its links with the heuristic; (2) the links are written;
//     (3) the reverse links are grouped by target node and each target's list is updated (and
//     pruned with the heuristic) once, from its sources in batch order, in parallel over targets.
//     No step depends on the thread count or on scheduling: same inserts, same order → same
//     graph, on 1 thread or 64. Insert(row) is a batch of one. Every tie is broken by rowid, never
//     by internal id, so an index reloaded from its records behaves exactly like the original.
//   - Delete marks a tombstone (still routes, never returned), re-selects the links of the
//     deleted node's neighbours from the union of both lists (hnswlib-style repair), and moves the
//     entry point if needed. Optimize() purges tombstones and compacts ids.
//
//   - No per-node locks: each parallel step partitions its writes (a task writes only its own
//     node's or target's lists), which is also what makes the build deterministic — hnswlib's
//     per-node mutexes would let the thread schedule decide the order of links.
//   - Persistence: Header() + one record per node (EncodeNode, links as rowids) + the stored
//     vector; TakeChanges() lists the rows to write/delete; Load() (the LoadFromRecords)
//     rebuilds an index from them, checking every byte.
//
// Thread safety: const methods (searches, encoding, Check) may run concurrently with each other;
// mutations take an internal exclusive lock. Parallel work runs on the executor's private TBB
// arena (exec::CpuBackend::Execute), or on the backend given to SetCpuBackend.
//
// Errors: every function returns Status/StatusOr; no exception escapes except std::bad_alloc.
// After a std::bad_alloc from a mutation the in-memory index is unspecified: drop it and reload.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/common/status.h"
#include "engine/hnsw/aligned_buffer.h"
#include "engine/hnsw/attributes.h"
#include "engine/hnsw/build_control.h"
#include "engine/hnsw/hnsw_codes.h"
#include "engine/hnsw/hnsw_config.h"
#include "engine/hnsw/hnsw_format.h"
#include "engine/hnsw/rowid_map.h"
#include "engine/vector/codec.h"

namespace vecgraph::exec {
class CpuBackend;
}
namespace vecgraph::kernels {
struct KernelTable;
}

namespace vecgraph::hnsw {

// One result: ascending distance, ties by smaller rowid.
struct HnswHit {
  int64_t rowid = 0;
  float distance = 0;
  bool operator==(const HnswHit& o) const { return rowid == o.rowid && distance == o.distance; }
};

// What the SQL layer must persist since the last TakeChanges().
struct HnswChanges {
  std::vector<int64_t> written;  // rowids whose node row (record, and vector if new) to write; ascending
  std::vector<int64_t> erased;   // rowids whose node row to delete; ascending
  bool header = false;           // the header row changed (Header())
  bool empty() const { return written.empty() && erased.empty() && !header; }
};

// A set of allowed rows as a bitset over internal ids (MakeAllowedSet). Only valid for the index
// that made it and until that index's ids change (Optimize, Reload); using a stale set is an
// InvalidArgument error, not undefined behaviour.
class AllowedSet {
 public:
  size_t count() const { return count_; }  // live rows in the set
  bool Test(NodeId id) const { return id / 64 < bits_.size() && ((bits_[id / 64] >> (id % 64)) & 1u) != 0; }

 private:
  friend class HnswIndex;
  std::vector<uint64_t> bits_;
  size_t count_ = 0;
  const void* owner_ = nullptr;
  uint64_t generation_ = 0;
};

using RowidFilter = std::function<bool(int64_t rowid)>;

enum class FilterStrategy : uint8_t { kGraph = 0, kExact };

struct SearchStats {
  uint64_t distances = 0;   // distance computations
  bool exact = false;       // answered by an exact scan (fallback or zero cosine query)
  // SearchFiltered: rows estimated to pass the filter (counted when `counted`, else from a
  // sample of `sampled` nodes), the strategy chosen and whether a short walk fell back.
  uint64_t passing_estimate = 0;
  uint32_t sampled = 0;
  bool counted = false;
  bool fallback = false;  // the walk found fewer than k passing rows; the exact scan answered
  bool hop = false;       // the walk scored passing nodes only (two-hop expansion)
  bool hop_lists = false; // ...reading the filter's materialised two-hop lists (HopLists)
  bool correlated = false;  // ...but passing rows were rare near the query: it scored every node
                            // with twice the result list
  uint32_t walk_ef = 0;     // the level-0 result list the walk ended with (0: no walk)
  FilterStrategy strategy = FilterStrategy::kGraph;
};

// A filtered k-NN query: rows passing every term (attributes.h) and, when `allowed` is given,
// in that set.
struct SearchFilter {
  std::span<const AttrTerm> terms;
  const AllowedSet* allowed = nullptr;
  // Grouped index: search only these groups (empty: every group). The terms must still say what
  // passes (a group restriction only chooses which graphs to walk).
  std::span<const uint32_t> groups;
};

struct CheckOptions {
  // Tombstones may still be linked (they route until Optimize). false: report every link to a
  // tombstone ("deleted node reachable"), which is what Check after Optimize expects.
  bool allow_tombstone_links = true;
  // Also report live nodes unreachable from the entry point on level 0 (O(n)).
  bool check_reachability = false;
};

struct OptimizeResult {
  std::vector<int64_t> changed;  // rowids whose records changed (ascending)
  std::vector<int64_t> purged;   // tombstones removed (their rows must be deleted; ascending)
};

// Cumulative counters (cheap, always on).
struct HnswCounters {
  uint64_t searches = 0;
  uint64_t search_distances = 0;
  uint64_t exact_scans = 0;
  uint64_t inserts = 0;
  uint64_t deletes = 0;
};

class HnswIndex {
 public:
  // An empty index. InvalidArgument if config.Validate() fails.
  static StatusOr<std::unique_ptr<HnswIndex>> Create(const HnswConfig& config);
  // An index from its persisted header and node rows (any order). Every byte is checked:
  // Corruption, naming the rowid, for truncated or malformed records, levels out of range,
  // counts over capacity, neighbours not in the index, wrong vector lengths, non-finite vectors,
  // duplicate rowids, count/entry mismatches. `runtime` supplies the non-persisted options
  // (filter thresholds); its persisted fields are ignored in favour of the header's.
  static StatusOr<std::unique_ptr<HnswIndex>> Load(const HnswHeader& header, RecordSource& source,
                                                   const HnswConfig* runtime = nullptr);
  ~HnswIndex();
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  const HnswConfig& config() const { return cfg_; }
  size_t size() const;        // live rows
  size_t node_count() const;  // node records, tombstones included
  size_t tombstones() const;
  bool Contains(int64_t rowid) const;  // live
  // Runs parallel work on `cpu` instead of exec::Executor::Global().cpu() (null: back to global).
  void SetCpuBackend(exec::CpuBackend* cpu);
  // Changes the default ef (persisted in the header). InvalidArgument outside 1..kMaxEf.
  Status SetEfSearch(uint32_t ef);

  // ---- mutations (each marks the changed node records; see TakeChanges)
  // InvalidArgument if rowid is already present (live), on a dimension mismatch or a non-finite
  // element. Re-inserting a deleted (tombstoned) rowid revives its slot.
  // group: the row's group in a grouped index (ignored otherwise).
  Status Insert(int64_t rowid, std::span<const float> vec, uint32_t group = 0);
  // Replaces the vector of rowid (or inserts it): the old links are repaired around the node,
  // then it is re-linked like an insert. An identical vector is a no-op.
  Status Upsert(int64_t rowid, std::span<const float> vec, uint32_t group = 0);
  // n = rowids.size() rows, vectors row-major n × dim. Processed in batches of kBuildBatchSize in
  // the given order; deterministic for a given call sequence (a bulk insert of N rows and N single
  // inserts give different, each deterministic, graphs). Nothing is inserted if any row is
  // invalid or (without upsert) already present, or if a rowid repeats within the call.
  // control (optional): progress and cancellation (build_control.h; kCancelled: drop the index).
  // groups (grouped index): one per row; a row whose group changes is re-linked in its new group.
  Status InsertBatch(std::span<const int64_t> rowids, const float* vectors, bool upsert = false,
                     BuildControl* control = nullptr, std::span<const uint32_t> groups = {});
  // InvalidArgument if rowid is not present (live).
  Status Delete(int64_t rowid);
  // Purges tombstones (after re-linking their live in-neighbours), compacts ids and reconnects
  // nodes left without links. The result lists what changed (also reported by TakeChanges).
  StatusOr<OptimizeResult> Optimize();
  // True when tombstones make up at least `fraction` of the nodes (a hint to call Optimize).
  bool NeedsOptimize(double fraction = 0.25) const;

  // ---- search. q has dim floats. ef = 0 uses config().ef_search; the search uses max(ef, k).
  // Results ascending by distance, ties by smaller rowid; k results whenever k live (passing)
  // rows exist — if the graph walk finds fewer, the rest comes from an exact scan.
  StatusOr<std::vector<HnswHit>> Search(std::span<const float> q, size_t k, size_t ef = 0,
                                        SearchStats* stats = nullptr) const;
  StatusOr<std::vector<HnswHit>> Search(std::span<const float> q, size_t k, size_t ef, const AllowedSet& allowed,
                                        SearchStats* stats = nullptr) const;
  // filter(rowid) is called from the calling thread only (never from TBB workers).
  StatusOr<std::vector<HnswHit>> Search(std::span<const float> q, size_t k, size_t ef, const RowidFilter& filter,
                                        SearchStats* stats = nullptr) const;
  // Brute force over the live rows with the batch kernels: the same distances as BatchDistances
  // over the stored vectors, bit for bit.
  StatusOr<std::vector<HnswHit>> ExactSearch(std::span<const float> q, size_t k) const;
  StatusOr<std::vector<HnswHit>> ExactSearch(std::span<const float> q, size_t k, const AllowedSet& allowed) const;
  StatusOr<std::vector<HnswHit>> ExactSearch(std::span<const float> q, size_t k, const RowidFilter& filter) const;
  // nq queries (row-major nq × dim) in parallel on the executor's arena; result[i] equals
  // Search(query i, k, ef).
  StatusOr<std::vector<std::vector<HnswHit>>> SearchBatch(const float* queries, size_t nq, size_t k,
                                                          size_t ef = 0) const;

  // k-NN over the rows that pass `filter`: k rows whenever k pass. The strategy comes from an
  // estimate of the passing rows (counted exactly up to kFilterCountNodes nodes, else from a
  // deterministic sample of kFilterSampleNodes): an exact scan of the passing rows when
  // ExactWhenSelective(estimate) (or `exact`), else a graph walk: below
  // config().filter_hop_fraction passing, the two-hop walk (scores passing nodes only, reaches
  // them through failing ones), above, the walk through every node that keeps the passing ones;
  // a walk that finds fewer than k passing rows is answered by the exact scan instead. Filters
  // compiled a second time read cached bits (AttributeTable::Compile). stats says what happened.
  static constexpr size_t kFilterCountNodes = 4096;
  static constexpr size_t kFilterSampleNodes = 1024;
  StatusOr<std::vector<HnswHit>> SearchFiltered(std::span<const float> q, size_t k, size_t ef,
                                                const SearchFilter& filter, bool exact = false,
                                                SearchStats* stats = nullptr) const;

  // ---- partitions (groups). A grouped index keeps one graph per group in the same arrays: a
  // node links only to nodes of its own group and each group has its own entry point (its live
  // node of the highest level, ties by the smaller rowid), so a search of one group walks only
  // that group's graph, as a standalone index of its rows would. A search without a group
  // restriction walks every group and merges. Groups are numbers the caller assigns (the SQL
  // layer numbers its partition-key values); they are not persisted: after Load the caller
  // sets each live row's group and calls FinishGroups.
  static constexpr uint32_t kNoGroup = 0xFFFFFFFFu;
  void SetGrouped();           // on an empty or freshly loaded index
  bool grouped() const { return grouped_; }
  Status SetGroup(int64_t rowid, uint32_t group);  // after Load, for every live row
  void FinishGroups();                              // then: entry points and counts
  uint32_t GroupOf(int64_t rowid) const;            // kNoGroup when unknown
  size_t GroupCount() const;                        // groups with live rows

  // ---- metadata columns (attributes.h), by rowid; NULL until set. The SQL layer keeps them in
  // a shadow table and sets every row's values after each insert, update and load.
  void SetAttributeSchema(std::vector<AttrType> types);
  std::vector<AttrType> AttributeSchema() const;
  // InvalidArgument for an unknown rowid or a value that does not fit its column.
  Status SetAttributes(int64_t rowid, std::span<const AttrValue> row);
  StatusOr<AttrValue> Attribute(int64_t rowid, uint32_t column) const;
  size_t AttributeBytes() const;

  // The allowed-row bitset for filtered searches; rowids not in the index (or deleted) are ignored.
  AllowedSet MakeAllowedSet(std::span<const int64_t> rowids) const;
  // true: scan the n_passing rows exactly (ExactSearch with the filter); false: filtered graph
  // search. Thresholds: config().filter_exact_max_rows / filter_exact_max_fraction.
  bool ExactWhenSelective(size_t n_passing) const;
  bool ExactWhenSelectiveIn(size_t n_passing, size_t universe) const;  // n_passing of `universe` rows
  NodeId SampleNode(size_t s) const;  // s-th node of the filter-estimate sample (n_ > 0)
  // Takes the filter_* thresholds (runtime options) from c; nothing else changes.
  void SetFilterThresholds(const HnswConfig& c);
  FilterStrategy ChooseFilterStrategy(size_t n_passing) const {
    return ExactWhenSelective(n_passing) ? FilterStrategy::kExact : FilterStrategy::kGraph;
  }

  // ---- persistence hooks
  HnswHeader Header() const;
  // The node record of rowid (live or tombstone); InvalidArgument if unknown.
  StatusOr<std::vector<uint8_t>> EncodeNode(int64_t rowid) const;
  // The stored vector to persist beside the record (for cosine: the unit vector). Load reads it
  // back bit-exactly; it is not the caller's original vector.
  StatusOr<std::vector<float>> StoredVector(int64_t rowid) const;
  // The vector as the index would store `in` (cosine: the unit vector, a zero vector stays zero;
  // other metrics: a copy), bit for bit what StoredVector returns after Insert(rowid, in).
  std::vector<float> StoredForm(std::span<const float> in) const;
  // The same for any index of `metric`: out gets in.size() floats. A pure function of its
  // arguments (the same bits on every ISA), so a store that keeps vectors as inserted can give
  // Load their stored form.
  static void StoredFormOf(Metric metric, std::span<const float> in, float* out);
  // Every node (tombstones included) in internal-id order: fn(rowid, stored vector, record).
  Status ForEachNode(const std::function<Status(int64_t rowid, std::span<const float> vec,
                                                std::span<const uint8_t> record)>& fn) const;
  // Rows to write/delete since the last call (then forgets them).
  HnswChanges TakeChanges();
  bool HasChanges() const;
  // Replaces the in-memory state with the persisted one (another connection changed the file, or
  // a rollback). On error the current state is kept. Pending changes are dropped.
  Status Reload(const HnswHeader& header, RecordSource& source);
  // Drops every node and pending change without reporting erasures (the caller reloads or
  // rebuilds); the configuration stays.
  void Reset();

  // ---- diagnostics
  // Inconsistencies in human-readable form; empty when the index is consistent.
  std::vector<std::string> Check(const CheckOptions& options = {}) const;
  size_t MemoryBytes() const;
  // MemoryBytes by part: float vectors, links (both levels, rowid map, per-node arrays), search
  // codes, metadata columns (with their filter cache and its two-hop lists).
  struct MemoryParts {
    size_t vectors = 0, graph = 0, codes = 0, attributes = 0;
  };
  MemoryParts MemoryByPart() const;
  int MaxLevel() const;  // -1 when empty
  std::vector<int64_t> Rowids() const;  // live rows, ascending
  // Links per level as rowids; InvalidArgument if unknown.
  StatusOr<std::vector<std::vector<int64_t>>> Neighbors(int64_t rowid) const;
  int LevelOf(int64_t rowid) const;  // -1 when unknown
  // The level a rowid gets for a seed and M (hash of rowid and seed; P(level ≥ L) = M^−L).
  static int LevelFor(int64_t rowid, uint64_t seed, uint32_t M);
  HnswCounters Counters() const;

  struct SearchContext;  // per-thread scratch (visited tags, heaps), pooled
  struct Cand {
    float d;
    NodeId id;
  };

 private:
  friend class ContextLease;
  explicit HnswIndex(const HnswConfig& config);

  // Storage accessors.
  const float* Vec(NodeId id) const { return vecs_.data() + static_cast<size_t>(id) * dim_; }
  float* Vec(NodeId id) { return vecs_.data() + static_cast<size_t>(id) * dim_; }
  const uint8_t* Code(NodeId id) const { return codes_.data() + static_cast<size_t>(id) * dim_; }
  // Recomputes node id's search codes from its stored vector (hnsw_codes.h).
  void RecodeNode(NodeId id) {
    if (!Coded()) return;
    scales_[id] = EncodeCodes(Vec(id), dim_, codes_.data() + static_cast<size_t>(id) * dim_);
  }
  uint32_t* Links(NodeId id, int level) {
    return level == 0 ? links0_.data() + static_cast<size_t>(id) * m0_
                      : upper_.data() + upper_off_[id] + static_cast<size_t>(level - 1) * m_;
  }
  const uint32_t* Links(NodeId id, int level) const { return const_cast<HnswIndex*>(this)->Links(id, level); }
  uint32_t Cap(int level) const { return level == 0 ? m0_ : m_; }
  static size_t Count(const uint32_t* lst, uint32_t cap) {
    size_t c = 0;
    while (c < cap && lst[c] != kInvalidNode) ++c;
    return c;
  }
  bool Live(NodeId id) const { return (flags_[id] & kFlagTomb) == 0; }
  // Query walks read the search codes (and codes_/scales_ are kept): HnswConfig::Coded().
  bool Coded() const { return cfg_.Coded(); }
  void ReserveCodes(size_t nodes) {
    if (!Coded()) return;
    codes_.reserve(nodes * dim_);
    scales_.reserve(nodes);
  }

  static constexpr uint8_t kFlagTomb = 1;
  static constexpr uint8_t kFlagDirty = 2;
  static constexpr uint8_t kFlagInBatch = 4;

  // Distances (internal ordering: -dot for cosine/dot, squared L2 for l2; NaN → +inf).
  float DistNodes(NodeId a, NodeId b) const;
  float DistTo(const float* q, NodeId b) const;

  // Search primitives (hnsw_search.cpp).
  SearchContext* AcquireContext() const;
  void ReleaseContext(SearchContext* ctx) const;
  template <bool kCoded>
  void StageRow(SearchContext& ctx, size_t i, NodeId v) const;
  template <bool kIp, bool kCoded>
  void ScoreRows(SearchContext& ctx, const float* q, const NodeId* ids, size_t n, float* out) const;
  template <bool kIp, bool kCoded>
  NodeId GreedyDescend(SearchContext& ctx, const float* q, NodeId ep, float* ep_d, int from_level, int to_level) const;
  // A node's two-hop list under elig (kHop walks): its eligible neighbours in link order, then,
  // through each ineligible neighbour in link order, that neighbour's eligible neighbours, without
  // repeats or the node itself, up to HopListSize() entries. A pure function of the graph and
  // elig (never of the walk's visited set), so a list materialised once (HopLists) walks exactly
  // as one computed on the way.
  template <typename Elig>
  size_t HopList(SearchContext& ctx, NodeId p, const Elig& elig, NodeId* out) const;
  size_t HopListSize() const { return m0_ + m0_ / 2; }
  struct HopLists;
  // The two-hop lists of a cached filter (af.shared_bits()) under elig = bits ∧ live, built on
  // the filter's second two-hop walk since the index or the filter last changed, when they fit
  // the budget (HopListsBudget); null until then (the walk computes each list on the way).
  template <typename Elig>
  std::shared_ptr<const HopLists> HopListsFor(const AttrFilter& af, size_t passing, const Elig& elig) const;
  size_t HopListsBudget() const { return std::max<size_t>(size_t{4} << 20, links0_.size() * sizeof(uint32_t) / 2); }
  void ForgetHopLists();  // every mutation (exclusive lock): the lists no longer hold
  size_t HopListsBytes() const;
  static constexpr size_t kHopCacheEntries = 8;  // filters remembered (as the filter cache)
  template <typename Elig>
  void CodedWalk(SearchContext& ctx, const float* q, size_t ef, const Elig& elig, NodeId ep0, int top,
                 bool hop = false) const;
  // kHop (filtered query walks, level 0): only eligible nodes are scored and expanded; an
  // ineligible neighbour is passed through to its own eligible neighbours (two hops, as ACORN).
  template <bool kIp, bool kLevel0, bool kCoded, bool kHop = false, typename Elig>
  void SearchLayer(SearchContext& ctx, const float* q, NodeId ep, float ep_d, int level, size_t ef,
                   const Elig& elig) const;
  template <typename Elig>
  void SearchLayerAny(SearchContext& ctx, const float* q, NodeId ep, float ep_d, int level, size_t ef,
                      const Elig& elig) const;
  NodeId Descend(SearchContext& ctx, const float* q, NodeId ep, float* ep_d, int from_level, int to_level) const;
  // cands sorted ascending (d, rowid); appends up to m selected to *out (paper alg. 4).
  void SelectNeighbors(const std::vector<Cand>& cands, size_t m, std::vector<Cand>* out,
                       std::vector<Cand>* scratch) const;
  // Sorts ascending by (distance, rowid) and keeps the first `keep`.
  void SortCands(std::vector<Cand>* c, size_t keep = SIZE_MAX) const;
  // ep0/top: where the walk starts (kInvalidNode: entry_ / max_level_). fallback = false: a
  // short walk returns what it found (SearchGroups decides).
  template <typename Elig>
  StatusOr<std::vector<HnswHit>> SearchImpl(std::span<const float> q, size_t k, size_t ef, const Elig& elig,
                                            size_t passing_hint, const std::function<bool(NodeId)>& exact_pass,
                                            SearchStats* stats, NodeId ep0 = kInvalidNode, int top = -1,
                                            bool fallback = true, bool hop = false,
                                            const HopLists* lists = nullptr, double pass_fraction = 1) const;
  // Grouped index: walks each group of `groups` (empty: all) from its entry point with
  // elig(v) ∧ group(v) = g, merges, and answers with the exact scan over elig (∧ in groups) when
  // the merged answer has fewer than min(k, passing) rows (passing unknown: SIZE_MAX).
  // parallel = false: elig runs on the calling thread only.
  template <typename Elig>
  std::vector<HnswHit> SearchGroups(std::span<const float> q, size_t k, size_t ef, const Elig& elig, size_t passing,
                                    std::span<const uint32_t> groups, SearchStats* stats,
                                    bool parallel = true, bool hop = false,
                                    const HopLists* lists = nullptr, double pass_fraction = 1) const;
  struct GroupInfo {
    NodeId entry = kInvalidNode;
    int max_level = -1;
    size_t live = 0;
  };
  void RecomputeGroupEntry(uint32_t g);  // entry = PickEntry over the group's live nodes
  // ExactLocked over the live nodes with pred(id) (inlined; pred must be safe to call from TBB
  // workers: the scan runs in parallel on large indexes). candidates (optional, bit per node id,
  // n_ bits): only nodes whose bit is set can pass (whole zero words are skipped).
  template <typename Pred>
  std::vector<HnswHit> ExactWhere(const float* q, float q_norm, size_t k, const Pred& pred, bool parallel = true,
                                  const uint64_t* candidates = nullptr) const;
  std::vector<HnswHit> ExactLocked(const float* q, float q_norm, size_t k, const std::function<bool(NodeId)>* pass,
                                   const AllowedSet* allowed) const;
  void Report(SearchContext& ctx, const float* q, float q_norm, const NodeId* ids, size_t n, float* out) const;
  Status CheckQuery(std::span<const float> q) const;
  void PrepareQuery(const float* q, float* qi, float* q_norm, bool* zero) const;
  Status CheckAllowed(const AllowedSet& s) const;

  // Build (hnsw_build.cpp).
  Status InsertLocked(std::span<const int64_t> rowids, const float* vectors, bool upsert, BuildControl* ctl,
                      std::span<const uint32_t> groups);
  bool InsertChunk(const std::vector<NodeId>& members, BuildControl* ctl = nullptr);  // false: cancelled
  NodeId AddSlot(int64_t rowid, int level);
  void RepairAround(NodeId d);
  void ClearLinks(NodeId id);
  NodeId PickEntry(const std::function<bool(NodeId)>& excluded) const;
  // The entry-point order: a before b when a has the higher level, ties by the smaller rowid
  // (PickEntry, and a group's entry while building and after a load, so a reload starts where
  // the build did).
  bool EntryBefore(NodeId a, NodeId b) const {
    return b == kInvalidNode || level_[a] > level_[b] || (level_[a] == level_[b] && rowid_[a] < rowid_[b]);
  }
  void Touch(NodeId id);
  void StoreVector(const float* in, float* out) const;
  template <typename Fn>
  void ParallelFor(size_t n, size_t grain, Fn&& fn) const;

  // Maintenance (hnsw_maintain.cpp).
  void PurgeAllLocked();
  void ClearNodesLocked();  // drops every node (storage, maps, entry point); bumps generation_
  void Compact(std::vector<int64_t>* purged);
  void RemapLocked(const std::vector<NodeId>& remap, size_t nn);
  void ClusterGroupsLocked();
  static constexpr size_t kClusterMinRows = 4096;  // a bulk insert of at least this many regroups
  void StealState(HnswIndex& o);
  Status LoadLocked(const HnswHeader& header, RecordSource& source);
  void EncodeLocked(NodeId id, std::vector<uint8_t>* out, std::vector<int64_t>* scratch) const;

  HnswConfig cfg_;
  const kernels::KernelTable* kt_;
  size_t dim_;
  uint32_t m0_, m_;
  bool ip_;  // internal ordering by inner product (cosine, dot) rather than L2

  size_t n_ = 0;                      // slots (tombstones included)
  size_t live_ = 0;
  AlignedBuffer<float> vecs_;         // n_ × dim_
  AlignedBuffer<uint32_t> links0_;    // n_ × m0_, level 0
  AlignedBuffer<uint8_t> codes_;      // n_ × dim_ search codes of vecs_ (hnsw_codes.h); empty unless Coded()
  AlignedBuffer<CodeScale> scales_;   // n_ scales of the codes; empty unless Coded()
  std::vector<uint32_t> upper_;       // lists of m_ slots for levels ≥ 1
  std::vector<uint32_t> upper_off_;   // per node: index of its level-1 list in upper_
  std::vector<int64_t> rowid_;
  std::vector<uint8_t> level_;
  std::vector<uint8_t> flags_;
  AttributeTable attrs_;              // metadata columns, n_ rows when it has columns
  bool grouped_ = false;
  std::vector<uint32_t> group_;       // per node when grouped_ (kNoGroup: unknown, e.g. a loaded tombstone)
  std::unordered_map<uint32_t, GroupInfo> groups_;
  RowidMap map_;
  NodeId entry_ = kInvalidNode;
  int max_level_ = -1;
  uint64_t generation_ = 1;           // changes whenever internal ids change meaning

  std::vector<int64_t> touched_;      // rowids whose rows changed (may repeat)
  bool header_dirty_ = false;

  exec::CpuBackend* cpu_ = nullptr;
  mutable std::shared_mutex mu_;
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<SearchContext>> pool_;
  mutable std::atomic<uint64_t> n_searches_{0}, n_search_dist_{0}, n_exact_{0};
  struct HopCacheEntry {
    std::weak_ptr<const FilterBits> bits;  // the filter (expired: the table changed since)
    std::shared_ptr<const HopLists> lists;  // null: not built yet (the next two-hop walk builds them)
    bool building = false;
  };
  mutable std::mutex hop_mu_;
  mutable std::vector<HopCacheEntry> hop_cache_;  // most recent first
  uint64_t n_inserts_ = 0, n_deletes_ = 0;
};

}  // namespace vecgraph::hnsw
