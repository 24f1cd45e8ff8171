// engine/executor/policy.h — the dispatch decision, a pure function of its inputs.
//
// Rules, in order (each decision carries the reasons in words, for vecgraph_explain):
//   1. mode 'cpu' → CPU.
//   2. no device backend configured/usable (device 'none', unavailable, lost) → CPU.
//   3. circuit open and no half-open probe granted → CPU.
//   4. mode 'gpu' → device (whenever usable; failures still fall back).
//   5. work < gpu_min_batch → CPU.
//   6. no device measurements for this op → device (try it once; "no data → CPU forever" was the
//      seed's bug). No CPU measurements (but device ones) → CPU. Warm-up: when the model (rules
//      8–9) picks one backend and the other has only its warm-up measurement (CostModel::Warm(),
//      a cold start), that other backend is measured once more (reported as exploring), so one
//      cold batch cannot decide for good.
//   7. exploration: every explore_every-th eligible batch runs the backend the model would not
//      pick, so both models follow drift.
//   8. hybrid split: both healthy, work ≥ hybrid_min_factor × gpu_min_batch, and the split's
//      predicted time max(t_cpu(f·n), t_dev((1−f)·n)) with f from the predicted throughputs is
//      < hybrid_gain × the best single backend → split with cpu_fraction f.
//   9. otherwise device iff predicted_cpu ≥ speedup_threshold × predicted_device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/executor/cost_model.h"
#include "engine/executor/types.h"

namespace vecgraph::exec {

struct PolicyConfig {
  Mode mode = Mode::kAuto;          // 'mode'
  double gpu_min_batch = 65536;     // 'gpu_min_batch', in work units
  double speedup_threshold = 1.5;   // 'speedup_threshold': the device must win by this factor
  uint64_t explore_every = 32;      // 'explore_every': 0 disables exploration
  double hybrid_min_factor = 16;    // split only batches ≥ this × gpu_min_batch
  double hybrid_gain = 0.8;         // split only if predicted < this × best single backend
};

enum class Target : uint8_t { kCpu = 0, kDevice, kSplit };

struct PolicyInput {
  Op op = Op::kSimilarity;
  double work = 0;                   // work units of this batch
  bool device_configured = false;    // device is 'cuda' (compiled) or 'simulated'
  DeviceState device_state = DeviceState::kUnavailable;
  bool device_call_allowed = false;  // DeviceHealth::AllowCall() said yes (closed or probe)
  bool probe = false;                // the allowed call is a half-open probe
  const CostModel* cpu = nullptr;
  const CostModel* device = nullptr;
  uint64_t eligible_seen = 0;        // eligible batches of this op before this one
  bool explain = true;               // build Decision::reasons (the dispatch hot path skips them)
};

struct Decision {
  Target target = Target::kCpu;
  double cpu_fraction = 1.0;         // for kSplit: the share of items run on the CPU
  double predicted_cpu_us = -1;      // −1 when unknown
  double predicted_device_us = -1;
  bool exploring = false;
  bool eligible = false;             // counted as a device-eligible batch
  std::vector<std::string> reasons;
};

Decision Decide(const PolicyInput& in, const PolicyConfig& config);

}  // namespace vecgraph::exec
