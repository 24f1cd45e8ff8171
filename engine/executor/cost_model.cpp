// engine/executor/cost_model.cpp — online least-squares fit of t(n) = a + b·n (cost_model.h).
//
// How it works: the last `capacity` (n, t) pairs live in a ring buffer; every Add() refits over
// the whole buffer (capacity is small, 64 by default, so this is a few hundred flops). The fit is
// done on centered data — Sxx = Σ(n − n̄)², Sxy = Σ(n − n̄)(t − t̄), b = Sxy / Sxx, a = t̄ − b·n̄ —
// because the textbook form Σn² − (Σn)²/k cancels catastrophically when n is large (work units
// are bytes, so n is often 1e6..1e9) and the spread of n is small. The degenerate cases are
// handled in the order the header lists them.
#include "engine/executor/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vecgraph::exec {

CostModel::CostModel(size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity), n_(capacity_, 0.0), t_(capacity_, 0.0) {}

void CostModel::Add(double n, double us) {
  // A non-finite measurement would poison every later prediction: drop it.
  if (!std::isfinite(n) || !std::isfinite(us)) return;
  // Drift: a measurement far off a well-supported prediction means the backend changed (another
  // load on the machine, a device throttling or freed): forget the old regime at once instead of
  // waiting for `capacity` new samples, so the policy re-converges within a few batches.
  if (count_ >= kMinSamplesForDrift) {
    const double p = Predict(n);
    if (us > kDriftFactor * p + kDriftSlackUs || us * kDriftFactor + kDriftSlackUs < p) {
      Reset();
      ++drift_resets_;
    }
  }
  n_[next_] = n;
  t_[next_] = us;
  next_ = (next_ + 1) % capacity_;
  if (count_ < capacity_) ++count_;
  Refit();
}

void CostModel::Reset() {
  next_ = 0;
  count_ = 0;
  a_ = 0;
  b_ = 0;
}

double CostModel::Predict(double n) const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  return a_ + b_ * n;
}

void CostModel::Refit() {
  // The live samples are indices [0, count_) whether or not the ring has wrapped: before it
  // wraps they are exactly the first count_ slots, afterwards all capacity_ slots are live.
  const size_t k = count_;
  if (k == 0) {
    a_ = b_ = 0;
    return;
  }
  const double kd = static_cast<double>(k);
  double sum_n = 0, sum_t = 0;
  double min_n = n_[0], max_n = n_[0];
  for (size_t i = 0; i < k; ++i) {
    sum_n += n_[i];
    sum_t += t_[i];
    min_n = std::min(min_n, n_[i]);
    max_n = std::max(max_n, n_[i]);
  }
  const double mean_n = sum_n / kd;
  const double mean_t = sum_t / kd;

  // One sample, or every sample at the same n: no slope can be fitted. Assume the cost is
  // proportional to the work (a = 0, b = mean(t / n)); at n = 0 there is only a fixed cost.
  if (k == 1 || min_n == max_n) {
    if (min_n == 0) {
      a_ = mean_t;
      b_ = 0;
      return;
    }
    double sum_ratio = 0;
    for (size_t i = 0; i < k; ++i) sum_ratio += t_[i] / n_[i];
    a_ = 0;
    b_ = sum_ratio / kd;
    return;
  }

  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < k; ++i) {
    const double dn = n_[i] - mean_n;
    sxx += dn * dn;
    sxy += dn * (t_[i] - mean_t);
  }
  double b = sxx > 0 ? sxy / sxx : 0.0;
  double a = mean_t - b * mean_n;

  if (b < 0) {
    // Bigger batches cannot be cheaper: the cost is flat.
    a_ = mean_t;
    b_ = 0;
    return;
  }
  if (a < 0) {
    // A negative fixed cost is noise: refit through the origin.
    double snt = 0, snn = 0;
    for (size_t i = 0; i < k; ++i) {
      snt += n_[i] * t_[i];
      snn += n_[i] * n_[i];
    }
    a = 0;
    b = snn > 0 ? snt / snn : 0.0;
    if (b < 0) b = 0;  // only with negative timings; keep predictions non-decreasing
  }
  a_ = a;
  b_ = b;
}

}  // namespace vecgraph::exec
