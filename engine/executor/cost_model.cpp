// engine/executor/cost_model.cpp — online least-squares fit of t(n) = a + b·n (cost_model.h).
//
// How it works: the last `capacity` (n, t) pairs live in a ring buffer, and running sums of
// x, t, x², x·t (x = n − n0, shifted by the first sample's n so the sums stay well conditioned
// when work units are bytes, 1e6..1e9) are updated as samples enter and leave; every `capacity`
// additions they are recomputed exactly, so rounding cannot accumulate. Each Add() refits in O(1)
// (the executor adds one sample per batch on its hot path). Sxx = Σx² − (Σx)²/k,
// Sxy = Σxt − Σx·Σt/k, b = Sxy / Sxx, a = t̄ − b·n̄. The degenerate cases are handled in the order
// the header lists them. Note: with one sample at n = 0 there is only a fixed cost (a = t, b = 0).
//
// Add() first filters: a non-finite sample is dropped; while not warm, the sample after the
// warm-up samples clears them; once the fit is supported, a far-off sample is held aside until
// the next one says whether it was a one-off (dropped) or a changed backend (the window restarts
// from the held sample and this one).
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
  if (!warm_) {
    // The warm-up samples paid the cold start: the first sample after them replaces them.
    if (count_ >= kWarmupSamples) {
      ClearWindow();
      warm_ = true;
    }
    Insert(n, us);
    return;
  }
  if (count_ >= kMinSamplesForDrift) {
    const double p = Predict(n);
    const int side = us > kDriftFactor * p + kDriftSlackUs ? 1 : us * kDriftFactor + kDriftSlackUs < p ? -1 : 0;
    if (side != 0 && held_ && side == held_side_) {
      // Two far-off measurements in a row, on the same side: the backend changed. Forget the old
      // regime at once instead of waiting for `capacity` new samples.
      const double hn = held_n_, hus = held_us_;
      held_ = false;
      ClearWindow();
      ++drift_resets_;
      Insert(hn, hus);
      Insert(n, us);
      return;
    }
    if (held_) {
      held_ = false;  // the held sample was a one-off
      ++outliers_;
    }
    if (side != 0) {
      held_ = true;
      held_n_ = n;
      held_us_ = us;
      held_side_ = side;
      return;
    }
  }
  Insert(n, us);
}

void CostModel::Insert(double n, double us) {
  if (count_ == 0) n0_ = n;  // shift origin: sums stay well conditioned for large n
  if (count_ == capacity_) Remove(n_[next_], t_[next_]);
  n_[next_] = n;
  t_[next_] = us;
  next_ = (next_ + 1) % capacity_;
  if (count_ < capacity_) ++count_;
  const double x = n - n0_;
  sx_ += x;
  st_ += us;
  sxx_ += x * x;
  sxt_ += x * us;
  // Running sums drift with rounding: recompute them exactly once per `capacity` additions.
  if (++adds_since_exact_ >= capacity_) RecomputeSums();
  Refit();
}

void CostModel::Remove(double n, double us) {
  const double x = n - n0_;
  sx_ -= x;
  st_ -= us;
  sxx_ -= x * x;
  sxt_ -= x * us;
}

void CostModel::RecomputeSums() {
  adds_since_exact_ = 0;
  sx_ = st_ = sxx_ = sxt_ = 0;
  for (size_t i = 0; i < count_; ++i) {
    const double x = n_[i] - n0_;
    sx_ += x;
    st_ += t_[i];
    sxx_ += x * x;
    sxt_ += x * t_[i];
  }
}

void CostModel::ClearWindow() {
  next_ = 0;
  count_ = 0;
  a_ = 0;
  b_ = 0;
  sx_ = st_ = sxx_ = sxt_ = 0;
  adds_since_exact_ = 0;
}

void CostModel::Reset() {
  ClearWindow();
  warm_ = false;
  held_ = false;
}

double CostModel::Predict(double n) const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  return a_ + b_ * n;
}

// O(1): the fit uses the running sums (in coordinates x = n − n0).
void CostModel::Refit() {
  const size_t k = count_;
  if (k == 0) {
    a_ = b_ = 0;
    return;
  }
  const double kd = static_cast<double>(k);
  const double mean_x = sx_ / kd;
  const double mean_t = st_ / kd;
  const double sxx = sxx_ - sx_ * mean_x;  // Σ(x − x̄)²
  const double sxy = sxt_ - sx_ * mean_t;  // Σ(x − x̄)(t − t̄)
  const double mean_n = mean_x + n0_;

  // One sample, or every sample at the same n (no spread to fit a slope): assume the cost is
  // proportional to the work (a = 0, b = t̄ / n); at n = 0 there is only a fixed cost.
  if (k == 1 || !(sxx > 1e-9 * (sxx_ + 1e-300))) {
    if (mean_n == 0) {
      a_ = mean_t;
      b_ = 0;
      return;
    }
    a_ = 0;
    b_ = mean_t / mean_n;
    return;
  }
  double b = sxy / sxx;
  double a = mean_t - b * mean_n;
  if (b < 0) {
    // Bigger batches cannot be cheaper: the cost is flat.
    a_ = mean_t;
    b_ = 0;
    return;
  }
  if (a < 0) {
    // A negative fixed cost is noise: refit through the origin, b = Σ n·t / Σ n².
    const double snn = sxx_ + 2 * n0_ * sx_ + kd * n0_ * n0_;
    const double snt = sxt_ + n0_ * st_;
    a = 0;
    b = snn > 0 ? snt / snn : 0.0;
    if (b < 0) b = 0;  // only with negative timings; keep predictions non-decreasing
  }
  a_ = a;
  b_ = b;
}

}  // namespace vecgraph::exec
