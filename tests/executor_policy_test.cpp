// tests/executor_policy_test.cpp — the executor's pure pieces: names, cost model, circuit breaker,
// dispatch policy.
//
// Everything here is deterministic: cost models are fed exact lines, the breaker is driven with
// explicit timestamps, and Decide() is a pure function of (PolicyInput, PolicyConfig). Each
// dispatch rule of policy.h has a test, plus tests that pin their order (an earlier rule wins
// when two apply) and a sweep over many input combinations checking invariants and reasons.
// A model's first sample is its warm-up (cold-start) sample, replaced by the next one: tests that
// want a fitted line feed a throw-away warm-up sample first (Warmup()).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/executor/cost_model.h"
#include "engine/executor/health.h"
#include "engine/executor/policy.h"
#include "engine/executor/types.h"

namespace vecgraph::exec {
namespace {

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string Joined(const Decision& d) {
  std::string out;
  for (const auto& r : d.reasons) out += r + " | ";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Names

TEST(ExecutorTypes, Names) {
  EXPECT_STREQ(OpName(Op::kSimilarity), "similarity");
  EXPECT_STREQ(OpName(Op::kKnn), "knn");
  EXPECT_STREQ(OpName(Op::kSpread), "spread");
  EXPECT_STREQ(BackendName(BackendKind::kCpu), "cpu");
  EXPECT_STREQ(BackendName(BackendKind::kCuda), "cuda");
  EXPECT_STREQ(BackendName(BackendKind::kSimulated), "simulated");
  EXPECT_STREQ(DeviceStateName(DeviceState::kOk), "ok");
  EXPECT_STREQ(DeviceStateName(DeviceState::kOpen), "open");
  EXPECT_STREQ(DeviceStateName(DeviceState::kLost), "lost");
  EXPECT_STREQ(DeviceStateName(DeviceState::kUnavailable), "unavailable");
  EXPECT_STREQ(DeviceErrorName(DeviceError::kOutOfMemory), "oom");
  EXPECT_STREQ(DeviceErrorName(DeviceError::kLaunch), "launch");
  EXPECT_STREQ(DeviceErrorName(DeviceError::kIllegalAddress), "illegal_address");
  EXPECT_STREQ(DeviceErrorName(DeviceError::kNoDevice), "no_device");
  EXPECT_STREQ(DeviceErrorName(DeviceError::kNone), "none");
}

// ---------------------------------------------------------------------------------------------
// CostModel

// A cold first measurement, 1000× off anything the tests fit: the next Add() replaces it.
void Warmup(CostModel& m) {
  m.Add(1, 1e6);
  ASSERT_FALSE(m.Warm());
}

TEST(CostModel, NoSamplesPredictsNaN) {
  CostModel m;
  EXPECT_FALSE(m.HasData());
  EXPECT_EQ(m.samples(), 0u);
  EXPECT_TRUE(std::isnan(m.Predict(100)));
}

TEST(CostModel, RecoversExactLine) {
  CostModel m(64);
  Warmup(m);
  for (int i = 0; i < 20; ++i) {
    double n = 1000.0 + 250.0 * i;
    m.Add(n, 40.0 + 0.5 * n);
  }
  EXPECT_EQ(m.samples(), 20u);
  EXPECT_NEAR(m.a(), 40.0, 1e-9);
  EXPECT_NEAR(m.b(), 0.5, 1e-12);
  EXPECT_NEAR(m.Predict(1e6), 40.0 + 0.5e6, 1e-6);
}

// Large n with a small spread: the uncentered normal equations lose every digit here.
TEST(CostModel, RecoversLineAtLargeNWithSmallSpread) {
  CostModel m(64);
  Warmup(m);
  for (int i = 0; i < 64; ++i) {
    double n = 3e9 + 1000.0 * i;
    m.Add(n, 25.0 + 2e-4 * n);
  }
  EXPECT_NEAR(m.b(), 2e-4, 1e-12);
  EXPECT_NEAR(m.a(), 25.0, 0.05);
  EXPECT_NEAR(m.Predict(3e9), 25.0 + 6e5, 0.05);
}

TEST(CostModel, RingBufferForgetsOldSamples) {
  const size_t cap = 16;
  CostModel m(cap);
  Warmup(m);
  for (size_t i = 0; i < cap; ++i) {
    double n = 100.0 * (i + 1);
    m.Add(n, 10.0 + 1.0 * n);  // old line: 10 + n
  }
  EXPECT_NEAR(m.b(), 1.0, 1e-12);
  // A mild drift (within the drift factor): 25 % faster, fixed cost grew. The ring forgets.
  for (size_t i = 0; i < cap - 1; ++i) {
    double n = 100.0 * (i + 1);
    m.Add(n, 30.0 + 0.75 * n);
  }
  EXPECT_EQ(m.drift_resets(), 0u);
  // One old sample is still in the buffer: not yet the new line.
  EXPECT_GT(std::fabs(m.b() - 0.75) + std::fabs(m.a() - 30.0), 1e-6);
  m.Add(100.0 * cap, 30.0 + 0.75 * 100.0 * cap);
  EXPECT_EQ(m.samples(), cap);
  EXPECT_NEAR(m.a(), 30.0, 1e-9);
  EXPECT_NEAR(m.b(), 0.75, 1e-12);
}

// The review's case: the first CPU batch paid the cold start (100× the steady cost). It must not
// outlive the next measurement.
TEST(CostModel, WarmupSampleIsReplacedByTheNext) {
  CostModel m(64);
  m.Add(1000, 100000);
  EXPECT_TRUE(m.HasData());
  EXPECT_FALSE(m.Warm());
  EXPECT_DOUBLE_EQ(m.Predict(1000), 100000);  // the only data until the next sample
  m.Add(1000, 1000);
  EXPECT_TRUE(m.Warm());
  EXPECT_EQ(m.samples(), 1u);
  EXPECT_DOUBLE_EQ(m.Predict(1000), 1000);
  for (int i = 0; i < 10; ++i) m.Add(1000, 1000);
  EXPECT_DOUBLE_EQ(m.Predict(1000), 1000);
  EXPECT_EQ(m.drift_resets(), 0u);
  // Reset() forgets the warm-up too (a new arena, a new device: a cold start again).
  m.Reset();
  EXPECT_FALSE(m.Warm());
  m.Add(1000, 5000);
  EXPECT_FALSE(m.Warm());
  m.Add(1000, 1000);
  EXPECT_TRUE(m.Warm());
  EXPECT_DOUBLE_EQ(m.Predict(1000), 1000);
}

// Before: one sample more than 2× off cleared the window, so a single page-fault storm or
// preemption wiped a converged model. Now it is held aside and dropped when the next is normal.
TEST(CostModel, OneOutlierAfterConvergenceDoesNotMoveTheModel) {
  CostModel m(64);
  Warmup(m);
  for (int i = 1; i <= 20; ++i) m.Add(1000.0 * i, 10.0 + 0.1 * 1000.0 * i);
  ASSERT_NEAR(m.Predict(10000), 1010.0, 1e-6);
  for (double outlier : {101000.0, 10100.0, 1.0}) {  // 100× and 10× slower, 1000× faster
    m.Add(10000, outlier);
    EXPECT_TRUE(m.holding_outlier()) << outlier;
    EXPECT_NEAR(m.Predict(10000), 1010.0, 1e-6) << outlier;  // not fitted
    m.Add(5000, 510);                                        // back to normal
    EXPECT_FALSE(m.holding_outlier()) << outlier;
    EXPECT_NEAR(m.Predict(10000), 1010.0, 1e-6) << outlier;
  }
  EXPECT_EQ(m.drift_resets(), 0u);
  EXPECT_EQ(m.outliers(), 3u);
  EXPECT_EQ(m.samples(), 23u);
  // Far off on opposite sides in a row is not a regime either.
  m.Add(10000, 101000);
  m.Add(10000, 1);
  m.Add(10000, 1010);
  EXPECT_EQ(m.drift_resets(), 0u);
  EXPECT_EQ(m.outliers(), 5u);
  EXPECT_NEAR(m.Predict(10000), 1010.0, 1e-6);
}

TEST(CostModel, TwoFarOffSamplesInARowFollowTheChange) {
  CostModel m(64);
  Warmup(m);
  for (int i = 1; i <= 20; ++i) m.Add(1000.0 * i, 10.0 + 0.1 * 1000.0 * i);
  // The backend became 10× slower: the second measurement drops the old fit.
  m.Add(10000, 10100);
  EXPECT_EQ(m.drift_resets(), 0u);
  m.Add(20000, 20100);
  EXPECT_EQ(m.drift_resets(), 1u);
  EXPECT_EQ(m.samples(), 2u);
  EXPECT_FALSE(m.holding_outlier());
  EXPECT_NEAR(m.Predict(10000), 10100, 1e-6);
  EXPECT_NEAR(m.Predict(20000), 20100, 1e-6);
  // And 10× faster again: followed the same way.
  for (int i = 1; i <= 4; ++i) m.Add(10000, 10100);
  m.Add(10000, 1010);
  m.Add(10000, 1010);
  EXPECT_EQ(m.drift_resets(), 2u);
  EXPECT_NEAR(m.Predict(10000), 1010, 1e-6);
  // Small measurements below the slack never count as drift.
  CostModel s(64);
  Warmup(s);
  for (int i = 0; i < 10; ++i) s.Add(100, 5);
  s.Add(100, 40);
  s.Add(100, 40);
  EXPECT_EQ(s.drift_resets(), 0u);
  EXPECT_EQ(s.outliers(), 0u);
}

TEST(CostModel, OneSampleIsProportional) {
  CostModel m;
  m.Add(200, 50);
  EXPECT_TRUE(m.HasData());
  EXPECT_DOUBLE_EQ(m.a(), 0.0);
  EXPECT_DOUBLE_EQ(m.b(), 0.25);
  EXPECT_DOUBLE_EQ(m.Predict(400), 100.0);
}

TEST(CostModel, AllSamplesAtSameNUseMeanRatio) {
  CostModel m;
  Warmup(m);
  m.Add(100, 10);
  m.Add(100, 30);
  m.Add(100, 50);
  EXPECT_DOUBLE_EQ(m.a(), 0.0);
  EXPECT_DOUBLE_EQ(m.b(), 0.3);  // mean(t / n) = mean(0.1, 0.3, 0.5)
}

TEST(CostModel, AllSamplesAtZeroNAreAFixedCost) {
  CostModel m;
  Warmup(m);
  m.Add(0, 12);
  m.Add(0, 8);
  EXPECT_DOUBLE_EQ(m.a(), 10.0);
  EXPECT_DOUBLE_EQ(m.b(), 0.0);
  EXPECT_DOUBLE_EQ(m.Predict(0), 10.0);
  EXPECT_DOUBLE_EQ(m.Predict(1e6), 10.0);
}

TEST(CostModel, NegativeSlopeBecomesFlat) {
  CostModel m;
  Warmup(m);
  m.Add(100, 500);
  m.Add(200, 300);
  EXPECT_DOUBLE_EQ(m.b(), 0.0);
  EXPECT_DOUBLE_EQ(m.a(), 400.0);  // mean(t)
  EXPECT_DOUBLE_EQ(m.Predict(1e9), 400.0);
}

TEST(CostModel, NegativeInterceptRefitsThroughOrigin) {
  CostModel m;
  Warmup(m);
  m.Add(100, 50);   // the exact line through these is t = -150 + 2n
  m.Add(200, 250);
  EXPECT_DOUBLE_EQ(m.a(), 0.0);
  // Σ n·t / Σ n² = (5000 + 50000) / (10000 + 40000)
  EXPECT_DOUBLE_EQ(m.b(), 55000.0 / 50000.0);
}

TEST(CostModel, ResetForgetsEverything) {
  CostModel m;
  m.Add(1, 2);
  m.Add(3, 4);
  m.Reset();
  EXPECT_FALSE(m.HasData());
  EXPECT_TRUE(std::isnan(m.Predict(1)));
  m.Add(10, 5);
  EXPECT_EQ(m.samples(), 1u);
  EXPECT_DOUBLE_EQ(m.b(), 0.5);
}

TEST(CostModel, IgnoresNonFiniteSamplesAndZeroCapacity) {
  CostModel m(0);  // treated as capacity 1
  m.Add(std::nan(""), 5);
  m.Add(5, INFINITY);
  EXPECT_FALSE(m.HasData());
  m.Add(10, 20);
  m.Add(10, 40);
  EXPECT_EQ(m.samples(), 1u);
  EXPECT_DOUBLE_EQ(m.b(), 4.0);
}

// ---------------------------------------------------------------------------------------------
// DeviceHealth

constexpr int64_t kSec = 1000000;  // µs

TEST(DeviceHealth, StartsClosed) {
  DeviceHealth h;
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_TRUE(h.AllowCall(0));
  EXPECT_DOUBLE_EQ(h.success_rate(), 1.0);
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 0.0);
  EXPECT_FALSE(h.probing());
}

TEST(DeviceHealth, ConsecutiveFailuresOpen) {
  DeviceHealth h;
  h.RecordFailure(10, false);
  h.RecordFailure(20, false);
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_EQ(h.consecutive_failures(), 2);
  h.RecordFailure(30, false);
  EXPECT_EQ(h.state(), DeviceState::kOpen);
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 1000.0);
  EXPECT_EQ(h.open_until_us(), 30 + kSec);
  EXPECT_FALSE(h.AllowCall(31));
}

TEST(DeviceHealth, SuccessBreaksTheFailureRun) {
  DeviceHealth h;
  h.RecordFailure(1, false);
  h.RecordFailure(2, false);
  h.RecordSuccess(3);
  EXPECT_EQ(h.consecutive_failures(), 0);
  h.RecordFailure(4, false);
  h.RecordFailure(5, false);
  EXPECT_EQ(h.state(), DeviceState::kOk);  // 5 outcomes: below the 20-call minimum for the rate
  EXPECT_DOUBLE_EQ(h.success_rate(), 1.0 / 5.0);
}

TEST(DeviceHealth, SuccessRateOpensOnlyAfterMinimumCalls) {
  DeviceHealth h;  // window 100 → minimum min(100, 20) = 20 outcomes
  int64_t t = 0;
  for (int i = 0; i < 19; ++i) {  // S F S F ...: rate ~0.5, never 3 failures in a row
    if (i % 2 == 0) h.RecordSuccess(++t);
    else h.RecordFailure(++t, false);
  }
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_LT(h.success_rate(), 0.95);
  h.RecordFailure(++t, false);  // 20th outcome
  EXPECT_EQ(h.state(), DeviceState::kOpen);
}

TEST(DeviceHealth, SuccessRateMinimumIsTheWindowWhenSmaller) {
  HealthConfig c;
  c.window = 10;
  DeviceHealth h(c);
  for (int i = 0; i < 8; ++i) h.RecordSuccess(i);
  h.RecordFailure(8, false);  // 9 outcomes, rate 8/9 < 0.95 but fewer than 10
  EXPECT_EQ(h.state(), DeviceState::kOk);
  h.RecordSuccess(9);
  EXPECT_EQ(h.state(), DeviceState::kOk);  // rate is only checked on a failure
  h.RecordFailure(10, false);  // 10 outcomes (window full), rate 0.8
  EXPECT_EQ(h.state(), DeviceState::kOpen);
}

TEST(DeviceHealth, WindowSlides) {
  HealthConfig c;
  c.window = 20;
  c.success_rate_threshold = 0.9;
  DeviceHealth h(c);
  h.RecordFailure(0, false);
  for (int i = 1; i < 20; ++i) h.RecordSuccess(i);
  EXPECT_DOUBLE_EQ(h.success_rate(), 19.0 / 20.0);
  h.RecordSuccess(20);  // pushes the failure out
  EXPECT_DOUBLE_EQ(h.success_rate(), 1.0);
  h.RecordFailure(21, false);  // 19/20 = 0.95 ≥ 0.9
  EXPECT_EQ(h.state(), DeviceState::kOk);
  h.RecordFailure(22, false);  // 18/20 = 0.9: not below
  EXPECT_EQ(h.state(), DeviceState::kOk);
  h.RecordSuccess(23);
  h.RecordFailure(24, false);  // 17/20 = 0.85 < 0.9
  EXPECT_EQ(h.state(), DeviceState::kOpen);
}

// Opens the breaker at time t with three failures.
void OpenAt(DeviceHealth& h, int64_t t) {
  for (int i = 0; i < 3; ++i) h.RecordFailure(t, false);
  ASSERT_EQ(h.state(), DeviceState::kOpen);
}

TEST(DeviceHealth, CooldownBlocksCalls) {
  DeviceHealth h;
  OpenAt(h, 5 * kSec);
  EXPECT_FALSE(h.AllowCall(5 * kSec));
  EXPECT_FALSE(h.AllowCall(6 * kSec - 1));
  EXPECT_FALSE(h.probing());
  EXPECT_EQ(h.state(), DeviceState::kOpen);
}

TEST(DeviceHealth, HalfOpenGrantsExactlyOneProbe) {
  DeviceHealth h;
  OpenAt(h, 0);
  EXPECT_TRUE(h.AllowCall(kSec));
  EXPECT_TRUE(h.probing());
  EXPECT_EQ(h.state(), DeviceState::kOpen);  // half-open reports open
  EXPECT_FALSE(h.AllowCall(kSec));
  EXPECT_FALSE(h.AllowCall(100 * kSec));
  EXPECT_TRUE(h.probing());
}

TEST(DeviceHealth, ProbeSuccessClosesAndClears) {
  DeviceHealth h;
  for (int i = 0; i < 10; ++i) h.RecordSuccess(i);
  OpenAt(h, 0);
  ASSERT_TRUE(h.AllowCall(kSec));
  h.RecordSuccess(kSec + 10);
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_FALSE(h.probing());
  EXPECT_EQ(h.consecutive_failures(), 0);
  EXPECT_DOUBLE_EQ(h.success_rate(), 1.0);  // window cleared
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 1000.0);
  EXPECT_TRUE(h.AllowCall(kSec + 11));
  // The cleared window needs 20 fresh outcomes again before the rate rule applies.
  for (int i = 0; i < 19; ++i) {
    if (i % 2 == 0) h.RecordSuccess(2 * kSec + i);
    else h.RecordFailure(2 * kSec + i, false);
  }
  EXPECT_EQ(h.state(), DeviceState::kOk);
}

TEST(DeviceHealth, ProbeFailureReopensWithDoubledCappedCooldown) {
  DeviceHealth h;  // base 1000 ms, max 60000 ms
  int64_t t = 0;
  OpenAt(h, t);
  const double expected[] = {2000, 4000, 8000, 16000, 32000, 60000, 60000};
  for (double want : expected) {
    t = h.open_until_us();
    EXPECT_FALSE(h.AllowCall(t - 1));
    ASSERT_TRUE(h.AllowCall(t));
    h.RecordFailure(t + 5, false);
    EXPECT_EQ(h.state(), DeviceState::kOpen);
    EXPECT_FALSE(h.probing());
    EXPECT_DOUBLE_EQ(h.cooldown_ms(), want);
    EXPECT_EQ(h.open_until_us(), t + 5 + static_cast<int64_t>(want * 1000));
  }
  // A probe success resets the cooldown to base: the next open lasts 1 s again.
  t = h.open_until_us();
  ASSERT_TRUE(h.AllowCall(t));
  h.RecordSuccess(t);
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 1000.0);
  OpenAt(h, t + 1);
  EXPECT_EQ(h.open_until_us(), t + 1 + kSec);
}

TEST(DeviceHealth, LateOutcomesWhileOpenChangeNothing) {
  DeviceHealth h;
  OpenAt(h, 0);
  int64_t until = h.open_until_us();
  h.RecordSuccess(10);  // a call that started before the circuit opened
  EXPECT_EQ(h.state(), DeviceState::kOpen);
  h.RecordFailure(20, false);
  EXPECT_EQ(h.state(), DeviceState::kOpen);
  EXPECT_EQ(h.open_until_us(), until);
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 1000.0);
}

TEST(DeviceHealth, StickyFailureIsLostForever) {
  DeviceHealth h;
  h.RecordSuccess(0);
  h.RecordFailure(1, /*sticky=*/true);
  EXPECT_EQ(h.state(), DeviceState::kLost);
  EXPECT_FALSE(h.AllowCall(2));
  EXPECT_FALSE(h.AllowCall(1000 * kSec));
  h.RecordSuccess(3);
  h.RecordFailure(4, false);
  h.MarkUnavailable();
  EXPECT_EQ(h.state(), DeviceState::kLost);
  EXPECT_FALSE(h.AllowCall(1000000 * kSec));
  h.Reset();
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_TRUE(h.AllowCall(0));
}

TEST(DeviceHealth, StickyFailureOfAProbeIsLost) {
  DeviceHealth h;
  OpenAt(h, 0);
  ASSERT_TRUE(h.AllowCall(kSec));
  h.RecordFailure(kSec, true);
  EXPECT_EQ(h.state(), DeviceState::kLost);
  EXPECT_FALSE(h.probing());
  EXPECT_FALSE(h.AllowCall(1000 * kSec));
}

TEST(DeviceHealth, Unavailable) {
  DeviceHealth h;
  h.MarkUnavailable();
  EXPECT_EQ(h.state(), DeviceState::kUnavailable);
  EXPECT_FALSE(h.AllowCall(0));
  h.RecordSuccess(1);
  EXPECT_EQ(h.state(), DeviceState::kUnavailable);
  h.RecordFailure(2, true);
  EXPECT_EQ(h.state(), DeviceState::kUnavailable);
  EXPECT_FALSE(h.AllowCall(1000 * kSec));
  h.Reset();
  EXPECT_EQ(h.state(), DeviceState::kOk);
  EXPECT_DOUBLE_EQ(h.cooldown_ms(), 0.0);
}

// ---------------------------------------------------------------------------------------------
// Decide

// A warm model through the origin with slope b (one sample after the warm-up: a = 0, b = t / n).
CostModel Linear(double b) {
  CostModel m;
  m.Add(1e6, 1e12);  // warm-up (cold start), replaced by the next sample
  m.Add(1e6, b * 1e6);
  return m;
}

// Only a warm-up sample: slope b, but not Warm().
CostModel Cold(double b) {
  CostModel m;
  m.Add(1e6, b * 1e6);
  return m;
}

struct PolicyFixture : ::testing::Test {
  CostModel cpu = Linear(1.0);      // 1 µs per unit
  CostModel dev = Linear(0.1);      // 10× faster
  CostModel empty;
  PolicyConfig cfg;                 // defaults: auto, 65536, 1.5, explore 32, 16×, 0.8

  PolicyInput Input(double work = 100000) {
    PolicyInput in;
    in.op = Op::kSimilarity;
    in.work = work;
    in.device_configured = true;
    in.device_state = DeviceState::kOk;
    in.device_call_allowed = true;
    in.cpu = &cpu;
    in.device = &dev;
    in.eligible_seen = 0;
    return in;
  }
};

void ExpectReasons(const Decision& d) {
  ASSERT_FALSE(d.reasons.empty());
  for (const auto& r : d.reasons) EXPECT_FALSE(r.empty());
}

TEST_F(PolicyFixture, Rule1ModeCpu) {
  cfg.mode = Mode::kCpu;
  PolicyInput in = Input();
  in.device_state = DeviceState::kOpen;
  in.probe = true;  // even a granted probe does not override mode 'cpu'
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_FALSE(d.eligible);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_EQ(d.reasons[0], "mode is 'cpu'");
  // Predictions are still reported.
  EXPECT_DOUBLE_EQ(d.predicted_cpu_us, 100000.0);
  EXPECT_DOUBLE_EQ(d.predicted_device_us, 10000.0);
}

TEST_F(PolicyFixture, Rule2NoUsableDevice) {
  for (int c = 0; c < 3; ++c) {
    PolicyInput in = Input();
    if (c == 0) in.device_configured = false;
    if (c == 1) in.device_state = DeviceState::kUnavailable;
    if (c == 2) in.device_state = DeviceState::kLost;
    in.device_call_allowed = false;
    Decision d = Decide(in, cfg);
    EXPECT_EQ(d.target, Target::kCpu) << c;
    EXPECT_FALSE(d.eligible) << c;
    ExpectReasons(d);
  }
  PolicyInput in = Input();
  in.device_state = DeviceState::kLost;
  EXPECT_TRUE(Contains(Joined(Decide(in, cfg)), "lost"));
  in.device_state = DeviceState::kUnavailable;
  EXPECT_TRUE(Contains(Joined(Decide(in, cfg)), "unavailable"));
  in = Input();
  in.device_configured = false;
  EXPECT_TRUE(Contains(Joined(Decide(in, cfg)), "none"));
}

TEST_F(PolicyFixture, Rule2ModeGpuStillGoesCpuWhenLostOrUnavailable) {
  cfg.mode = Mode::kGpu;
  for (DeviceState s : {DeviceState::kLost, DeviceState::kUnavailable}) {
    PolicyInput in = Input();
    in.device_state = s;
    Decision d = Decide(in, cfg);
    EXPECT_EQ(d.target, Target::kCpu);
    EXPECT_FALSE(d.eligible);
  }
  PolicyInput in = Input();
  in.device_configured = false;
  EXPECT_EQ(Decide(in, cfg).target, Target::kCpu);
}

TEST_F(PolicyFixture, Rule2ProbeFlagDoesNotResurrectALostDevice) {
  PolicyInput in = Input();
  in.device_state = DeviceState::kLost;
  in.probe = true;
  EXPECT_EQ(Decide(in, cfg).target, Target::kCpu);
}

TEST_F(PolicyFixture, Rule3OpenCircuitWithoutProbe) {
  PolicyInput in = Input(1e7);
  in.device_state = DeviceState::kOpen;
  in.device_call_allowed = false;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_FALSE(d.eligible);
  EXPECT_TRUE(Contains(Joined(d), "open"));
  cfg.mode = Mode::kGpu;  // rule 3 comes before rule 4
  EXPECT_EQ(Decide(in, cfg).target, Target::kCpu);
}

TEST_F(PolicyFixture, HalfOpenProbeAlwaysGoesToDevice) {
  CostModel slow_dev = Linear(100.0);  // the model says the device is 100× slower
  PolicyInput in = Input(10);          // and the batch is tiny
  in.device = &slow_dev;
  in.device_state = DeviceState::kOpen;
  in.device_call_allowed = true;
  in.probe = true;
  in.eligible_seen = 31;  // would be an exploration batch
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(d.eligible);
  EXPECT_FALSE(d.exploring);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_EQ(d.reasons[0].rfind("half-open probe", 0), 0u) << d.reasons[0];
}

TEST_F(PolicyFixture, Rule4ModeGpuGoesToDevice) {
  cfg.mode = Mode::kGpu;
  CostModel slow_dev = Linear(100.0);
  PolicyInput in = Input(1);  // far below gpu_min_batch
  in.device = &slow_dev;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(d.eligible);
  EXPECT_EQ(d.reasons[0], "mode is 'gpu'");
}

TEST_F(PolicyFixture, Rule5BelowMinBatch) {
  PolicyInput in = Input(1200);
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_FALSE(d.eligible);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_EQ(d.reasons[0], "batch of 1200 work units is below gpu_min_batch (65536)");
  // Rule 5 comes before rule 6: no device data does not pull a small batch to the device.
  in.device = &empty;
  EXPECT_EQ(Decide(in, cfg).target, Target::kCpu);
  // At exactly gpu_min_batch the batch is eligible.
  in = Input(65536);
  d = Decide(in, cfg);
  EXPECT_TRUE(d.eligible);
  EXPECT_EQ(d.target, Target::kDevice);
  in = Input(65535.5);
  EXPECT_FALSE(Decide(in, cfg).eligible);
}

TEST_F(PolicyFixture, ClosedButRefusedCallStaysOnCpu) {
  PolicyInput in = Input(1e5);
  in.device_call_allowed = false;  // state ok, the breaker said no (e.g. not probed yet)
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_FALSE(d.eligible);
  ExpectReasons(d);
  cfg.mode = Mode::kGpu;
  EXPECT_EQ(Decide(in, cfg).target, Target::kCpu);
}

TEST_F(PolicyFixture, Rule6FirstEligibleBatchWithoutDeviceDataTriesTheDevice) {
  // Fresh executor: neither model has data.
  CostModel fresh_cpu;
  PolicyInput in = Input();
  in.cpu = &fresh_cpu;
  in.device = &empty;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(d.eligible);
  EXPECT_DOUBLE_EQ(d.predicted_cpu_us, -1);
  EXPECT_DOUBLE_EQ(d.predicted_device_us, -1);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_EQ(d.reasons[0], "no device measurements yet for op 'similarity': trying the device");
  // CPU data only: still tries the device, and reports the CPU prediction.
  in.cpu = &cpu;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_DOUBLE_EQ(d.predicted_cpu_us, 100000.0);
  EXPECT_DOUBLE_EQ(d.predicted_device_us, -1);
  // A null device model counts as no data.
  in.device = nullptr;
  EXPECT_EQ(Decide(in, cfg).target, Target::kDevice);
  // Rule 6 comes before exploration.
  in.device = &empty;
  in.eligible_seen = 31;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_FALSE(d.exploring);
}

TEST_F(PolicyFixture, Rule6DeviceDataButNoCpuDataTriesTheCpu) {
  PolicyInput in = Input();
  in.cpu = &empty;
  in.op = Op::kKnn;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_TRUE(d.eligible);
  EXPECT_TRUE(Contains(d.reasons[0], "no cpu measurements yet for op 'knn'"));
  EXPECT_DOUBLE_EQ(d.predicted_device_us, 10000.0);
}

TEST_F(PolicyFixture, Rule9DeviceWinsWithReason) {
  CostModel c, g;
  Warmup(c);
  Warmup(g);
  c.Add(100000, 812.0);
  g.Add(100000, 95.3);
  PolicyInput in = Input();
  in.cpu = &c;
  in.device = &g;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(d.eligible);
  EXPECT_FALSE(d.exploring);
  EXPECT_NEAR(d.predicted_cpu_us, 812.0, 1e-9);
  EXPECT_NEAR(d.predicted_device_us, 95.3, 1e-9);
  ASSERT_EQ(d.reasons.size(), 1u);
  EXPECT_EQ(d.reasons[0],
            "predicted cpu 812.0 us vs device 95.3 us: device wins by 8.52x (threshold 1.5)");
}

TEST_F(PolicyFixture, Rule9CpuWins) {
  CostModel slow_dev = Linear(2.0);
  PolicyInput in = Input();
  in.device = &slow_dev;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_TRUE(d.eligible);
  EXPECT_TRUE(Contains(d.reasons[0], "cpu wins by 2.00x")) << d.reasons[0];
}

TEST_F(PolicyFixture, Rule9ThresholdBoundary) {
  CostModel c = Linear(1.5), g = Linear(1.0);  // cpu exactly 1.5× the device
  PolicyInput in = Input(100000);
  in.cpu = &c;
  in.device = &g;
  EXPECT_EQ(Decide(in, cfg).target, Target::kDevice);  // ≥ threshold → device
  cfg.speedup_threshold = 1.5000001;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_TRUE(Contains(d.reasons[0], "device would win by only 1.50x")) << d.reasons[0];
  cfg.speedup_threshold = 1.0;
  EXPECT_EQ(Decide(in, cfg).target, Target::kDevice);
}

TEST_F(PolicyFixture, Rule7ExplorationPeriod) {
  PolicyInput in = Input();
  int explored = 0;
  for (uint64_t seen = 0; seen < 128; ++seen) {
    in.eligible_seen = seen;
    Decision d = Decide(in, cfg);
    if (d.exploring) {
      ++explored;
      EXPECT_EQ((seen + 1) % 32, 0u) << seen;
      EXPECT_EQ(d.target, Target::kCpu);  // the model picks the device; exploring re-samples cpu
      EXPECT_EQ(d.reasons.back(), "exploring: re-sampling cpu (every 32 eligible batches)");
    } else {
      EXPECT_EQ(d.target, Target::kDevice);
    }
    EXPECT_TRUE(d.eligible);
  }
  EXPECT_EQ(explored, 4);
}

TEST_F(PolicyFixture, Rule7ExploresTheDeviceWhenTheModelPicksCpu) {
  CostModel slow_dev = Linear(5.0);
  PolicyInput in = Input();
  in.device = &slow_dev;
  in.eligible_seen = 63;
  Decision d = Decide(in, cfg);
  EXPECT_TRUE(d.exploring);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(Contains(d.reasons.back(), "exploring: re-sampling the device"));
}

TEST_F(PolicyFixture, Rule7Disabled) {
  cfg.explore_every = 0;
  PolicyInput in = Input();
  for (uint64_t seen = 0; seen < 100; ++seen) {
    in.eligible_seen = seen;
    EXPECT_FALSE(Decide(in, cfg).exploring);
  }
  cfg.explore_every = 1;  // every eligible batch explores
  in.eligible_seen = 7;
  EXPECT_TRUE(Decide(in, cfg).exploring);
}

TEST_F(PolicyFixture, Rule8SplitFractionProportionalToThroughput) {
  const double big = 16 * 65536.0 * 2;
  // Equal throughput: half each; the split takes half the time (0.5 < 0.8).
  CostModel c = Linear(1.0), g = Linear(1.0);
  PolicyInput in = Input(big);
  in.cpu = &c;
  in.device = &g;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kSplit);
  EXPECT_DOUBLE_EQ(d.cpu_fraction, 0.5);
  EXPECT_TRUE(d.eligible);
  EXPECT_TRUE(Contains(d.reasons[0], "split")) << d.reasons[0];
  // CPU 3× faster than the device: f = (1/1) / (1/1 + 1/3) = 0.75; split 0.75 n < 0.8 × n.
  CostModel g3 = Linear(3.0);
  in.device = &g3;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kSplit);
  EXPECT_NEAR(d.cpu_fraction, 0.75, 1e-12);
  // Device 2× faster: f = 1/3.
  CostModel g05 = Linear(0.5);
  in.device = &g05;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kSplit);
  EXPECT_NEAR(d.cpu_fraction, 1.0 / 3.0, 1e-12);
}

TEST_F(PolicyFixture, Rule8NeedsABigEnoughBatch) {
  CostModel c = Linear(1.0), g = Linear(1.0);
  PolicyInput in = Input(16 * 65536.0 - 1);
  in.cpu = &c;
  in.device = &g;
  EXPECT_NE(Decide(in, cfg).target, Target::kSplit);
  in.work = 16 * 65536.0;
  EXPECT_EQ(Decide(in, cfg).target, Target::kSplit);
}

TEST_F(PolicyFixture, Rule8NeedsEnoughGain) {
  // Device 10× faster: f = 1/11, the split saves only ~9% (> 0.8 × best) → device alone.
  PolicyInput in = Input(1e7);
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  // With hybrid_gain 0.95 the 9% saving is enough.
  cfg.hybrid_gain = 0.95;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kSplit);
  EXPECT_NEAR(d.cpu_fraction, 1.0 / 11.0, 1e-12);
  EXPECT_GE(d.cpu_fraction, 0.05);
  EXPECT_LE(d.cpu_fraction, 0.95);
}

TEST_F(PolicyFixture, Rule8FixedCostsCanRuleOutASplit) {
  // Both sides pay a 4 s fixed cost, so halving the work does not halve the time.
  CostModel c, g;
  for (CostModel* m : {&c, &g}) {
    Warmup(*m);
    m->Add(1e6, 4e6 + 1e6);
    m->Add(2e6, 4e6 + 2e6);  // t = 4e6 + n
  }
  PolicyInput in = Input(2e6);
  in.cpu = &c;
  in.device = &g;
  Decision d = Decide(in, cfg);  // split 5e6 vs best 6e6: 0.83 ≥ 0.8
  EXPECT_NE(d.target, Target::kSplit);
  in.work = 2e7;                 // split 1.4e7 vs best 2.4e7: 0.58 < 0.8
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kSplit);
  EXPECT_DOUBLE_EQ(d.cpu_fraction, 0.5);
}

TEST_F(PolicyFixture, Rule7ExploresTheDeviceAloneInsteadOfASplit) {
  CostModel c = Linear(1.0), g = Linear(1.0);
  PolicyInput in = Input(16 * 65536.0 * 2);
  in.cpu = &c;
  in.device = &g;
  in.eligible_seen = 31;
  Decision d = Decide(in, cfg);
  EXPECT_TRUE(d.exploring);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(Contains(d.reasons.back(), "exploring: re-sampling the device"));
}

// Warm-up (rule 6): the review's failure. The first CPU batch was 100× its steady cost, so a
// device slower than the steady CPU looked faster and kept every batch. The cold side is measured
// once more before the model decides.
TEST_F(PolicyFixture, WarmupRemeasuresTheColdBackendTheModelWouldNotPick) {
  CostModel cold_cpu = Cold(100.0);  // first CPU batch: 100 µs per unit (steady: 1)
  CostModel slow_dev = Linear(2.0);  // the device is 2× slower than the steady CPU
  PolicyInput in = Input();
  in.cpu = &cold_cpu;
  in.device = &slow_dev;
  Decision d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_TRUE(d.exploring);
  EXPECT_TRUE(d.eligible);
  ASSERT_EQ(d.reasons.size(), 2u);
  EXPECT_EQ(d.reasons[1],
            "warm-up: the cpu has only its first (cold-start) measurement for op 'similarity': measuring it once more");
  // Once the CPU is measured again, the steady CPU wins.
  cold_cpu.Add(1e6, 1e6);
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_FALSE(d.exploring);
  // The same for a cold device the model would not pick (a CUDA context costs the first call).
  CostModel cold_dev = Cold(5.0);
  in.cpu = &cpu;
  in.device = &cold_dev;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_TRUE(Contains(d.reasons.back(), "warm-up: the device has only its first")) << Joined(d);
  // A cold backend the model picks anyway is simply used: no extra batch.
  CostModel fast_cold_dev = Cold(0.1);
  in.device = &fast_cold_dev;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kDevice);
  EXPECT_FALSE(d.exploring);
  // A split measures both: no warm-up batch.
  CostModel c = Cold(1.0), g = Cold(1.0);
  in = Input(16 * 65536.0 * 2);
  in.cpu = &c;
  in.device = &g;
  EXPECT_EQ(Decide(in, cfg).target, Target::kSplit);
  // Warm-up comes before exploration, and the two agree on the backend.
  in = Input();
  in.cpu = &cold_cpu;
  cold_cpu.Reset();
  cold_cpu.Add(1e6, 1e8);
  in.device = &slow_dev;
  in.eligible_seen = 31;
  d = Decide(in, cfg);
  EXPECT_EQ(d.target, Target::kCpu);
  EXPECT_TRUE(Contains(d.reasons.back(), "warm-up")) << Joined(d);
}

TEST_F(PolicyFixture, PredictionsMinusOneWithoutData) {
  PolicyInput in = Input();
  in.cpu = nullptr;
  in.device = nullptr;
  cfg.mode = Mode::kCpu;
  Decision d = Decide(in, cfg);
  EXPECT_DOUBLE_EQ(d.predicted_cpu_us, -1);
  EXPECT_DOUBLE_EQ(d.predicted_device_us, -1);
}

// Sweep many input combinations: every decision has reasons, never uses an unusable device, and
// is eligible exactly when it passed rules 1–5.
TEST_F(PolicyFixture, SweepInvariantsAndReasons) {
  CostModel slow_dev = Linear(3.0);
  const CostModel* cpus[] = {nullptr, &empty, &cpu};
  const CostModel* devs[] = {nullptr, &empty, &dev, &slow_dev};
  const DeviceState states[] = {DeviceState::kOk, DeviceState::kOpen, DeviceState::kLost,
                                DeviceState::kUnavailable};
  const double works[] = {0, 1200, 65536, 1e5, 2e6, 1e8};
  int n = 0;
  for (Mode mode : {Mode::kAuto, Mode::kCpu, Mode::kGpu})
    for (bool configured : {false, true})
      for (DeviceState st : states)
        for (bool allowed : {false, true})
          for (bool probe : {false, true})
            for (double w : works)
              for (const CostModel* c : cpus)
                for (const CostModel* g : devs)
                  for (uint64_t seen : {0u, 31u}) {
                    PolicyConfig pc = cfg;
                    pc.mode = mode;
                    PolicyInput in = Input(w);
                    in.device_configured = configured;
                    in.device_state = st;
                    in.device_call_allowed = allowed;
                    in.probe = probe;
                    in.cpu = c;
                    in.device = g;
                    in.eligible_seen = seen;
                    Decision d = Decide(in, pc);
                    ++n;
                    SCOPED_TRACE(Joined(d));
                    ExpectReasons(d);
                    const bool usable = mode != Mode::kCpu && configured &&
                                        (st == DeviceState::kOk ||
                                         (st == DeviceState::kOpen && probe)) &&
                                        allowed;
                    if (!usable) {
                      EXPECT_EQ(d.target, Target::kCpu);
                    }
                    const bool big = mode == Mode::kGpu || probe ||
                                     w >= pc.gpu_min_batch;
                    EXPECT_EQ(d.eligible, usable && big);
                    if (d.target == Target::kSplit) {
                      EXPECT_GE(d.cpu_fraction, 0.05);
                      EXPECT_LE(d.cpu_fraction, 0.95);
                    }
                    if (d.exploring) {
                      EXPECT_NE(d.target, Target::kSplit);
                    }
                    EXPECT_EQ(d.predicted_cpu_us >= 0, c != nullptr && c->HasData());
                    EXPECT_EQ(d.predicted_device_us >= 0, g != nullptr && g->HasData());
                  }
  EXPECT_GT(n, 10000);
}

}  // namespace
}  // namespace vecgraph::exec
