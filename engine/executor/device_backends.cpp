#include "engine/executor/device_backends.h"

#include <algorithm>
#include <chrono>
#include <thread>

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

DeviceFailure SimulatedBackend::Distances(const DistanceTask& t, size_t begin, size_t end) {
  int64_t start = NowUs();
  ComputeDistancesSerial(t, begin, end);
  double bytes = static_cast<double>(end - begin) * static_cast<double>(t.dims) * sizeof(float);
  double modeled = model_.PredictUs(bytes);
  WaitUntilUs(start + static_cast<int64_t>(modeled));
  DeviceFailure ok;
  ok.modeled_us = modeled;
  return ok;
}

DeviceFailure SimulatedBackend::SpreadHop(const HopTask& t, size_t begin, size_t end) {
  int64_t start = NowUs();
  ComputeSpreadHopSerial(t, begin, end);
  const double q = static_cast<double>(t.n_queries);
  const double items = end > begin ? static_cast<double>(end - begin) : 0.0;
  double bytes = static_cast<double>(t.EdgesIn(begin, end)) * (8.0 + 8.0 * q) + items * 8.0 * q;
  double modeled = model_.PredictUs(bytes);
  WaitUntilUs(start + static_cast<int64_t>(modeled));
  DeviceFailure ok;
  ok.modeled_us = modeled;
  return ok;
}

}  // namespace vecgraph::exec
