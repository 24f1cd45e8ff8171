#include "engine/vector/distance.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/metric_math.h"

namespace vecgraph {
namespace {

// Double-precision fallback for the rare overflow of float sums on finite input.
double DotD(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}
double L2sqD(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return s;
}
double CosineSimD(const float* a, const float* b, size_t n) {
  // Scale-free: divide by the largest magnitude first so squares cannot overflow.
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) {
    ma = std::fmax(ma, std::fabs(a[i]));
    mb = std::fmax(mb, std::fabs(b[i]));
  }
  if (ma == 0 || mb == 0) return 0;
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    double x = a[i] / ma, y = b[i] / mb;
    d += x * y;
    na += x * x;
    nb += y * y;
  }
  double s = d / (std::sqrt(na) * std::sqrt(nb));
  return std::fmin(1.0, std::fmax(-1.0, s));
}

double SlowDistance(Metric metric, const float* a, const float* b, size_t dims) {
  switch (metric) {
    case Metric::kCosine: return 1.0 - CosineSimD(a, b, dims);
    case Metric::kDot: return 0.0 - DotD(a, b, dims);  // never -0, as DotDistance
    case Metric::kL2: return std::sqrt(L2sqD(a, b, dims));
  }
  return 0;
}

}  // namespace

float WideDistance(Metric metric, const float* q, const float* row, size_t dims) {
  return static_cast<float>(SlowDistance(metric, q, row, dims));
}

double Norm(const float* a, size_t dims) {
  const float n2 = kernels::Kernels().norm_sq(a, dims);
  // Above 2^-100 the float sum is exact enough (what underflowed is below its rounding error);
  // below (a tiny or zero vector) or on overflow, sum in double: for float inputs that can
  // neither overflow nor underflow.
  if (n2 >= 0x1p-100f && std::isfinite(n2)) return std::sqrt(static_cast<double>(n2));
  return std::sqrt(DotD(a, a, dims));
}

void UnitVector(const float* a, size_t dims, float* out) {
  double s = 0;
  for (size_t i = 0; i < dims; ++i) s += static_cast<double>(a[i]) * a[i];
  if (s == 0) {
    std::fill(out, out + dims, 0.0f);
    return;
  }
  double inv = 1.0 / std::sqrt(s);
  for (size_t i = 0; i < dims; ++i) out[i] = static_cast<float>(a[i] * inv);
}

float PairDistance(Metric metric, const float* a, const float* b, size_t dims) {
  const kernels::KernelTable& kt = kernels::Kernels();
  float d = 0;
  bool wide = false;
  switch (metric) {
    case Metric::kCosine: {
      const float dot = kt.dot(a, b, dims);
      const float qn = static_cast<float>(Norm(a, dims));
      const float bn2 = kt.norm_sq(b, dims);
      d = kernels::CosineDistanceFromParts(dot, qn, bn2);
      wide = !kernels::CosinePartsInRange(qn, bn2);
      break;
    }
    case Metric::kDot: d = kernels::DotDistance(kt.dot(a, b, dims)); break;
    case Metric::kL2: d = kernels::L2DistanceFromSquared(kt.l2sq(a, b, dims)); break;
  }
  if (std::isfinite(d) && !wide) return d;
  return WideDistance(metric, a, b, dims);
}

float PairSimilarity(Metric metric, const float* a, const float* b, size_t dims) {
  if (metric == Metric::kDot) return 0.0f - PairDistance(Metric::kDot, a, b, dims);
  return 1.0f - PairDistance(Metric::kCosine, a, b, dims);
}

void BatchDistances(const kernels::KernelTable& kt, Metric metric, const float* q, float q_norm,
                    const float* rows, size_t n_rows, size_t dims, float* out, float* scratch) {
  switch (metric) {
    case Metric::kCosine:
      kt.dot_norm_batch(q, rows, n_rows, dims, out, scratch);
      for (size_t r = 0; r < n_rows; ++r) {
        const float d = kernels::CosineDistanceFromParts(out[r], q_norm, scratch[r]);
        // Norms where float32 squares lose the answer (tiny or huge rows): mark for the wide
        // recomputation below.
        out[r] = kernels::CosinePartsInRange(q_norm, scratch[r]) ? d : std::numeric_limits<float>::quiet_NaN();
      }
      break;
    case Metric::kDot:
      kt.dot_batch(q, rows, n_rows, dims, out);
      for (size_t r = 0; r < n_rows; ++r) out[r] = kernels::DotDistance(out[r]);
      break;
    case Metric::kL2:
      kt.l2sq_batch(q, rows, n_rows, dims, out);
      for (size_t r = 0; r < n_rows; ++r) out[r] = kernels::L2DistanceFromSquared(out[r]);
      break;
  }
  for (size_t r = 0; r < n_rows; ++r) {
    // Recompute in double what float32 lost on finite input; rows holding NaN/inf stay
    // non-finite so the caller can report them (callers validate lazily).
    if (!std::isfinite(out[r]) && CheckFinite({rows + r * dims, dims}).ok()) {
      out[r] = WideDistance(metric, q, rows + r * dims, dims);
    }
  }
}

namespace {

double CosineI8(const kernels::KernelTable& kt, const int8_t* a, const int8_t* b, size_t dims) {
  const double na = kt.dot_i8(a, a, dims), nb = kt.dot_i8(b, b, dims);
  if (na == 0 || nb == 0) return 0.0;
  const double c = static_cast<double>(kt.dot_i8(a, b, dims)) / std::sqrt(na * nb);
  return std::fmin(1.0, std::fmax(-1.0, c));
}

}  // namespace

float PairDistanceI8(Metric metric, const int8_t* a, const int8_t* b, size_t dims) {
  const kernels::KernelTable& kt = kernels::Kernels();
  switch (metric) {
    case Metric::kCosine: return static_cast<float>(1.0 - CosineI8(kt, a, b, dims));
    case Metric::kDot: return kernels::DotDistance(static_cast<float>(kt.dot_i8(a, b, dims)));
    case Metric::kL2: return static_cast<float>(std::sqrt(static_cast<double>(kt.l2sq_i8(a, b, dims))));
  }
  return 0.0f;
}

float PairSimilarityI8(Metric metric, const int8_t* a, const int8_t* b, size_t dims) {
  const kernels::KernelTable& kt = kernels::Kernels();
  if (metric == Metric::kDot) return static_cast<float>(kt.dot_i8(a, b, dims));
  return static_cast<float>(CosineI8(kt, a, b, dims));
}

}  // namespace vecgraph
