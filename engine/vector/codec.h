// engine/vector/codec.h — vector values: decoding, validation, encoding, metrics.
//
// A vector arrives as a float32 little-endian BLOB (the format of sqlite-vec, vectorlite and
// sqlite-vector) or as JSON text `[1, 2.5, -3e-2]`. Decoding validates everything a hostile
// caller can get wrong: length not a multiple of 4, empty, more than kMaxDims elements, malformed
// JSON, non-numeric elements, NaN or infinite elements. Messages name the problem without the
// function name; the SQL layer prefixes "function: argument N (name): ".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace vecgraph {

// Largest accepted dimension count (documented in docs/reference.md).
inline constexpr size_t kMaxDims = 65536;

enum class Metric : uint8_t { kCosine = 0, kDot, kL2 };

const char* MetricName(Metric m);

// Parses "cosine" | "dot" | "l2" (case-insensitive). `allowed` restricts the set (vec_similarity
// takes only cosine and dot).
StatusOr<Metric> ParseMetric(std::string_view name, bool allow_l2 = true);

// A decoded vector: borrows the caller's bytes when they are float-aligned, owns a copy otherwise.
// Never outlives the memory it borrows (an sqlite3_value is valid for the duration of one call).
class VectorBuf {
 public:
  std::span<const float> view() const { return view_; }
  size_t dims() const { return view_.size(); }
  const float* data() const { return view_.data(); }
  void Borrow(const float* p, size_t n) { view_ = {p, n}; }
  float* Own(size_t n) {
    owned_.resize(n);
    view_ = {owned_.data(), n};
    return owned_.data();
  }

 private:
  std::vector<float> owned_;
  std::span<const float> view_;
};

// Decodes a float32 LE blob. Checks length, emptiness, the dimension cap and finiteness.
Status DecodeBlob(const void* bytes, size_t n_bytes, VectorBuf* out);

// Decodes a JSON array of numbers.
Status DecodeJson(std::string_view text, VectorBuf* out);

// Checks every element is finite; names the first bad one.
Status CheckFinite(std::span<const float> v);

// A hint for a dimension mismatch: when a BLOB of n_bytes holds exactly expected_dims float64
// values, " (found 32 bytes = 8 float32; is this a float64 vector? ...)", else "".
std::string Float64Hint(size_t n_bytes, size_t expected_dims);

// JSON text with the shortest representation that round-trips each float: "[1,0.5,-2]".
std::string EncodeJson(std::span<const float> v);

// Appends a double as JSON (shortest round trip; infinities as ±1e999, never "inf"/"nan").
void AppendJsonNumber(std::string* out, double v);

}  // namespace vecgraph
