// engine/executor/cost_model.h — online cost model t(n) = a + b·n for one (op, backend).
//
// Fitted by least squares over the last `capacity` measurements (a ring buffer), so the model
// follows drift. n is in the op's work units, t in microseconds. Degenerate cases:
//   - no samples: Predict() returns NaN (callers treat "no data" explicitly);
//   - one sample, or all samples at the same n: a = 0, b = mean(t / n); when that n is 0,
//     a = mean(t), b = 0 (only a fixed cost can be seen);
//   - a fitted slope b < 0: b = 0, a = mean(t);
//   - a fitted intercept a < 0: refit through the origin, b = Σ n·t / Σ n².
// Drift: once kMinSamplesForDrift samples support the fit, a sample more than kDriftFactor away
// from the prediction (beyond kDriftSlackUs) clears the window first, so the model follows a
// changed backend within a batch or two (the exploration pace bounds how soon it is seen).
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
  void Reset();

  size_t samples() const { return count_; }
  bool HasData() const { return count_ > 0; }
  // Predicted microseconds for n work units; NaN when there is no data.
  double Predict(double n) const;
  double a() const { return a_; }  // intercept, µs
  double b() const { return b_; }  // slope, µs per work unit
  uint64_t drift_resets() const { return drift_resets_; }

  static constexpr size_t kMinSamplesForDrift = 4;
  static constexpr double kDriftFactor = 2.0;
  static constexpr double kDriftSlackUs = 50.0;

 private:
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
  uint64_t drift_resets_ = 0;
};

}  // namespace vecgraph::exec
