// extension/hnsw/hnsw_options.cpp — parses the CREATE VIRTUAL TABLE arguments of hnsw_knn
// (hnsw_options.h has the grammar).
#include "extension/hnsw/hnsw_options.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

#include "engine/vector/codec.h"

namespace vecgraph::sql {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\n\r");
  size_t b = s.find_last_not_of(" \t\n\r");
  if (a == std::string::npos) return "";
  s = s.substr(a, b - a + 1);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  return s;
}

Status ParseUint(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) || errno != 0 || *end != '\0' || x < lo ||
      x > hi) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: option '%s': expected an integer between %llu and %llu, found '%s'",
                                             key.c_str(), static_cast<unsigned long long>(lo),
                                             static_cast<unsigned long long>(hi), v.substr(0, 64).c_str()));
  }
  *out = x;
  return Status::Ok();
}

}  // namespace

Status ParseHnswOptions(int argc, const char* const* argv, hnsw::HnswConfig* cfg) {
  bool have_dim = false;
  std::set<std::string> seen;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i] ? argv[i] : "";
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: option '%s': expected key=value", Trim(arg).substr(0, 64).c_str()));
    }
    std::string key = Lower(Trim(arg.substr(0, eq)));
    std::string value = Trim(arg.substr(eq + 1));
    if (!seen.insert(key).second) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: option '%s' is given more than once", key.substr(0, 64).c_str()));
    }
    uint64_t x = 0;
    if (key == "dim") {
      VG_RETURN_IF_ERROR(ParseUint(key, value, hnsw::kMinDim, hnsw::kMaxDim, &x));
      cfg->dim = static_cast<uint32_t>(x);
      have_dim = true;
    } else if (key == "metric") {
      auto m = ParseMetric(value);
      if (!m.ok()) return m.status().WithPrefix("hnsw_knn: option 'metric': ");
      cfg->metric = *m;
    } else if (key == "m") {
      VG_RETURN_IF_ERROR(ParseUint(key, value, hnsw::kMinM, hnsw::kMaxM, &x));
      cfg->M = static_cast<uint32_t>(x);
    } else if (key == "ef_construction") {
      VG_RETURN_IF_ERROR(ParseUint(key, value, 1, hnsw::kMaxEf, &x));
      cfg->ef_construction = static_cast<uint32_t>(x);
    } else if (key == "ef_search") {
      VG_RETURN_IF_ERROR(ParseUint(key, value, 1, hnsw::kMaxEf, &x));
      cfg->ef_search = static_cast<uint32_t>(x);
    } else {
      return Status::InvalidArgument(StrFormat(
          "hnsw_knn: unknown option '%s' (expected dim, metric, m, ef_construction, ef_search)", key.substr(0, 64).c_str()));
    }
  }
  if (!have_dim) return Status::InvalidArgument("hnsw_knn: option 'dim' is required (e.g. dim=768)");
  return cfg->Validate().WithPrefix("hnsw_knn: ");
}

}  // namespace vecgraph::sql
