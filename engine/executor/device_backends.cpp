#include "engine/executor/device_backends.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "engine/executor/cpu_backend.h"

namespace vecgraph::exec {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void WaitUntilUs(int64_t deadline_us) {
  constexpr int64_t kSpinUs = 150;
  int64_t now = NowUs();
  if (deadline_us - now > kSpinUs) {
    std::this_thread::sleep_for(std::chrono::microseconds(deadline_us - now - kSpinUs));
  }
  while (NowUs() < deadline_us) {
  }
}

// Runs compute() on the CPU kernels, then makes the call last as long as the model says for
// `bytes` of work and reports that modelled time.
template <typename Compute>
DeviceFailure SimulatedBackend::Modeled(double bytes, Compute&& compute) const {
  int64_t start = NowUs();
  compute();
  double modeled = model_.PredictUs(bytes);
  WaitUntilUs(start + static_cast<int64_t>(modeled));
  DeviceFailure ok;
  ok.modeled_us = modeled;
  return ok;
}

DeviceFailure SimulatedBackend::Distances(const DistanceTask& t, size_t begin, size_t end) {
  double bytes = static_cast<double>(end - begin) * static_cast<double>(t.dims) * sizeof(float);
  return Modeled(bytes, [&] { ComputeDistancesSerial(t, begin, end); });
}

DeviceFailure SimulatedBackend::SpreadHop(const HopTask& t, size_t begin, size_t end) {
  const double q = static_cast<double>(t.n_queries);
  const double items = end > begin ? static_cast<double>(end - begin) : 0.0;
  double bytes = static_cast<double>(t.EdgesIn(begin, end)) * (8.0 + 8.0 * q) + items * 8.0 * q;
  return Modeled(bytes, [&] { ComputeSpreadHopSerial(t, begin, end); });
}

DeviceFailure SimulatedBackend::KnnExact(const KnnTask& t, size_t begin, size_t end) {
  // The rows are resident: each query reads them once.
  double bytes = static_cast<double>(end - begin) * static_cast<double>(t.n_rows) * static_cast<double>(t.dims) * 4.0;
  return Modeled(bytes, [&] { ComputeKnnExactSerial(t, begin, end); });
}

DeviceFailure CudaBackend::KnnExact(const KnnTask& t, size_t begin, size_t end) {
  if (end <= begin) return {};
  if (t.k > cuda::kMaxDeviceK) {
    return {DeviceError::kLaunch, "k above the device top-k limit (1024)"};
  }
  std::vector<int64_t> index((end - begin) * t.k);
  DeviceFailure f = cuda::KnnResident(cuda::MatrixKey{t.object, t.version}, t.rows, t.n_rows, t.dims, t.metric,
                                      t.queries + begin * t.dims, end - begin, t.k, index.data(),
                                      t.out_dists + begin * t.k);
  if (!f.ok()) return f;
  for (size_t i = 0; i < index.size(); ++i) {
    int64_t r = index[i];
    t.out_ids[begin * t.k + i] = (r >= 0 && static_cast<size_t>(r) < t.n_rows) ? t.row_ids[r] : -1;
  }
  return {};
}

}  // namespace vecgraph::exec
