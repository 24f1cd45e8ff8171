// engine/hnsw/hnsw_search.cpp — k-NN search: graph search (unfiltered, bitset, predicate), exact
// scan, batched search, the heuristic neighbour selection and the filter-strategy helper.
//
// A graph search: greedy descent from the entry point through the upper levels (ef = 1), then
// the ef-search on level 0 (hnsw_internal.h), both over the 8-bit search codes (CodedWalk,
// hnsw_codes.h). The best ef eligible nodes of the walk get their reported
// distances from the batch kernels (BatchDistances over their gathered stored vectors, the
// same values ExactSearch computes), then are sorted by (distance, rowid) and cut to k. If the
// walk found fewer than k eligible nodes while at least k exist (a disconnected remnant after
// deletes, a very selective filter), the answer comes from an exact scan instead.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/hnsw/hnsw_internal.h"
#include "engine/vector/distance.h"
#include "kernels/cpu/topk.h"

namespace vecgraph::hnsw {

namespace {

// Rows per exact-scan block (gathered or contiguous) and per parallel task.
constexpr size_t kExactBlock = 128;
constexpr size_t kExactParallelRows = 16384;

bool HitLess(const HnswHit& a, const HnswHit& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.rowid < b.rowid);
}

}  // namespace

void HnswIndex::SortCands(std::vector<Cand>* c, size_t keep) const {
  auto less = [this](const Cand& a, const Cand& b) {
    return a.d < b.d || (a.d == b.d && rowid_[a.id] < rowid_[b.id]);
  };
  if (c->size() > keep) {
    std::nth_element(c->begin(), c->begin() + static_cast<std::ptrdiff_t>(keep), c->end(), less);
    c->resize(keep);
  }
  std::sort(c->begin(), c->end(), less);
}

// Paper alg. 4 (hnswlib getNeighborsByHeuristic2): walk the candidates closest first and keep
// one unless it is closer to an already kept neighbour than to the base. Fewer than m
// candidates: keep them all (hnswlib). keepPrunedConnections fills up with discarded ones.
void HnswIndex::SelectNeighbors(const std::vector<Cand>& cands, size_t m, std::vector<Cand>* out,
                                std::vector<Cand>* pruned) const {
  out->clear();
  if (cands.size() < m) {
    out->assign(cands.begin(), cands.end());
    return;
  }
  pruned->clear();
  for (const Cand& c : cands) {
    if (out->size() >= m) break;
    const float* cv = Vec(c.id);
    bool good = true;
    for (const Cand& s : *out) {
      float d = ip_ ? RawDist<true>(kt_, cv, Vec(s.id), dim_) : RawDist<false>(kt_, cv, Vec(s.id), dim_);
      if (d < c.d) {
        good = false;
        break;
      }
    }
    if (good) {
      out->push_back(c);
    } else if (cfg_.keep_pruned_connections) {
      pruned->push_back(c);
    }
  }
  if (cfg_.keep_pruned_connections) {
    for (const Cand& c : *pruned) {
      if (out->size() >= m) break;
      out->push_back(c);
    }
  }
}

void HnswIndex::Report(SearchContext& ctx, const float* q, float q_norm, const NodeId* ids, size_t n,
                       float* out) const {
  if (n == 0) return;
  ctx.gather.resize(n * dim_);
  ctx.scratch.resize(n);
  // The walk read codes, so these float rows are usually not in cache: request them all before
  // copying any, so their misses overlap instead of being paid one row after the other.
  const size_t lines = (dim_ * sizeof(float) + kCacheLine - 1) / kCacheLine;
  for (size_t i = 0; i < n; ++i) {
    const char* row = reinterpret_cast<const char*>(Vec(ids[i]));
    for (size_t l = 0; l < lines; ++l) PrefetchRead(row + l * kCacheLine);
  }
  for (size_t i = 0; i < n; ++i) std::memcpy(ctx.gather.data() + i * dim_, Vec(ids[i]), dim_ * sizeof(float));
  BatchDistances(*kt_, cfg_.metric, q, q_norm, ctx.gather.data(), n, dim_, out, ctx.scratch.data());
}

Status HnswIndex::CheckAllowed(const AllowedSet& s) const {
  if (s.owner_ != this || s.generation_ != generation_) {
    return Status::InvalidArgument("hnsw: the allowed-row set is stale (made before the index ids changed)");
  }
  return Status::Ok();
}

AllowedSet HnswIndex::MakeAllowedSet(std::span<const int64_t> rowids) const {
  std::shared_lock lock(mu_);
  AllowedSet s;
  s.owner_ = this;
  s.generation_ = generation_;
  s.bits_.assign((n_ + 63) / 64, 0);
  for (int64_t r : rowids) {
    NodeId id = map_.Find(r);
    if (id == kInvalidNode || !Live(id)) continue;
    uint64_t bit = uint64_t{1} << (id % 64);
    if ((s.bits_[id / 64] & bit) == 0) {
      s.bits_[id / 64] |= bit;
      ++s.count_;
    }
  }
  return s;
}

// The s-th node of the fixed filter-estimate sample: a hash of s, not a stride (a stride aliases
// with periodic attribute values: every 48th row of `id % 10` is always even). Deterministic for
// a given node count, so the same index and filter always choose the same strategy (whether or
// not the filter's bits are cached: they give the same answers).
NodeId HnswIndex::SampleNode(size_t s) const {
  uint64_t z = static_cast<uint64_t>(s) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<NodeId>((static_cast<unsigned __int128>(z) * n_) >> 64);  // z·n / 2^64: no division
}

void HnswIndex::SetFilterThresholds(const HnswConfig& c) {
  std::unique_lock lock(mu_);
  cfg_.filter_exact_max_rows = c.filter_exact_max_rows;
  cfg_.filter_exact_max_fraction = c.filter_exact_max_fraction;
  cfg_.filter_graph_cost_rows = c.filter_graph_cost_rows;
  cfg_.filter_hop_fraction = c.filter_hop_fraction;
}

bool HnswIndex::ExactWhenSelective(size_t n_passing) const {
  std::shared_lock lock(mu_);
  return ExactWhenSelectiveIn(n_passing, live_);
}

bool HnswIndex::ExactWhenSelectiveIn(size_t n_passing, size_t universe) const {
  // n_passing of `universe` rows pass (universe: the live rows, or those of the searched groups).
  const double n = static_cast<double>(n_passing), live = static_cast<double>(universe);
  if (n_passing <= cfg_.filter_exact_max_rows || n <= cfg_.filter_exact_max_fraction * live) return true;
  if (universe == 0) return true;
  const double s = std::min(1.0, n / live);
  return n * std::pow(s, 0.9) <= cfg_.filter_graph_cost_rows;
}

// Brute force over the live nodes with pred(id), in parallel blocks on large indexes. Blocks of
// contiguous rows go straight to the batch kernel; sparse blocks are gathered first (the kernel
// computes each row the same way in either case).
template <typename Pred>
std::vector<HnswHit> HnswIndex::ExactWhere(const float* q, float q_norm, size_t k, const Pred& pred,
                                           bool parallel, const uint64_t* candidates) const {
  static_assert(kExactBlock % 64 == 0 && kExactParallelRows % kExactBlock == 0);
  n_exact_.fetch_add(1, std::memory_order_relaxed);
  if (k == 0 || live_ == 0) return {};
  auto scan = [&](size_t begin, size_t end, kernels::TopK* topk) {
    std::vector<float> gather, dists(kExactBlock), scratch(kExactBlock);
    NodeId ids[kExactBlock];
    for (size_t b = begin; b < end; b += kExactBlock) {
      const size_t e = std::min(end, b + kExactBlock);
      size_t n = 0;
      if (candidates != nullptr) {
        for (size_t w = b / 64; w * 64 < e; ++w) {
          for (uint64_t bits = candidates[w]; bits != 0; bits &= bits - 1) {
            const NodeId id = static_cast<NodeId>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
            if (Live(id) && pred(id)) ids[n++] = id;
          }
        }
      } else {
        for (size_t i = b; i < e; ++i) {
          const NodeId id = static_cast<NodeId>(i);
          if (Live(id) && pred(id)) ids[n++] = id;
        }
      }
      if (n == 0) continue;
      if (2 * n >= e - b) {
        BatchDistances(*kt_, cfg_.metric, q, q_norm, Vec(static_cast<NodeId>(b)), e - b, dim_, dists.data(),
                       scratch.data());
        for (size_t j = 0; j < n; ++j) topk->Push(dists[ids[j] - b], rowid_[ids[j]]);
      } else {
        gather.resize(n * dim_);
        for (size_t j = 0; j < n; ++j) std::memcpy(gather.data() + j * dim_, Vec(ids[j]), dim_ * sizeof(float));
        BatchDistances(*kt_, cfg_.metric, q, q_norm, gather.data(), n, dim_, dists.data(), scratch.data());
        for (size_t j = 0; j < n; ++j) topk->Push(dists[j], rowid_[ids[j]]);
      }
    }
  };
  kernels::TopK best(k);
  const size_t parts = (n_ + kExactParallelRows - 1) / kExactParallelRows;
  if (parallel && parts > 1) {
    std::vector<kernels::TopK> local(parts, kernels::TopK(k));
    ParallelFor(parts, 1, [&](size_t pb, size_t pe) {
      for (size_t p = pb; p < pe; ++p) scan(p * kExactParallelRows, std::min(n_, (p + 1) * kExactParallelRows), &local[p]);
    });
    for (const auto& t : local) best.Merge(t);
  } else {
    scan(0, n_, &best);
  }
  std::vector<HnswHit> out;
  for (const kernels::Neighbor& nb : best.Sorted()) out.push_back({nb.id, nb.distance});
  return out;
}

// Brute force over live nodes that pass (pass == null: all; allowed: bitset): ExactWhere with
// those tests; a caller's std::function runs on the calling thread only (no parallel scan).
std::vector<HnswHit> HnswIndex::ExactLocked(const float* q, float q_norm, size_t k,
                                            const std::function<bool(NodeId)>* pass,
                                            const AllowedSet* allowed) const {
  auto pred = [pass, allowed](NodeId id) {
    return (allowed == nullptr || allowed->Test(id)) && (pass == nullptr || (*pass)(id));
  };
  return ExactWhere(q, q_norm, k, pred, /*parallel=*/pass == nullptr);
}

template <typename Elig>
StatusOr<std::vector<HnswHit>> HnswIndex::SearchImpl(std::span<const float> q, size_t k, size_t ef,
                                                     const Elig& elig, size_t passing_hint,
                                                     const std::function<bool(NodeId)>& exact_pass,
                                                     SearchStats* stats, NodeId ep0, int top,
                                                     bool fallback, bool hop, const HopLists* lists,
                                                     double pass_fraction) const {
  // Caller holds the shared lock and has checked q.
  n_searches_.fetch_add(1, std::memory_order_relaxed);
  if (stats != nullptr) *stats = SearchStats{};
  if (ep0 == kInvalidNode) {
    ep0 = entry_;
    top = max_level_;
  }
  if (k == 0 || live_ == 0 || ep0 == kInvalidNode) return std::vector<HnswHit>{};
  ContextLease ctx(this);
  float q_norm = 0;
  bool zero = false;
  PrepareQuery(q.data(), ctx->qbuf.data(), &q_norm, &zero);
  const std::function<bool(NodeId)>* pass = exact_pass ? &exact_pass : nullptr;
  // A cosine zero query (every distance is 1: the answer is the smallest rowids), or k at least
  // the passing rows (the answer is all of them, ranked): an exact scan is the whole answer and
  // cheaper than a walk with ef ≥ k.
  if (fallback && (zero || k >= passing_hint)) {
    if (stats != nullptr) stats->exact = true;
    return ExactLocked(q.data(), q_norm, k, pass, nullptr);
  }
  const float* qi = ctx->qbuf.data();
  size_t eff = std::max<size_t>(ef != 0 ? ef : cfg_.ef_search, k);
  ctx->n_dist = 0;
  ctx->hop_lists = lists;
  ctx->pass_fraction = pass_fraction;
  ctx->correlated = false;
  ctx->walk_ef = 0;
  if (Coded()) {
    CodedWalk(*ctx, qi, eff, elig, ep0, top, hop);
  } else {
    float ep_d = DistTo(qi, ep0);
    NodeId ep = Descend(*ctx, qi, ep0, &ep_d, top, 0);
    if (!hop) SearchLayerAny(*ctx, qi, ep, ep_d, 0, eff, elig);
    else if (ip_) SearchLayer<true, true, false, true>(*ctx, qi, ep, ep_d, 0, eff, elig);
    else SearchLayer<false, true, false, true>(*ctx, qi, ep, ep_d, 0, eff, elig);
  }
  ctx->hop_lists = nullptr;
  if (stats != nullptr) {
    stats->correlated = ctx->correlated;
    stats->walk_ef = static_cast<uint32_t>(ctx->walk_ef);
  }
  size_t n = ctx->top.size();
  if (Coded() && cfg_.rescore != 0 && n > size_t{cfg_.rescore} * k) {
    // Re-score only the best R·k nodes of the walk (by code distance, ties by rowid; R ≥ 1).
    n = size_t{cfg_.rescore} * k;
    SortCands(&ctx->top, n);
  }
  ctx->ids.resize(n);
  for (size_t i = 0; i < n; ++i) ctx->ids[i] = ctx->top[i].id;
  ctx->dists.resize(n);
  Report(*ctx, q.data(), q_norm, ctx->ids.data(), n, ctx->dists.data());
  std::vector<HnswHit> hits(n);
  for (size_t i = 0; i < n; ++i) hits[i] = {rowid_[ctx->ids[i]], ctx->dists[i]};
  std::sort(hits.begin(), hits.end(), HitLess);
  if (hits.size() > k) hits.resize(k);
  n_search_dist_.fetch_add(ctx->n_dist, std::memory_order_relaxed);
  if (stats != nullptr) stats->distances = ctx->n_dist;
  if (fallback && hits.size() < std::min(k, passing_hint)) {
    if (stats != nullptr) stats->exact = true;
    return ExactLocked(q.data(), q_norm, k, pass, nullptr);
  }
  return hits;
}

template <typename Elig>
std::vector<HnswHit> HnswIndex::SearchGroups(std::span<const float> q, size_t k, size_t ef, const Elig& elig,
                                             size_t passing,
                                             std::span<const uint32_t> groups, SearchStats* stats,
                                             bool parallel, bool hop, const HopLists* lists,
                                             double pass_fraction) const {
  // Caller holds the shared lock and has checked q.
  bool correlated = false;
  uint32_t walk_ef = 0;
  std::vector<uint32_t> all;
  if (groups.empty()) {
    for (const auto& [g, info] : groups_)
      if (info.live > 0) all.push_back(g);
    std::sort(all.begin(), all.end());
    groups = all;
  }
  std::vector<HnswHit> merged;
  uint64_t distances = 0;
  for (uint32_t g : groups) {
    auto it = groups_.find(g);
    if (it == groups_.end() || it->second.live == 0 || it->second.entry == kInvalidNode) continue;
    const uint32_t* grp = group_.data();
    auto elig_g = [&elig, grp, g](NodeId v) { return grp[v] == g && elig(v); };
    SearchStats st;
    auto r = SearchImpl(q, k, ef, elig_g, SIZE_MAX, {}, &st, it->second.entry, it->second.max_level, false, hop,
                        lists, pass_fraction);
    distances += st.distances;
    correlated = correlated || st.correlated;
    walk_ef = std::max(walk_ef, st.walk_ef);
    merged.insert(merged.end(), r->begin(), r->end());  // SearchImpl only fails by exception
  }
  std::sort(merged.begin(), merged.end(), HitLess);
  if (merged.size() > k) merged.resize(k);
  if (stats != nullptr) {
    stats->distances = distances;
    stats->exact = false;
    stats->correlated = correlated;
    stats->walk_ef = walk_ef;
  }
  if (merged.size() < std::min(k, passing)) {
    // Short (a very selective filter, a disconnected remnant): the exact scan over the passing
    // rows of these groups is the answer.
    std::vector<uint32_t> sorted(groups.begin(), groups.end());
    std::sort(sorted.begin(), sorted.end());
    const uint32_t* grp = group_.data();
    auto in = [&](NodeId v) { return std::binary_search(sorted.begin(), sorted.end(), grp[v]) && elig(v); };
    if (stats != nullptr) stats->exact = true;
    return ExactWhere(q.data(), static_cast<float>(Norm(q.data(), dim_)), k, in, parallel);
  }
  return merged;
}

StatusOr<std::vector<HnswHit>> HnswIndex::Search(std::span<const float> q, size_t k, size_t ef,
                                                 SearchStats* stats) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    const uint8_t* flags = flags_.data();
    auto elig = [flags](NodeId v) { return (flags[v] & kFlagTomb) == 0; };
    if (grouped_) return SearchGroups(q, k, ef, elig, live_, {}, stats);
    return SearchImpl(q, k, ef, elig, live_, {}, stats);
  });
}

StatusOr<std::vector<HnswHit>> HnswIndex::Search(std::span<const float> q, size_t k, size_t ef,
                                                 const AllowedSet& allowed, SearchStats* stats) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    VG_RETURN_IF_ERROR(CheckAllowed(allowed));
    if (allowed.count() == 0) return std::vector<HnswHit>{};
    auto elig = [&allowed](NodeId v) { return allowed.Test(v); };
    std::function<bool(NodeId)> pass = [&allowed](NodeId v) { return allowed.Test(v); };
    // A restricting set walks passing nodes only, through the others (two hops), in the range
    // of fractions where that walk keeps its recall (hnsw_config.h).
    const double fraction = static_cast<double>(allowed.count()) / static_cast<double>(std::max<size_t>(live_, 1));
    const bool hop = fraction >= cfg_.filter_exact_max_fraction && fraction < cfg_.filter_hop_fraction;
    if (grouped_) return SearchGroups(q, k, ef, elig, allowed.count(), {}, stats, true, hop);
    return SearchImpl(q, k, ef, elig, allowed.count(), pass, stats, kInvalidNode, -1, true, hop);
  });
}

StatusOr<std::vector<HnswHit>> HnswIndex::Search(std::span<const float> q, size_t k, size_t ef,
                                                 const RowidFilter& filter, SearchStats* stats) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  if (!filter) return Search(q, k, ef, stats);
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    const uint8_t* flags = flags_.data();
    const int64_t* rowids = rowid_.data();
    auto elig = [&](NodeId v) { return (flags[v] & kFlagTomb) == 0 && filter(rowids[v]); };
    std::function<bool(NodeId)> pass = [&](NodeId v) { return filter(rowids[v]); };
    // Unknown passing count: any short answer falls back to the exact scan (which finds them all).
    if (grouped_) return SearchGroups(q, k, ef, elig, SIZE_MAX, {}, stats, /*parallel=*/false);
    return SearchImpl(q, k, ef, elig, SIZE_MAX, pass, stats);
  });
}

template <typename Elig>
std::shared_ptr<const HnswIndex::HopLists> HnswIndex::HopListsFor(const AttrFilter& af, size_t passing,
                                                                  const Elig& elig) const {
  // Caller holds the shared lock: no mutation (each drops the cache) runs meanwhile.
  const std::shared_ptr<const FilterBits>& bits = af.shared_bits();
  if (bits == nullptr || bits->rows != n_) return nullptr;
  const size_t stride = HopListSize();
  const size_t budget = HopListsBudget();
  // passing is an estimate; the budget check is redone on the exact count below.
  if (passing * stride * sizeof(NodeId) > budget) return nullptr;
  auto same = [&bits](const HopCacheEntry& e) { return !e.bits.owner_before(bits) && !bits.owner_before(e.bits); };
  {
    std::lock_guard g(hop_mu_);
    std::erase_if(hop_cache_, [](const HopCacheEntry& e) { return e.bits.expired(); });
    auto it = std::find_if(hop_cache_.begin(), hop_cache_.end(), same);
    if (it == hop_cache_.end()) {
      HopCacheEntry e;
      e.bits = bits;
      hop_cache_.insert(hop_cache_.begin(), std::move(e));
      // The least recent go (a query building an evicted entry's lists finds it gone, keeps none).
      if (hop_cache_.size() > kHopCacheEntries) hop_cache_.resize(kHopCacheEntries);
      return nullptr;  // the first two-hop walk with this filter computes its lists on the way
    }
    std::rotate(hop_cache_.begin(), it, it + 1);  // most recent first
    HopCacheEntry& e = hop_cache_.front();
    if (e.lists != nullptr) return e.lists;
    if (e.building) return nullptr;  // another query is building them
    e.building = true;
  }
  auto lists = std::make_shared<HopLists>();
  lists->bits = bits;
  lists->stride = stride;
  const size_t nw = (n_ + 63) / 64;
  lists->rank.resize(nw);
  uint32_t count = 0;
  for (size_t w = 0; w < nw; ++w) {
    lists->rank[w] = count;
    count += static_cast<uint32_t>(__builtin_popcountll(bits->words[w]));
  }
  bool fits = static_cast<size_t>(count) * stride * sizeof(NodeId) <= budget;
  if (fits) {
    lists->lists.assign(static_cast<size_t>(count) * stride, kInvalidNode);
    constexpr size_t kWordsPerTask = 64;  // 4096 rows
    ParallelFor((nw + kWordsPerTask - 1) / kWordsPerTask, 1, [&](size_t b, size_t e) {
      ContextLease ctx(this);
      for (size_t t = b; t < e; ++t) {
        for (size_t w = t * kWordsPerTask; w < std::min(nw, (t + 1) * kWordsPerTask); ++w) {
          for (uint64_t m = bits->words[w]; m != 0; m &= m - 1) {
            const NodeId v = static_cast<NodeId>(w * 64 + static_cast<size_t>(__builtin_ctzll(m)));
            (void)HopList(*ctx, v, elig, const_cast<NodeId*>(lists->List(v)));
          }
        }
      }
    });
  }
  std::lock_guard g(hop_mu_);
  auto it = std::find_if(hop_cache_.begin(), hop_cache_.end(), same);
  if (it == hop_cache_.end()) return nullptr;  // dropped meanwhile (evicted)
  if (!fits) return nullptr;  // `building` stays set: never tried again for this filter
  it->building = false;
  it->lists = std::move(lists);
  std::shared_ptr<const HopLists> out = it->lists;
  // Keep the most recent lists within the budget.
  size_t total = 0;
  for (HopCacheEntry& e : hop_cache_) {
    if (e.lists == nullptr) continue;
    total += e.lists->bytes();
    if (total > budget && e.lists != out) e.lists = nullptr;
  }
  if (hop_cache_.size() > kHopCacheEntries) hop_cache_.resize(kHopCacheEntries);
  return out;
}

void HnswIndex::ForgetHopLists() {
  std::lock_guard g(hop_mu_);
  hop_cache_.clear();
}

size_t HnswIndex::HopListsBytes() const {
  std::lock_guard g(hop_mu_);
  size_t b = 0;
  for (const HopCacheEntry& e : hop_cache_) b += sizeof(e) + (e.lists != nullptr ? e.lists->bytes() : 0);
  return b;
}

StatusOr<std::vector<HnswHit>> HnswIndex::SearchFiltered(std::span<const float> q, size_t k, size_t ef,
                                                         const SearchFilter& filter, bool exact,
                                                         SearchStats* stats) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    if (filter.allowed != nullptr) VG_RETURN_IF_ERROR(CheckAllowed(*filter.allowed));
    auto compiled = attrs_.Compile(filter.terms);
    if (!compiled.ok()) return compiled.status();
    const AttrFilter& af = *compiled;
    SearchStats local;
    SearchStats& st = stats != nullptr ? *stats : local;
    st = SearchStats{};
    const AllowedSet* allowed = filter.allowed;
    if (af.never() || (allowed != nullptr && allowed->count() == 0) || live_ == 0 || k == 0) {
      st.counted = true;
      st.strategy = FilterStrategy::kExact;
      return std::vector<HnswHit>{};
    }
    const uint8_t* flags = flags_.data();
    // Grouped index with a group restriction: only those groups' graphs are walked, and the
    // estimate and the strategy are relative to those groups' rows.
    std::vector<uint32_t> gsel;
    size_t universe = live_;
    if (grouped_ && !filter.groups.empty()) {
      gsel.assign(filter.groups.begin(), filter.groups.end());
      std::sort(gsel.begin(), gsel.end());
      gsel.erase(std::unique(gsel.begin(), gsel.end()), gsel.end());
      universe = 0;
      for (uint32_t g : gsel) {
        auto it = groups_.find(g);
        if (it != groups_.end()) universe += it->second.live;
      }
      if (universe == 0) {
        st.counted = true;
        st.strategy = FilterStrategy::kExact;
        return std::vector<HnswHit>{};
      }
    }
    const uint32_t* grp = group_.data();
    const bool restricted = !gsel.empty();
    auto in_groups = [&gsel, grp, restricted](NodeId v) {
      return !restricted || (gsel.size() == 1 ? grp[v] == gsel[0] : std::binary_search(gsel.begin(), gsel.end(), grp[v]));
    };
    auto passes = [&af, allowed, &in_groups](NodeId v) {
      return af.Pass(v) && (allowed == nullptr || allowed->Test(v)) && in_groups(v);
    };
    // Estimate the passing rows: count them on small indexes, a fixed hashed sample on large ones
    // (deterministic: the same index and filter always choose the same strategy). Within groups
    // without other conditions the count is known.
    size_t est = 0;
    bool known = true;
    if (restricted && af.empty() && allowed == nullptr) {
      est = universe;
      st.counted = true;
    } else if (n_ <= kFilterCountNodes) {
      for (size_t i = 0; i < n_; ++i) est += Live(static_cast<NodeId>(i)) && passes(static_cast<NodeId>(i));
      st.counted = true;
    } else {
      size_t live_seen = 0, pass_seen = 0;
      for (size_t s = 0; s < kFilterSampleNodes; ++s) {
        const NodeId v = SampleNode(s);
        if (!Live(v) || !in_groups(v)) continue;
        ++live_seen;
        pass_seen += passes(v);
      }
      st.sampled = static_cast<uint32_t>(live_seen);
      if (restricted && live_seen < 32) {
        known = false;  // too few samples in these groups: walk them (an exact scan if short)
        est = universe;
      } else {
        est = live_seen == 0 ? live_
                             : static_cast<size_t>(std::llround(static_cast<double>(pass_seen) / live_seen * universe));
      }
    }
    st.passing_estimate = est;
    const float q_norm = static_cast<float>(Norm(q.data(), dim_));
    std::function<bool(NodeId)> pass = passes;
    // A group restriction without other conditions: walk those groups (an exact scan would read
    // every node of the index, not just the group's).
    const bool group_only = restricted && af.empty() && allowed == nullptr;
    if (exact || (!group_only && known && (est == 0 || ExactWhenSelectiveIn(est, universe)))) {
      st.strategy = FilterStrategy::kExact;
      st.exact = true;
      return ExactWhere(q.data(), q_norm, k, passes, true, af.candidates(n_));
    }
    st.strategy = FilterStrategy::kGraph;
    // Below filter_hop_fraction of the searched rows passing, the walk scores passing nodes only
    // and passes through the others (two hops); above, it routes through every node as hnswlib
    // does (each expansion then finds enough passing neighbours directly).
    const bool hop = static_cast<double>(est) < cfg_.filter_hop_fraction * static_cast<double>(universe);
    st.hop = hop;
    // A cached filter (without a rowid set) keeps its two-hop lists from its second two-hop walk
    // on: the walk then reads one short list per node instead of the link lists of its failing
    // neighbours, and walks exactly the same. In a grouped index no link leaves a group, so a
    // node's list under the filter is its list under the filter within its group. Not for a
    // walk of some groups only: the lists would cover the filter's rows in every group (the
    // partition-key terms are not in the filter), a cost out of proportion to such a walk.
    std::shared_ptr<const HopLists> lists;
    if (hop && allowed == nullptr && !restricted && af.cached()) {
      auto bits_only = [flags, &af](NodeId v) { return af.Pass(v) && (flags[v] & kFlagTomb) == 0; };
      lists = HopListsFor(af, est, bits_only);
    }
    st.hop_lists = lists != nullptr;
    const double fraction = static_cast<double>(est) / static_cast<double>(std::max<size_t>(1, universe));
    if (grouped_) {
      auto elig_g = [flags, &af, allowed](NodeId v) {
        return af.Pass(v) && (allowed == nullptr || allowed->Test(v)) && (flags[v] & kFlagTomb) == 0;
      };
      SearchStats walk;
      auto hits = SearchGroups(q, k, ef, elig_g, st.counted ? est : SIZE_MAX, gsel, &walk, true, hop, lists.get(),
                               fraction);
      st.correlated = walk.correlated;
      st.walk_ef = walk.walk_ef;
      st.distances = walk.distances;
      st.exact = st.fallback = walk.exact;
      return hits;
    }
    auto elig = [flags, &passes](NodeId v) { return passes(v) && (flags[v] & kFlagTomb) == 0; };
    // A counted estimate is exact; a sampled one is not, so any short walk falls back.
    SearchStats walk;
    auto r = SearchImpl(q, k, ef, elig, st.counted ? est : SIZE_MAX, pass, &walk, kInvalidNode, -1, true, hop,
                        lists.get(), fraction);
    st.correlated = walk.correlated;
    st.walk_ef = walk.walk_ef;
    st.distances = walk.distances;
    st.exact = st.fallback = walk.exact;  // the walk was short: the exact scan answered
    return r;
  });
}

StatusOr<std::vector<HnswHit>> HnswIndex::ExactSearch(std::span<const float> q, size_t k) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    return ExactLocked(q.data(), static_cast<float>(Norm(q.data(), dim_)), k, nullptr, nullptr);
  });
}

StatusOr<std::vector<HnswHit>> HnswIndex::ExactSearch(std::span<const float> q, size_t k,
                                                      const AllowedSet& allowed) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    VG_RETURN_IF_ERROR(CheckAllowed(allowed));
    return ExactLocked(q.data(), static_cast<float>(Norm(q.data(), dim_)), k, nullptr, &allowed);
  });
}

StatusOr<std::vector<HnswHit>> HnswIndex::ExactSearch(std::span<const float> q, size_t k,
                                                      const RowidFilter& filter) const {
  VG_RETURN_IF_ERROR(CheckQuery(q));
  if (!filter) return ExactSearch(q, k);
  return Guard([&]() -> StatusOr<std::vector<HnswHit>> {
    std::shared_lock lock(mu_);
    std::function<bool(NodeId)> pass = [&](NodeId v) { return filter(rowid_[v]); };
    return ExactLocked(q.data(), static_cast<float>(Norm(q.data(), dim_)), k, &pass, nullptr);
  });
}

StatusOr<std::vector<std::vector<HnswHit>>> HnswIndex::SearchBatch(const float* queries, size_t nq, size_t k,
                                                                   size_t ef) const {
  if (nq > 0 && queries == nullptr) return Status::InvalidArgument("hnsw: search batch: null queries");
  for (size_t i = 0; i < nq; ++i) {
    Status st = CheckQuery({queries + i * dim_, dim_});
    if (!st.ok()) return st.WithPrefix(StrFormat("query %zu: ", i));
  }
  return Guard([&]() -> StatusOr<std::vector<std::vector<HnswHit>>> {
    std::shared_lock lock(mu_);
    std::vector<std::vector<HnswHit>> out(nq);
    const uint8_t* flags = flags_.data();
    auto elig = [flags](NodeId v) { return (flags[v] & kFlagTomb) == 0; };
    ParallelFor(nq, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const std::span<const float> qi(queries + i * dim_, dim_);
        if (grouped_) {
          out[i] = SearchGroups(qi, k, ef, elig, live_, {}, nullptr);
          continue;
        }
        auto r = SearchImpl(qi, k, ef, elig, live_, {}, nullptr);
        out[i] = std::move(r.value());  // SearchImpl only fails by exception
      }
    });
    return out;
  });
}

}  // namespace vecgraph::hnsw
