// engine/executor/cost_model.h — online cost model t(n) = a + b·n for one (op, backend).
//
// Fitted by least squares over the last `capacity` measurements (a ring buffer), so the model
// follows drift. n is in the op's work units, t in microseconds. Degenerate cases:
//   - no samples: Predict() returns NaN (callers treat "no data" explicitly);
//   - one sample, or all samples at the same n: a = 0, b = mean(t / n); when that n is 0,
//     a = mean(t), b = 0 (only a fixed cost can be seen);
//   - a fitted slope b < 0: b = 0, a = mean(t);
//   - a fitted intercept a < 0: refit through the origin, b = Σ n·t / Σ n².
// Not thread-safe: the executor guards each model with its own lock.
#pragma once

#include <cstddef>
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

 private:
  void Refit();

  size_t capacity_;
  std::vector<double> n_, t_;
  size_t next_ = 0, count_ = 0;
  double a_ = 0, b_ = 0;
};

}  // namespace vecgraph::exec
