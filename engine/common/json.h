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

StatusOr<Value> Parse(std::string_view text);

// Appends s as a JSON string literal (with quotes and escapes).
void AppendString(std::string* out, std::string_view s);

}  // namespace vecgraph::json
