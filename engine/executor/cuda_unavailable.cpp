// Built when the CUDA toolkit is absent: the CUDA backend reports "not compiled".
#include "engine/executor/cuda_bridge.h"

namespace vecgraph::cuda {

bool Compiled() { return false; }

bool Probe(GpuInfo*, exec::DeviceFailure* failure) {
  if (failure != nullptr) {
    failure->error = exec::DeviceError::kNoDevice;
    failure->message = "this build of vecgraph has no CUDA support";
  }
  return false;
}

exec::DeviceFailure Distances(const exec::DistanceTask&, size_t, size_t) {
  return {exec::DeviceError::kNoDevice, "this build of vecgraph has no CUDA support"};
}

exec::DeviceFailure KnnResident(const MatrixKey&, const float*, size_t, size_t, Metric, const float*, size_t, size_t,
                                int64_t*, float*) {
  return {exec::DeviceError::kNoDevice, "this build of vecgraph has no CUDA support"};
}

void ReleaseBuffers() {}
void SetMemoryBudget(size_t) {}
CacheStats GetCacheStats() { return {}; }

exec::DeviceFailure SpreadHop(const exec::HopTask&, size_t, size_t) {
  return {exec::DeviceError::kNoDevice, "this build of vecgraph has no CUDA support"};
}

void ReleaseSpreadBuffers() {}

}  // namespace vecgraph::cuda
