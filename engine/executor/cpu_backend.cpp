#include "engine/executor/cpu_backend.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/task_arena.h>

#include <vector>

#include "engine/vector/distance.h"
#include "kernels/cpu/distance.h"

namespace vecgraph::exec {

struct CpuBackend::Arena {
  explicit Arena(int n) : threads(n), arena(n) {}
  int threads;
  tbb::task_arena arena;
};

CpuBackend::CpuBackend(int threads) : arena_(std::make_shared<Arena>(threads < 1 ? 1 : threads)) {}
CpuBackend::~CpuBackend() = default;

std::shared_ptr<CpuBackend::Arena> CpuBackend::arena() const {
  std::lock_guard<std::mutex> lock(mu_);
  return arena_;
}

int CpuBackend::threads() const { return arena()->threads; }

void CpuBackend::set_threads(int threads) {
  auto fresh = std::make_shared<Arena>(threads < 1 ? 1 : threads);
  std::lock_guard<std::mutex> lock(mu_);
  arena_ = std::move(fresh);  // batches still running keep the old arena alive
}

void CpuBackend::Execute(const std::function<void()>& fn) {
  auto a = arena();
  if (a->threads == 1) {
    fn();
    return;
  }
  a->arena.execute(fn);
}

struct CpuBackend::Job::State {
  std::shared_ptr<Arena> arena;
  tbb::task_group group;
  bool joined = false;
};

CpuBackend::Job::~Job() {
  try {
    Join();
  } catch (...) {
  }
}

void CpuBackend::Job::Join() {
  if (!state_ || state_->joined) return;
  state_->joined = true;
  state_->arena->arena.execute([this] { state_->group.wait(); });
}

std::unique_ptr<CpuBackend::Job> CpuBackend::Spawn(std::function<void()> fn) {
  auto a = arena();
  if (a->threads == 1) return nullptr;
  auto job = std::unique_ptr<Job>(new Job());
  job->state_ = std::make_unique<Job::State>();
  job->state_->arena = a;
  Job::State* st = job->state_.get();
  a->arena.execute([st, f = std::move(fn)]() mutable { st->group.run(std::move(f)); });
  return job;
}

void ComputeDistancesSerial(const DistanceTask& t, size_t begin, size_t end) {
  if (end <= begin) return;
  const kernels::KernelTable& kt = kernels::Kernels();
  size_t n = end - begin;
  const float* rows = t.rows + begin * t.dims;
  thread_local std::vector<float> scratch;
  if (t.metric == Metric::kCosine && scratch.size() < n) scratch.resize(n);
  for (size_t q = 0; q < t.n_queries; ++q) {
    float qn = t.query_norms ? t.query_norms[q] : 0.0f;
    BatchDistances(kt, t.metric, t.queries + q * t.dims, qn, rows, n, t.dims, t.out + q * t.n_rows + begin,
                   scratch.data());
  }
}

DeviceFailure CpuBackend::Distances(const DistanceTask& t, size_t begin, size_t end) {
  auto a = arena();
  size_t n = end > begin ? end - begin : 0;
  size_t floats = n * t.dims * (t.n_queries ? t.n_queries : 1);
  if (a->threads == 1 || floats < 2 * kMinParallelFloats) {
    ComputeDistancesSerial(t, begin, end);
    return {};
  }
  size_t grain = kMinParallelFloats / (t.dims * (t.n_queries ? t.n_queries : 1)) + 1;
  a->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(begin, end, grain),
                      [&](const tbb::blocked_range<size_t>& r) { ComputeDistancesSerial(t, r.begin(), r.end()); });
  });
  return {};
}

}  // namespace vecgraph::exec
