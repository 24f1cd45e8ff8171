// engine/common/json.h — a small strict JSON reader for option objects and seed lists.
//
// Parses RFC 8259 JSON into a tree (objects keep key order; duplicate keys are kept, callers
// decide). Depth is capped (kMaxDepth) so hostile input cannot exhaust the stack. Numbers are
// kept as double plus a flag saying whether the literal was an integer that fits int64.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/status.h"

namespace vecgraph::json {

inline constexpr int kMaxDepth = 64;

struct Value {
  // Declared here, defaulted after the class: clang 14 with C++20's constexpr std::vector would
  // otherwise instantiate vector<pair<string, Value>>'s destructor while Value is incomplete.
  Value();
  ~Value();
  Value(const Value&);
  Value(Value&&) noexcept;
  Value& operator=(const Value&);
  Value& operator=(Value&&) noexcept;

  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  bool is_int = false;     // the literal had no fraction/exponent and fits int64
  int64_t integer = 0;     // valid when is_int
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  bool IsNumber() const { return type == Type::kNumber; }
  bool IsString() const { return type == Type::kString; }
  bool IsObject() const { return type == Type::kObject; }
  bool IsArray() const { return type == Type::kArray; }
  const char* TypeName() const;  // "null", "boolean", "number", "string", "array", "object"
};
inline Value::Value() = default;
inline Value::~Value() = default;
inline Value::Value(const Value&) = default;
inline Value::Value(Value&&) noexcept = default;
inline Value& Value::operator=(const Value&) = default;
inline Value& Value::operator=(Value&&) noexcept = default;

StatusOr<Value> Parse(std::string_view text);

// ---- numbers: the one JSON number grammar (RFC 8259), shared by Parse and the vector decoder.
//   number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
// No leading '+', no leading zeros ("01"), no bare '.' ("1.", ".5"), no hex, inf or nan.
struct NumberToken {
  size_t length = 0;      // bytes of the number starting at pos; 0 = no valid number starts there
  bool integral = false;  // no fraction and no exponent
};
NumberToken ScanNumber(std::string_view s, size_t pos);

// Converts a token that ScanNumber accepted, rounding to nearest (locale-independent). false when
// its magnitude is beyond the type's largest finite value (overflow: *out is left alone); a value
// too small for the type rounds to a denormal or to zero of the same sign (underflow is fine).
bool NumberToDouble(std::string_view token, double* out);
bool NumberToFloat(std::string_view token, float* out);

// Appends s as a JSON string literal (with quotes and escapes).
void AppendString(std::string* out, std::string_view s);

}  // namespace vecgraph::json
