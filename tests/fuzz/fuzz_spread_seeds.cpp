// tests/fuzz/fuzz_spread_seeds.cpp — the seeds argument of spread_activation
// (vecgraph::graph::ParseSeeds and NormalizeSeeds, engine/graph/spread.h).
//
// Each input is used twice:
//   1. as JSON text for ParseSeeds. Success ⇒ one set unless batched; every set is normalized:
//      ids strictly ascending, activations finite and > 0; NormalizeSeeds on it again is a no-op.
//   2. as bytes (FuzzedDataProvider) that build raw seed sets — ids from a small or the full int64
//      range, activations including 0, -0, ±DBL_MAX, denormals, ±inf and NaN — for NormalizeSeeds,
//      compared with a reference: error iff an activation or a per-id sum (added in input order)
//      is not finite; otherwise the ids with sum > 0, ascending, with exactly those sums.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string_view>
#include <vector>

#include "engine/graph/spread.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace graph = vecgraph::graph;

void CheckNormalized(const graph::SeedSet& s, const char* what) {
  for (size_t i = 0; i < s.size(); ++i) {
    FUZZ_CHECK(std::isfinite(s[i].activation) && s[i].activation > 0, "%s: seed %lld has activation %g", what,
               static_cast<long long>(s[i].id), s[i].activation);
    if (i) {
      FUZZ_CHECK(s[i - 1].id < s[i].id, "%s: ids not strictly ascending: %lld then %lld", what,
                 static_cast<long long>(s[i - 1].id), static_cast<long long>(s[i].id));
    }
  }
}

bool SameSet(const graph::SeedSet& a, const graph::SeedSet& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].activation != b[i].activation) return false;
  }
  return true;
}

void FuzzText(std::string_view text) {
  auto in = graph::ParseSeeds(text);
  if (!in.ok()) {
    FUZZ_CHECK(!in.status().message().empty(), "ParseSeeds failed without a message");
    return;
  }
  if (!in->batched) FUZZ_CHECK(in->sets.size() == 1, "a plain seed input gave %zu sets", in->sets.size());
  for (const graph::SeedSet& s : in->sets) {
    CheckNormalized(s, "ParseSeeds");
    auto again = graph::NormalizeSeeds(s);
    FUZZ_CHECK(again.ok(), "NormalizeSeeds of a normalized set fails: %s", again.status().message().c_str());
    FUZZ_CHECK(SameSet(s, *again), "NormalizeSeeds of a normalized set changes it");
  }
}

double Activation(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 11)) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return 1.0;
    case 3: return -1.0;
    case 4: return std::numeric_limits<double>::max();
    case 5: return -std::numeric_limits<double>::max();
    case 6: return std::numeric_limits<double>::denorm_min();
    case 7: return std::numeric_limits<double>::infinity();
    case 8: return -std::numeric_limits<double>::infinity();
    case 9: return std::numeric_limits<double>::quiet_NaN();
    case 10: return p.ConsumeFloatingPointInRange<double>(-2.0, 2.0);
    default: return p.ConsumeFloatingPoint<double>();
  }
}

void FuzzRaw(FuzzedDataProvider& p) {
  graph::SeedSet set;
  size_t n = p.ConsumeIntegralInRange<size_t>(0, 64);
  bool small_ids = p.ConsumeBool();
  for (size_t i = 0; i < n && p.remaining_bytes() > 0; ++i) {
    int64_t id = small_ids ? p.ConsumeIntegralInRange<int64_t>(-3, 8) : p.ConsumeIntegral<int64_t>();
    set.push_back({id, Activation(p)});
  }
  // Reference.
  bool expect_error = false;
  std::map<int64_t, double> sums;
  for (const graph::Seed& s : set) {
    if (!std::isfinite(s.activation)) expect_error = true;
    auto [it, fresh] = sums.emplace(s.id, s.activation);
    if (!fresh) it->second += s.activation;
  }
  for (const auto& [id, sum] : sums) {
    if (!std::isfinite(sum)) expect_error = true;
  }
  auto got = graph::NormalizeSeeds(set);
  FUZZ_CHECK(got.ok() == !expect_error, "NormalizeSeeds returned %s, expected %s", got.ok() ? "ok" : "an error",
             expect_error ? "an error" : "ok");
  if (!got.ok()) return;
  CheckNormalized(*got, "NormalizeSeeds");
  graph::SeedSet want;
  for (const auto& [id, sum] : sums) {
    if (sum > 0) want.push_back({id, sum});
  }
  FUZZ_CHECK(SameSet(*got, want), "NormalizeSeeds differs from the reference (%zu vs %zu seeds)", got->size(),
             want.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  FuzzText(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider p(data, size);
  FuzzRaw(p);
  return 0;
}
