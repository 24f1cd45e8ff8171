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
#include "engine/graph/spread.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "engine/executor/executor.h"
#include "engine/graph/parallel.h"

namespace vecgraph::graph {
namespace {

constexpr uint8_t kFlagNext = 1;      // in the next active list (push combine)
constexpr uint8_t kFlagResult = 2;    // in the result list
constexpr uint8_t kFlagFrontier = 4;  // in the frontier (max_frontier selection)
// Random per-node accesses this many items ahead are prefetched.
constexpr size_t kPrefetch = 16;

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

struct Workspace final : Graph::Scratch {
  size_t entries = 0;  // capacity of the n×Q arrays
  size_t nodes = 0;    // capacity of flags
  std::vector<double> x, y, pulse;
  std::vector<EntryState> st;
  std::vector<uint8_t> flags;
  std::vector<uint32_t> active, next, results, frontier, sort_tmp;
  std::vector<double> frontier_pulse, contrib;
  std::vector<uint64_t> slots;
  std::vector<std::vector<uint32_t>> lists_a, lists_b;  // per-chunk outputs
  std::vector<Candidate> candidates;

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
      nodes = n;
    }
  }
  size_t Bytes() const override {
    return entries * kEntryBytes + nodes + (active.capacity() + next.capacity() + results.capacity() +
                                            frontier.capacity()) * sizeof(uint32_t) +
           (frontier_pulse.capacity() + contrib.capacity()) * sizeof(double) + slots.capacity() * sizeof(uint64_t);
  }
};

// Sorts node indices ascending: std::sort for short lists, else an LSD radix sort with 11-bit
// digits (two passes below 2^22 nodes). tmp is scratch.
void SortNodes(std::vector<uint32_t>* v, std::vector<uint32_t>* tmp, size_t n_nodes) {
  constexpr size_t kRadixMin = 2048;
  constexpr int kBits = 11;
  constexpr uint32_t kBuckets = 1u << kBits;
  if (v->size() < kRadixMin) {
    std::sort(v->begin(), v->end());
    return;
  }
  tmp->resize(v->size());
  uint32_t count[kBuckets];
  for (int shift = 0; shift < 32 && (n_nodes - 1) >> shift != 0; shift += kBits) {
    std::fill_n(count, kBuckets, 0u);
    for (uint32_t x : *v) ++count[(x >> shift) & (kBuckets - 1)];
    uint32_t sum = 0;
    for (uint32_t& c : count) {
      const uint32_t k = c;
      c = sum;
      sum += k;
    }
    for (uint32_t x : *v) (*tmp)[count[(x >> shift) & (kBuckets - 1)]++] = x;
    v->swap(*tmp);
  }
}

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
  // slots at hop 1); appends rows with query = query_base + set.
  void Run(const std::vector<std::vector<std::pair<uint32_t, double>>>& seeds, const std::vector<SeedSet>& absent,
           size_t query_base, std::vector<std::vector<ResultRow>>* rows);

 private:
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
  // Brings node v's x, y and state records towards the cache.
  void Prefetch(uint32_t v) const {
    const size_t e = static_cast<size_t>(v) * Q_;
    __builtin_prefetch(&ws_.x[e]);
    __builtin_prefetch(&ws_.y[e]);
    __builtin_prefetch(&ws_.st[e]);
  }
  bool FanoutOk(uint32_t u) const { return o_.max_fanout == 0 || g_.out_degree(u) <= o_.max_fanout; }
  bool Eligible(size_t e, double xv) const {
    return xv > 0 && xv >= o_.threshold && !(o_.refractory == Refractory::kOnce && ws_.st[e].fired != 0);
  }

  void BuildFrontier();
  void BuildFrontierTopB(const std::vector<SeedSet>* absent);
  void HopPush(int h);
  void HopPull(int h);
  // Scales y[v] by δ and folds it into a/depth; returns whether any entry is positive.
  bool Post(uint32_t v, int h);
  void RunHop(exec::HopTask& t);

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
      if (i + kPrefetch < end) Prefetch(active[i + kPrefetch]);
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

bool GroupRun::Post(uint32_t v, int h) {
  bool positive = false;
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
    ws_.y[e] = val;
    positive = true;
    EntryState& es = ws_.st[e];
    if (o_.accumulate == Accumulate::kSum) es.a += val;
    else es.a = std::max(es.a, val);
    if (es.depth1 == 0) es.depth1 = d1;
  }
  return positive;
}

void GroupRun::RunHop(exec::HopTask& t) {
  t.graph_id = g_.uid();
  t.n_nodes = g_.num_nodes();
  t.n_edges = g_.num_edges();
  t.n_queries = Q_;
  t.in_offsets = g_.in_offsets();
  t.in_src = g_.in_src();
  t.in_w = g_.in_weight();
  t.out_offsets = g_.out_offsets();
  t.out_dst = g_.out_dst();
  t.out_w = g_.out_weight();
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

  exec::HopTask t;
  t.direction = exec::HopTask::Direction::kPush;
  t.frontier = F.data();
  t.n_frontier = F.size();
  t.frontier_pulse = ws_.frontier_pulse.data();
  t.slot_offsets = ws_.slots.data();
  t.contrib = ws_.contrib.data();
  RunHop(t);

  // Combine in slot order: ascending source, then CSR order (the order pull uses).
  std::vector<uint32_t>& next = ws_.next;
  next.clear();
  const double* c = ws_.contrib.data();
  double* y = ws_.y.data();
  uint8_t* flags = ws_.flags.data();
  const uint64_t last = F.empty() ? 0 : off[F.back() + 1];
  for (size_t i = 0; i < F.size(); ++i) {
    const uint32_t u = F[i];
    for (uint64_t p = off[u], s = ws_.slots[i]; p < off[u + 1]; ++p, ++s) {
      if (p + kPrefetch < last) __builtin_prefetch(y + static_cast<size_t>(dst[p + kPrefetch]) * Q_);
      const uint32_t v = dst[p];
      if ((flags[v] & kFlagNext) == 0) {
        flags[v] |= kFlagNext;
        next.push_back(v);
      }
      double* yv = y + static_cast<size_t>(v) * Q_;
      const double* cs = c + s * Q_;
      for (size_t q = 0; q < Q_; ++q) yv[q] += cs[q];
    }
  }
  SortNodes(&next, &ws_.sort_tmp, g_.num_nodes());

  // Fold the hop into a/depth, in parallel chunks of the (sorted) list.
  const size_t chunks = ChunkCount(next.size(), o_.tuning.chunk_nodes);
  PrepareLists(&ws_.lists_b, chunks);
  const size_t per = (next.size() + chunks - 1) / chunks;
  ForChunks(ex_, chunks, [&](size_t ch) {
    for (size_t i = ch * per, end = std::min(next.size(), (ch + 1) * per); i < end; ++i) {
      if (i + kPrefetch < end) Prefetch(next[i + kPrefetch]);
      const uint32_t v = next[i];
      flags[v] &= static_cast<uint8_t>(~kFlagNext);
      if (Post(v, h) && (flags[v] & kFlagResult) == 0) {
        flags[v] |= kFlagResult;
        ws_.lists_b[ch].push_back(v);
      }
    }
  });
  Concat(ws_.lists_b, chunks, &ws_.results);
}

void GroupRun::HopPull(int h) {
  exec::HopTask t;
  t.direction = exec::HopTask::Direction::kPull;
  t.pulse = ws_.pulse.data();
  t.out = ws_.y.data();
  RunHop(t);

  // Every node was written: collect the reached ones and fold them in, in parallel chunks.
  const size_t n = g_.num_nodes();
  const size_t chunks = ChunkCount(n, o_.tuning.chunk_nodes);
  PrepareLists(&ws_.lists_a, chunks);
  PrepareLists(&ws_.lists_b, chunks);
  const size_t per = (n + chunks - 1) / chunks;
  uint8_t* flags = ws_.flags.data();
  ForChunks(ex_, chunks, [&](size_t ch) {
    for (size_t v = ch * per, end = std::min(n, (ch + 1) * per); v < end; ++v) {
      const double* yv = ws_.y.data() + v * Q_;
      bool any = false;
      for (size_t q = 0; q < Q_; ++q) any |= yv[q] != 0;
      if (!any) continue;
      const uint32_t u = static_cast<uint32_t>(v);
      if (Post(u, h)) {
        ws_.lists_a[ch].push_back(u);
        if ((flags[v] & kFlagResult) == 0) {
          flags[v] |= kFlagResult;
          ws_.lists_b[ch].push_back(u);
        }
      }
    }
  });
  ws_.next.clear();
  Concat(ws_.lists_a, chunks, &ws_.next);
  Concat(ws_.lists_b, chunks, &ws_.results);
}

void GroupRun::Run(const std::vector<std::vector<std::pair<uint32_t, double>>>& seeds,
                   const std::vector<SeedSet>& absent, size_t query_base, std::vector<std::vector<ResultRow>>* rows) {
  ws_.active.clear();
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
    for (uint32_t u : ws_.frontier) std::fill_n(ws_.pulse.data() + static_cast<size_t>(u) * Q_, Q_, 0.0);
    for (uint32_t u : ws_.active) std::fill_n(ws_.x.data() + static_cast<size_t>(u) * Q_, Q_, 0.0);
    ws_.x.swap(ws_.y);
    ws_.active.swap(ws_.next);
    ws_.next.clear();
  }
  for (uint32_t u : ws_.active) std::fill_n(ws_.x.data() + static_cast<size_t>(u) * Q_, Q_, 0.0);
  ws_.active.clear();

  const std::vector<int64_t>& ids = g_.ids();
  // Rows come out in ascending node order (SortRows then only orders by activation, stably).
  SortNodes(&ws_.results, &ws_.sort_tmp, g_.num_nodes());
  const std::vector<uint32_t>& results = ws_.results;
  for (size_t i = 0; i < results.size(); ++i) {
    if (i + kPrefetch < results.size()) __builtin_prefetch(&ws_.st[static_cast<size_t>(results[i + kPrefetch]) * Q_]);
    const uint32_t v = results[i];
    for (size_t q = 0; q < Q_; ++q) {
      const size_t e = static_cast<size_t>(v) * Q_ + q;
      EntryState& es = ws_.st[e];
      if (es.a > 0 && es.a > o_.min_activation) {
        (*rows)[query_base + q].push_back({ids[v], es.a, static_cast<int>(es.depth1) - 1, query_base + q});
      }
      es = EntryState{0.0, 0, 0};
    }
    ws_.flags[v] = 0;
  }
  ws_.results.clear();
}

// Activation descending, then node ascending.
constexpr auto kRowBefore = [](const ResultRow& a, const ResultRow& b) {
  return a.activation > b.activation || (a.activation == b.activation && a.node < b.node);
};

// Sorts rows that are in ascending node order by activation descending, keeping that order among
// equal activations: a stable LSD radix sort on the activation's bits (positive doubles order
// like their bit patterns), 11 bits a pass, passes whose digit never varies skipped.
void SortRows(std::vector<ResultRow>* rows) {
  constexpr size_t kRadixMin = 256;
  constexpr int kBits = 11;
  constexpr uint32_t kBuckets = 1u << kBits;
  const size_t n = rows->size();
  if (n < kRadixMin) {
    std::sort(rows->begin(), rows->end(), kRowBefore);
    return;
  }
  struct Item {
    uint64_t key;  // ~bits: descending activation sorts ascending
    uint32_t row;
  };
  std::vector<Item> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t bits;
    std::memcpy(&bits, &(*rows)[i].activation, sizeof(bits));
    a[i] = {~bits, static_cast<uint32_t>(i)};
  }
  uint32_t count[kBuckets];
  for (int shift = 0; shift < 64; shift += kBits) {
    std::fill_n(count, kBuckets, 0u);
    for (const Item& it : a) ++count[(it.key >> shift) & (kBuckets - 1)];
    if (count[(a[0].key >> shift) & (kBuckets - 1)] == n) continue;  // one digit value: nothing moves
    uint32_t sum = 0;
    for (uint32_t& c : count) {
      const uint32_t k = c;
      c = sum;
      sum += k;
    }
    for (const Item& it : a) b[count[(it.key >> shift) & (kBuckets - 1)]++] = it;
    a.swap(b);
  }
  std::vector<ResultRow> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = (*rows)[a[i].row];
  rows->swap(out);
}

}  // namespace

StatusOr<std::vector<ResultRow>> Spread(const Graph& g, const std::vector<SeedSet>& sets, const SpreadOptions& opts,
                                        exec::Executor* ex_in, SpreadStats* stats) {
  VG_RETURN_IF_ERROR(opts.Validate());
  exec::Executor& ex = ex_in != nullptr ? *ex_in : exec::Executor::Global();
  const size_t n = g.num_nodes();

  // Seeds: normalised, split into graph nodes (dense index) and nodes the graph lacks.
  std::vector<std::vector<ResultRow>> rows(sets.size());
  std::vector<std::vector<std::pair<uint32_t, double>>> inside(sets.size());
  std::vector<SeedSet> absent(sets.size());
  std::vector<size_t> absent_rows(sets.size(), 0);
  for (size_t q = 0; q < sets.size(); ++q) {
    auto norm = NormalizeSeeds(sets[q]);
    if (!norm.ok()) return norm.status();
    for (const Seed& s : *norm) {
      const int64_t v = g.Find(s.id);
      if (v >= 0) {
        inside[q].emplace_back(static_cast<uint32_t>(v), s.activation);
      } else {
        absent[q].push_back(s);
        if (s.activation > opts.min_activation) {
          rows[q].push_back({s.id, s.activation, 0, q});
          ++absent_rows[q];
        }
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

  std::vector<ResultRow> out;
  size_t total = 0;
  for (size_t q = 0; q < rows.size(); ++q) {
    std::vector<ResultRow>& r = rows[q];
    // Rows of seeds the graph lacks come first, in id order; then graph nodes in id order.
    // Merge the two runs so the whole set is in node order before SortRows.
    const size_t n_absent = std::min(r.size(), absent_rows[q]);
    std::inplace_merge(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(n_absent), r.end(),
                       [](const ResultRow& x, const ResultRow& y) { return x.node < y.node; });
    if (opts.top_k > 0 && r.size() > opts.top_k) {
      std::partial_sort(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(opts.top_k), r.end(), kRowBefore);
      r.resize(opts.top_k);
    } else {
      SortRows(&r);
    }
    total += r.size();
  }
  out.reserve(total);
  for (auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

}  // namespace vecgraph::graph
