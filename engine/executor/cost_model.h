// engine/executor/cost_model.h — online cost model t(n) = a + b·n for one (op, backend).
//
// Fitted by least squares over the last `capacity` measurements (a ring buffer), so the model
// follows drift. n is in the op's work units, t in microseconds. Degenerate cases:
//   - no samples: Predict() returns NaN (callers treat "no data" explicitly);
//   - one sample, or all samples at the same n: a = 0, b = mean(t / n); when that n is 0,
//     a = mean(t), b = 0 (only a fixed cost can be seen);
//   - a fitted slope b < 0: b = 0, a = mean(t);
//   - a fitted intercept a < 0: refit through the origin, b = Σ n·t / Σ n².
// Warm-up: the first kWarmupSamples measurements of a fresh model (or after Reset()) pay the cold
// start (thread-pool start-up, page faults, first touch, a device context or upload). They are used
// only until the next measurement arrives, which replaces them: Warm() says the fit holds no
// warm-up sample any more (the policy measures a backend once more while it is not warm).
// Drift: once kMinSamplesForDrift samples support the fit, a sample more than kDriftFactor away
// from the prediction (beyond kDriftSlackUs) is held aside, not fitted. The next sample decides:
// far off again on the same side means the backend changed (another load on the machine, a
// device throttling or freed): the window is cleared and refitted from those two samples
// (drift_resets()); anything else drops the held sample as a one-off outlier (outliers()). So a
// single outlier never moves the model, and a real change is followed after two measurements.
// Not thread-safe: the executor guards each model with its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vecgraph::exec {

class CostModel {
 public:
  explicit CostModel(size_t capacity = 64);

  void Add(double n, double us);
  // Forgets everything: the next measurement is a warm-up sample again.
  void Reset();

  size_t samples() const { return count_; }  // in the fit (a warm-up sample counts until replaced)
  bool HasData() const { return count_ > 0; }
  bool Warm() const { return warm_; }
  bool holding_outlier() const { return held_; }  // a far-off sample waits for the next one
  // Predicted microseconds for n work units; NaN when there is no data.
  double Predict(double n) const;
  double a() const { return a_; }  // intercept, µs
  double b() const { return b_; }  // slope, µs per work unit
  uint64_t drift_resets() const { return drift_resets_; }
  uint64_t outliers() const { return outliers_; }

  static constexpr size_t kWarmupSamples = 1;
  static constexpr size_t kMinSamplesForDrift = 4;
  static constexpr double kDriftFactor = 2.0;
  static constexpr double kDriftSlackUs = 50.0;

 private:
  void Insert(double n, double us);
  void ClearWindow();
  void Refit();
  void Remove(double n, double us);
  void RecomputeSums();

  size_t capacity_;
  std::vector<double> n_, t_;
  size_t next_ = 0, count_ = 0;
  double a_ = 0, b_ = 0;
  double n0_ = 0;                          // origin shift for the sums
  double sx_ = 0, st_ = 0, sxx_ = 0, sxt_ = 0;
  size_t adds_since_exact_ = 0;
  bool warm_ = false;
  bool held_ = false;                      // a far-off sample is held aside
  double held_n_ = 0, held_us_ = 0;
  int held_side_ = 0;                      // +1 slower than predicted, −1 faster
  uint64_t drift_resets_ = 0;
  uint64_t outliers_ = 0;
};

}  // namespace vecgraph::exec
