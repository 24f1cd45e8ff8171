// Spreading activation engine (engine/graph/): the worked example, every option against a
// straightforward reference of the semantics, personalized PageRank equivalence, graph shapes
// (cycles, self-loops, parallel edges, isolated seeds, empty graph, 0 hops), push = pull bit for
// bit, determinism across thread counts, the simulated device and fault-injected fallbacks, and
// the exact error messages of graph building, options and seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "engine/executor/executor.h"
#include "engine/graph/csr.h"
#include "engine/graph/spread.h"

namespace vecgraph::graph {
namespace {

struct Edge {
  int64_t s, d;
  double w;
};

std::shared_ptr<const Graph> MakeGraph(const std::vector<Edge>& edges, bool directed = true,
                                       exec::Executor* ex = nullptr) {
  std::vector<int64_t> s, d;
  std::vector<double> w;
  for (const Edge& e : edges) {
    s.push_back(e.s);
    d.push_back(e.d);
    w.push_back(e.w);
  }
  auto g = Graph::Build(s, d, w, directed, ex);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? *g : nullptr;
}

// A private executor per test (the global one is shared with other tests in this binary).
struct Fixture {
  exec::Executor ex;
  explicit Fixture(int threads = 2) { Set("threads", std::to_string(threads)); }
  void Set(const char* key, const std::string& value) {
    auto r = ex.SetConfig(key, value);
    ASSERT_TRUE(r.ok()) << key << "=" << value << ": " << r.status().message();
  }
};

std::vector<ResultRow> RunSpread(const Graph& g, const std::vector<SeedSet>& sets, const SpreadOptions& o,
                           exec::Executor* ex, SpreadStats* stats = nullptr) {
  auto r = Spread(g, sets, o, ex, stats);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<ResultRow>{};
}

std::vector<Edge> WorkedEdges() {
  return {{1, 2, .8}, {1, 3, .4}, {2, 4, .5}, {3, 4, 1.0}, {4, 1, .9}, {4, 5, .6}};
}

struct Expect {
  int64_t node;
  double activation;
  int depth;
};

void ExpectRows(const std::vector<ResultRow>& rows, const std::vector<Expect>& want, const char* what) {
  ASSERT_EQ(rows.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(rows[i].node, want[i].node) << what << " row " << i;
    EXPECT_NEAR(rows[i].activation, want[i].activation, 5e-7) << what << " row " << i;
    if (want[i].depth >= 0) {
      EXPECT_EQ(rows[i].depth, want[i].depth) << what << " row " << i;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A straightforward reference of the semantics (maps, no CSR, no push/pull), with the weights
// rounded to float32 as the graph stores them.

std::vector<ResultRow> Reference(const std::vector<Edge>& edges, bool directed, const SeedSet& raw_seeds,
                                 const SpreadOptions& o, size_t query = 0) {
  std::map<int64_t, std::vector<std::pair<int64_t, double>>> out;
  for (const Edge& e : edges) {
    const double w = static_cast<double>(static_cast<float>(e.w));
    out[e.s].push_back({e.d, w});
    out[e.d];
    if (!directed && e.s != e.d) out[e.d].push_back({e.s, w});
  }
  auto seeds = NormalizeSeeds(raw_seeds);
  EXPECT_TRUE(seeds.ok());
  std::map<int64_t, double> x, a;
  std::map<int64_t, int> depth;
  std::set<std::pair<int64_t, int>> fired;
  for (const Seed& s : *seeds) {
    x[s.id] = s.activation;
    a[s.id] = s.activation;
    depth[s.id] = 0;
  }
  for (int h = 1; h <= o.max_hops; ++h) {
    std::vector<std::pair<double, int64_t>> cand;
    for (const auto& [u, xv] : x) {
      const size_t deg = out.count(u) ? out[u].size() : 0;
      if (xv > 0 && xv >= o.threshold && !(o.refractory == Refractory::kOnce && fired.count({u, 0})) &&
          (o.max_fanout == 0 || deg <= o.max_fanout)) {
        cand.emplace_back(xv, u);
      }
    }
    if (o.max_frontier > 0 && cand.size() > o.max_frontier) {
      std::sort(cand.begin(), cand.end(), [](auto& p, auto& q) {
        return p.first > q.first || (p.first == q.first && p.second < q.second);
      });
      cand.resize(o.max_frontier);
    }
    if (cand.empty()) break;
    std::map<int64_t, double> sum;
    for (const auto& [xv, u] : cand) {
      fired.insert({u, 0});
      const auto& adj = out[u];
      double n = 1;
      double wsum = 0;
      for (const auto& vw : adj) wsum += vw.second;
      switch (o.normalize) {
        case Normalize::kNone: n = 1; break;
        case Normalize::kOut: n = wsum; break;
        case Normalize::kDegree: n = static_cast<double>(adj.size()); break;
        case Normalize::kSqrtDegree: n = std::sqrt(static_cast<double>(adj.size())); break;
      }
      if (!(n > 0)) continue;
      for (const auto& [v, w] : adj) sum[v] += xv / n * w;
    }
    x.clear();
    for (const auto& [v, s] : sum) {
      const double val = o.decay * s;
      if (!(val > 0)) continue;
      x[v] = val;
      if (o.accumulate == Accumulate::kSum) a[v] += val;
      else a[v] = std::max(a[v], val);
      if (!depth.count(v)) depth[v] = h;
    }
  }
  std::vector<ResultRow> rows;
  for (const auto& [v, act] : a) {
    if (act > 0 && act > o.min_activation) rows.push_back({v, act, depth[v], query});
  }
  std::sort(rows.begin(), rows.end(), [](const ResultRow& p, const ResultRow& q) {
    return p.activation > q.activation || (p.activation == q.activation && p.node < q.node);
  });
  if (o.top_k > 0 && rows.size() > o.top_k) rows.resize(o.top_k);
  return rows;
}

void ExpectClose(const std::vector<ResultRow>& got, const std::vector<ResultRow>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].node, want[i].node) << what << " row " << i;
    EXPECT_NEAR(got[i].activation, want[i].activation, 1e-9 * std::max(1.0, want[i].activation)) << what << " row " << i;
    EXPECT_EQ(got[i].depth, want[i].depth) << what << " row " << i;
    EXPECT_EQ(got[i].query, want[i].query) << what << " row " << i;
  }
}

void ExpectIdentical(const std::vector<ResultRow>& a, const std::vector<ResultRow>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].node, b[i].node) << what << " row " << i;
    EXPECT_EQ(a[i].activation, b[i].activation) << what << " row " << i;  // bit for bit
    EXPECT_EQ(a[i].depth, b[i].depth) << what << " row " << i;
    EXPECT_EQ(a[i].query, b[i].query) << what << " row " << i;
  }
}

// A power-law-ish random graph: sources Zipf-like (hubs), destinations uniform, float weights,
// some parallel edges and self-loops; ids spread out (not 0..n-1).
std::vector<Edge> RandomGraph(size_t n, size_t m, unsigned seed, int64_t id_stride = 7) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Edge> edges;
  for (size_t i = 0; i < m; ++i) {
    const double r = unit(rng);
    const size_t s = static_cast<size_t>(std::pow(r, 3.0) * static_cast<double>(n)) % n;
    size_t d = static_cast<size_t>(unit(rng) * static_cast<double>(n)) % n;
    if (i % 97 == 0) d = s;  // self-loop
    const double w = static_cast<double>(static_cast<float>(0.05 + unit(rng)));
    edges.push_back({static_cast<int64_t>(s) * id_stride + 3, static_cast<int64_t>(d) * id_stride + 3, w});
    if (i % 53 == 0) edges.push_back(edges.back());  // parallel edge
  }
  return edges;
}

SeedSet RandomSeeds(size_t n, size_t k, unsigned seed, int64_t id_stride = 7) {
  std::mt19937_64 rng(seed);
  SeedSet s;
  for (size_t i = 0; i < k; ++i) {
    s.push_back({static_cast<int64_t>(rng() % n) * id_stride + 3, 0.2 + static_cast<double>(rng() % 1000) / 1000.0});
  }
  return s;
}

// ---------------------------------------------------------------------------------------------

TEST(SpreadGraph, BuildsCsrAndCscInRowOrder) {
  auto g = MakeGraph({{10, 20, 1}, {10, 30, 2}, {20, 30, 3}, {10, 20, 4}, {30, 30, 5}});
  ASSERT_EQ(g->num_nodes(), 3u);
  ASSERT_EQ(g->num_edges(), 5u);
  EXPECT_EQ(g->ids(), (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(g->Find(20), 1);
  EXPECT_EQ(g->Find(25), -1);
  // CSR of node 10: rows 0, 1, 3 in row order.
  EXPECT_EQ(g->out_degree(0), 3u);
  EXPECT_EQ(g->out_dst()[0], 1u);
  EXPECT_EQ(g->out_weight()[0], 1.0f);
  EXPECT_EQ(g->out_dst()[1], 2u);
  EXPECT_EQ(g->out_weight()[2], 4.0f);
  EXPECT_DOUBLE_EQ(g->out_weight_sum(0), 7.0);
  // CSC of node 30: from 10 (w 2), 20 (w 3), 30 (w 5), by source.
  const uint64_t b = g->in_offsets()[2];
  ASSERT_EQ(g->in_offsets()[3] - b, 3u);
  EXPECT_EQ(g->in_src()[b], 0u);
  EXPECT_EQ(g->in_src()[b + 1], 1u);
  EXPECT_EQ(g->in_src()[b + 2], 2u);
  EXPECT_EQ(g->in_weight()[b + 2], 5.0f);
}

TEST(SpreadGraph, UndirectedAddsReversesAndSelfLoopsOnce) {
  auto g = MakeGraph({{1, 2, 1}, {2, 2, 1}, {2, 3, 1}}, /*directed=*/false);
  EXPECT_EQ(g->num_edges(), 5u);  // 1-2 twice, 2-2 once, 2-3 twice
  EXPECT_EQ(g->out_degree(1), 3u);
}

TEST(SpreadGraph, SparseAndDenseIdsGiveTheSameGraph) {
  // Ids far apart take the sort path; the same graph with small ids takes the table path.
  std::vector<Edge> small = RandomGraph(500, 3000, 5, 1);
  std::vector<Edge> huge = small;
  for (Edge& e : huge) {
    e.s = e.s * 1000000007LL - (int64_t{1} << 62);
    e.d = e.d * 1000000007LL - (int64_t{1} << 62);
  }
  huge.push_back({std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 1});
  small.push_back({-1, 1000000, 1});
  auto a = MakeGraph(small), b = MakeGraph(huge);
  ASSERT_EQ(a->num_nodes(), b->num_nodes());
  ASSERT_EQ(a->num_edges(), b->num_edges());
  for (size_t i = 0; i <= a->num_nodes(); ++i) ASSERT_EQ(a->out_offsets()[i], b->out_offsets()[i]) << i;
  EXPECT_EQ(b->ids().front(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(b->ids().back(), std::numeric_limits<int64_t>::max());
}

TEST(SpreadGraph, WeightErrorsNameTheEdge) {
  auto build = [](double w) {
    std::vector<int64_t> s{1, 3}, d{2, 4};
    std::vector<double> ws{1, w};
    auto g = Graph::Build(s, d, ws, true);
    return g.ok() ? std::string() : g.status().message();
  };
  EXPECT_EQ(build(-0.5), "edge (3, 4) has a negative weight -0.5");
  EXPECT_EQ(build(std::nan("")), "edge (3, 4) has a NaN weight");
  EXPECT_EQ(build(HUGE_VAL), "edge (3, 4) has an infinite weight inf");
  EXPECT_EQ(build(-HUGE_VAL), "edge (3, 4) has an infinite weight -inf");
  EXPECT_EQ(build(1e300), "edge (3, 4) has weight 1e+300, beyond the float32 range the graph stores (3.4e+38)");
  EXPECT_EQ(build(0), "");
  std::vector<int64_t> s{1}, d{};
  std::vector<double> w{1};
  EXPECT_FALSE(Graph::Build(s, d, w, true).ok());
}

TEST(Spread, WorkedExample) {
  Fixture f;
  auto g = MakeGraph(WorkedEdges());
  SpreadOptions o;
  o.threshold = 0.1;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.2, 2}, {5, 0.06, 3}},
             "default");
  o.max_hops = 10;  // hop 4 has an empty frontier
  SpreadStats st;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex, &st), {{1, 1.09, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.2, 2}, {5, 0.06, 3}},
             "max_hops 10");
  EXPECT_EQ(st.hops, 3);
  o.threshold = 0.05;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.436, 1}, {3, 0.218, 1}, {4, 0.2, 2}, {5, 0.06, 3}},
             "threshold 0.05");
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.normalize = Normalize::kOut;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex),
             {{1, 1.075, 0}, {2, 1.0 / 3, 1}, {4, 0.25, 2}, {3, 1.0 / 6, 1}, {5, 0.05, 3}}, "normalize out");
  auto u = MakeGraph(WorkedEdges(), /*directed=*/false);
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.max_hops = 2;
  ExpectRows(RunSpread(*u, {{{1, 1.0}}}, o, &f.ex), {{1, 1.4025, 0}, {4, 0.65, 1}, {2, 0.5125, 1}, {3, 0.425, 1}, {5, 0.135, 2}},
             "directed 0");
}

TEST(Spread, EveryOptionMatchesTheReference) {
  Fixture f;
  const std::vector<Edge> edges = RandomGraph(300, 2500, 11);
  auto g = MakeGraph(edges);
  auto gu = MakeGraph(edges, false);
  std::mt19937 rng(3);
  int cases = 0;
  for (int trial = 0; trial < 120; ++trial) {
    SpreadOptions o;
    o.decay = std::vector<double>{0.3, 0.5, 0.9, 1.0}[rng() % 4];
    o.threshold = std::vector<double>{0.0, 0.001, 0.01, 0.2}[rng() % 4];
    o.max_hops = static_cast<int>(rng() % 6);
    o.normalize = static_cast<Normalize>(rng() % 4);
    o.accumulate = static_cast<Accumulate>(rng() % 2);
    o.refractory = static_cast<Refractory>(rng() % 2);
    o.max_fanout = rng() % 3 == 0 ? 1 + rng() % 20 : 0;
    o.max_frontier = rng() % 3 == 0 ? 1 + rng() % 10 : 0;
    o.top_k = rng() % 3 == 0 ? 1 + rng() % 30 : 0;
    o.min_activation = rng() % 4 == 0 ? 0.05 : 0;
    o.direction = static_cast<HopDirection>(rng() % 3);
    if (o.threshold == 0 && o.decay == 1.0 && o.normalize == Normalize::kNone) o.decay = 0.5;  // keep values finite
    const bool directed = rng() % 3 != 0;
    SeedSet seeds = RandomSeeds(300, 1 + rng() % 4, static_cast<unsigned>(trial));
    if (trial % 5 == 0) seeds.push_back({999999, 0.7});  // not in the graph
    auto got = RunSpread(directed ? *g : *gu, {seeds}, o, &f.ex);
    ExpectClose(got, Reference(edges, directed, seeds, o), "trial " + std::to_string(trial));
    ++cases;
  }
  EXPECT_EQ(cases, 120);
}

TEST(Spread, OptionsOneByOne) {
  Fixture f;
  auto g = MakeGraph(WorkedEdges());
  SpreadOptions o;
  o.threshold = 0.1;
  // decay 1: every hop keeps its mass.
  o.decay = 1.0;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.72, 0}, {2, 0.8, 1}, {4, 0.8, 2}, {5, 0.48, 3}, {3, 0.4, 1}},
             "decay 1");
  // max_hops 0: the seeds only.
  o = SpreadOptions{};
  o.max_hops = 0;
  ExpectRows(RunSpread(*g, {{{1, 1.0}, {5, 0.25}}}, o, &f.ex), {{1, 1.0, 0}, {5, 0.25, 0}}, "max_hops 0");
  // degree: w / out-degree.
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.max_hops = 1;
  o.normalize = Normalize::kDegree;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.2, 1}, {3, 0.1, 1}}, "degree");
  o.normalize = Normalize::kSqrtDegree;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.4 / std::sqrt(2.0), 1}, {3, 0.2 / std::sqrt(2.0), 1}},
             "sqrt_degree");
  // accumulate max: node 1 keeps 1.0 (its seed) instead of 1.09.
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.accumulate = Accumulate::kMax;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.2, 2}, {5, 0.06, 3}}, "max");
  // refractory once: node 1 fired at hop 1, so it does not fire again at hop 4.
  o = SpreadOptions{};
  o.threshold = 0.05;
  o.max_hops = 10;
  o.refractory = Refractory::kOnce;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.2, 2}, {5, 0.06, 3}}, "once");
  // max_fanout 1: node 1 (2 out-edges) never fires.
  o = SpreadOptions{};
  o.max_fanout = 1;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}}, "fanout 1");
  o.max_fanout = 2;
  o.threshold = 0.1;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.2, 2}, {5, 0.06, 3}}, "fanout 2");
  // max_frontier 1: at hop 2 only node 2 (0.4 > 0.2) fires.
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.max_frontier = 1;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.045, 0}, {2, 0.4, 1}, {3, 0.2, 1}, {4, 0.1, 2}, {5, 0.03, 3}},
             "frontier 1");
  // A seed absent from the graph is an isolated node: it takes a frontier slot (9 > 1 here).
  ExpectRows(RunSpread(*g, {{{1, 1.0}, {9, 2.0}}}, o, &f.ex), {{9, 2.0, 0}, {1, 1.0, 0}}, "frontier absent seed");
  // max_frontier ties: 2 and 3 both 0.5, the smaller id fires.
  auto tie = MakeGraph({{1, 2, 1}, {1, 3, 1}, {2, 20, 1}, {3, 30, 1}});
  o = SpreadOptions{};
  o.max_frontier = 1;
  o.max_hops = 2;
  ExpectRows(RunSpread(*tie, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.5, 1}, {3, 0.5, 1}, {20, 0.25, 2}}, "frontier tie");
  // top_k and min_activation.
  o = SpreadOptions{};
  o.threshold = 0.1;
  o.top_k = 2;
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.4, 1}}, "top_k");
  o.top_k = 0;
  o.min_activation = 0.25;  // strictly greater
  ExpectRows(RunSpread(*g, {{{1, 1.0}}}, o, &f.ex), {{1, 1.09, 0}, {2, 0.4, 1}}, "min_activation");
}

// Personalized PageRank by power iteration (the reference): π = (1−α)·s/Σs + α·Pᵀπ with
// P[u][v] = w / Σ out-weights of u.
std::map<int64_t, double> PersonalizedPageRank(const std::vector<Edge>& edges, const SeedSet& seeds, double alpha) {
  std::map<int64_t, std::vector<std::pair<int64_t, double>>> out;
  std::map<int64_t, double> wsum;
  for (const Edge& e : edges) {
    const double w = static_cast<double>(static_cast<float>(e.w));
    out[e.s].push_back({e.d, w});
    wsum[e.s] += w;
  }
  double total = 0;
  for (const Seed& s : seeds) total += s.activation;
  std::map<int64_t, double> restart, pi;
  for (const Seed& s : seeds) restart[s.id] += (1 - alpha) * s.activation / total;
  pi = restart;
  for (int it = 0; it < 400; ++it) {
    std::map<int64_t, double> next = restart;
    for (const auto& [u, p] : pi) {
      for (const auto& [v, w] : out[u]) next[v] += alpha * p * w / wsum[u];
    }
    pi.swap(next);
  }
  return pi;
}

TEST(Spread, NormalizedOutEqualsPersonalizedPageRank) {
  Fixture f;
  // Every node has an out-edge (a ring plus random chords): no dangling nodes.
  std::mt19937 rng(17);
  const int n = 200;
  std::vector<Edge> edges;
  for (int i = 0; i < n; ++i) edges.push_back({i, (i + 1) % n, 0.5 + (rng() % 100) / 100.0});
  for (int i = 0; i < 1500; ++i) {
    edges.push_back({static_cast<int64_t>(rng() % n), static_cast<int64_t>(rng() % n), 0.1 + (rng() % 100) / 50.0});
  }
  auto g = MakeGraph(edges);
  const SeedSet seeds = {{3, 1.0}, {50, 0.5}, {120, 2.0}};
  for (double alpha : {0.5, 0.7}) {
    SpreadOptions o;
    o.normalize = Normalize::kOut;
    o.threshold = 0;
    o.decay = alpha;
    o.max_hops = 64;
    auto rows = RunSpread(*g, {seeds}, o, &f.ex);
    auto ppr = PersonalizedPageRank(edges, seeds, alpha);
    ASSERT_EQ(rows.size(), static_cast<size_t>(n)) << "alpha " << alpha;
    double mass = 0;
    for (const ResultRow& r : rows) {
      const double got = (1 - alpha) * r.activation / 3.5;
      EXPECT_NEAR(got, ppr[r.node], 1e-9) << "node " << r.node << " alpha " << alpha;
      mass += got;
    }
    EXPECT_NEAR(mass, 1.0, 1e-8);
  }
}

TEST(Spread, CyclesSelfLoopsParallelEdges) {
  Fixture f;
  // A 3-cycle with decay 1, threshold 0: each node receives 1.0 once per lap.
  auto ring = MakeGraph({{1, 2, 1}, {2, 3, 1}, {3, 1, 1}});
  SpreadOptions o;
  o.decay = 1;
  o.threshold = 0;
  o.max_hops = 7;
  ExpectRows(RunSpread(*ring, {{{1, 1.0}}}, o, &f.ex), {{1, 3.0, 0}, {2, 3.0, 1}, {3, 2.0, 2}}, "ring");
  // A self-loop feeds the node itself: 1 + 0.5 + 0.25 + 0.125.
  auto loop = MakeGraph({{1, 1, 1}});
  o = SpreadOptions{};
  ExpectRows(RunSpread(*loop, {{{1, 1.0}}}, o, &f.ex), {{1, 1.875, 0}}, "self-loop");
  // Parallel edges add up: .3 + .5 = .8.
  auto par = MakeGraph({{1, 2, .3}, {1, 2, .5}});
  auto one = MakeGraph({{1, 2, .8}});
  o = SpreadOptions{};
  ExpectRows(RunSpread(*par, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.4, 1}}, "parallel");
  ExpectRows(RunSpread(*one, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.4, 1}}, "single");
  o.normalize = Normalize::kDegree;  // degree counts parallel edges: (.3 + .5) / 2
  ExpectRows(RunSpread(*par, {{{1, 1.0}}}, o, &f.ex), {{1, 1.0, 0}, {2, 0.2, 1}}, "parallel degree");
}

TEST(Spread, SeedsIsolatedAbsentDuplicateAndEmptyGraph) {
  Fixture f;
  auto g = MakeGraph({{1, 2, 1}, {3, 3, 0}});
  SpreadOptions o;
  // 77 is not in the graph: returned as given. Duplicates sum; <= 0 dropped.
  ExpectRows(RunSpread(*g, {{{77, 0.3}, {2, 0.25}, {2, 0.25}, {1, -1.0}, {5, 0}}}, o, &f.ex), {{2, 0.5, 0}, {77, 0.3, 0}},
             "isolated");
  // Zero-weight self-loop (3): it fires but spreads nothing.
  ExpectRows(RunSpread(*g, {{{3, 1.0}}}, o, &f.ex), {{3, 1.0, 0}}, "zero weight");
  o.normalize = Normalize::kOut;  // Σ out-weights = 0: nothing to spread
  ExpectRows(RunSpread(*g, {{{3, 1.0}}}, o, &f.ex), {{3, 1.0, 0}}, "zero weight out");
  auto empty = MakeGraph({});
  ASSERT_EQ(empty->num_nodes(), 0u);
  ExpectRows(RunSpread(*empty, {{{4, 1.0}, {2, 2.0}}}, SpreadOptions{}, &f.ex), {{2, 2.0, 0}, {4, 1.0, 0}}, "empty graph");
  EXPECT_TRUE(RunSpread(*empty, {{}}, SpreadOptions{}, &f.ex).empty());
  EXPECT_TRUE(RunSpread(*g, {}, SpreadOptions{}, &f.ex).empty());
  auto bad = Spread(*g, {{{1, std::nan("")}}}, SpreadOptions{}, &f.ex);
  EXPECT_EQ(bad.status().message(), "seed 1: expected a finite activation, found NaN");
}

TEST(Spread, PushAndPullAreBitIdentical) {
  Fixture f;
  const std::vector<Edge> edges = RandomGraph(3000, 40000, 23);
  auto g = MakeGraph(edges);
  std::vector<SeedSet> sets;
  for (unsigned q = 0; q < 5; ++q) sets.push_back(RandomSeeds(3000, 1 + q, 100 + q));
  for (Normalize norm : {Normalize::kNone, Normalize::kOut, Normalize::kSqrtDegree}) {
    SpreadOptions o;
    o.normalize = norm;
    o.threshold = 0.001;
    o.max_hops = 4;
    o.direction = HopDirection::kPush;
    SpreadStats sp, sl;
    auto push = RunSpread(*g, sets, o, &f.ex, &sp);
    o.direction = HopDirection::kPull;
    auto pull = RunSpread(*g, sets, o, &f.ex, &sl);
    EXPECT_GT(sp.push_hops, 0);
    EXPECT_EQ(sp.pull_hops, 0);
    EXPECT_GT(sl.pull_hops, 0);
    EXPECT_EQ(sl.push_hops, 0);
    EXPECT_GT(push.size(), 100u);
    ExpectIdentical(push, pull, "batched push vs pull");
    for (size_t q = 0; q < sets.size(); ++q) {  // one set at a time, too
      o.direction = HopDirection::kPush;
      auto a = RunSpread(*g, {sets[q]}, o, &f.ex);
      o.direction = HopDirection::kPull;
      auto b = RunSpread(*g, {sets[q]}, o, &f.ex);
      ExpectIdentical(a, b, "single push vs pull");
    }
    o.direction = HopDirection::kAuto;
    ExpectIdentical(RunSpread(*g, sets, o, &f.ex), pull, "auto");
  }
}

TEST(Spread, BatchedEqualsOneByOneAndGroupsSplit) {
  Fixture f;
  const std::vector<Edge> edges = RandomGraph(2000, 15000, 31);
  auto g = MakeGraph(edges);
  std::vector<SeedSet> sets;
  for (unsigned q = 0; q < 40; ++q) sets.push_back(RandomSeeds(2000, 1 + q % 4, 500 + q));
  sets[7].clear();  // an empty set yields no rows
  SpreadOptions o;
  o.threshold = 0.005;
  o.top_k = 25;
  SpreadStats st;
  auto batched = RunSpread(*g, sets, o, &f.ex, &st);
  EXPECT_EQ(st.groups, 2);  // 32 + 8 sets
  std::vector<ResultRow> one_by_one;
  for (size_t q = 0; q < sets.size(); ++q) {
    auto rows = RunSpread(*g, {sets[q]}, o, &f.ex);
    for (ResultRow& r : rows) r.query = q;
    one_by_one.insert(one_by_one.end(), rows.begin(), rows.end());
  }
  ExpectIdentical(batched, one_by_one, "batched");
  o.tuning.max_group_queries = 3;
  ExpectIdentical(RunSpread(*g, sets, o, &f.ex), one_by_one, "groups of 3");
  o.tuning.max_group_queries = 1;
  ExpectIdentical(RunSpread(*g, sets, o, &f.ex), one_by_one, "groups of 1");
}

// top_k keeps exactly the first k rows of the full ranking, also when thousands of rows are
// reached (the selection cuts its list repeatedly) and activations tie (every weight is 1, so
// many rows tie and node ids decide), with seeds the graph lacks tying with rows at the cuts.
TEST(Spread, TopKIsAPrefixOfTheFullRanking) {
  Fixture f;
  std::vector<Edge> edges = RandomGraph(20000, 120000, 61);
  for (Edge& e : edges) e.w = 1.0;
  auto g = MakeGraph(edges);
  SpreadOptions o;
  o.threshold = 0;
  o.max_hops = 4;
  // Hubs (small indices, id = 7 · index + 3) reach most of the graph.
  std::vector<SeedSet> sets = {{{3, 1.0}, {17, 1.0}, {52, 1.0}}, {{24, 1.0}}};
  {
    // Seeds the graph lacks, with the activation of set 0's row 1000 and set 1's row 99.
    std::vector<std::vector<double>> plain(sets.size());
    for (const ResultRow& r : RunSpread(*g, sets, o, &f.ex)) plain[r.query].push_back(r.activation);
    ASSERT_GT(plain[0].size(), 1000u);
    ASSERT_GT(plain[1].size(), 100u);
    sets[0].push_back({-5, plain[0][1000]});        // ranks before the rows it ties with
    sets[1].push_back({99999999, plain[1][99]});  // ranks after them
  }
  const std::vector<ResultRow> full = RunSpread(*g, sets, o, &f.ex);
  std::vector<std::vector<ResultRow>> full_by_set(sets.size());
  for (const ResultRow& r : full) full_by_set[r.query].push_back(r);
  ASSERT_GT(full_by_set[0].size(), 5000u);
  ASSERT_GT(full_by_set[1].size(), 5000u);
  // Where the absent seeds landed: next to a row they tie with. Cut there and one further.
  std::vector<uint64_t> ks = {1, 10, 100, 1500, 4000, 1000000};
  for (const auto& rows : full_by_set) {
    auto it = std::find_if(rows.begin(), rows.end(), [](const ResultRow& r) { return r.node == -5 || r.node == 99999999; });
    ASSERT_TRUE(it != rows.begin() && std::next(it) < rows.end());
    EXPECT_TRUE(std::prev(it)->activation == it->activation || std::next(it)->activation == it->activation);
    ks.push_back(static_cast<uint64_t>(it - rows.begin()));
    ks.push_back(static_cast<uint64_t>(it - rows.begin()) + 1);
  }
  for (uint64_t k : ks) {
    o.top_k = k;
    std::vector<ResultRow> want;
    for (const auto& rows : full_by_set) {
      want.insert(want.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(k, rows.size())));
    }
    ExpectIdentical(RunSpread(*g, sets, o, &f.ex), want, "batched top_k " + std::to_string(k));
    for (size_t q = 0; q < sets.size(); ++q) {
      auto one = RunSpread(*g, {sets[q]}, o, &f.ex);
      for (ResultRow& r : one) r.query = q;
      std::vector<ResultRow> want_q = want;
      std::erase_if(want_q, [q](const ResultRow& r) { return r.query != q; });
      ExpectIdentical(one, want_q, "top_k " + std::to_string(k) + " set " + std::to_string(q));
    }
  }
}

// Ties found late: seed 0 reaches nodes 10000..12999 at hop 1 and, through them (weight 2),
// nodes 1..3000 at hop 2, all with activation 0.5. Row order puts the late, smaller ids first,
// so a top_k selection must keep hits that tie with its current k-th best.
TEST(Spread, TopKKeepsLateTiesWithSmallerIds) {
  Fixture f;
  std::vector<Edge> edges;
  for (int64_t i = 0; i < 3000; ++i) {
    edges.push_back({0, 10000 + i, 1.0});
    edges.push_back({10000 + i, 1 + i, 2.0});
  }
  auto g = MakeGraph(edges);
  SpreadOptions o;
  o.max_hops = 2;
  for (uint64_t k : {2, 101, 2000, 4000}) {
    o.top_k = k;
    std::vector<Expect> want = {{0, 1.0, 0}};
    for (int64_t i = 0; i < 6000 && want.size() < k; ++i) {
      if (i < 3000) want.push_back({1 + i, 0.5, 2});
      else want.push_back({10000 + i - 3000, 0.5, 1});
    }
    ExpectRows(RunSpread(*g, {{{0, 1.0}}}, o, &f.ex), want, ("top_k " + std::to_string(k)).c_str());
  }
}

TEST(Spread, DeterministicAcrossThreadCountsAndRepeats) {
  const std::vector<Edge> edges = RandomGraph(20000, 300000, 41);
  std::vector<SeedSet> sets = {RandomSeeds(20000, 5, 1), RandomSeeds(20000, 2, 2)};
  SpreadOptions o;
  o.threshold = 0.0005;
  o.max_hops = 5;
  std::vector<ResultRow> first;
  for (int threads : {1, 2, 3, 8}) {
    Fixture f(threads);
    auto g = MakeGraph(edges, true, &f.ex);
    for (int rep = 0; rep < 2; ++rep) {  // the second run reuses the pooled scratch
      SpreadStats st;
      auto rows = RunSpread(*g, sets, o, &f.ex, &st);
      EXPECT_GT(st.pull_hops, 0);
      if (first.empty()) first = rows;
      else ExpectIdentical(rows, first, "threads " + std::to_string(threads));
    }
  }
  EXPECT_GT(first.size(), 1000u);
}

TEST(Spread, SimulatedDeviceAndInjectedFaultsGiveIdenticalRows) {
  const std::vector<Edge> edges = RandomGraph(5000, 60000, 53);
  std::vector<SeedSet> sets = {RandomSeeds(5000, 4, 9), RandomSeeds(5000, 1, 10)};
  SpreadOptions o;
  o.threshold = 0.001;
  o.max_hops = 4;
  Fixture cpu;
  cpu.Set("mode", "cpu");
  auto g = MakeGraph(edges, true, &cpu.ex);
  auto want = RunSpread(*g, sets, o, &cpu.ex);

  Fixture sim;
  sim.Set("device", "simulated");
  sim.Set("simulated_device", R"({"launch_us": 1, "gbps": 1000})");
  sim.Set("mode", "gpu");
  SpreadStats st;
  ExpectIdentical(RunSpread(*g, sets, o, &sim.ex, &st), want, "simulated");
  EXPECT_EQ(st.device_hops, st.hops);
  EXPECT_EQ(st.fallbacks, 0);
  bool saw_simulated = false;
  for (const exec::StatRow& r : sim.ex.Stats()) {
    if (r.op == exec::Op::kSpread && r.backend == exec::BackendKind::kSimulated) saw_simulated = r.batches > 0;
  }
  EXPECT_TRUE(saw_simulated);

  for (const char* error : {"oom", "launch", "illegal_address"}) {
    Fixture faulty;
    faulty.Set("device", "simulated");
    faulty.Set("simulated_device", R"({"launch_us": 1, "gbps": 1000})");
    faulty.Set("mode", "gpu");
    faulty.Set("fault_injection", std::string(R"({"op": "spread", "error": ")") + error + R"(", "every": 1})");
    SpreadStats fs;
    ExpectIdentical(RunSpread(*g, sets, o, &faulty.ex, &fs), want, error);
    EXPECT_GT(fs.fallbacks, 0) << error;
  }

  // Auto mode with a split between CPU and device also gives the same rows.
  Fixture split;
  split.Set("device", "simulated");
  split.Set("simulated_device", R"({"launch_us": 1, "gbps": 5})");
  split.Set("gpu_min_batch", "1");
  split.Set("explore_every", "2");
  for (int i = 0; i < 6; ++i) ExpectIdentical(RunSpread(*g, sets, o, &split.ex), want, "auto " + std::to_string(i));
}

TEST(SpreadOptionsParse, DefaultsAndEveryKey) {
  auto p = ParseOptions("{}");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source.src_col, "src");
  EXPECT_EQ(p->source.dst_col, "dst");
  EXPECT_EQ(p->source.weight_col, "weight");
  EXPECT_TRUE(p->source.directed);
  EXPECT_EQ(p->spread.decay, 0.5);
  EXPECT_EQ(p->spread.threshold, 0.01);
  EXPECT_EQ(p->spread.max_hops, 3);
  p = ParseOptions(R"({"src_col": "a", "dst_col": "b", "weight_col": "c", "directed": false, "decay": 1,
      "threshold": 0, "max_hops": 64, "normalize": "sqrt_degree", "accumulate": "max", "refractory": "once",
      "max_fanout": 5, "max_frontier": 6.0, "top_k": 7, "min_activation": 0.5})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->source.src_col, "a");
  EXPECT_EQ(p->source.weight_col, "c");
  EXPECT_FALSE(p->source.directed);
  EXPECT_EQ(p->spread.decay, 1.0);
  EXPECT_EQ(p->spread.max_hops, 64);
  EXPECT_EQ(p->spread.normalize, Normalize::kSqrtDegree);
  EXPECT_EQ(p->spread.accumulate, Accumulate::kMax);
  EXPECT_EQ(p->spread.refractory, Refractory::kOnce);
  EXPECT_EQ(p->spread.max_fanout, 5u);
  EXPECT_EQ(p->spread.max_frontier, 6u);
  EXPECT_EQ(p->spread.top_k, 7u);
  EXPECT_EQ(p->spread.min_activation, 0.5);
  p = ParseOptions(R"({"weight_col": null, "directed": 0})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source.weight_col, "");
  EXPECT_FALSE(p->source.directed);
}

TEST(SpreadOptionsParse, Errors) {
  auto err = [](const char* json) {
    auto p = ParseOptions(json);
    return p.ok() ? std::string("<ok>") : p.status().message();
  };
  EXPECT_EQ(err(R"({"decay": 1.5})"), "option 'decay': expected a number in (0, 1], found 1.5");
  EXPECT_EQ(err(R"({"decay": 0})"), "option 'decay': expected a number in (0, 1], found 0");
  EXPECT_EQ(err(R"({"decay": "x"})"), "option 'decay': expected a number in (0, 1], found 'x'");
  EXPECT_EQ(err(R"({"threshold": -1})"), "option 'threshold': expected a number >= 0, found -1");
  EXPECT_EQ(err(R"({"max_hops": 65})"), "option 'max_hops': expected an integer in [0, 64], found 65");
  EXPECT_EQ(err(R"({"max_hops": 2.5})"), "option 'max_hops': expected an integer in [0, 64], found 2.5");
  EXPECT_EQ(err(R"({"normalize": "in"})"),
            "option 'normalize': expected 'none', 'out', 'degree' or 'sqrt_degree', found 'in'");
  EXPECT_EQ(err(R"({"accumulate": 1})"), "option 'accumulate': expected 'sum' or 'max', found 1");
  EXPECT_EQ(err(R"({"refractory": null})"), "option 'refractory': expected 'none' or 'once', found null");
  EXPECT_EQ(err(R"({"max_fanout": -1})"), "option 'max_fanout': expected an integer >= 0, found -1");
  EXPECT_EQ(err(R"({"max_frontier": true})"), "option 'max_frontier': expected an integer >= 0, found true");
  EXPECT_EQ(err(R"({"top_k": [1]})"), "option 'top_k': expected an integer >= 0, found an array");
  EXPECT_EQ(err(R"({"min_activation": -0.5})"), "option 'min_activation': expected a number >= 0, found -0.5");
  EXPECT_EQ(err(R"({"directed": 2})"), "option 'directed': expected 0, 1, true or false, found 2");
  EXPECT_EQ(err(R"({"src_col": ""})"), "option 'src_col': expected a column name (a non-empty string), found ''");
  EXPECT_EQ(err(R"({"dst_col": {}})"), "option 'dst_col': expected a column name (a non-empty string), found an object");
  EXPECT_EQ(err(R"({"decy": 1})"),
            "unknown option 'decy': expected one of src_col, dst_col, weight_col, directed, decay, threshold, "
            "max_hops, normalize, accumulate, refractory, max_fanout, max_frontier, top_k, min_activation");
  EXPECT_EQ(err(R"({"top_k": 1, "top_k": 2})"), "duplicate option 'top_k'");
  EXPECT_EQ(err("[1]"), "expected a JSON object {\"option\": value, ...}, found an array");
  EXPECT_EQ(err("{"), "malformed JSON at offset 1: expected a string key");
  SpreadOptions o;
  o.decay = 2;
  EXPECT_EQ(o.Validate().message(), "option 'decay': expected a number in (0, 1], found 2");
}

TEST(SpreadSeedsParse, FormsAndErrors) {
  auto sets = [](const char* json) {
    auto p = ParseSeeds(json);
    EXPECT_TRUE(p.ok()) << json << ": " << p.status().message();
    return p.ok() ? *p : SeedInput{};
  };
  SeedInput in = sets("7");
  ASSERT_EQ(in.sets.size(), 1u);
  EXPECT_FALSE(in.batched);
  EXPECT_EQ(in.sets[0][0].id, 7);
  EXPECT_EQ(in.sets[0][0].activation, 1.0);
  in = sets("[3, 1, 3, \"-2\"]");
  ASSERT_EQ(in.sets[0].size(), 3u);
  EXPECT_EQ(in.sets[0][0].id, -2);
  EXPECT_EQ(in.sets[0][2].id, 3);
  EXPECT_EQ(in.sets[0][2].activation, 2.0);  // duplicates sum
  in = sets(R"({"12": 0.8, "5": 0.1, "6": -1, "5": 0.2, "9": 0})");
  ASSERT_EQ(in.sets[0].size(), 2u);
  EXPECT_EQ(in.sets[0][0].id, 5);
  EXPECT_NEAR(in.sets[0][0].activation, 0.3, 1e-15);
  in = sets("[]");
  EXPECT_FALSE(in.batched);
  ASSERT_EQ(in.sets.size(), 1u);
  EXPECT_TRUE(in.sets[0].empty());
  in = sets(R"([{"1": 1}, [7, 8], {}])");
  EXPECT_TRUE(in.batched);
  ASSERT_EQ(in.sets.size(), 3u);
  EXPECT_EQ(in.sets[1].size(), 2u);
  EXPECT_TRUE(in.sets[2].empty());

  auto err = [](const char* json) {
    auto p = ParseSeeds(json);
    return p.ok() ? std::string("<ok>") : p.status().message();
  };
  EXPECT_EQ(err("[1, 2.5]"), "element 1: expected an integer node id, found 2.5");
  EXPECT_EQ(err("[1, null]"), "element 1: expected an integer node id, found null");
  EXPECT_EQ(err(R"({"x": 1})"), "key 'x': expected a string holding an integer node id");
  EXPECT_EQ(err(R"({"1.5": 1})"), "key '1.5': expected a string holding an integer node id");
  EXPECT_EQ(err(R"({"1": "a"})"), "key '1': expected a number (the activation), found 'a'");
  EXPECT_EQ(err("1.5"), "expected an integer node id, a JSON array of ids or an object {\"id\": activation}, found 1.5");
  EXPECT_EQ(err("true"), "expected an integer node id, a JSON array of ids or an object {\"id\": activation}, found true");
  EXPECT_EQ(err(R"([{"1": 1}, 2])"),
            "query 1: expected a seed set (a JSON array of ids or an object {\"id\": activation}) like query 0, found 2");
  EXPECT_EQ(err(R"([{"1": 1}, {"y": 2}])"), "query 1: key 'y': expected a string holding an integer node id");
  EXPECT_EQ(err("[1,"), "malformed JSON at offset 3: unexpected end of text");
  EXPECT_EQ(err(R"({"1": 1e308, "1": 1e308})"), "seed 1: its activations sum to inf");
}

}  // namespace
}  // namespace vecgraph::graph
