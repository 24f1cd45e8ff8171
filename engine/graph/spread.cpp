// engine/graph/spread.cpp — the spreading-activation loop (spread.h explains the semantics and
// the push/pull hops).
//
// State of a group of Q sets lives in a Workspace (pooled on the Graph): node-major n×Q arrays
// x (this hop's input), y (its output) and pulse (x/n(u) of firing nodes, 0 elsewhere) — dense
// doubles, as the hop kernels read and write them — plus st, one 16-byte record per entry with
// the activation, depth + 1 (0 = unreached) and the 'once' flag together (one cache line per
// touched entry instead of three), and a per-node flag byte.
// Invariant between queries: every array is all zero. A query only touches the nodes it reaches
// and zeroes exactly those before giving the workspace back (a workspace is dropped, not reused,
// if anything throws).
//
// A hop's cost follows what it reaches, not the whole active set:
//   - Post (folding y into the activations) keeps y[e] only where the entry may fire at the next
//     hop (x ≥ θ, not refractory, fanout ok) and zeroes it elsewhere, so the next hop's x and its
//     active list hold only those entries: with θ = 0.01 a hop that reaches 35k nodes typically
//     leaves tens of candidates, and building the next frontier and resetting x cost that much.
//   - A push hop's destinations are collected in a bitmap (NodeSet) and folded in ascending
//     order: walking y and st in address order is a third faster than in discovery order, and
//     the nodes that may fire next (the frontier must be ascending: HopTask) come out sorted.
//   - Rows are ranked as (activation, dense index) pairs — activation descending, then index
//     ascending, which is node id ascending because ids() is sorted — with a selection when
//     top_k cuts them (O(rows + k log k)) and a radix sort otherwise; node ids are looked up for
//     the emitted rows only. Seeds the graph lacks are merged in by Spread().
#include "engine/graph/spread.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <memory>

#include "engine/executor/executor.h"
#include "engine/graph/parallel.h"

namespace vecgraph::graph {
namespace {

constexpr uint8_t kFlagResult = 1;    // in the result list
constexpr uint8_t kFlagFrontier = 2;  // in the frontier (max_frontier selection)
// Random per-node accesses this many items ahead are prefetched.
constexpr size_t kPrefetch = 16;
// Lists shorter than this are sorted with std::sort; longer ones with an LSD radix sort.
constexpr size_t kRadixMin = 2048;

// A max_frontier candidate: activation, node id, dense index (UINT32_MAX: a seed the graph lacks).
struct Candidate {
  double x;
  int64_t id;
  uint32_t u;
};

// What a query keeps per (node, set) entry besides x, y and pulse.
struct EntryState {
  double a;        // activation so far
  uint8_t depth1;  // depth + 1; 0 = not reached
  uint8_t fired;   // refractory 'once': fired already
};
static_assert(sizeof(EntryState) == 16, "one record per entry, four per cache line");

// Bytes of state per (node, set) entry: x, y, pulse (double) + EntryState.
constexpr size_t kEntryBytes = 3 * sizeof(double) + sizeof(EntryState);

// A row of one set before its node id is looked up.
struct Hit {
  double a;       // activation (> 0)
  uint32_t v;     // dense index
  int32_t depth;
};
// Row order: activation descending, then dense index (= node id) ascending.
constexpr auto kHitBefore = [](const Hit& p, const Hit& q) { return p.a > q.a || (p.a == q.a && p.v < q.v); };

// One stable pass of an LSD radix sort by an 11-bit digit, from *v through *tmp (the result ends
// in *v). A pass where every item has the same digit moves nothing and is skipped.
constexpr int kRadixBits = 11;
template <class T, class DigitFn>
void RadixPass(std::vector<T>* v, std::vector<T>* tmp, DigitFn digit) {
  constexpr uint32_t kBuckets = 1u << kRadixBits;
  uint32_t count[kBuckets] = {};
  for (const T& x : *v) ++count[digit(x)];
  if (v->empty() || count[digit(v->front())] == v->size()) return;
  uint32_t sum = 0;
  for (uint32_t& c : count) {
    const uint32_t k = c;
    c = sum;
    sum += k;
  }
  tmp->resize(v->size());
  for (const T& x : *v) (*tmp)[count[digit(x)]++] = x;
  v->swap(*tmp);
}

// Sorts node indices ascending (two radix passes below 2^22 nodes). tmp is scratch.
void SortNodes(std::vector<uint32_t>* v, std::vector<uint32_t>* tmp, size_t n_nodes) {
  if (v->size() < kRadixMin) {
    std::sort(v->begin(), v->end());
    return;
  }
  for (int shift = 0; shift < 32 && (n_nodes - 1) >> shift != 0; shift += kRadixBits) {
    RadixPass(v, tmp, [shift](uint32_t x) { return (x >> shift) & ((1u << kRadixBits) - 1); });
  }
}

// The rows of one set, collected hit by hit, then ranked. With a top_k the list is cut back to
// the best k whenever it grows past 2k + kSlack, and from then on only hits that beat the k-th
// best are kept: O(hits) comparisons and few writes, however many nodes the spread reached.
class HitList {
 public:
  void Reset(uint64_t k) {
    hits_.clear();
    k_ = k;
    has_cut_ = false;
  }
  void Add(const Hit& h) {
    if (has_cut_ && !kHitBefore(h, cut_)) return;
    hits_.push_back(h);
    if (k_ > 0 && hits_.size() >= 2 * k_ + kSlack) Cut();
  }
  // The first k hits (all when k = 0) in row order: the best k selected, then sorted — long
  // lists by radix, by index and then stably by the activation's bits (positive doubles order
  // like their bit patterns). tmp is scratch.
  const std::vector<Hit>& Ranked(std::vector<Hit>* tmp, size_t n_nodes) {
    if (k_ > 0 && k_ < hits_.size()) Cut();
    if (hits_.size() < kRadixMin) {
      std::sort(hits_.begin(), hits_.end(), kHitBefore);
      return hits_;
    }
    constexpr uint32_t kMask = (1u << kRadixBits) - 1;
    for (int shift = 0; shift < 32 && (n_nodes - 1) >> shift != 0; shift += kRadixBits) {
      RadixPass(&hits_, tmp, [shift](const Hit& h) { return (h.v >> shift) & kMask; });
    }
    for (int shift = 0; shift < 64; shift += kRadixBits) {
      RadixPass(&hits_, tmp, [shift](const Hit& h) {
        uint64_t bits;
        std::memcpy(&bits, &h.a, sizeof(bits));
        return static_cast<uint32_t>((~bits >> shift) & kMask);  // ~bits: descending activation
      });
    }
    return hits_;
  }
  size_t Capacity() const { return hits_.capacity(); }

 private:
  static constexpr size_t kSlack = 1024;
  // Keeps the best k; the k-th best becomes the bar to beat.
  void Cut() {
    const auto kth = hits_.begin() + static_cast<std::ptrdiff_t>(k_ - 1);
    std::nth_element(hits_.begin(), kth, hits_.end(), kHitBefore);
    hits_.resize(static_cast<size_t>(k_));
    cut_ = hits_.back();
    has_cut_ = true;
  }

  std::vector<Hit> hits_;
  uint64_t k_ = 0;
  bool has_cut_ = false;
  Hit cut_{};
};

// A set of node indices with O(1) insertion and a sorted read-out that empties it: a bitmap (one
// bit per node, so the membership test of every pushed edge mostly hits L2) and the members in
// insertion order. The read-out scans the bitmap when the set is dense enough for that to beat
// sorting the list (a scan costs n/64 words, a sort two radix passes over the members).
class NodeSet {
 public:
  // Capacity for nodes 0..n-1; the set must be empty.
  void Reserve(size_t n) {
    if (bits_.size() * 64 < n) bits_.assign((n + 63) / 64, 0);
  }
  // Adds v; returns whether it was new.
  bool Insert(uint32_t v) {
    uint64_t& word = bits_[v >> 6];
    const uint64_t bit = uint64_t{1} << (v & 63);
    if ((word & bit) != 0) return false;
    word |= bit;
    list_.push_back(v);
    return true;
  }
  // Moves the members, ascending, into *out and empties the set. tmp is scratch.
  void TakeSorted(std::vector<uint32_t>* out, std::vector<uint32_t>* tmp, size_t n_nodes) {
    const size_t words = (n_nodes + 63) / 64;
    if (list_.size() * kScanWordsPerMember >= words) {
      out->resize(list_.size());
      uint32_t* o = out->data();
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t bits = bits_[w]; bits != 0; bits &= bits - 1) {
          *o++ = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
        }
        bits_[w] = 0;
      }
      list_.clear();
      return;
    }
    for (uint32_t v : list_) bits_[v >> 6] = 0;
    SortNodes(&list_, tmp, n_nodes);
    out->swap(list_);
    list_.clear();
  }
  size_t Bytes() const { return bits_.capacity() * sizeof(uint64_t) + list_.capacity() * sizeof(uint32_t); }

 private:
  // Scan the bitmap when it has at most this many words per member.
  static constexpr size_t kScanWordsPerMember = 8;
  std::vector<uint64_t> bits_;
  std::vector<uint32_t> list_;
};

struct Workspace final : Graph::Scratch {
  size_t entries = 0;  // capacity of the n×Q arrays
  size_t nodes = 0;    // capacity of flags
  std::vector<double> x, y, pulse;
  std::vector<EntryState> st;
  std::vector<uint8_t> flags;
  // active: nodes with an entry in x (seeds, then nodes that may fire), ascending; next: the
  // same for the hop being computed; touched: destinations of a push hop, ascending; results:
  // nodes reached, in discovery order.
  std::vector<uint32_t> active, next, touched, results, frontier, sort_tmp;
  NodeSet touched_set;
  std::vector<double> frontier_pulse, contrib;
  std::vector<uint64_t> slots;
  std::vector<std::vector<uint32_t>> lists_a, lists_b;  // per-chunk outputs
  std::vector<Candidate> candidates;
  std::vector<HitList> hits;  // per set of the group
  std::vector<Hit> hit_tmp;

  void Ensure(size_t n, size_t e) {
    if (e > entries) {
      x.assign(e, 0.0);
      y.assign(e, 0.0);
      pulse.assign(e, 0.0);
      st.assign(e, EntryState{0.0, 0, 0});
      entries = e;
    }
    if (n > nodes) {
      flags.assign(n, 0);
      touched_set.Reserve(n);
      nodes = n;
    }
  }
  size_t Bytes() const override {
    size_t hit_capacity = hit_tmp.capacity();
    for (const HitList& h : hits) hit_capacity += h.Capacity();
    return entries * kEntryBytes + nodes +
           (active.capacity() + next.capacity() + touched.capacity() + results.capacity() + frontier.capacity() +
            sort_tmp.capacity()) * sizeof(uint32_t) +
           (frontier_pulse.capacity() + contrib.capacity()) * sizeof(double) + slots.capacity() * sizeof(uint64_t) +
           hit_capacity * sizeof(Hit) + touched_set.Bytes();
  }
};

// Concatenates per-chunk lists in chunk order.
void Concat(std::vector<std::vector<uint32_t>>& lists, size_t chunks, std::vector<uint32_t>* out) {
  for (size_t c = 0; c < chunks; ++c) out->insert(out->end(), lists[c].begin(), lists[c].end());
}

void PrepareLists(std::vector<std::vector<uint32_t>>* lists, size_t chunks) {
  if (lists->size() < chunks) lists->resize(chunks);
  for (size_t c = 0; c < chunks; ++c) (*lists)[c].clear();
}

class GroupRun {
 public:
  GroupRun(const Graph& g, const SpreadOptions& o, exec::Executor& ex, Workspace& ws, size_t q, SpreadStats* stats)
      : g_(g), o_(o), ex_(ex), ws_(ws), Q_(q), stats_(stats) {}

  // Runs sets [0, Q): seeds already normalised, as (dense index, activation) for graph nodes and
  // as seeds for the ones the graph lacks (isolated nodes: they only compete for max_frontier
  // slots at hop 1); appends each set's graph rows, in row order and cut to top_k, to
  // (*rows)[query_base + set] with query = query_base + set.
  void Run(const std::vector<std::vector<std::pair<uint32_t, double>>>& seeds, const std::vector<SeedSet>& absent,
           size_t query_base, std::vector<std::vector<ResultRow>>* rows);

 private:
  // What Post found at a node.
  static constexpr uint8_t kReached = 1;  // an entry received activation
  static constexpr uint8_t kMayFire = 2;  // an entry may fire at the next hop (kept in y)

  double Pulse(uint32_t u, double xv) const {
    switch (o_.normalize) {
      case Normalize::kNone: return xv;
      case Normalize::kOut: {
        const double s = g_.out_weight_sum(u);
        return s > 0 ? xv / s : 0.0;
      }
      case Normalize::kDegree: {
        const uint64_t d = g_.out_degree(u);
        return d > 0 ? xv / static_cast<double>(d) : 0.0;
      }
      case Normalize::kSqrtDegree: {
        const uint64_t d = g_.out_degree(u);
        return d > 0 ? xv / std::sqrt(static_cast<double>(d)) : 0.0;
      }
    }
    return 0.0;
  }
  // Brings node v's entries of `values` and its state records towards the cache.
  void Prefetch(const std::vector<double>& values, uint32_t v) const {
    const size_t e = static_cast<size_t>(v) * Q_;
    __builtin_prefetch(&values[e]);
    __builtin_prefetch(&ws_.st[e]);
  }
  // Zeroes node u's entries of a node-major array (std::fill_n over a run-time Q is a memset
  // call per node).
  void ZeroEntries(std::vector<double>& values, uint32_t u) const {
    double* p = values.data() + static_cast<size_t>(u) * Q_;
    if (Q_ == 1) *p = 0.0;
    else std::fill_n(p, Q_, 0.0);
  }
  bool FanoutOk(uint32_t u) const { return o_.max_fanout == 0 || g_.out_degree(u) <= o_.max_fanout; }
  bool Eligible(size_t e, double xv) const {
    return xv > 0 && xv >= o_.threshold && !(o_.refractory == Refractory::kOnce && ws_.st[e].fired != 0);
  }

  void BuildFrontier();
  void BuildFrontierTopB(const std::vector<SeedSet>* absent);
  void HopPush(int h);
  void HopPull(int h);
  // Scales y[v] by δ and folds it into a/depth; keeps y[e] (the next hop's x) only where the
  // entry may fire at the next hop (keep: there is one) and zeroes it elsewhere. Returns
  // kReached | kMayFire bits.
  uint8_t Post(uint32_t v, int h, bool keep);
  // Post(v) from chunk ch of a parallel fold: lists v in lists_a[ch] when it may fire next and in
  // lists_b[ch] when it is reached for the first time.
  void Fold(uint32_t v, int h, bool keep, size_t ch) {
    const uint8_t found = Post(v, h, keep);
    if ((found & kMayFire) != 0) ws_.lists_a[ch].push_back(v);
    uint8_t& flag = ws_.flags[v];
    if ((found & kReached) != 0 && (flag & kFlagResult) == 0) {
      flag |= kFlagResult;
      ws_.lists_b[ch].push_back(v);
    }
  }
  void RunHop(exec::HopTask& t);
  // Emits the rows of every set and resets the state of the reached nodes.
  void EmitRows(size_t query_base, std::vector<std::vector<ResultRow>>* rows);

  const Graph& g_;
  const SpreadOptions& o_;
  exec::Executor& ex_;
  Workspace& ws_;
  const size_t Q_;
  SpreadStats* stats_;
};

void GroupRun::BuildFrontier() {
  ws_.frontier.clear();
  const std::vector<uint32_t>& active = ws_.active;
  const size_t chunks = ChunkCount(active.size(), o_.tuning.chunk_nodes);
  PrepareLists(&ws_.lists_a, chunks);
  const size_t per = (active.size() + chunks - 1) / chunks;
  ForChunks(ex_, chunks, [&](size_t c) {
    std::vector<uint32_t>& out = ws_.lists_a[c];
    for (size_t i = c * per, end = std::min(active.size(), (c + 1) * per); i < end; ++i) {
      if (i + kPrefetch < end) Prefetch(ws_.x, active[i + kPrefetch]);
      const uint32_t u = active[i];
      if (!FanoutOk(u)) continue;
      bool fires = false;
      for (size_t q = 0; q < Q_; ++q) {
        const size_t e = static_cast<size_t>(u) * Q_ + q;
        const double xv = ws_.x[e];
        if (!Eligible(e, xv)) continue;
        ws_.pulse[e] = Pulse(u, xv);
        if (o_.refractory == Refractory::kOnce) ws_.st[e].fired = 1;
        fires = true;
      }
      if (fires) out.push_back(u);
    }
  });
  Concat(ws_.lists_a, chunks, &ws_.frontier);
}

// max_frontier = B: per set, only the B largest x fire, ties by smaller node id. Seeds the graph
// lacks (absent, hop 1 only) compete for the B slots like any isolated node, and spread nothing.
void GroupRun::BuildFrontierTopB(const std::vector<SeedSet>* absent) {
  ws_.frontier.clear();
  auto& cand = ws_.candidates;
  const size_t B = static_cast<size_t>(o_.max_frontier);
  const std::vector<int64_t>& ids = g_.ids();
  constexpr uint32_t kAbsent = UINT32_MAX;
  for (size_t q = 0; q < Q_; ++q) {
    cand.clear();
    for (uint32_t u : ws_.active) {
      const size_t e = static_cast<size_t>(u) * Q_ + q;
      const double xv = ws_.x[e];
      if (FanoutOk(u) && Eligible(e, xv)) cand.push_back({xv, ids[u], u});
    }
    if (absent != nullptr) {
      for (const Seed& s : (*absent)[q]) {
        if (s.activation >= o_.threshold) cand.push_back({s.activation, s.id, kAbsent});
      }
    }
    auto better = [](const Candidate& a, const Candidate& b) {
      return a.x > b.x || (a.x == b.x && a.id < b.id);
    };
    if (cand.size() > B) {
      std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(B - 1), cand.end(), better);
      cand.resize(B);
    }
    for (const Candidate& c : cand) {
      if (c.u == kAbsent) continue;
      const uint32_t u = c.u;
      const double xv = c.x;
      const size_t e = static_cast<size_t>(u) * Q_ + q;
      ws_.pulse[e] = Pulse(u, xv);
      if (o_.refractory == Refractory::kOnce) ws_.st[e].fired = 1;
      if ((ws_.flags[u] & kFlagFrontier) == 0) {
        ws_.flags[u] |= kFlagFrontier;
        ws_.frontier.push_back(u);
      }
    }
  }
  SortNodes(&ws_.frontier, &ws_.sort_tmp, g_.num_nodes());
  for (uint32_t u : ws_.frontier) ws_.flags[u] &= static_cast<uint8_t>(~kFlagFrontier);
}

uint8_t GroupRun::Post(uint32_t v, int h, bool keep) {
  uint8_t found = 0;
  keep = keep && FanoutOk(v);
  const double delta = o_.decay;
  const uint8_t d1 = static_cast<uint8_t>(h + 1);
  for (size_t q = 0; q < Q_; ++q) {
    const size_t e = static_cast<size_t>(v) * Q_ + q;
    const double s = ws_.y[e];
    if (s == 0) continue;
    const double val = delta * s;
    if (!(val > 0)) {  // underflow (or NaN from an overflowed inf · 0): nothing arrives
      ws_.y[e] = 0.0;
      continue;
    }
    found |= kReached;
    EntryState& es = ws_.st[e];
    if (o_.accumulate == Accumulate::kSum) es.a += val;
    else es.a = std::max(es.a, val);
    if (es.depth1 == 0) es.depth1 = d1;
    if (keep && Eligible(e, val)) {
      ws_.y[e] = val;
      found |= kMayFire;
    } else {
      ws_.y[e] = 0.0;
    }
  }
  return found;
}

void GroupRun::RunHop(exec::HopTask& t) {
  exec::RunReport rep;
  ex_.Run(
      exec::Op::kSpread, t.WorkUnits(), t.Items(),
      [&t](exec::Backend& b, size_t begin, size_t end) { return b.SpreadHop(t, begin, end); }, &rep);
  if (stats_ != nullptr) {
    stats_->edges_touched += t.EdgesIn(0, t.Items());
    if (rep.target != exec::Target::kCpu) ++stats_->device_hops;
    if (rep.fell_back) ++stats_->fallbacks;
  }
}

void GroupRun::HopPush(int h) {
  const std::vector<uint32_t>& F = ws_.frontier;
  const uint64_t* off = g_.out_offsets();
  const uint32_t* dst = g_.out_dst();
  ws_.slots.resize(F.size() + 1);
  ws_.slots[0] = 0;
  for (size_t i = 0; i < F.size(); ++i) ws_.slots[i + 1] = ws_.slots[i] + (off[F[i] + 1] - off[F[i]]);
  const uint64_t slots = ws_.slots[F.size()];
  ws_.frontier_pulse.resize(F.size() * Q_);
  for (size_t i = 0; i < F.size(); ++i) {
    std::copy_n(ws_.pulse.data() + static_cast<size_t>(F[i]) * Q_, Q_, ws_.frontier_pulse.data() + i * Q_);
  }
  if (ws_.contrib.size() < slots * Q_) ws_.contrib.resize(slots * Q_);

  exec::HopTask t = GraphHopTask(g_, Q_);
  t.direction = exec::HopTask::Direction::kPush;
  t.frontier = F.data();
  t.n_frontier = F.size();
  t.frontier_pulse = ws_.frontier_pulse.data();
  t.slot_offsets = ws_.slots.data();
  t.contrib = ws_.contrib.data();
  RunHop(t);

  // Combine in slot order: ascending source, then CSR order (the order pull uses).
  NodeSet& touched_set = ws_.touched_set;
  const double* c = ws_.contrib.data();
  double* y = ws_.y.data();
  const uint64_t last = F.empty() ? 0 : off[F.back() + 1];
  for (size_t i = 0; i < F.size(); ++i) {
    const uint32_t u = F[i];
    for (uint64_t p = off[u], s = ws_.slots[i]; p < off[u + 1]; ++p, ++s) {
      if (p + kPrefetch < last) __builtin_prefetch(y + static_cast<size_t>(dst[p + kPrefetch]) * Q_);
      const uint32_t v = dst[p];
      touched_set.Insert(v);
      double* yv = y + static_cast<size_t>(v) * Q_;
      const double* cs = c + s * Q_;
      for (size_t q = 0; q < Q_; ++q) yv[q] += cs[q];
    }
  }
  // Ascending: the fold below then walks y and st in address order (a third faster than in
  // discovery order at 35k of 570k nodes), and the nodes that may fire come out ascending.
  std::vector<uint32_t>& touched = ws_.touched;
  touched_set.TakeSorted(&touched, &ws_.sort_tmp, g_.num_nodes());

  // Fold the hop into a/depth, in parallel chunks of the touched list; collect the nodes that
  // may fire next and the newly reached ones.
  const bool keep = h < o_.max_hops;
  const size_t chunks = ChunkCount(touched.size(), o_.tuning.chunk_nodes);
  PrepareLists(&ws_.lists_a, chunks);
  PrepareLists(&ws_.lists_b, chunks);
  const size_t per = (touched.size() + chunks - 1) / chunks;
  ForChunks(ex_, chunks, [&](size_t ch) {
    for (size_t i = ch * per, end = std::min(touched.size(), (ch + 1) * per); i < end; ++i) {
      if (i + kPrefetch < end) Prefetch(ws_.y, touched[i + kPrefetch]);
      Fold(touched[i], h, keep, ch);
    }
  });
  Concat(ws_.lists_a, chunks, &ws_.next);
  Concat(ws_.lists_b, chunks, &ws_.results);
}

void GroupRun::HopPull(int h) {
  exec::HopTask t = GraphHopTask(g_, Q_);
  t.direction = exec::HopTask::Direction::kPull;
  t.pulse = ws_.pulse.data();
  t.out = ws_.y.data();
  RunHop(t);

  // Every node was written: fold in the reached ones, in parallel chunks (the lists come out
  // ascending).
  const bool keep = h < o_.max_hops;
  const size_t n = g_.num_nodes();
  const size_t chunks = ChunkCount(n, o_.tuning.chunk_nodes);
  PrepareLists(&ws_.lists_a, chunks);
  PrepareLists(&ws_.lists_b, chunks);
  const size_t per = (n + chunks - 1) / chunks;
  ForChunks(ex_, chunks, [&](size_t ch) {
    for (size_t v = ch * per, end = std::min(n, (ch + 1) * per); v < end; ++v) {
      const double* yv = ws_.y.data() + v * Q_;
      bool any = false;
      for (size_t q = 0; q < Q_; ++q) any |= yv[q] != 0;
      if (!any) continue;
      Fold(static_cast<uint32_t>(v), h, keep, ch);
    }
  });
  Concat(ws_.lists_a, chunks, &ws_.next);
  Concat(ws_.lists_b, chunks, &ws_.results);
}

void GroupRun::EmitRows(size_t query_base, std::vector<std::vector<ResultRow>>* rows) {
  if (ws_.hits.size() < Q_) ws_.hits.resize(Q_);
  for (size_t q = 0; q < Q_; ++q) ws_.hits[q].Reset(o_.top_k);
  const std::vector<uint32_t>& results = ws_.results;
  for (size_t i = 0; i < results.size(); ++i) {
    if (i + kPrefetch < results.size()) __builtin_prefetch(&ws_.st[static_cast<size_t>(results[i + kPrefetch]) * Q_]);
    const uint32_t v = results[i];
    for (size_t q = 0; q < Q_; ++q) {
      EntryState& es = ws_.st[static_cast<size_t>(v) * Q_ + q];
      if (es.a > 0 && es.a > o_.min_activation) ws_.hits[q].Add({es.a, v, static_cast<int32_t>(es.depth1) - 1});
      es = EntryState{0.0, 0, 0};
    }
    ws_.flags[v] = 0;
  }
  ws_.results.clear();
  const std::vector<int64_t>& ids = g_.ids();
  for (size_t q = 0; q < Q_; ++q) {
    const std::vector<Hit>& hits = ws_.hits[q].Ranked(&ws_.hit_tmp, g_.num_nodes());
    std::vector<ResultRow>& out = (*rows)[query_base + q];
    out.reserve(hits.size());
    for (const Hit& hit : hits) out.push_back({ids[hit.v], hit.a, hit.depth, query_base + q});
  }
}

void GroupRun::Run(const std::vector<std::vector<std::pair<uint32_t, double>>>& seeds,
                   const std::vector<SeedSet>& absent, size_t query_base, std::vector<std::vector<ResultRow>>* rows) {
  ws_.active.clear();
  ws_.next.clear();
  ws_.results.clear();
  for (size_t q = 0; q < Q_; ++q) {
    for (const auto& [v, act] : seeds[q]) {
      const size_t e = static_cast<size_t>(v) * Q_ + q;
      ws_.x[e] = act;
      ws_.st[e].a = act;
      ws_.st[e].depth1 = 1;
      if ((ws_.flags[v] & kFlagResult) == 0) {
        ws_.flags[v] |= kFlagResult;
        ws_.results.push_back(v);
      }
    }
  }
  ws_.active = ws_.results;
  SortNodes(&ws_.active, &ws_.sort_tmp, g_.num_nodes());

  const uint64_t m = g_.num_edges();
  for (int h = 1; h <= o_.max_hops; ++h) {
    if (o_.max_frontier > 0) BuildFrontierTopB(h == 1 ? &absent : nullptr);
    else BuildFrontier();
    if (ws_.frontier.empty()) break;
    uint64_t frontier_edges = 0;
    for (uint32_t u : ws_.frontier) frontier_edges += g_.out_degree(u);
    bool pull;
    switch (o_.direction) {
      case HopDirection::kPush: pull = false; break;
      case HopDirection::kPull: pull = true; break;
      default: pull = static_cast<double>(frontier_edges) > o_.tuning.pull_fraction * static_cast<double>(m);
    }
    if (stats_ != nullptr) {
      ++stats_->hops;
      ++(pull ? stats_->pull_hops : stats_->push_hops);
    }
    if (pull) HopPull(h);
    else HopPush(h);
    // Pulses back to zero; this hop's input is consumed.
    for (uint32_t u : ws_.frontier) ZeroEntries(ws_.pulse, u);
    for (uint32_t u : ws_.active) ZeroEntries(ws_.x, u);
    ws_.x.swap(ws_.y);
    ws_.active.swap(ws_.next);
    ws_.next.clear();
  }
  for (uint32_t u : ws_.active) ZeroEntries(ws_.x, u);
  ws_.active.clear();
  EmitRows(query_base, rows);
}

// Rows in output order: activation descending, then node ascending.
constexpr auto kRowBefore = [](const ResultRow& a, const ResultRow& b) {
  return a.activation > b.activation || (a.activation == b.activation && a.node < b.node);
};

}  // namespace

exec::HopTask GraphHopTask(const Graph& g, size_t n_queries) {
  exec::HopTask t;
  t.graph_id = g.uid();
  t.n_nodes = g.num_nodes();
  t.n_edges = g.num_edges();
  t.n_queries = n_queries;
  t.in_offsets = g.in_offsets();
  t.in_src = g.in_src();
  t.in_w = g.in_weight();
  t.out_offsets = g.out_offsets();
  t.out_dst = g.out_dst();
  t.out_w = g.out_weight();
  return t;
}

StatusOr<std::vector<ResultRow>> Spread(const Graph& g, const std::vector<SeedSet>& sets, const SpreadOptions& opts,
                                        exec::Executor* ex_in, SpreadStats* stats) {
  VG_RETURN_IF_ERROR(opts.Validate());
  exec::Executor& ex = ex_in != nullptr ? *ex_in : exec::Executor::Global();
  const size_t n = g.num_nodes();

  // Seeds: normalised, split into graph nodes (dense index) and nodes the graph lacks; the
  // latter are rows of their own (depth 0).
  std::vector<std::vector<ResultRow>> rows(sets.size()), absent_rows(sets.size());
  std::vector<std::vector<std::pair<uint32_t, double>>> inside(sets.size());
  std::vector<SeedSet> absent(sets.size());
  for (size_t q = 0; q < sets.size(); ++q) {
    auto norm = NormalizeSeeds(sets[q]);
    if (!norm.ok()) return norm.status();
    for (const Seed& s : *norm) {
      const int64_t v = g.Find(s.id);
      if (v >= 0) {
        inside[q].emplace_back(static_cast<uint32_t>(v), s.activation);
      } else {
        absent[q].push_back(s);
        if (s.activation > opts.min_activation) absent_rows[q].push_back({s.id, s.activation, 0, q});
      }
    }
  }

  if (n > 0) {
    size_t group = std::clamp<size_t>(opts.tuning.max_group_queries, 1, exec::kMaxHopQueries);
    group = std::max<size_t>(1, std::min(group, opts.tuning.max_group_bytes / std::max<size_t>(1, n * kEntryBytes)));
    std::unique_ptr<Workspace> ws;
    if (auto s = g.TakeScratch()) ws.reset(static_cast<Workspace*>(s.release()));
    else ws = std::make_unique<Workspace>();
    std::vector<std::vector<std::pair<uint32_t, double>>> group_seeds;
    std::vector<SeedSet> group_absent;
    for (size_t q0 = 0; q0 < sets.size(); q0 += group) {
      const size_t Q = std::min(group, sets.size() - q0);
      ws->Ensure(n, n * Q);
      const auto first = static_cast<std::ptrdiff_t>(q0), last = static_cast<std::ptrdiff_t>(q0 + Q);
      group_seeds.assign(inside.begin() + first, inside.begin() + last);
      group_absent.assign(absent.begin() + first, absent.begin() + last);
      GroupRun run(g, opts, ex, *ws, Q, stats);
      run.Run(group_seeds, group_absent, q0, &rows);
      if (stats != nullptr) ++stats->groups;
    }
    g.GiveScratch(std::move(ws));
  }

  // Per set: the graph rows (ranked and cut already) merged with the absent seeds' rows, cut to
  // top_k again.
  if (rows.size() == 1 && absent_rows[0].empty()) return std::move(rows[0]);
  size_t total = 0;
  for (size_t q = 0; q < rows.size(); ++q) total += rows[q].size() + absent_rows[q].size();
  std::vector<ResultRow> out;
  out.reserve(total);
  for (size_t q = 0; q < rows.size(); ++q) {
    std::vector<ResultRow>& extra = absent_rows[q];
    std::sort(extra.begin(), extra.end(), kRowBefore);
    const size_t start = out.size();
    std::merge(rows[q].begin(), rows[q].end(), extra.begin(), extra.end(), std::back_inserter(out), kRowBefore);
    if (opts.top_k > 0 && out.size() - start > opts.top_k) out.resize(start + static_cast<size_t>(opts.top_k));
  }
  return out;
}

}  // namespace vecgraph::graph
