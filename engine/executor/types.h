// engine/executor/types.h — vocabulary shared by the executor, its policy and its backends.
#pragma once

#include <cstdint>

namespace vecgraph::exec {

// An operation class: each has its own cost models and statistics.
//   kSimilarity: distance batches (work unit = bytes of row vectors scanned)
//   kKnn:        k-NN query batches (work unit = queries × candidates)
//   kSpread:     spreading-activation hops (work unit = edges touched)
enum class Op : uint8_t { kSimilarity = 0, kKnn, kSpread };
inline constexpr int kNumOps = 3;
const char* OpName(Op op);  // "similarity" | "knn" | "spread"

enum class BackendKind : uint8_t { kCpu = 0, kCuda, kSimulated };
inline constexpr int kNumBackends = 3;
const char* BackendName(BackendKind b);  // "cpu" | "cuda" | "simulated"

// Which device backend the executor may use ('device' config key).
enum class DeviceChoice : uint8_t { kCuda = 0, kSimulated, kNone };

// 'mode' config key.
enum class Mode : uint8_t { kAuto = 0, kCpu, kGpu };

// Health of a device backend as reported by vecgraph_stats.state.
enum class DeviceState : uint8_t {
  kOk = 0,       // closed circuit: calls allowed
  kOpen,         // circuit open (cooling down, or half-open waiting for its probe)
  kLost,         // a sticky error happened: never called again in this process
  kUnavailable,  // no driver / no device
};
const char* DeviceStateName(DeviceState s);  // "ok" | "open" | "lost" | "unavailable"

// Classes of device failure (CUDA errors are mapped to these; fault injection produces them).
enum class DeviceError : uint8_t {
  kNone = 0,
  kOutOfMemory,      // non-sticky: evict caches, fall back for this batch
  kLaunch,           // non-sticky launch failure (bad config, no kernel image): fall back
  kIllegalAddress,   // sticky: context lost, latch kLost, never call the device again
  kNoDevice,         // no driver / no device: kUnavailable
};
const char* DeviceErrorName(DeviceError e);  // "oom" | "launch" | "illegal_address" | "no_device"

}  // namespace vecgraph::exec
