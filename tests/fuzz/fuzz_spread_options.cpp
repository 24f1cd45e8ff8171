// tests/fuzz/fuzz_spread_options.cpp — the options JSON of spread_activation
// (vecgraph::graph::ParseOptions, engine/graph/spread.h), and through it the JSON reader
// (engine/common/json.h: depth cap, escapes, numbers, duplicate keys).
//
// Checked besides "no crash":
//   - success ⇒ SpreadOptions::Validate() is ok and the column names are non-empty without NUL
//     (weight_col may be empty: no weight column);
//   - success ⇒ the options printed back as canonical JSON (every key, numbers with 17
//     significant digits, strings escaped by json::AppendString) parse to the same options: the
//     number reader rounds correctly and the string escapes round-trip;
//   - failure ⇒ a non-empty message.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "engine/common/json.h"
#include "engine/graph/spread.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace graph = vecgraph::graph;

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* NormalizeName(graph::Normalize n) {
  switch (n) {
    case graph::Normalize::kNone: return "none";
    case graph::Normalize::kOut: return "out";
    case graph::Normalize::kDegree: return "degree";
    case graph::Normalize::kSqrtDegree: return "sqrt_degree";
  }
  return "?";
}

std::string Canonical(const graph::ParsedOptions& p) {
  const graph::SpreadOptions& o = p.spread;
  std::string s = "{\"src_col\": ";
  vecgraph::json::AppendString(&s, p.source.src_col);
  s += ", \"dst_col\": ";
  vecgraph::json::AppendString(&s, p.source.dst_col);
  s += ", \"weight_col\": ";
  if (p.source.weight_col.empty()) s += "null";
  else vecgraph::json::AppendString(&s, p.source.weight_col);
  s += std::string(", \"directed\": ") + (p.source.directed ? "true" : "false");
  s += ", \"decay\": " + Number(o.decay);
  s += ", \"threshold\": " + Number(o.threshold);
  s += ", \"max_hops\": " + std::to_string(o.max_hops);
  s += std::string(", \"normalize\": \"") + NormalizeName(o.normalize) + "\"";
  s += std::string(", \"accumulate\": \"") + (o.accumulate == graph::Accumulate::kMax ? "max" : "sum") + "\"";
  s += std::string(", \"refractory\": \"") + (o.refractory == graph::Refractory::kOnce ? "once" : "none") + "\"";
  s += ", \"max_fanout\": " + std::to_string(o.max_fanout);
  s += ", \"max_frontier\": " + std::to_string(o.max_frontier);
  s += ", \"top_k\": " + std::to_string(o.top_k);
  s += ", \"min_activation\": " + Number(o.min_activation) + "}";
  return s;
}

bool Same(const graph::ParsedOptions& a, const graph::ParsedOptions& b) {
  const graph::SpreadOptions &x = a.spread, &y = b.spread;
  return a.source.src_col == b.source.src_col && a.source.dst_col == b.source.dst_col &&
         a.source.weight_col == b.source.weight_col && a.source.directed == b.source.directed &&
         x.decay == y.decay && x.threshold == y.threshold && x.max_hops == y.max_hops && x.normalize == y.normalize &&
         x.accumulate == y.accumulate && x.refractory == y.refractory && x.max_fanout == y.max_fanout &&
         x.max_frontier == y.max_frontier && x.top_k == y.top_k && x.min_activation == y.min_activation;
}

bool ColumnOk(const std::string& c) { return !c.empty() && c.find('\0') == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = graph::ParseOptions(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty(), "ParseOptions failed without a message");
    return 0;
  }
  const graph::ParsedOptions& p = *parsed;
  vecgraph::Status valid = p.spread.Validate();
  FUZZ_CHECK(valid.ok(), "ParseOptions accepted options that Validate() rejects: %s", valid.message().c_str());
  FUZZ_CHECK(ColumnOk(p.source.src_col) && ColumnOk(p.source.dst_col), "accepted an empty or NUL column name");
  FUZZ_CHECK(p.source.weight_col.find('\0') == std::string::npos, "accepted a weight column name with NUL");
  FUZZ_CHECK(std::isfinite(p.spread.threshold) && std::isfinite(p.spread.min_activation), "accepted a non-finite number");

  std::string canonical = Canonical(p);
  auto again = graph::ParseOptions(canonical);
  FUZZ_CHECK(again.ok(), "the canonical form of accepted options fails: %s\n  canonical: %.500s",
             again.status().message().c_str(), canonical.c_str());
  FUZZ_CHECK(Same(p, *again), "the canonical form parses to other options\n  canonical: %.500s", canonical.c_str());
  return 0;
}
