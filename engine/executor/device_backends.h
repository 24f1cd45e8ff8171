// engine/executor/device_backends.h — the two device backends the executor can use.
//
// CudaBackend forwards to kernels/cuda through cuda_bridge.h. SimulatedBackend is a device for
// tests, demos and capacity planning on machines without a GPU: it computes with the CPU
// kernels (so results are bit-identical to the CPU backend) and reports the modelled time
// launch_us + bytes / gbps to the executor, sleeping out the difference when the model is slower
// than the real work, so the executor observes the modelled device (a fast modelled device is
// reported fast even though this machine computes its results). Fault injection is applied by the executor to both alike.
#pragma once

#include "engine/executor/backend.h"
#include "engine/executor/cuda_bridge.h"

namespace vecgraph::exec {

struct SimulatedDeviceModel {
  double launch_us = 20;  // fixed cost per call
  double gbps = 100;      // bytes of work per second, in GB/s (1e9 bytes)
  double PredictUs(double bytes) const { return launch_us + bytes / (gbps * 1e3); }
};

class SimulatedBackend final : public Backend {
 public:
  explicit SimulatedBackend(SimulatedDeviceModel model) : model_(model) {}
  BackendKind kind() const override { return BackendKind::kSimulated; }
  DeviceFailure Distances(const DistanceTask& t, size_t begin, size_t end) override;
  // Bytes modelled per hop: per edge its index and weight (8) plus a pulse per query (8 × Q),
  // per item its outputs (8 × Q).
  DeviceFailure SpreadHop(const HopTask& t, size_t begin, size_t end) override;
  DeviceFailure KnnExact(const KnnTask& t, size_t begin, size_t end) override;
  void set_model(SimulatedDeviceModel m) { model_ = m; }
  SimulatedDeviceModel model() const { return model_; }

 private:
  template <typename Compute>
  DeviceFailure Modeled(double bytes, Compute&& compute) const;

  SimulatedDeviceModel model_;
};

class CudaBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kCuda; }
  DeviceFailure Distances(const DistanceTask& t, size_t begin, size_t end) override {
    return cuda::Distances(t, begin, end);
  }
  DeviceFailure SpreadHop(const HopTask& t, size_t begin, size_t end) override {
    return cuda::SpreadHop(t, begin, end);
  }
  DeviceFailure KnnExact(const KnnTask& t, size_t begin, size_t end) override;
  void Evict() override {
    cuda::ReleaseBuffers();
    cuda::ReleaseSpreadBuffers();
  }
};

// Waits until `deadline_us` on the monotonic clock: sleeps, then spins the last stretch so short
// modelled latencies are accurate to a few microseconds.
void WaitUntilUs(int64_t deadline_us);
int64_t NowUs();

}  // namespace vecgraph::exec
