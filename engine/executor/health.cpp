// engine/executor/health.cpp — the device circuit breaker (health.h).
//
// How it works:
//   ok ──(3 consecutive failures, or success rate < threshold over ≥ min(window, 20) calls)──▶ open
//   open ──(now ≥ open_until: AllowCall() grants ONE probe)──▶ half-open (state() still "open")
//   half-open ──probe success──▶ ok (window cleared, cooldown back to base)
//   half-open ──probe failure──▶ open, cooldown doubled (capped at max_cooldown_ms)
//   any ──sticky failure──▶ lost;  any ──MarkUnavailable()──▶ unavailable  (terminal until Reset)
// Outcomes that arrive while open but not probing (calls started before the circuit opened) are
// counted in the window but change no state.
#include "engine/executor/health.h"

#include <algorithm>

namespace vecgraph::exec {

bool DeviceHealth::AllowCall(int64_t now_us) {
  bool probe = false;
  if (!WouldAllowCall(now_us, &probe)) return false;
  if (probe) probe_in_flight_ = true;  // the half-open probe is this call
  return true;
}

bool DeviceHealth::WouldAllowCall(int64_t now_us, bool* probe) const {
  *probe = false;
  switch (state_) {
    case DeviceState::kOk: return true;
    case DeviceState::kLost:
    case DeviceState::kUnavailable: return false;
    case DeviceState::kOpen:
      if (probe_in_flight_ || now_us < open_until_us_) return false;
      *probe = true;
      return true;
  }
  return false;
}

void DeviceHealth::RecordSuccess(int64_t now_us) {
  if (state_ == DeviceState::kLost || state_ == DeviceState::kUnavailable) return;
  if (state_ == DeviceState::kOpen && probe_in_flight_) {
    // The half-open probe worked: close, and start the statistics afresh.
    state_ = DeviceState::kOk;
    probe_in_flight_ = false;
    outcomes_.clear();
    successes_ = 0;
    consecutive_failures_ = 0;
    cooldown_ms_ = config_.base_cooldown_ms;
    open_until_us_ = 0;
    return;
  }
  PushOutcome(true);
  consecutive_failures_ = 0;
}

void DeviceHealth::RecordFailure(int64_t now_us, bool sticky) {
  if (state_ == DeviceState::kLost || state_ == DeviceState::kUnavailable) return;
  if (sticky) {
    state_ = DeviceState::kLost;
    probe_in_flight_ = false;
    ++consecutive_failures_;
    PushOutcome(false);
    return;
  }
  PushOutcome(false);
  ++consecutive_failures_;
  if (state_ == DeviceState::kOpen) {
    if (probe_in_flight_) {
      // The half-open probe failed: back off harder.
      cooldown_ms_ = std::min(cooldown_ms_ * 2, config_.max_cooldown_ms);
      Open(now_us);
    }
    return;  // a late failure from before the circuit opened changes nothing
  }
  if (consecutive_failures_ >= config_.max_consecutive_failures) {
    Open(now_us);
    return;
  }
  const size_t min_calls = std::min(config_.window, kMinCallsForRate);
  if (min_calls > 0 && outcomes_.size() >= min_calls &&
      success_rate() < config_.success_rate_threshold) {
    Open(now_us);
  }
}

void DeviceHealth::MarkUnavailable() {
  if (state_ == DeviceState::kLost) return;  // a lost context stays lost
  state_ = DeviceState::kUnavailable;
  probe_in_flight_ = false;
}

void DeviceHealth::Reset() {
  state_ = DeviceState::kOk;
  outcomes_.clear();
  successes_ = 0;
  consecutive_failures_ = 0;
  cooldown_ms_ = 0;
  open_until_us_ = 0;
  probe_in_flight_ = false;
}

DeviceState DeviceHealth::state() const { return state_; }

double DeviceHealth::success_rate() const {
  if (outcomes_.empty()) return 1.0;
  return static_cast<double>(successes_) / static_cast<double>(outcomes_.size());
}

void DeviceHealth::Open(int64_t now_us) {
  if (cooldown_ms_ <= 0) cooldown_ms_ = std::min(config_.base_cooldown_ms, config_.max_cooldown_ms);
  state_ = DeviceState::kOpen;
  probe_in_flight_ = false;
  // Clamp so that an absurd max_cooldown_ms cannot overflow the clock (1e15 µs ≈ 31 years).
  const double us = std::min(cooldown_ms_ * 1000.0, 1e15);
  open_until_us_ = now_us + static_cast<int64_t>(us);
}

void DeviceHealth::PushOutcome(bool ok) {
  if (config_.window == 0) return;
  outcomes_.push_back(ok);
  if (ok) ++successes_;
  while (outcomes_.size() > config_.window) {
    if (outcomes_.front()) --successes_;
    outcomes_.pop_front();
  }
}

}  // namespace vecgraph::exec
