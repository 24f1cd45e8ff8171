// engine/executor/cpu_backend.h — the CPU backend: xsimd kernels, parallel on a private oneTBB
// task_arena (never tbb::global_control: that would change the host process).
//
// The arena never asks oneTBB for more threads than it would run: MaxThreads() is its default
// concurrency (the CPUs in this process's affinity mask) or a lower max_allowed_parallelism the
// host set. oneTBB caps an arena's workers at that number anyway, and a larger request makes it
// print "TBB Warning: The number of workers is currently limited to ..." on the host's stderr
// (every arena initialises the process-wide market first, at the default size, and warns
// about a later request beyond it).
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "engine/executor/backend.h"


namespace vecgraph::exec {

class CpuBackend final : public Backend {
 public:
  // Below this many floats per task a batch runs on the calling thread (parallel overhead wins).
  static constexpr size_t kMinParallelFloats = 1 << 16;

  // threads is capped to [1, MaxThreads()]; threads() says what is in effect.
  explicit CpuBackend(int threads);
  static int MaxThreads();
  ~CpuBackend() override;

  BackendKind kind() const override { return BackendKind::kCpu; }
  DeviceFailure Distances(const DistanceTask& t, size_t begin, size_t end) override;
  // Items of one activation hop, split across the arena in chunks of about kMinParallelEdges
  // edge-queries; each item writes its own outputs, so results do not depend on the split.
  DeviceFailure SpreadHop(const HopTask& t, size_t begin, size_t end) override;
  DeviceFailure KnnExact(const KnnTask& t, size_t begin, size_t end) override;
  static constexpr size_t kMinParallelEdges = 1 << 15;

  // Runs fn() inside the private arena (so nested TBB algorithms use its threads).
  void Execute(const std::function<void()>& fn);

  int threads() const;
  void set_threads(int threads);


 private:
  struct Arena;
  std::shared_ptr<Arena> arena() const;

  mutable std::mutex mu_;
  std::shared_ptr<Arena> arena_;
};

// Serial kernel call for rows [begin, end) of t (what every CPU path ends up calling).
void ComputeDistancesSerial(const DistanceTask& t, size_t begin, size_t end);

// Serial reference of one activation hop for items [begin, end) of t (backend.h HopTask): every
// CPU path and the simulated device end up here.
// Serial exact k-NN for queries [begin, end) of t.
void ComputeKnnExactSerial(const KnnTask& t, size_t begin, size_t end);

void ComputeSpreadHopSerial(const HopTask& t, size_t begin, size_t end);

}  // namespace vecgraph::exec
