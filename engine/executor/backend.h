// engine/executor/backend.h — what a compute backend does for the executor.
//
// A backend computes a range of a batch's items into caller-owned output slots. Items are
// independent and outputs disjoint, so the executor can split a batch between two backends and
// re-run any range on the CPU after a device failure, with results identical to either alone.
// CUDA types never appear here: the CUDA backend lives behind engine/executor/cuda_bridge.h.
#pragma once

#include <cstddef>
#include <string>

#include "engine/executor/types.h"
#include "engine/vector/codec.h"

namespace vecgraph::exec {

// op 'similarity': distances of n_queries queries against n_rows rows, query-major output
// out[q * n_rows + r]. The range [begin, end) a backend is given is a range of rows.
struct DistanceTask {
  Metric metric = Metric::kCosine;
  const float* queries = nullptr;
  const float* query_norms = nullptr;  // |q| per query (cosine)
  size_t n_queries = 0;
  const float* rows = nullptr;
  size_t n_rows = 0;
  size_t dims = 0;
  float* out = nullptr;

  double WorkUnits() const { return static_cast<double>(n_rows) * static_cast<double>(dims) * sizeof(float); }
};

// The outcome of a backend call: kNone, or the class of device failure with a message.
struct DeviceFailure {
  DeviceError error = DeviceError::kNone;
  std::string message;
  // A simulated device reports the time its model says the call took (>= the real time); the
  // executor learns from this instead of the wall clock. −1: use the wall clock.
  double modeled_us = -1;
  bool ok() const { return error == DeviceError::kNone; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Rows [begin, end) of t. The CPU backend never fails.
  virtual DeviceFailure Distances(const DistanceTask& t, size_t begin, size_t end) = 0;
  // Drop device-resident caches (after an out-of-memory failure). No-op by default.
  virtual void Evict() {}
};

}  // namespace vecgraph::exec
