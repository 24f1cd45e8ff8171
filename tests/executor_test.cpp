// The hybrid executor end to end with the simulated device: dispatch, fallback on every injected
// error class for every op, sticky latch, circuit breaker, exploration, hybrid split, the
// no-driver CUDA path, explain and stats.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>

#include "engine/common/json.h"
#include "engine/executor/executor.h"
#include "engine/vector/distance.h"

namespace vecgraph::exec {
namespace {

struct Batch {
  Batch(size_t n, size_t dims, Metric m, unsigned seed = 1) : rows(n * dims), q(dims), out(n) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    for (float& x : rows) x = nd(rng);
    for (float& x : q) x = nd(rng);
    norm = static_cast<float>(Norm(q.data(), dims));
    task.metric = m;
    task.queries = q.data();
    task.query_norms = &norm;
    task.n_queries = 1;
    task.rows = rows.data();
    task.n_rows = n;
    task.dims = dims;
    task.out = out.data();
  }
  std::vector<float> Reference() {
    std::vector<float> ref(task.n_rows);
    DistanceTask t = task;
    t.out = ref.data();
    ComputeDistancesSerial(t, 0, t.n_rows);
    return ref;
  }
  std::vector<float> rows, q, out;
  float norm;
  DistanceTask task;
};

void Set(Executor& ex, const char* key, const std::string& value) {
  auto r = ex.SetConfig(key, value);
  ASSERT_TRUE(r.ok()) << key << "=" << value << ": " << r.status().message();
}

StatRow Row(Executor& ex, Op op, BackendKind b) {
  for (const StatRow& r : ex.Stats())
    if (r.op == op && r.backend == b) return r;
  return StatRow{op, b, 0, 0, 0, 0, 0, 0, 0, DeviceState::kOk, ""};
}

// A simulated device that is much faster than the CPU for big batches.
void FastDevice(Executor& ex) {
  Set(ex, "device", "simulated");
  Set(ex, "simulated_device", R"({"launch_us": 5, "gbps": 1000})");
  Set(ex, "gpu_min_batch", "1024");
  Set(ex, "explore_every", "0");
}

TEST(Executor, CpuModeNeverUsesDevice) {
  Executor ex;
  FastDevice(ex);
  Set(ex, "mode", "cpu");
  Batch b(4000, 64, Metric::kCosine);
  for (int i = 0; i < 5; ++i) {
    RunReport rep;
    ex.Distances(b.task, &rep);
    EXPECT_EQ(rep.target, Target::kCpu);
  }
  EXPECT_EQ(b.out, b.Reference());
  EXPECT_EQ(Row(ex, Op::kSimilarity, BackendKind::kSimulated).batches, 0u);
}

TEST(Executor, FirstEligibleBatchTriesTheDeviceAndResultsAreIdentical) {
  Executor ex;
  FastDevice(ex);
  bool first = true;
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    for (int i = 0; i < 3; ++i) {
      Batch b(3000, 33, m);
      RunReport rep;
      ex.Distances(b.task, &rep);
      if (first) {
        // No device data yet: try it. (The next batch measures the CPU, then the model decides.)
        EXPECT_EQ(rep.target, Target::kDevice);
        EXPECT_EQ(rep.backend, BackendKind::kSimulated);
        first = false;
      }
      EXPECT_EQ(b.out, b.Reference());  // the simulated device computes with the CPU kernels
    }
  }
  // The modelled device is 1000 GB/s: once both are measured, the device wins.
  Batch big(3000, 33, Metric::kCosine);
  RunReport last;
  ex.Distances(big.task, &last);
  EXPECT_EQ(last.target, Target::kDevice);
  // Small batches stay on the CPU.
  Batch small(4, 8, Metric::kL2);
  RunReport rep;
  ex.Distances(small.task, &rep);
  EXPECT_EQ(rep.target, Target::kCpu);
}

TEST(Executor, GpuModePrefersTheDeviceEvenWhenSlow) {
  Executor ex;
  Set(ex, "device", "simulated");
  Set(ex, "simulated_device", R"({"launch_us": 300, "gbps": 1})");
  Set(ex, "mode", "gpu");
  Batch b(64, 8, Metric::kDot);
  for (int i = 0; i < 3; ++i) {
    RunReport rep;
    ex.Distances(b.task, &rep);
    EXPECT_EQ(rep.target, Target::kDevice);
  }
}

TEST(Executor, LearnsThatASlowDeviceLoses) {
  Executor ex;
  Set(ex, "device", "simulated");
  Set(ex, "simulated_device", R"({"launch_us": 2000, "gbps": 0.5})");
  Set(ex, "gpu_min_batch", "0");
  Set(ex, "explore_every", "0");
  Batch b(2000, 32, Metric::kL2);
  int device = 0;
  for (int i = 0; i < 20; ++i) {
    RunReport rep;
    ex.Distances(b.task, &rep);
    device += rep.target != Target::kCpu;
  }
  EXPECT_EQ(device, 1);  // tried once, then the CPU wins
}

TEST(Executor, ExplorationResamplesTheLosingBackend) {
  Executor ex;
  FastDevice(ex);
  Set(ex, "explore_every", "5");
  Batch b(8000, 64, Metric::kDot);
  int cpu = 0;
  for (int i = 0; i < 40; ++i) {
    RunReport rep;
    ex.Distances(b.task, &rep);
    cpu += rep.target == Target::kCpu;
  }
  EXPECT_GE(cpu, 6);
  EXPECT_LE(cpu, 10);
}

struct FaultCase {
  const char* error;
  DeviceState state_after;
};

// Every injected error class, on every op, falls back with identical results.
TEST(Executor, EveryInjectedErrorFallsBackWithIdenticalResults) {
  const FaultCase cases[] = {{"oom", DeviceState::kOk},
                             {"launch", DeviceState::kOk},
                             {"illegal_address", DeviceState::kLost},
                             {"no_device", DeviceState::kUnavailable}};
  const Op ops[] = {Op::kSimilarity, Op::kKnn, Op::kSpread};
  for (const FaultCase& fc : cases) {
    for (Op op : ops) {
      Executor ex;
      FastDevice(ex);
      Set(ex, "fault_injection", std::string("{\"op\": \"") + OpName(op) + "\", \"error\": \"" + fc.error + "\", \"every\": 1}");
      Batch b(3000, 16, Metric::kCosine, 9);
      std::vector<float> ref = b.Reference();
      RunReport rep;
      if (op == Op::kSimilarity) {
        ex.Distances(b.task, &rep);
      } else {
        // knn / spread batches: any range computation; here the same distances.
        ex.Run(op, b.task.WorkUnits(), b.task.n_rows,
               [&](Backend& be, size_t lo, size_t hi) { return be.Distances(b.task, lo, hi); }, &rep);
      }
      EXPECT_TRUE(rep.fell_back) << fc.error << " " << OpName(op);
      EXPECT_EQ(b.out, ref) << fc.error << " " << OpName(op);
      StatRow dev = Row(ex, op, BackendKind::kSimulated);
      EXPECT_EQ(dev.failures, 1u);
      EXPECT_EQ(dev.fallbacks, 1u);
      EXPECT_EQ(dev.state, fc.state_after) << fc.error;
      EXPECT_NE(dev.last_error.find(fc.error), std::string::npos) << dev.last_error;
      EXPECT_EQ(Row(ex, op, BackendKind::kCpu).batches, 1u);
    }
  }
}

TEST(Executor, FaultInjectionOnOtherOpDoesNotFire) {
  Executor ex;
  FastDevice(ex);
  Set(ex, "fault_injection", R"({"op": "spread", "error": "oom", "every": 1})");
  Batch b(3000, 16, Metric::kL2);
  RunReport rep;
  ex.Distances(b.task, &rep);
  EXPECT_FALSE(rep.fell_back);
  EXPECT_EQ(rep.target, Target::kDevice);
}

TEST(Executor, StickyErrorLatchesLostForever) {
  Executor ex;
  FastDevice(ex);
  Set(ex, "mode", "gpu");
  Set(ex, "fault_injection", R"({"op": "any", "error": "illegal_address", "every": 2})");
  Batch b(3000, 16, Metric::kL2);
  std::vector<RunReport> reps(6);
  for (auto& rep : reps) ex.Distances(b.task, &rep);
  EXPECT_EQ(reps[0].target, Target::kDevice);
  EXPECT_TRUE(reps[1].fell_back);
  for (size_t i = 2; i < reps.size(); ++i) EXPECT_EQ(reps[i].target, Target::kCpu);
  EXPECT_EQ(Row(ex, Op::kSimilarity, BackendKind::kSimulated).state, DeviceState::kLost);
  EXPECT_EQ(Row(ex, Op::kSimilarity, BackendKind::kSimulated).batches, 1u);
  EXPECT_EQ(b.out, b.Reference());
}

TEST(Executor, ConsecutiveFailuresOpenTheCircuit) {
  Executor ex;
  FastDevice(ex);
  Set(ex, "fault_injection", R"({"op": "similarity", "error": "launch", "every": 1})");
  Batch b(3000, 16, Metric::kDot);
  int device_tries = 0;
  for (int i = 0; i < 10; ++i) {
    RunReport rep;
    ex.Distances(b.task, &rep);
    device_tries += rep.target != Target::kCpu;
  }
  EXPECT_EQ(device_tries, 3);  // 3 consecutive failures open it; the cooldown keeps it open
  EXPECT_EQ(Row(ex, Op::kSimilarity, BackendKind::kSimulated).state, DeviceState::kOpen);
  EXPECT_EQ(b.out, b.Reference());
}

TEST(Executor, HybridSplitMatchesEitherBackendAlone) {
  Executor ex;
  Set(ex, "device", "simulated");
  Set(ex, "gpu_min_batch", "1000");
  Set(ex, "explore_every", "2");
  Set(ex, "speedup_threshold", "1.0");
  Batch big(40000, 32, Metric::kCosine, 4);
  std::vector<float> ref = big.Reference();
  // Make the simulated device about as fast as this machine's CPU so a split pays off.
  ex.Distances(big.task, nullptr);  // device (first eligible)
  ex.Distances(big.task, nullptr);  // cpu (exploration, or data)
  StatRow cpu = Row(ex, Op::kSimilarity, BackendKind::kCpu);
  ASSERT_GT(cpu.batches, 0u);
  double bytes = big.task.WorkUnits();
  double gbps = bytes / (cpu.mean_us * 1e3);
  Set(ex, "simulated_device", "{\"launch_us\": 1, \"gbps\": " + std::to_string(gbps) + "}");
  bool split = false;
  for (int i = 0; i < 12 && !split; ++i) {
    RunReport rep;
    std::fill(big.out.begin(), big.out.end(), -7.0f);
    ex.Distances(big.task, &rep);
    EXPECT_EQ(big.out, ref);
    split = rep.target == Target::kSplit;
  }
  EXPECT_TRUE(split) << ex.Explain(Op::kSimilarity, 40000, 32);
}

TEST(Executor, SplitWithDeviceFailureStillIdentical) {
  Executor ex;
  Set(ex, "device", "simulated");
  Batch big(20000, 16, Metric::kL2, 5);
  std::vector<float> ref = big.Reference();
  // Run the split path directly through Run() with a failing device half.
  Set(ex, "fault_injection", R"({"op": "similarity", "error": "oom", "every": 1})");
  Set(ex, "mode", "gpu");
  RunReport rep;
  ex.Distances(big.task, &rep);
  EXPECT_TRUE(rep.fell_back);
  EXPECT_EQ(big.out, ref);
}

TEST(Executor, NoDriverPathIsUnavailableNotAnError) {
  Executor ex;
  cuda::GpuInfo info;
  DeviceFailure f;
  bool ok = cuda::Probe(&info, &f);
  if (ok) GTEST_SKIP() << "a CUDA device is present: " << info.name;
  EXPECT_EQ(f.error, DeviceError::kNoDevice);
  EXPECT_FALSE(f.message.empty());
  EXPECT_EQ(ex.GpuJson(), "null");
  if (cuda::Compiled()) {
    Set(ex, "device", "cuda");
    Set(ex, "gpu_min_batch", "0");
    Batch b(100, 8, Metric::kCosine);
    RunReport rep;
    ex.Distances(b.task, &rep);
    EXPECT_EQ(rep.target, Target::kCpu);
    EXPECT_EQ(b.out, b.Reference());
    EXPECT_NE(ex.InfoJson().find("\"state\":\"unavailable\""), std::string::npos) << ex.InfoJson();
  } else {
    EXPECT_FALSE(ex.SetConfig("device", "cuda").ok());
  }
}

TEST(Executor, ExplainSaysWhy) {
  Executor ex;
  Set(ex, "mode", "cpu");
  auto v = json::Parse(ex.Explain(Op::kSimilarity, 1000, 128));
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->IsObject());
  std::string backend, reasons;
  for (auto& [k, val] : v->object) {
    if (k == "backend") backend = val.string;
    if (k == "reasons") reasons = val.array.empty() ? "" : val.array[0].string;
  }
  EXPECT_EQ(backend, "cpu");
  EXPECT_NE(reasons.find("mode"), std::string::npos) << reasons;
  Set(ex, "mode", "auto");
  FastDevice(ex);
  std::string e = ex.Explain(Op::kSimilarity, 100000, 128);
  EXPECT_NE(e.find("\"backend\":\"simulated\""), std::string::npos) << e;
}

TEST(Executor, ConfigValidation) {
  Executor ex;
  EXPECT_EQ(ex.SetConfig("nope", "1").status().message(),
            "unknown key 'nope': expected one of mode, device, gpu_min_batch, speedup_threshold, "
            "success_rate_threshold, window, explore_every, threads, gpu_memory_mb, simulated_device, fault_injection");
  EXPECT_EQ(ex.SetConfig("mode", "turbo").status().message(),
            "invalid value 'turbo' for key 'mode': expected 'auto', 'cpu' or 'gpu'");
  EXPECT_EQ(ex.SetConfig("threads", "0").status().message(),
            "invalid value '0' for key 'threads': expected an integer between 1 and 256");
  EXPECT_EQ(ex.SetConfig("success_rate_threshold", "1.5").status().message(),
            "invalid value '1.5' for key 'success_rate_threshold': expected a number between 0 and 1");
  EXPECT_EQ(ex.SetConfig("simulated_device", R"({"gbps": 0})").status().message(),
            R"(invalid value '{"gbps": 0}' for key 'simulated_device': expected "gbps" a number > 0)");
  EXPECT_EQ(ex.SetConfig("fault_injection", R"({"op": "x", "error": "oom"})").status().message(),
            R"(invalid value '{"op": "x", "error": "oom"}' for key 'fault_injection': expected "op" one of "similarity", "knn", "spread", "any")");
  EXPECT_EQ(ex.SetConfig("fault_injection", R"({"op": "knn", "error": "oom", "every": 3})")->s,
            R"({"op":"knn","error":"oom","every":3})");
  EXPECT_EQ(ex.SetConfig("fault_injection", "")->s, "");
  EXPECT_EQ(ex.SetConfig("threads", "3")->i, 3);
  EXPECT_EQ(ex.cpu().threads(), 3);
  EXPECT_EQ(ex.SetConfig("speedup_threshold", "2.5")->d, 2.5);
}

TEST(Executor, StatsCountAndReset) {
  Executor ex;
  Batch b(1000, 8, Metric::kL2);
  for (int i = 0; i < 4; ++i) ex.Distances(b.task, nullptr);
  StatRow r = Row(ex, Op::kSimilarity, BackendKind::kCpu);
  EXPECT_EQ(r.batches, 4u);
  EXPECT_EQ(r.items, 4000u);
  EXPECT_GT(r.mean_us, 0);
  EXPECT_GE(r.p95_us, 0);
  ex.ResetStats();
  EXPECT_TRUE(ex.Stats().empty());
}

}  // namespace
}  // namespace vecgraph::exec
