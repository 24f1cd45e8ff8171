#include "engine/vector/codec.h"

#include "engine/common/json.h"

#include <charconv>
#include <cmath>
#include <cctype>
#include <cstring>
#include <strings.h>

namespace vecgraph {

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kCosine: return "cosine";
    case Metric::kDot: return "dot";
    case Metric::kL2: return "l2";
  }
  return "?";
}

StatusOr<Metric> ParseMetric(std::string_view name, bool allow_l2) {
  auto is = [&](const char* s) {
    return name.size() == std::strlen(s) && strncasecmp(name.data(), s, name.size()) == 0;
  };
  if (is("cosine")) return Metric::kCosine;
  if (is("dot")) return Metric::kDot;
  if (allow_l2 && is("l2")) return Metric::kL2;
  std::string shown(name.substr(0, 64));
  return Status::InvalidArgument(StrFormat("unknown metric '%s': expected %s", shown.c_str(),
                                           allow_l2 ? "'cosine', 'dot' or 'l2'" : "'cosine' or 'dot'"));
}

static Status DimsOk(size_t dims) {
  if (dims == 0) return Status::InvalidArgument("empty vector: expected at least 1 element");
  if (dims > kMaxDims) {
    return Status::InvalidArgument(
        StrFormat("vector has %zu dimensions, more than the maximum %zu", dims, kMaxDims));
  }
  return Status::Ok();
}

Status CheckFinite(std::span<const float> v) {
  // Fast path: a sum over the vector is finite iff ... not quite (inf - inf = nan, both caught;
  // overflow of finite values gives inf, then we look element by element).
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Status::InvalidArgument(
          StrFormat("element %zu is %s: expected a finite number", i, std::isnan(v[i]) ? "NaN" : "infinite"));
    }
  }
  return Status::Ok();
}

Status DecodeBlob(const void* bytes, size_t n_bytes, VectorBuf* out) {
  if (n_bytes % sizeof(float) != 0) {
    return Status::InvalidArgument(
        StrFormat("BLOB of %zu bytes is not a float32 vector: length must be a multiple of 4", n_bytes));
  }
  size_t dims = n_bytes / sizeof(float);
  VG_RETURN_IF_ERROR(DimsOk(dims));
  if (reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0) {
    out->Borrow(static_cast<const float*>(bytes), dims);
  } else {
    std::memcpy(out->Own(dims), bytes, n_bytes);
  }
  return CheckFinite(out->view());
}

namespace {
bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string Excerpt(std::string_view s, size_t pos, size_t n = 16) {
  std::string e(s.substr(pos, n));
  if (pos + n < s.size()) e += "...";
  return e;
}

bool StartsWithWord(std::string_view s, const char* word) {
  size_t n = std::strlen(word);
  return s.size() >= n && strncasecmp(s.data(), word, n) == 0;
}

// Element `index` at s[pos] is not a JSON number. NaN and infinities (which JSON cannot spell,
// but other tools print: nan, -nan, inf, -Infinity) are named as such.
Status NotANumber(std::string_view s, size_t pos, size_t index) {
  std::string_view w = s.substr(pos);
  if (!w.empty() && (w[0] == '-' || w[0] == '+')) w.remove_prefix(1);
  if (StartsWithWord(w, "nan")) {
    return Status::InvalidArgument(StrFormat("element %zu is NaN: expected a finite number", index));
  }
  if (StartsWithWord(w, "inf")) {
    return Status::InvalidArgument(StrFormat("element %zu is infinite: expected a finite number", index));
  }
  return Status::InvalidArgument(StrFormat("element %zu is not a JSON number: found '%s'", index, Excerpt(s, pos).c_str()));
}
}  // namespace

Status DecodeJson(std::string_view s, VectorBuf* out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && IsJsonSpace(s[i])) ++i;
  };
  skip();
  if (i >= s.size() || s[i] != '[') {
    return Status::InvalidArgument(StrFormat("malformed JSON vector: expected '[' at offset %zu, found '%s'", i,
                                             i < s.size() ? Excerpt(s, i).c_str() : "end of text"));
  }
  ++i;
  std::vector<float> vals;
  skip();
  if (i < s.size() && s[i] == ']') {
    ++i;
  } else {
    for (;;) {
      skip();
      if (i >= s.size()) return Status::InvalidArgument("malformed JSON vector: unexpected end of text");
      json::NumberToken t = json::ScanNumber(s, i);
      const size_t end = i + t.length;
      // "01", "1.", "1e", "0x1", "1nan": a number must end where JSON says it does.
      if (t.length == 0 || (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '.'))) {
        return NotANumber(s, i, vals.size());
      }
      std::string_view token = s.substr(i, t.length);
      float f = 0;
      if (!json::NumberToFloat(token, &f)) {
        return Status::InvalidArgument(StrFormat("element %zu is out of range: '%s' does not fit float32 (largest "
                                                 "magnitude 3.4028235e+38)",
                                                 vals.size(), Excerpt(token, 0, 40).c_str()));
      }
      const size_t consumed = t.length;
      if (vals.size() >= kMaxDims) VG_RETURN_IF_ERROR(DimsOk(kMaxDims + 1));
      vals.push_back(f);
      i += consumed;
      skip();
      if (i >= s.size()) return Status::InvalidArgument("malformed JSON vector: unexpected end of text, expected ']'");
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] == ']') {
        ++i;
        break;
      }
      return Status::InvalidArgument(StrFormat("malformed JSON vector: expected ',' or ']' at offset %zu, found '%s'",
                                               i, Excerpt(s, i).c_str()));
    }
  }
  skip();
  if (i != s.size()) {
    return Status::InvalidArgument(StrFormat("malformed JSON vector: unexpected '%s' after the closing ']'",
                                             Excerpt(s, i).c_str()));
  }
  VG_RETURN_IF_ERROR(DimsOk(vals.size()));
  float* dst = out->Own(vals.size());
  std::memcpy(dst, vals.data(), vals.size() * sizeof(float));
  return Status::Ok();
}

std::string Float64Hint(size_t n_bytes, size_t expected_dims) {
  if (expected_dims == 0 || n_bytes != expected_dims * 2 * sizeof(float)) return "";
  return StrFormat(" (found %zu bytes = %zu float32; is this a float64 vector? vecgraph stores float32)", n_bytes,
                   n_bytes / sizeof(float));
}

std::string EncodeJson(std::span<const float> v) {
  std::string out;
  out.reserve(v.size() * 12 + 2);
  out.push_back('[');
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    auto r = std::to_chars(buf, buf + sizeof(buf), v[i]);
    out.append(buf, r.ptr);
  }
  out.push_back(']');
  return out;
}

void AppendJsonNumber(std::string* out, double v) {
  if (std::isnan(v)) v = 0;  // callers never produce NaN; stay valid JSON regardless
  if (std::isinf(v)) {
    out->append(v > 0 ? "1e999" : "-1e999");
    return;
  }
  char buf[32];
  if (std::fabs(v) < 9007199254740992.0 && std::floor(v) == v) {
    auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<long long>(v));  // integral: no exponent
    out->append(buf, r.ptr);
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace vecgraph
