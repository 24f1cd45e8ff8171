// engine/executor/health.h — circuit breaker for one device backend.
//
// States (DeviceState): ok (closed) → open on failure → half-open probe → ok; lost and
// unavailable are terminal until Reset().
//   - The last `window` call outcomes are kept. Once at least min(window, kMinCallsForRate)
//     outcomes are recorded, a success rate below `success_rate_threshold` opens the circuit.
//   - `max_consecutive_failures` (3) consecutive failures open it too.
//   - Open lasts `cooldown`; the first open uses base_cooldown_ms, each failure of a half-open
//     probe doubles it (capped at max_cooldown_ms); a probe success closes the circuit, clears the
//     outcome window and resets the cooldown to base.
//   - After the cooldown, AllowCall() grants exactly one probe (half-open) until it is recorded.
//   - A sticky failure latches kLost; MarkUnavailable() latches kUnavailable.
// Time is passed in (microseconds on a monotonic clock) so tests drive it.
// Not thread-safe: the executor guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "engine/executor/types.h"

namespace vecgraph::exec {

struct HealthConfig {
  size_t window = 100;                   // 'window'
  double success_rate_threshold = 0.95;  // 'success_rate_threshold'
  int max_consecutive_failures = 3;
  double base_cooldown_ms = 1000;
  double max_cooldown_ms = 60000;
};

class DeviceHealth {
 public:
  static constexpr size_t kMinCallsForRate = 20;

  explicit DeviceHealth(HealthConfig config = {}) : config_(config) {}
  void set_config(const HealthConfig& c) { config_ = c; }

  // May a device call be attempted at time now_us? In the open state after the cooldown this
  // grants one half-open probe (and returns false to everybody else until that probe reports).
  bool AllowCall(int64_t now_us);
  // What AllowCall(now_us) would answer, changing nothing; *probe says the call would be the
  // half-open probe (vecgraph_explain uses it).
  bool WouldAllowCall(int64_t now_us, bool* probe) const;
  void RecordSuccess(int64_t now_us);
  // sticky: the device context is lost (latch kLost).
  void RecordFailure(int64_t now_us, bool sticky);
  void MarkUnavailable();
  void Reset();

  DeviceState state() const;  // half-open reports kOpen
  double success_rate() const;  // over the window; 1.0 when empty
  int consecutive_failures() const { return consecutive_failures_; }
  double cooldown_ms() const { return cooldown_ms_; }
  int64_t open_until_us() const { return open_until_us_; }
  bool probing() const { return probe_in_flight_; }

 private:
  void Open(int64_t now_us);
  void PushOutcome(bool ok);

  HealthConfig config_;
  DeviceState state_ = DeviceState::kOk;
  std::deque<bool> outcomes_;
  size_t successes_ = 0;
  int consecutive_failures_ = 0;
  double cooldown_ms_ = 0;      // 0 until the first open
  int64_t open_until_us_ = 0;
  bool probe_in_flight_ = false;
};

}  // namespace vecgraph::exec
