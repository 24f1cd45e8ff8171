// engine/executor/types.cpp — display names for the executor vocabulary (types.h).
//
// These strings are part of the SQL surface (vecgraph_stats, vecgraph_explain, fault injection
// config), so they are spelled exactly as documented in types.h and never change.
#include "engine/executor/types.h"

namespace vecgraph::exec {

const char* OpName(Op op) {
  switch (op) {
    case Op::kSimilarity: return "similarity";
    case Op::kKnn: return "knn";
    case Op::kSpread: return "spread";
  }
  return "unknown";
}

const char* BackendName(BackendKind b) {
  switch (b) {
    case BackendKind::kCpu: return "cpu";
    case BackendKind::kCuda: return "cuda";
    case BackendKind::kSimulated: return "simulated";
  }
  return "unknown";
}

const char* DeviceStateName(DeviceState s) {
  switch (s) {
    case DeviceState::kOk: return "ok";
    case DeviceState::kOpen: return "open";
    case DeviceState::kLost: return "lost";
    case DeviceState::kUnavailable: return "unavailable";
  }
  return "unknown";
}

const char* DeviceErrorName(DeviceError e) {
  switch (e) {
    case DeviceError::kNone: return "none";
    case DeviceError::kOutOfMemory: return "oom";
    case DeviceError::kLaunch: return "launch";
    case DeviceError::kIllegalAddress: return "illegal_address";
    case DeviceError::kNoDevice: return "no_device";
  }
  return "unknown";
}

}  // namespace vecgraph::exec
