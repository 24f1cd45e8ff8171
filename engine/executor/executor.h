// engine/executor/executor.h — the process-wide hybrid executor.
//
// Every batch SQL hands down (vec_topk row windows, hnsw_knn_batch query batches, spread_activation hops)
// goes through Executor::Global(). For each batch it:
//   1. reads a snapshot of the configuration;
//   2. asks the device's circuit breaker (health.h) whether a device call is allowed;
//   3. decides CPU / device / split with the learned cost models (policy.h) and remembers why;
//   4. runs it, times it, feeds the cost model and the statistics;
//   5. on a device failure (real or injected) classifies it — sticky → 'lost' forever,
//      no device → 'unavailable', out of memory → evict caches — and re-runs that range on the
//      CPU, so the caller sees identical results and no error.
// Thread-safe: one mutex guards the models, health and statistics (held only for bookkeeping,
// never while a kernel runs).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/executor/backend.h"
#include "engine/executor/cost_model.h"
#include "engine/executor/cpu_backend.h"
#include "engine/executor/cuda_bridge.h"
#include "engine/executor/device_backends.h"
#include "engine/executor/health.h"
#include "engine/executor/policy.h"

namespace vecgraph::exec {

// 'fault_injection': every Nth device call of `op` (or of any op) fails with `error`.
struct FaultInjection {
  bool enabled = false;
  bool any_op = false;
  Op op = Op::kSimilarity;
  DeviceError error = DeviceError::kOutOfMemory;
  uint64_t every = 1;
};

struct ExecutorConfig {
  PolicyConfig policy;
  HealthConfig health;
  DeviceChoice device = DeviceChoice::kNone;  // default: kCuda when compiled
  int threads = 1;                            // default and cap: CpuBackend::MaxThreads()
  int64_t gpu_memory_mb = 1024;
  SimulatedDeviceModel simulated;
  FaultInjection fault;
};

// A config value as SQL shows it.
struct ConfigValue {
  enum class Type { kInt, kReal, kText } type = Type::kText;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

// Where one batch will run, decided before its items exist (Executor::Plan), so a producer can
// stream items straight into the CPU kernels, or gather them for a device.
struct BatchPlan {
  Op op = Op::kSimilarity;
  double work = 0;
  Target target = Target::kCpu;
  double cpu_fraction = 1.0;
  bool exploring = false;
  Backend* device = nullptr;                   // set when target != kCpu
  DeviceError injected = DeviceError::kNone;   // fault injection decided for this device call
};

// One row of vecgraph_stats.
struct StatRow {
  Op op;
  BackendKind backend;
  uint64_t batches, items, failures, fallbacks;
  double mean_us, p95_us, us_per_item;
  DeviceState state;
  std::string last_error;
};

// What happened to one batch (tests and explain use it).
struct RunReport {
  Target target = Target::kCpu;
  double cpu_fraction = 1.0;                // share of the items run on the CPU (kSplit)
  BackendKind backend = BackendKind::kCpu;  // the device kind when target != kCpu
  bool fell_back = false;
  bool exploring = false;                   // the policy re-sampled the backend it would not pick
  DeviceError error = DeviceError::kNone;
};

class Executor {
 public:
  Executor();
  ~Executor();
  static Executor& Global();

  // --- configuration (keys and values as in docs/reference.md)
  static const std::vector<std::string>& ConfigKeys();
  StatusOr<ConfigValue> GetConfig(std::string_view key) const;
  // value is the SQL value's text; returns the new value.
  StatusOr<ConfigValue> SetConfig(std::string_view key, std::string_view value);
  ExecutorConfig config() const;

  // --- work
  // A batch of `items` independent items worth `work` units; fn(backend, begin, end) computes a
  // range. Runs it where the policy says, falling back to the CPU on device failure.
  using RangeFn = std::function<DeviceFailure(Backend&, size_t, size_t)>;
  void Run(Op op, double work, size_t items, const RangeFn& fn, RunReport* report = nullptr);
  // Run() in two steps: decide first (counts toward exploration and fault injection), then run
  // the gathered batch where the plan says (with the same fallback). A producer that computes a
  // CPU-planned batch itself, item by item (vec_topk streams rows into the kernels), reports
  // the measured time with RecordCpu() so the CPU model keeps learning.
  BatchPlan Plan(Op op, double work);
  void Execute(const BatchPlan& plan, size_t items, const RangeFn& fn, RunReport* report = nullptr);
  void RecordCpu(Op op, size_t items, double work, double us);
  void Distances(const DistanceTask& t, RunReport* report = nullptr);

  CpuBackend& cpu() { return *cpu_; }

  // Tests drive the circuit breaker's clock (microseconds, monotonic); null restores the real one.
  // It times cooldowns only: batches are still timed on the real clock (or report modeled_us).
  void SetClockForTesting(std::function<int64_t()> now_us);

  // --- introspection
  std::vector<StatRow> Stats() const;
  void ResetStats();
  // JSON {"op","items"[,"dims"],"work_units","backend"[,"cpu_fraction"],"predicted_us":{...},
  // "reasons":[...]}: where a batch would run now, decided from the same inputs as Plan() but
  // changing nothing (no exploration count, no half-open probe taken). Work units: items, and for
  // similarity items × dims × 4 bytes, dims defaulting to 1 (said in the reasons). With device
  // 'cuda' and mode other than 'cpu' it probes the device first if no batch has yet (the probe
  // the first eligible batch would make), so its answer does not depend on whether one has.
  std::string Explain(Op op, double items, std::optional<double> dims = std::nullopt);
  // JSON object: {"mode","device","devices":{...}} for vecgraph_info().
  std::string InfoJson() const;
  // GPU description for vecgraph_info().gpu: null or {"name","memory_mb","compute_capability"}.
  std::string GpuJson();

 private:
  struct OpStats;
  struct Impl;
  Backend* DeviceBackendLocked(int64_t now_us);  // lazily probes CUDA; null when none
  void ProbeCudaLocked();
  // explain: change nothing (DeviceHealth::WouldAllowCall), but probe CUDA whatever the work.
  PolicyInput MakeInputLocked(Op op, double work, bool explain);
  int64_t NowLocked() const;
  void RecordLocked(Op op, BackendKind b, size_t items, double us, bool failed, bool fell_back,
                    const std::string& error);

  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
};

}  // namespace vecgraph::exec
