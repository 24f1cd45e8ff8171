#include "engine/common/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace vecgraph::json {

const char* Value::TypeName() const {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "?";
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Status ParseDocument(Value* out) {
    VG_RETURN_IF_ERROR(ParseValue(out, 0));
    SkipSpace();
    if (i_ != s_.size()) return Error("unexpected text after the JSON value");
    return Status::Ok();
  }

 private:
  Status Error(const char* what) const {
    return Status::InvalidArgument(StrFormat("malformed JSON at offset %zu: %s", i_, what));
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) == word) {
      i_ += word.size();
      return true;
    }
    return false;
  }

  Status ParseValue(Value* v, int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    SkipSpace();
    if (i_ >= s_.size()) return Error("unexpected end of text");
    char c = s_[i_];
    if (c == '{') return ParseObject(v, depth);
    if (c == '[') return ParseArray(v, depth);
    if (c == '"') {
      v->type = Value::Type::kString;
      return ParseString(&v->string);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(v);
    if (Literal("true")) {
      v->type = Value::Type::kBool;
      v->boolean = true;
      return Status::Ok();
    }
    if (Literal("false")) {
      v->type = Value::Type::kBool;
      return Status::Ok();
    }
    if (Literal("null")) {
      v->type = Value::Type::kNull;
      return Status::Ok();
    }
    return Error("expected a value");
  }

  Status ParseNumber(Value* v) {
    NumberToken t = ScanNumber(s_, i_);
    if (t.length == 0) return Error("malformed number");
    std::string_view token = s_.substr(i_, t.length);
    i_ += t.length;
    v->type = Value::Type::kNumber;
    // Overflow gives ±infinity (callers reject non-finite values); underflow gives ±0.
    if (!NumberToDouble(token, &v->number)) {
      v->number = token[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    }
    if (t.integral) {
      auto r = std::from_chars(token.data(), token.data() + token.size(), v->integer);
      v->is_int = r.ec == std::errc() && r.ptr == token.data() + token.size();
    }
    return Status::Ok();
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  Status Hex4(uint32_t* out) {
    if (i_ + 4 > s_.size()) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return Error("bad hex digit in \\u escape");
    }
    *out = v;
    return Status::Ok();
  }

  Status ParseString(std::string* out) {
    ++i_;  // opening quote
    for (;;) {
      if (i_ >= s_.size()) return Error("unterminated string");
      char c = s_[i_++];
      if (c == '"') return Status::Ok();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return Error("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          VG_RETURN_IF_ERROR(Hex4(&cp));
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            size_t save = i_;
            i_ += 2;
            uint32_t lo = 0;
            VG_RETURN_IF_ERROR(Hex4(&lo));
            if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else i_ = save;
          }
          AppendUtf8(out, cp);
          break;
        }
        default: return Error("bad escape");
      }
    }
  }

  Status ParseArray(Value* v, int depth) {
    v->type = Value::Type::kArray;
    ++i_;
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return Status::Ok();
    }
    for (;;) {
      v->array.emplace_back();
      VG_RETURN_IF_ERROR(ParseValue(&v->array.back(), depth + 1));
      SkipSpace();
      if (i_ >= s_.size()) return Error("unterminated array");
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == ']') {
        ++i_;
        return Status::Ok();
      }
      return Error("expected ',' or ']'");
    }
  }

  Status ParseObject(Value* v, int depth) {
    v->type = Value::Type::kObject;
    ++i_;
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return Status::Ok();
    }
    for (;;) {
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != '"') return Error("expected a string key");
      std::string key;
      VG_RETURN_IF_ERROR(ParseString(&key));
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != ':') return Error("expected ':'");
      ++i_;
      v->object.emplace_back(std::move(key), Value{});
      VG_RETURN_IF_ERROR(ParseValue(&v->object.back().second, depth + 1));
      SkipSpace();
      if (i_ >= s_.size()) return Error("unterminated object");
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == '}') {
        ++i_;
        return Status::Ok();
      }
      return Error("expected ',' or '}'");
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Overflow or underflow? from_chars reports both as result_out_of_range and leaves the value
// alone, so the token decides: its magnitude is 10^e10 times [1, 10), where e10 is the position
// of its first non-zero digit relative to the decimal point plus its exponent. Out of range with
// e10 ≥ 0 (|x| ≥ 1) can only be overflow.
bool TokenAtLeastOne(std::string_view t) {
  size_t i = t[0] == '-' ? 1 : 0;
  int64_t int_digits = 0, index = 0, first_nonzero = -1;
  bool after_point = false;
  for (; i < t.size() && (IsDigit(t[i]) || t[i] == '.'); ++i) {
    if (t[i] == '.') {
      after_point = true;
      continue;
    }
    if (!after_point) ++int_digits;
    if (first_nonzero < 0 && t[i] != '0') first_nonzero = index;
    ++index;
  }
  if (first_nonzero < 0) return false;  // zero
  int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
    for (; i < t.size(); ++i) exp = std::min<int64_t>(exp * 10 + (t[i] - '0'), int64_t{1} << 40);  // saturates
    if (neg) exp = -exp;
  }
  return int_digits - 1 - first_nonzero + exp >= 0;
}

template <typename T>
bool NumberTo(std::string_view t, T* out) {
  T v{};
  auto r = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (r.ec == std::errc()) {
    *out = v;
    return true;
  }
  if (TokenAtLeastOne(t)) return false;
  *out = t[0] == '-' ? -T{0} : T{0};
  return true;
}

}  // namespace

NumberToken ScanNumber(std::string_view s, size_t pos) {
  NumberToken t;
  size_t i = pos;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return t;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  bool integral = true;
  if (i < s.size() && s[i] == '.') {
    integral = false;
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return t;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return t;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  t.length = i - pos;
  t.integral = integral;
  return t;
}

bool NumberToDouble(std::string_view token, double* out) { return NumberTo(token, out); }
bool NumberToFloat(std::string_view token, float* out) { return NumberTo(token, out); }

StatusOr<Value> Parse(std::string_view text) {
  Value v;
  Parser p(text);
  Status st = p.ParseDocument(&v);
  if (!st.ok()) return st;
  return v;
}

void AppendString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace vecgraph::json
