// engine/hnsw/hnsw_internal.h — private to engine/hnsw/*.cpp: per-thread search scratch, the
// distance helpers and the hot search loops (templates shared by search and build).
//
// Search loop (paper alg. 2, hnswlib's searchBaseLayer with its filter semantics):
//   - `cand` is a min-heap of nodes to expand, `top` a max-heap of the best ef *eligible* nodes.
//     Ineligible nodes (tombstones, filtered out, members of the batch being inserted) are still
//     expanded — they route — but never enter `top`. The walk stops when the closest candidate
//     is farther than the worst of a full `top`; while `top` is not full it keeps going, so a
//     filtered search returns ef results whenever that many eligible nodes are reachable.
//   - Expanding a node: one pass over its link list marks the unvisited neighbours and prefetches
//     the first cache line of each of their rows, then one gather-kernel call scores them all
//     (several rows at once, the next group prefetched while one is scored: R·4 independent FMA
//     chains and the misses of a whole group in flight), then a pass updates the heaps in link
//     order. Distances are pure, so scoring first and updating after walks exactly like
//     scoring one and updating one.
//   - Rows are float vectors for a build's walks and the 8-bit search codes (hnsw_codes.h) for a
//     query's walk (CodedWalk): a quarter of the bytes per neighbour.
//   - Heaps compare distances only. Equal distances keep the order the operations produce, which
//     depends on link order and never on internal ids, so a reloaded index walks identically.
#pragma once

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/executor/cpu_backend.h"
#include "engine/executor/executor.h"
#include "engine/hnsw/hnsw.h"
#include "kernels/cpu/distance.h"

namespace vecgraph::hnsw {

using Cand = HnswIndex::Cand;
static_assert(sizeof(Cand) == 8, "heap entries stay 8 bytes");
static_assert(sizeof(NodeId) == 4 && kInvalidNode == 0xFFFFFFFFu);
static_assert(sizeof(float) == 4);

inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr size_t kHopPrefetch = 4;  // two-hop walks: link lists fetched ahead
inline void PrefetchRead(const void* p) { __builtin_prefetch(p, 0, 3); }
// Every 64-byte line of [p, p + bytes).
inline void PrefetchLines(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) PrefetchRead(c + off);
}

// Runs fn() and turns any exception but std::bad_alloc (which the API lets escape) into an
// Internal status: no other exception leaves the engine.
template <typename Fn>
auto Guard(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("hnsw: ") + e.what());
  } catch (...) {
    return Status::Internal("hnsw: unknown exception");
  }
}

// NaN (inf − inf on huge finite inputs) becomes +inf so heaps keep a strict weak order.
inline float Ordered(float d) { return d == d ? d : kInf; }

// Internal ordering distance: −a·b (cosine on unit vectors, dot) or squared L2.
template <bool kIp>
inline float RawDist(const kernels::KernelTable* kt, const float* a, const float* b, size_t dim) {
  return Ordered(kIp ? -kt->dot(a, b, dim) : kt->l2sq(a, b, dim));
}

// Heap orders as function objects (a function pointer would not be inlined by std::push_heap).
struct MaxCmpT {
  bool operator()(const Cand& a, const Cand& b) const { return a.d < b.d; }
};
struct MinCmpT {
  bool operator()(const Cand& a, const Cand& b) const { return a.d > b.d; }
};
inline constexpr MaxCmpT MaxCmp{};  // max-heap
inline constexpr MinCmpT MinCmp{};  // min-heap

// A cached filter's two-hop lists: HopList(v) of every node v whose filter bit is set, stride
// HopListSize() entries each (kInvalidNode-padded), in the order of the set bits; rank[w] counts
// the set bits before word w, so a node's list is found with one popcount.
struct HnswIndex::HopLists {
  std::shared_ptr<const FilterBits> bits;
  size_t stride = 0;
  std::vector<uint32_t> rank;
  std::vector<NodeId> lists;
  bool Has(NodeId v) const { return bits->Test(v); }
  const NodeId* List(NodeId v) const {
    const uint64_t w = bits->words[v >> 6];
    const uint32_t r = rank[v >> 6] + static_cast<uint32_t>(__builtin_popcountll(w & ((uint64_t{1} << (v & 63)) - 1)));
    return lists.data() + static_cast<size_t>(r) * stride;
  }
  size_t bytes() const { return rank.capacity() * sizeof(uint32_t) + lists.capacity() * sizeof(NodeId); }
};

struct HnswIndex::SearchContext {
  std::vector<uint16_t> tags;  // visited set: tags[id] == epoch ⇔ visited in this walk
  uint16_t epoch = 0;
  std::vector<uint16_t> marks;  // HopList's own set: marks[id] == mark ⇔ already in the list
  uint16_t mark = 0;
  std::vector<NodeId> hlist;    // a two-hop list computed on the way
  const HopLists* hop_lists = nullptr;  // the walk's materialised two-hop lists, if any
  double pass_fraction = 1;             // two-hop walks: the estimated fraction of rows passing
  bool correlated = false;              // ...and the walk found them rarer near the query
  size_t walk_ef = 0;                   // the level-0 result list the walk ended with
  std::vector<Cand> top, cand;
  std::vector<NodeId> fresh;          // unvisited neighbours of the node being expanded
  std::vector<NodeId> hop;            // its ineligible neighbours (two-hop walks)
  std::vector<const float*> rows;     // their vectors, for the gather kernel (float walks)
  std::vector<const uint8_t*> crows;  // their search codes (coded walks)
  float q_sum = 0, q_sq = 0;          // Σ q[j] and |q|² of the query of a coded walk
  std::vector<int8_t> qcode;          // ...the query quantized: q[j] ≈ q_scale · qcode[j]
  float q_scale = 0;
  std::vector<int32_t> idot;          // Σ qcode[j]·code[j] of the staged rows
  std::vector<float> fresh_d;         // their distances
  std::vector<float> qbuf, gather, dists, scratch;
  std::vector<NodeId> ids;
  std::vector<Cand> merged, sel, pruned, intra;
  uint64_t n_dist = 0;

  uint16_t NextTag() {
    if (++epoch == 0) {
      std::fill(tags.begin(), tags.end(), uint16_t{0});
      epoch = 1;
    }
    return epoch;
  }
  uint16_t NextMark() {
    if (marks.size() < tags.size()) marks.resize(tags.size(), 0);
    if (++mark == 0) {
      std::fill(marks.begin(), marks.end(), uint16_t{0});
      mark = 1;
    }
    return mark;
  }
  // m0: level-0 capacity; a walk's buffers hold a two-hop list (HopListSize = 1.5 · m0).
  void Fit(size_t n_slots, uint32_t m0, size_t dim) {
    if (tags.size() < n_slots) tags.resize(n_slots + n_slots / 8 + 64, 0);
    const size_t w = m0 + m0 / 2;
    if (fresh.size() < w) {
      fresh.resize(w);
      hop.resize(w);
      hlist.resize(w);
      rows.resize(w);
      crows.resize(w);
      idot.resize(w);
      fresh_d.resize(w);
    }
    if (qbuf.size() < dim) qbuf.resize(dim);
    if (qcode.size() < dim) qcode.resize(dim);
  }
  size_t bytes() const {
    return (tags.capacity() + marks.capacity()) * 2 + hlist.capacity() * 4 + (top.capacity() + cand.capacity() + merged.capacity() + sel.capacity() +
                                  pruned.capacity() + intra.capacity()) * sizeof(Cand) +
           (fresh.capacity() + hop.capacity() + ids.capacity() + fresh_d.capacity()) * 4 + (rows.capacity() + crows.capacity()) * sizeof(void*) +
           (qbuf.capacity() + gather.capacity() + dists.capacity() + scratch.capacity() + idot.capacity()) * 4 +
           qcode.capacity();
  }
};

// Takes a pooled context; returns it to the pool on scope exit.
class ContextLease {
 public:
  explicit ContextLease(const HnswIndex* idx) : idx_(idx), c_(idx->AcquireContext()) {}
  ~ContextLease() { idx_->ReleaseContext(c_); }
  ContextLease(const ContextLease&) = delete;
  ContextLease& operator=(const ContextLease&) = delete;
  HnswIndex::SearchContext& operator*() const { return *c_; }
  HnswIndex::SearchContext* operator->() const { return c_; }

 private:
  const HnswIndex* idx_;
  HnswIndex::SearchContext* c_;
};

// Points the walk's row i at node v's float vector or search codes and prefetches it.
template <bool kCoded>
inline void HnswIndex::StageRow(SearchContext& ctx, size_t i, NodeId v) const {
  if constexpr (kCoded) {
    ctx.crows[i] = Code(v);
    PrefetchRead(ctx.crows[i]);
    PrefetchRead(scales_.data() + v);
  } else {
    ctx.rows[i] = Vec(v);
    PrefetchRead(ctx.rows[i]);
  }
}

// Ordering distances of q to the n staged rows (ids: their nodes): float vectors through the
// gather kernel (bit-identical to RawDist on each row), or search codes with the quantized query
// (CodedWalk): q·x̂ ≈ lo·Σq + step·q_scale·Σ qcode[j]·code[j], the sum exact in integers
// (hnsw_codes.h), so every ISA walks the same way.
template <bool kIp, bool kCoded>
inline void HnswIndex::ScoreRows(SearchContext& ctx, const float* q, const NodeId* ids, size_t n, float* out) const {
  if constexpr (kCoded) {
    kt_->dot_u8s8_gather(ctx.qcode.data(), ctx.crows.data(), n, dim_, ctx.idot.data());
    const CodeScale* scales = scales_.data();
    for (size_t i = 0; i < n; ++i) {
      const CodeScale& s = scales[ids[i]];
      const float dot = s.lo * ctx.q_sum + s.step * (ctx.q_scale * static_cast<float>(ctx.idot[i]));
      out[i] = Ordered(kIp ? -dot : ctx.q_sq - 2.0f * dot + s.sq);
    }
  } else {
    (kIp ? kt_->dot_gather : kt_->l2sq_gather)(q, ctx.rows.data(), n, dim_, out);
    for (size_t i = 0; i < n; ++i) out[i] = Ordered(kIp ? -out[i] : out[i]);
  }
}

template <bool kIp, bool kCoded>
NodeId HnswIndex::GreedyDescend(SearchContext& ctx, const float* q, NodeId ep, float* ep_d, int from_level,
                                int to_level) const {
  NodeId cur = ep;
  float cd = *ep_d;
  uint64_t nd = 0;
  float* dists = ctx.fresh_d.data();
  for (int l = from_level; l > to_level; --l) {
    bool changed = true;
    while (changed) {
      changed = false;
      const uint32_t* lst = Links(cur, l);
      uint32_t n = 0;
      for (; n < m_ && lst[n] != kInvalidNode; ++n) StageRow<kCoded>(ctx, n, lst[n]);
      ScoreRows<kIp, kCoded>(ctx, q, lst, n, dists);
      nd += n;
      for (uint32_t j = 0; j < n; ++j) {
        if (dists[j] < cd) {
          cd = dists[j];
          cur = lst[j];
          changed = true;
        }
      }
    }
  }
  ctx.n_dist += nd;
  *ep_d = cd;
  return cur;
}

template <typename Elig>
size_t HnswIndex::HopList(SearchContext& ctx, NodeId p, const Elig& elig, NodeId* out) const {
  const uint16_t mark = ctx.NextMark();
  uint16_t* marks = ctx.marks.data();
  marks[p] = mark;
  const size_t cap = HopListSize();
  const size_t list0_bytes = static_cast<size_t>(m0_) * sizeof(uint32_t);
  auto list0 = [this](NodeId v) { return links0_.data() + static_cast<size_t>(v) * m0_; };
  const uint32_t* lst = list0(p);
  NodeId* hop = ctx.hop.data();
  size_t n = 0, nh = 0;
  for (uint32_t j = 0; j < m0_; ++j) {
    const NodeId v = lst[j];
    if (v == kInvalidNode) break;
    if (!elig(v)) {
      if (nh < kHopPrefetch) PrefetchLines(list0(v), list0_bytes);
      hop[nh++] = v;
    } else if (marks[v] != mark) {
      marks[v] = mark;
      out[n++] = v;
      if (n == cap) return n;
    }
  }
  for (size_t h = 0; h < nh; ++h) {
    if (h + kHopPrefetch < nh) PrefetchLines(list0(hop[h + kHopPrefetch]), list0_bytes);
    const uint32_t* l2 = list0(hop[h]);
    for (uint32_t j = 0; j < m0_; ++j) {
      const NodeId w = l2[j];
      if (w == kInvalidNode) break;
      if (!elig(w) || marks[w] == mark) continue;  // elig first: most fail it, from a smaller array
      marks[w] = mark;
      out[n++] = w;
      if (n == cap) return n;
    }
  }
  return n;
}

template <bool kIp, bool kLevel0, bool kCoded, bool kHop, typename Elig>
void HnswIndex::SearchLayer(SearchContext& ctx, const float* q, NodeId ep, float ep_d, int level, size_t ef,
                            const Elig& elig) const {
  static_assert(!kHop || kLevel0, "two-hop walks run on level 0");
  uint16_t* tags = ctx.tags.data();
  const uint16_t tag = ctx.NextTag();
  std::vector<Cand>& top = ctx.top;
  std::vector<Cand>& cand = ctx.cand;
  top.clear();
  cand.clear();
  tags[ep] = tag;
  cand.push_back({ep_d, ep});
  float bound = kInf;
  if (elig(ep)) {
    top.push_back({ep_d, ep});
    bound = ep_d;
  }
  const uint32_t cap = Cap(level);
  // A two-hop walk routes like the plain walk (scoring every neighbour) until it has found
  // ef / 16 passing nodes (4 at ef 64): when the passing rows lie away from the query (a filter
  // correlated with the vectors), the nearest of them may be more than two hops from the entry
  // point, and the first one found is often not the nearest. Measured at 10 % passing, 100k rows
  // (GloVe-100 / 128-d clustered): correlated recall 0.982 / 0.965 when switching at the first
  // passing node, 0.988 / 0.983 at 4, 0.996 / 0.995 at 16; distances of uncorrelated walks +9 %
  // at 4, +45 % at 16.
  // When routing has found them, it also knows how rarely passing nodes occur near the query: if
  // under a quarter as often as in the index's sample (ctx.pass_fraction), the filter is
  // correlated with the vectors and the passing rows near the query are few and scattered; two
  // hops from one passing node seldom reach the next, so the walk keeps scoring every node
  // (measured on 1M×128 clustered, 10 % of the rows in every tenth Voronoi cell of 100 centres:
  // recall 0.88 when switching to two hops, 0.97 when not; uncorrelated filters switch).
  // Such a walk also doubles its result list: the passing rows lie in clusters, and the ef-th
  // distance within the first cluster reached stops the walk before it reaches a nearer one
  // (same 1M data, ef 64: recall of the walks found correlated 0.944 → 0.986 for 1.5× their
  // distances; the walks of uncorrelated filters are unchanged).
  const size_t route_until = std::max<size_t>(1, ef / 16);
  size_t found = top.size(), routed = 1;  // passing nodes found, nodes scored while routing
  bool routing = kHop && found < route_until;

  // A level-0 list is m0_ × 4 bytes (128 at M = 16, two cache lines): fetch all of it.
  const size_t list0_bytes = static_cast<size_t>(m0_) * sizeof(uint32_t);
  auto PrefetchList0 = [&](NodeId v) { PrefetchLines(links0_.data() + static_cast<size_t>(v) * m0_, list0_bytes); };
  NodeId* fresh = ctx.fresh.data();
  [[maybe_unused]] const HopLists* hl = kHop ? ctx.hop_lists : nullptr;
  float* dists = ctx.fresh_d.data();
  uint64_t nd = 0;
  while (!cand.empty()) {
    const Cand c = cand.front();
    if (c.d > bound && top.size() >= ef) break;
    std::pop_heap(cand.begin(), cand.end(), MinCmp);
    cand.pop_back();
    const uint32_t* lst = kLevel0 ? links0_.data() + static_cast<size_t>(c.id) * m0_ : Links(c.id, level);
    size_t n_lst = cap;
    if constexpr (kHop) {
      // Past routing, a node's neighbours are its two-hop list: only eligible nodes, reached
      // directly or through an ineligible neighbour (read from the materialised lists when the
      // filter has them, else computed here; the same list either way).
      if (!routing) {
        if (hl != nullptr && hl->Has(c.id)) {
          lst = hl->List(c.id);
          n_lst = hl->stride;
        } else if (elig(c.id)) {
          n_lst = HopList(ctx, c.id, elig, ctx.hlist.data());
          lst = ctx.hlist.data();

        } else {
          // An ineligible node left from routing: its eligible neighbours only. (Its two-hop
          // list would read up to m0 more lists per such node; measured at 5 % passing on 100k
          // rows, 128-d clustered / GloVe-100: 2.5× the walk's time for recall 0.994 / 0.976
          // instead of 0.987 / 0.966.)
          size_t n = 0;
          for (uint32_t j = 0; j < cap && lst[j] != kInvalidNode; ++j)
            if (elig(lst[j])) ctx.hlist[n++] = lst[j];
          n_lst = n;
          lst = ctx.hlist.data();
        }
      }
    }
    size_t nf = 0;
    for (size_t j = 0; j < n_lst; ++j) {
      const NodeId v = lst[j];
      if (v == kInvalidNode) break;
      if (tags[v] == tag) continue;
      tags[v] = tag;
      StageRow<kCoded>(ctx, nf, v);
      fresh[nf++] = v;
    }
    nd += nf;
    ScoreRows<kIp, kCoded>(ctx, q, fresh, nf, dists);
    for (size_t i = 0; i < nf; ++i) {
      const NodeId v = fresh[i];
      const float d = dists[i];
      if (top.size() < ef || d < bound) {
        cand.push_back({d, v});
        std::push_heap(cand.begin(), cand.end(), MinCmp);
        if (kLevel0) PrefetchList0(cand.front().id);
        if ((kHop && !routing) || elig(v)) {
          if constexpr (kHop) found += routing;
          top.push_back({d, v});
          std::push_heap(top.begin(), top.end(), MaxCmp);

          if (top.size() > ef) {
            std::pop_heap(top.begin(), top.end(), MaxCmp);
            top.pop_back();
          }
          bound = top.front().d;
        }
      }
    }
    if constexpr (kHop) {
      if (routing) {
        routed += nf;
        if (found >= route_until && !ctx.correlated) {
          ctx.correlated = static_cast<double>(found) < 0.25 * ctx.pass_fraction * static_cast<double>(routed);
          routing = ctx.correlated;
          if (ctx.correlated) ef *= 2;
        }
      }
    }
  }
  if constexpr (kLevel0) ctx.walk_ef = ef;
  ctx.n_dist += nd;
}

// Float walks (build) on any level; coded walks (queries) on level 0 only.
template <typename Elig>
void HnswIndex::SearchLayerAny(SearchContext& ctx, const float* q, NodeId ep, float ep_d, int level, size_t ef,
                               const Elig& elig) const {
  if (ip_) {
    if (level == 0) SearchLayer<true, true, false>(ctx, q, ep, ep_d, level, ef, elig);
    else SearchLayer<true, false, false>(ctx, q, ep, ep_d, level, ef, elig);
  } else {
    if (level == 0) SearchLayer<false, true, false>(ctx, q, ep, ep_d, level, ef, elig);
    else SearchLayer<false, false, false>(ctx, q, ep, ep_d, level, ef, elig);
  }
}

inline NodeId HnswIndex::Descend(SearchContext& ctx, const float* q, NodeId ep, float* ep_d, int from_level,
                                 int to_level) const {
  return ip_ ? GreedyDescend<true, false>(ctx, q, ep, ep_d, from_level, to_level)
             : GreedyDescend<false, false>(ctx, q, ep, ep_d, from_level, to_level);
}

// A query's walk over the search codes: ep_d of the entry point, greedy descent to level 0, the
// ef-search on level 0; the best ef eligible nodes are left in ctx.top (with code distances).
template <typename Elig>
void HnswIndex::CodedWalk(SearchContext& ctx, const float* q, size_t ef, const Elig& elig, NodeId ep0,
                          int top, bool hop) const {
  double sum = 0, sq = 0;
  for (size_t j = 0; j < dim_; ++j) {
    sum += q[j];
    sq += static_cast<double>(q[j]) * q[j];
  }
  ctx.q_sum = static_cast<float>(sum);
  ctx.q_sq = static_cast<float>(sq);
  ctx.q_scale = QuantizeQuery(q, dim_, ctx.qcode.data());
  auto walk = [&]<bool kIp>() {
    NodeId ep = ep0;
    float ep_d;
    StageRow<true>(ctx, 0, ep);
    ScoreRows<kIp, true>(ctx, q, &ep, 1, &ep_d);
    ep = GreedyDescend<kIp, true>(ctx, q, ep, &ep_d, top, 0);
    if (hop) SearchLayer<kIp, true, true, true>(ctx, q, ep, ep_d, 0, ef, elig);
    else SearchLayer<kIp, true, true>(ctx, q, ep, ep_d, 0, ef, elig);
  };
  if (ip_) walk.template operator()<true>();
  else walk.template operator()<false>();
}

// Runs fn(begin, end) over [0, n) on the CPU backend's private arena; serially on one thread
// (CpuBackend::Execute with one thread would run nested TBB loops on the default arena).
template <typename Fn>
void HnswIndex::ParallelFor(size_t n, size_t grain, Fn&& fn) const {
  if (n == 0) return;
  exec::CpuBackend& cpu = cpu_ != nullptr ? *cpu_ : exec::Executor::Global().cpu();
  if (cpu.threads() <= 1 || n <= grain) {
    fn(size_t{0}, n);
    return;
  }
  cpu.Execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n, grain),
                      [&](const tbb::blocked_range<size_t>& r) { fn(r.begin(), r.end()); });
  });
}

}  // namespace vecgraph::hnsw
