// bench/spread_hop_bench.cpp — the spreading-activation engine without SQL.
//
//   vecgraph_spread_hop_bench [--benchmark_min_time=0.5] [--benchmark_filter=...]
//
//   BM_PullKernel/<log2 nodes>/<M edges>   the serial pull kernel (ComputeSpreadHopSerial) on one
//                                          core: every node sums its in-edges, one set. Counter
//                                          edges/s and bytes/s at 8.5 bytes per edge (4 index + 4
//                                          weight + offsets; pulse gathers hit cache). Goal
//                                          ≥ 0.5 G edges/s per core when the pulses (8 bytes ×
//                                          nodes) fit in cache: 2^16 nodes = 512 KiB (L2),
//                                          2^20 = 8 MiB (L3), 2^23 = 64 MiB (memory).
//   BM_PullHop/<log2 nodes>/<M edges>/<threads>  the same through CpuBackend::SpreadHop (the
//                                          private arena), 1 and 2 threads.
//   BM_PushHop/<frontier>                  a push hop (kernel + ordered combine) from a frontier of
//                                          that many nodes, through graph::Spread with max_hops 1.
//   BM_Build/<M edges>                     Graph::Build (id mapping, CSR, CSC) from arrays.
//   BM_Dense/<hops>/<threads>              a dense spread (2000 seeds, θ = 0, normalize 'out'); the
//                                          4-hop minus 2-hop time is two dense hops end to end.
//   BM_Direction/<seeds>/<push 0|pull 1>/<threads>  one hop both ways: where they cross sets
//                                          SpreadTuning::pull_fraction.
//   BM_Recall/<normalize>/<threads>        graph::Spread, 5 random seeds, 3 hops, θ = 0.01, on the
//                                          2^20-node, 10M-edge R-MAT graph (warm scratch).
// Graphs are R-MAT (a, b, c, d) = (0.57, 0.19, 0.19, 0.05), weights uniform in (0, 1].
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engine/executor/cpu_backend.h"
#include "engine/executor/executor.h"
#include "engine/graph/csr.h"
#include "engine/graph/spread.h"

namespace vecgraph::graph {
namespace {

struct EdgeArrays {
  std::vector<int64_t> src, dst;
  std::vector<double> w;
};

EdgeArrays Rmat(int log2n, size_t m, uint64_t seed) {
  EdgeArrays e;
  e.src.resize(m);
  e.dst.resize(m);
  e.w.resize(m);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (size_t i = 0; i < m; ++i) {
    int64_t s = 0, d = 0;
    for (int l = 0; l < log2n; ++l) {
      const double r = unit(rng);
      const int q = r < 0.57 ? 0 : r < 0.76 ? 1 : r < 0.95 ? 2 : 3;
      s = (s << 1) | (q >> 1);
      d = (d << 1) | (q & 1);
    }
    e.src[i] = s;
    e.dst[i] = d;
    e.w[i] = 1.0 - unit(rng);  // (0, 1]
  }
  return e;
}

std::shared_ptr<const Graph> GetGraph(int log2n, size_t m) {
  static std::map<std::pair<int, size_t>, std::shared_ptr<const Graph>> cache;
  auto& g = cache[{log2n, m}];
  if (!g) {
    EdgeArrays e = Rmat(log2n, m, 42);
    g = *Graph::Build(e.src, e.dst, e.w, true);
  }
  return g;
}

exec::Executor& Ex(int threads) {
  exec::Executor& ex = exec::Executor::Global();
  (void)ex.SetConfig("mode", "cpu");
  (void)ex.SetConfig("threads", std::to_string(threads));
  return ex;
}

exec::HopTask PullTask(const Graph& g, std::vector<double>& pulse, std::vector<double>& out) {
  pulse.assign(g.num_nodes(), 0.0);
  out.assign(g.num_nodes(), 0.0);
  std::mt19937 rng(1);
  for (double& p : pulse) p = (rng() % 4 == 0) ? 0.0 : 1e-3 * (rng() % 1000);
  exec::HopTask t = GraphHopTask(g, 1);
  t.direction = exec::HopTask::Direction::kPull;
  t.pulse = pulse.data();
  t.out = out.data();
  return t;
}

void SetEdgeCounters(benchmark::State& state, double edges) {
  state.counters["edges/s"] = benchmark::Counter(edges * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bytes/s"] =
      benchmark::Counter(8.5 * edges * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_PullKernel(benchmark::State& state) {
  auto g = GetGraph(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(1)) << 20);
  std::vector<double> pulse, out;
  exec::HopTask t = PullTask(*g, pulse, out);
  for (auto _ : state) {
    exec::ComputeSpreadHopSerial(t, 0, t.n_nodes);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetEdgeCounters(state, static_cast<double>(g->num_edges()));
}
BENCHMARK(BM_PullKernel)->Args({16, 4})->Args({20, 10})->Args({23, 10})->Unit(benchmark::kMillisecond);

void BM_PullHop(benchmark::State& state) {
  auto g = GetGraph(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(1)) << 20);
  exec::Executor& ex = Ex(static_cast<int>(state.range(2)));
  std::vector<double> pulse, out;
  exec::HopTask t = PullTask(*g, pulse, out);
  for (auto _ : state) {
    (void)ex.cpu().SpreadHop(t, 0, t.n_nodes);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetEdgeCounters(state, static_cast<double>(g->num_edges()));
}
BENCHMARK(BM_PullHop)
    ->Args({16, 4, 1})
    ->Args({16, 4, 2})
    ->Args({20, 10, 1})
    ->Args({20, 10, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_PushHop(benchmark::State& state) {
  auto g = GetGraph(20, size_t{10} << 20);
  exec::Executor& ex = Ex(1);
  SeedSet seeds;
  std::mt19937 rng(7);
  for (int64_t i = 0; i < state.range(0); ++i) seeds.push_back({static_cast<int64_t>(rng() % g->num_nodes()), 1.0});
  SpreadOptions o;
  o.max_hops = 1;
  o.direction = HopDirection::kPush;
  SpreadStats st;
  auto warm = Spread(*g, {seeds}, o, &ex, &st);
  for (auto _ : state) {
    auto r = Spread(*g, {seeds}, o, &ex);
    benchmark::DoNotOptimize(r.ok());
  }
  SetEdgeCounters(state, static_cast<double>(st.edges_touched));
  state.counters["frontier_edges"] = static_cast<double>(st.edges_touched);
}
BENCHMARK(BM_PushHop)->Arg(5)->Arg(1000)->Arg(20000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Build(benchmark::State& state) {
  EdgeArrays e = Rmat(20, static_cast<size_t>(state.range(0)) << 20, 3);
  exec::Executor& ex = Ex(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto g = Graph::Build(e.src, e.dst, e.w, true, &ex);
    benchmark::DoNotOptimize(g.ok());
  }
  state.counters["edges/s"] =
      benchmark::Counter(static_cast<double>(e.src.size()) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Build)->Args({10, 1})->Args({10, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_Recall(benchmark::State& state) {
  auto g = GetGraph(20, size_t{10} << 20);
  exec::Executor& ex = Ex(static_cast<int>(state.range(1)));
  SpreadOptions o;
  o.threshold = 0.01;
  o.max_hops = 3;
  o.normalize = static_cast<Normalize>(state.range(0));
  std::mt19937 rng(11);
  std::vector<SeedSet> queries;
  for (int q = 0; q < 64; ++q) {
    SeedSet s;
    for (int i = 0; i < 5; ++i) s.push_back({static_cast<int64_t>(rng() % g->num_nodes()), 1.0});
    queries.push_back(s);
  }
  size_t i = 0, rows = 0;
  SpreadStats st;
  for (auto _ : state) {
    auto r = Spread(*g, {queries[i++ % queries.size()]}, o, &ex, &st);
    rows += r->size();
  }
  state.counters["rows"] = static_cast<double>(rows) / static_cast<double>(state.iterations());
  state.counters["edges"] = static_cast<double>(st.edges_touched) / static_cast<double>(state.iterations());
  state.counters["pull_hops"] = static_cast<double>(st.pull_hops) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Recall)
    ->Args({static_cast<int>(Normalize::kNone), 1})
    ->Args({static_cast<int>(Normalize::kNone), 2})
    ->Args({static_cast<int>(Normalize::kOut), 1})
    ->Args({static_cast<int>(Normalize::kSqrtDegree), 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A dense spread: 2000 seeds, threshold 0, normalize 'out'; max_hops = range(0). The difference
// between 4 and 2 hops is the cost of two dense (pull) hops including their per-node passes.
void BM_Dense(benchmark::State& state) {
  auto g = GetGraph(20, size_t{10} << 20);
  exec::Executor& ex = Ex(static_cast<int>(state.range(1)));
  SpreadOptions o;
  o.threshold = 0;
  o.normalize = Normalize::kOut;
  o.max_hops = static_cast<int>(state.range(0));
  o.top_k = 1;
  std::mt19937 rng(5);
  SeedSet seeds;
  for (int i = 0; i < 2000; ++i) seeds.push_back({static_cast<int64_t>(rng() % g->num_nodes()), 1.0});
  SpreadStats st;
  for (auto _ : state) benchmark::DoNotOptimize(Spread(*g, {seeds}, o, &ex, &st).ok());
  state.counters["pull_hops"] = static_cast<double>(st.pull_hops) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Dense)->Args({2, 1})->Args({4, 1})->Args({2, 2})->Args({4, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

// One hop from F random seeds, forced push (0) or pull (1), top_k 1 (so ordering rows costs
// little): where the two cross is the right SpreadTuning::pull_fraction.
void BM_Direction(benchmark::State& state) {
  auto g = GetGraph(20, size_t{10} << 20);
  exec::Executor& ex = Ex(static_cast<int>(state.range(2)));
  SpreadOptions o;
  o.max_hops = 1;
  o.top_k = 1;
  o.direction = state.range(1) == 0 ? HopDirection::kPush : HopDirection::kPull;
  std::mt19937 rng(9);
  SeedSet seeds;
  for (int64_t i = 0; i < state.range(0); ++i) seeds.push_back({static_cast<int64_t>(rng() % g->num_nodes()), 1.0});
  SpreadStats st;
  for (auto _ : state) benchmark::DoNotOptimize(Spread(*g, {seeds}, o, &ex, &st).ok());
  SpreadStats one;
  o.direction = HopDirection::kPush;
  (void)Spread(*g, {seeds}, o, &ex, &one);
  state.counters["frontier_edge_pct"] = 100.0 * static_cast<double>(one.edges_touched) / static_cast<double>(g->num_edges());
}
BENCHMARK(BM_Direction)
    ->ArgsProduct({{2000, 8000, 20000, 60000, 150000}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vecgraph::graph

BENCHMARK_MAIN();
