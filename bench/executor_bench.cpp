// bench/executor_bench.cpp — what the hybrid executor costs.
//
//   vecgraph_executor_bench [--benchmark_min_time=0.5]
//
//   BM_DirectKernel / BM_ExecutorCpu   one L2-resident batch (1024 × 128) through the kernel
//                                      directly vs through Executor::Distances in mode 'cpu'
//                                      (goal: overhead ≤ 1 %)
//   BM_Decide                          one policy decision with fitted models (goal: < 1 µs)
//   BM_CpuRerun / BM_FallbackRerun     a batch on the CPU vs a batch whose device call fails
//                                      (injected, simulated device with 0 µs launch) and is re-run
//                                      on the CPU (goal: fallback ≤ 2 ms beyond the CPU re-run)
//   BM_Throughput/<rows>x<dims>/<threads>  Executor::Distances over 100k×128 and 50k×768 rows with
//                                      1 and 2 threads, GB/s of rows scanned
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/vector/distance.h"

namespace vecgraph::exec {
namespace {

struct Data {
  Data(size_t n, size_t dims) : rows(n * dims), q(dims), out(n) {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd;
    for (float& x : rows) x = nd(rng);
    for (float& x : q) x = nd(rng);
    norm = static_cast<float>(Norm(q.data(), dims));
    task.metric = Metric::kCosine;
    task.queries = q.data();
    task.query_norms = &norm;
    task.n_queries = 1;
    task.rows = rows.data();
    task.n_rows = n;
    task.dims = dims;
    task.out = out.data();
  }
  std::vector<float> rows, q, out;
  float norm = 0;
  DistanceTask task;
};

void Set(Executor& ex, const char* k, const char* v) { (void)ex.SetConfig(k, v); }

void BM_DirectKernel(benchmark::State& state) {
  Data d(1024, 128);
  for (auto _ : state) {
    ComputeDistancesSerial(d.task, 0, d.task.n_rows);
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 1024 * 128 * 4);
}
BENCHMARK(BM_DirectKernel);

void BM_ExecutorCpu(benchmark::State& state) {
  Data d(1024, 128);
  Executor ex;
  Set(ex, "mode", "cpu");
  Set(ex, "threads", "1");
  for (auto _ : state) {
    ex.Distances(d.task);
    benchmark::DoNotOptimize(d.out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 1024 * 128 * 4);
}
BENCHMARK(BM_ExecutorCpu);

void BM_Decide(benchmark::State& state) {
  CostModel cpu, dev;
  for (int i = 1; i <= 64; ++i) {
    cpu.Add(i * 1000.0, 5 + i * 0.07);
    dev.Add(i * 1000.0, 30 + i * 0.01);
  }
  PolicyConfig cfg;
  PolicyInput in;
  in.device_configured = true;
  in.device_state = DeviceState::kOk;
  in.device_call_allowed = true;
  in.cpu = &cpu;
  in.device = &dev;
  in.explain = false;  // as the executor calls it; vecgraph_explain builds the reasons
  double w = 1000;
  for (auto _ : state) {
    in.work = w;
    w = w > 1e7 ? 1000 : w * 1.7;
    in.eligible_seen++;
    Decision dd = Decide(in, cfg);
    benchmark::DoNotOptimize(dd.target);
  }
}
BENCHMARK(BM_Decide);

void BM_CpuRerun(benchmark::State& state) {
  Data d(4096, 128);
  Executor ex;
  Set(ex, "threads", "1");
  Set(ex, "mode", "cpu");
  for (auto _ : state) ex.Distances(d.task);
}
BENCHMARK(BM_CpuRerun);

void BM_FallbackRerun(benchmark::State& state) {
  Data d(4096, 128);
  Executor ex;
  Set(ex, "threads", "1");
  Set(ex, "device", "simulated");
  Set(ex, "simulated_device", R"({"launch_us": 0, "gbps": 1000000})");
  Set(ex, "mode", "gpu");
  Set(ex, "fault_injection", R"({"op": "similarity", "error": "oom", "every": 1})");
  Set(ex, "success_rate_threshold", "0");
  for (auto _ : state) {
    // Keep the circuit closed: every call fails by design; reset the health each time.
    state.PauseTiming();
    Set(ex, "fault_injection", R"({"op": "similarity", "error": "oom", "every": 1})");
    Set(ex, "simulated_device", R"({"launch_us": 0, "gbps": 1000000})");
    state.ResumeTiming();
    RunReport rep;
    ex.Distances(d.task, &rep);
    if (!rep.fell_back) state.SkipWithError("expected a fallback");
  }
}
BENCHMARK(BM_FallbackRerun);

void BM_Throughput(benchmark::State& state) {
  size_t n = static_cast<size_t>(state.range(0)), dims = static_cast<size_t>(state.range(1));
  static std::unique_ptr<Data> data;
  if (!data || data->task.n_rows != n || data->task.dims != dims) data = std::make_unique<Data>(n, dims);
  Executor ex;
  Set(ex, "mode", "cpu");
  Set(ex, "threads", std::to_string(state.range(2)).c_str());
  for (auto _ : state) {
    ex.Distances(data->task);
    benchmark::DoNotOptimize(data->out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * dims * 4));
}
BENCHMARK(BM_Throughput)->Args({100000, 128, 1})->Args({100000, 128, 2})->Args({50000, 768, 1})->Args({50000, 768, 2})
    ->UseRealTime();

}  // namespace
}  // namespace vecgraph::exec

BENCHMARK_MAIN();
