// engine/graph/spread_options.cpp — parsing and validating spread_activation's options and seeds
// (spread.h). Messages follow STYLE.md: name the option or element, say what was expected and
// quote what was found ("option 'decay': expected a number in (0, 1], found 1.5").
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/common/json.h"
#include "engine/graph/spread.h"
#include "engine/vector/codec.h"

namespace vecgraph::graph {
namespace {

constexpr const char* kOptionList =
    "src_col, dst_col, weight_col, directed, decay, threshold, max_hops, normalize, accumulate, refractory, "
    "max_fanout, max_frontier, top_k, min_activation";

// Largest integer option value accepted (exactly representable as a double).
constexpr double kMaxIntOption = 9007199254740992.0;

// Shortest text that round-trips a double ("1.5", "1e+300").
std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s;
  AppendJsonNumber(&s, v);
  return s;
}

// A JSON value as it appears in messages: numbers as written, strings in single quotes.
std::string Describe(const json::Value& v) {
  switch (v.type) {
    case json::Value::Type::kNumber:
      if (v.is_int) return std::to_string(v.integer);
      return std::isinf(v.number) ? (v.number > 0 ? "1e999" : "-1e999") : Num(v.number);
    case json::Value::Type::kString: {
      std::string s = v.string.size() > 64 ? v.string.substr(0, 64) + "..." : v.string;
      return "'" + s + "'";
    }
    case json::Value::Type::kBool: return v.boolean ? "true" : "false";
    case json::Value::Type::kNull: return "null";
    case json::Value::Type::kArray: return "an array";
    case json::Value::Type::kObject: return "an object";
  }
  return "?";
}

Status BadOption(const std::string& key, const char* expected, const std::string& found) {
  return Status::InvalidArgument("option '" + key + "': expected " + expected + ", found " + found);
}

bool AsInteger(const json::Value& v, double lo, double hi, int64_t* out) {
  if (!v.IsNumber()) return false;
  if (v.is_int) {
    if (static_cast<double>(v.integer) < lo || static_cast<double>(v.integer) > hi) return false;
    *out = v.integer;
    return true;
  }
  double d = v.number;
  if (!std::isfinite(d) || std::floor(d) != d || d < lo || d > hi) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

// Parses a whole string as a (possibly negative) decimal integer.
bool ParseIdText(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

std::string Truncated(const std::string& s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; }

// One seed set from an array of ids or an object {"id": activation}.
Status ParseSeedSet(const json::Value& v, const std::string& where, SeedSet* out) {
  if (v.IsArray()) {
    out->reserve(v.array.size());
    for (size_t i = 0; i < v.array.size(); ++i) {
      const json::Value& e = v.array[i];
      int64_t id = 0;
      if (e.IsNumber() && e.is_int) {
        id = e.integer;
      } else if (!(e.IsString() && ParseIdText(e.string, &id))) {
        return Status::InvalidArgument(StrFormat("%selement %zu: expected an integer node id, found %s", where.c_str(),
                                                 i, Describe(e).c_str()));
      }
      out->push_back({id, 1.0});
    }
    return Status::Ok();
  }
  if (v.IsObject()) {
    out->reserve(v.object.size());
    for (const auto& [key, val] : v.object) {
      int64_t id = 0;
      if (!ParseIdText(key, &id)) {
        return Status::InvalidArgument(StrFormat("%skey '%s': expected a string holding an integer node id",
                                                 where.c_str(), Truncated(key).c_str()));
      }
      if (!val.IsNumber()) {
        return Status::InvalidArgument(StrFormat("%skey '%s': expected a number (the activation), found %s",
                                                 where.c_str(), key.c_str(), Describe(val).c_str()));
      }
      if (!std::isfinite(val.number)) {
        return Status::InvalidArgument(StrFormat("%skey '%s': expected a finite number (the activation), found %s",
                                                 where.c_str(), key.c_str(), Describe(val).c_str()));
      }
      out->push_back({id, val.number});
    }
    return Status::Ok();
  }
  return Status::InvalidArgument(StrFormat("%sexpected a JSON array of node ids or an object {\"id\": activation}, "
                                           "found %s",
                                           where.c_str(), Describe(v).c_str()));
}

}  // namespace

Status SpreadOptions::Validate() const {
  if (!(decay > 0 && decay <= 1)) return BadOption("decay", "a number in (0, 1]", Num(decay));
  if (!(threshold >= 0) || !std::isfinite(threshold)) return BadOption("threshold", "a number >= 0", Num(threshold));
  if (max_hops < 0 || max_hops > kMaxHops) return BadOption("max_hops", "an integer in [0, 64]", std::to_string(max_hops));
  if (!(min_activation >= 0) || !std::isfinite(min_activation)) {
    return BadOption("min_activation", "a number >= 0", Num(min_activation));
  }
  if (!(tuning.pull_fraction >= 0)) return Status::InvalidArgument("tuning: pull_fraction must be >= 0");
  return Status::Ok();
}

StatusOr<ParsedOptions> ParseOptions(std::string_view text) {
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return parsed.status();
  const json::Value& root = *parsed;
  if (!root.IsObject()) {
    return Status::InvalidArgument(StrFormat("expected a JSON object {\"option\": value, ...}, found %s",
                                             Describe(root).c_str()));
  }
  ParsedOptions out;
  SpreadOptions& o = out.spread;
  std::vector<std::string> seen;
  for (const auto& member : root.object) {
    // Named references, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const std::string& key = member.first;
    const json::Value& v = member.second;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return Status::InvalidArgument("duplicate option '" + Truncated(key) + "'");
    }
    seen.push_back(key);
    auto column = [&](std::string* dst) -> Status {
      if (!v.IsString() || v.string.empty()) return BadOption(key, "a column name (a non-empty string)", Describe(v));
      if (v.string.find('\0') != std::string::npos) {
        return BadOption(key, "a column name without NUL characters", "a NUL character");
      }
      *dst = v.string;
      return Status::Ok();
    };
    auto number = [&](double lo, bool lo_open, double hi, const char* expected, double* dst) -> Status {
      if (!v.IsNumber() || !std::isfinite(v.number) || v.number < lo || (lo_open && v.number == lo) || v.number > hi) {
        return BadOption(key, expected, Describe(v));
      }
      *dst = v.number;
      return Status::Ok();
    };
    auto count = [&](uint64_t* dst) -> Status {
      int64_t i = 0;
      if (!AsInteger(v, 0, kMaxIntOption, &i)) return BadOption(key, "an integer >= 0", Describe(v));
      *dst = static_cast<uint64_t>(i);
      return Status::Ok();
    };
    auto choice = [&](std::initializer_list<const char*> names, const char* expected, int* dst) -> Status {
      if (v.IsString()) {
        int i = 0;
        for (const char* name : names) {
          if (v.string == name) {
            *dst = i;
            return Status::Ok();
          }
          ++i;
        }
      }
      return BadOption(key, expected, Describe(v));
    };
    if (key == "src_col") {
      VG_RETURN_IF_ERROR(column(&out.source.src_col));
    } else if (key == "dst_col") {
      VG_RETURN_IF_ERROR(column(&out.source.dst_col));
    } else if (key == "weight_col") {
      if (v.type == json::Value::Type::kNull) out.source.weight_col.clear();  // every edge weighs 1.0
      else VG_RETURN_IF_ERROR(column(&out.source.weight_col));
    } else if (key == "directed") {
      int64_t i = 0;
      if (v.type == json::Value::Type::kBool) out.source.directed = v.boolean;
      else if (AsInteger(v, 0, 1, &i)) out.source.directed = i == 1;
      else return BadOption(key, "0, 1, true or false", Describe(v));
    } else if (key == "decay") {
      VG_RETURN_IF_ERROR(number(0, true, 1, "a number in (0, 1]", &o.decay));
    } else if (key == "threshold") {
      VG_RETURN_IF_ERROR(number(0, false, HUGE_VAL, "a number >= 0", &o.threshold));
    } else if (key == "min_activation") {
      VG_RETURN_IF_ERROR(number(0, false, HUGE_VAL, "a number >= 0", &o.min_activation));
    } else if (key == "max_hops") {
      int64_t i = 0;
      if (!AsInteger(v, 0, SpreadOptions::kMaxHops, &i)) return BadOption(key, "an integer in [0, 64]", Describe(v));
      o.max_hops = static_cast<int>(i);
    } else if (key == "normalize") {
      int i = 0;
      VG_RETURN_IF_ERROR(choice({"none", "out", "degree", "sqrt_degree"},
                                "'none', 'out', 'degree' or 'sqrt_degree'", &i));
      o.normalize = static_cast<Normalize>(i);
    } else if (key == "accumulate") {
      int i = 0;
      VG_RETURN_IF_ERROR(choice({"sum", "max"}, "'sum' or 'max'", &i));
      o.accumulate = static_cast<Accumulate>(i);
    } else if (key == "refractory") {
      int i = 0;
      VG_RETURN_IF_ERROR(choice({"none", "once"}, "'none' or 'once'", &i));
      o.refractory = static_cast<Refractory>(i);
    } else if (key == "max_fanout") {
      VG_RETURN_IF_ERROR(count(&o.max_fanout));
    } else if (key == "max_frontier") {
      VG_RETURN_IF_ERROR(count(&o.max_frontier));
    } else if (key == "top_k") {
      VG_RETURN_IF_ERROR(count(&o.top_k));
    } else {
      return Status::InvalidArgument("unknown option '" + Truncated(key) + "': expected one of " + kOptionList);
    }
  }
  VG_RETURN_IF_ERROR(o.Validate());
  return out;
}

StatusOr<SeedInput> ParseSeeds(std::string_view text) {
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return parsed.status();
  const json::Value& root = *parsed;
  SeedInput in;
  if (root.IsNumber() || root.IsString()) {
    int64_t id = 0;
    if ((root.IsNumber() && root.is_int) || (root.IsString() && ParseIdText(root.string, &id))) {
      if (root.IsNumber()) id = root.integer;
      in.sets.push_back({{id, 1.0}});
    } else {
      return Status::InvalidArgument("expected an integer node id, a JSON array of ids or an object "
                                     "{\"id\": activation}, found " +
                                     Describe(root));
    }
  } else if (root.IsArray() && !root.array.empty() && (root.array[0].IsArray() || root.array[0].IsObject())) {
    in.batched = true;
    in.sets.resize(root.array.size());
    for (size_t q = 0; q < root.array.size(); ++q) {
      const json::Value& e = root.array[q];
      const std::string where = StrFormat("query %zu: ", q);
      if (!e.IsArray() && !e.IsObject()) {
        return Status::InvalidArgument(StrFormat("query %zu: expected a seed set (a JSON array of ids or an object "
                                                 "{\"id\": activation}) like query 0, found %s",
                                                 q, Describe(e).c_str()));
      }
      VG_RETURN_IF_ERROR(ParseSeedSet(e, where, &in.sets[q]));
    }
  } else if (root.IsArray() || root.IsObject()) {
    in.sets.emplace_back();
    VG_RETURN_IF_ERROR(ParseSeedSet(root, "", &in.sets[0]));
  } else {
    return Status::InvalidArgument("expected an integer node id, a JSON array of ids or an object "
                                   "{\"id\": activation}, found " +
                                   Describe(root));
  }
  for (size_t q = 0; q < in.sets.size(); ++q) {
    auto norm = NormalizeSeeds(std::move(in.sets[q]));
    if (!norm.ok()) return norm.status();
    in.sets[q] = std::move(*norm);
  }
  return in;
}

StatusOr<SeedSet> NormalizeSeeds(SeedSet set) {
  for (const Seed& s : set) {
    if (!std::isfinite(s.activation)) {
      return Status::InvalidArgument(StrFormat("seed %lld: expected a finite activation, found %s",
                                               static_cast<long long>(s.id), Num(s.activation).c_str()));
    }
  }
  std::stable_sort(set.begin(), set.end(), [](const Seed& a, const Seed& b) { return a.id < b.id; });
  SeedSet out;
  out.reserve(set.size());
  for (size_t i = 0; i < set.size();) {
    Seed s = set[i];
    size_t j = i + 1;
    for (; j < set.size() && set[j].id == s.id; ++j) s.activation += set[j].activation;
    if (!std::isfinite(s.activation)) {
      return Status::InvalidArgument(StrFormat("seed %lld: its activations sum to %s",
                                               static_cast<long long>(s.id), Num(s.activation).c_str()));
    }
    if (s.activation > 0) out.push_back(s);
    i = j;
  }
  return out;
}

}  // namespace vecgraph::graph
