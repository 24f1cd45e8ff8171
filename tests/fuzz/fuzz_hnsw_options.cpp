// tests/fuzz/fuzz_hnsw_options.cpp — the arguments of CREATE VIRTUAL TABLE ... USING hnsw_knn(...)
// (vecgraph::sql::ParseHnswOptions, extension/hnsw/hnsw_options.h).
//
// The input is split on commas into module arguments (as SQLite hands them to xCreate: argv[0..2]
// are module, schema and table, the options follow). Checked besides "no crash":
//   - success ⇒ the config passes HnswConfig::Validate() and has a dim (it is required);
//   - success ⇒ the same arguments in reverse order give the same config (keys are unique, so
//     the order cannot matter);
//   - success ⇒ the config printed back as canonical options ("dim=3,metric=l2,m=16,...")
//     parses to the same config;
//   - failure ⇒ a message that starts with "hnsw_knn: ".
#include <cstdint>
#include <string>
#include <vector>

#include "engine/hnsw/hnsw_config.h"
#include "engine/vector/codec.h"
#include "extension/hnsw/hnsw_options.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vecgraph::hnsw::HnswConfig;

bool Same(const HnswConfig& a, const HnswConfig& b) {
  return a.dim == b.dim && a.metric == b.metric && a.M == b.M && a.ef_construction == b.ef_construction &&
         a.ef_search == b.ef_search && a.seed == b.seed && a.keep_pruned_connections == b.keep_pruned_connections;
}

vecgraph::Status Parse(const std::vector<std::string>& options, HnswConfig* cfg) {
  std::vector<const char*> argv = {"hnsw_knn", "main", "ix"};
  for (const std::string& o : options) argv.push_back(o.c_str());
  return vecgraph::sql::ParseHnswOptions(static_cast<int>(argv.size()), argv.data(), cfg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::vector<std::string> options(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == ',') options.emplace_back();
    else options.back().push_back(static_cast<char>(data[i]));
  }
  if (size == 0) options.clear();  // CREATE VIRTUAL TABLE ix USING hnsw_knn (no arguments)

  HnswConfig cfg;
  vecgraph::Status st = Parse(options, &cfg);
  if (!st.ok()) {
    FUZZ_CHECK(st.message().rfind("hnsw_knn: ", 0) == 0, "error message without the module prefix: '%s'",
               st.message().c_str());
    return 0;
  }
  vecgraph::Status valid = cfg.Validate();
  FUZZ_CHECK(valid.ok(), "ParseHnswOptions accepted a config that Validate() rejects: %s", valid.message().c_str());
  FUZZ_CHECK(cfg.dim >= vecgraph::hnsw::kMinDim, "accepted without a dim");

  std::vector<std::string> reversed(options.rbegin(), options.rend());
  HnswConfig cfg2;
  vecgraph::Status st2 = Parse(reversed, &cfg2);
  FUZZ_CHECK(st2.ok(), "the same options in reverse order fail: %s", st2.message().c_str());
  FUZZ_CHECK(Same(cfg, cfg2), "the same options in reverse order give another config");

  std::vector<std::string> canonical = {
      "dim=" + std::to_string(cfg.dim), std::string("metric=") + vecgraph::MetricName(cfg.metric),
      "m=" + std::to_string(cfg.M), "ef_construction=" + std::to_string(cfg.ef_construction),
      "ef_search=" + std::to_string(cfg.ef_search)};
  HnswConfig cfg3;
  vecgraph::Status st3 = Parse(canonical, &cfg3);
  FUZZ_CHECK(st3.ok(), "the canonical form of an accepted config fails: %s", st3.message().c_str());
  FUZZ_CHECK(Same(cfg, cfg3), "the canonical form of an accepted config parses to another config");
  return 0;
}
