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



bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$'; }

// `identifier =` at the start (after blanks): an option, not a column definition.
bool LooksLikeOption(const std::string& arg) {
  size_t i = arg.find_first_not_of(" \t\n\r");
  if (i == std::string::npos || !IsIdentStart(arg[i])) return false;
  while (i < arg.size() && IsIdentChar(arg[i])) ++i;
  while (i < arg.size() && std::isspace(static_cast<unsigned char>(arg[i]))) ++i;
  return i < arg.size() && arg[i] == '=';
}

std::string Short(const std::string& s) { return s.substr(0, 64); }

// Splits a column definition into words: "double-quoted" names (with "" for a quote) are one
// word; outside quotes, blanks before `[`, inside `[...]` and around `=` are dropped, so
// `float [ 768 ]` is `float[768]` and `distance_metric = l2` is `distance_metric=l2`.
Status Words(const std::string& def, std::vector<std::string>* out, std::vector<bool>* quoted) {
  std::string norm;  // def with the blanks above removed (quoted parts kept as they are)
  bool in_quote = false, in_bracket = false;
  for (size_t i = 0; i < def.size(); ++i) {
    const char c = def[i];
    if (!in_quote && c == '+' && i + 1 < def.size() && def[i + 1] == '"') {
      norm += "+ ";  // +"aux name": the + is a word of its own
      continue;
    }
    if (c == '"') in_quote = !in_quote;
    if (!in_quote) {
      if (c == '[') {
        while (!norm.empty() && std::isspace(static_cast<unsigned char>(norm.back()))) norm.pop_back();
        in_bracket = true;
      } else if (c == ']') {
        in_bracket = false;
      } else if (c == '=') {
        while (!norm.empty() && std::isspace(static_cast<unsigned char>(norm.back()))) norm.pop_back();
        norm.push_back(c);
        while (i + 1 < def.size() && std::isspace(static_cast<unsigned char>(def[i + 1]))) ++i;
        continue;
      } else if (in_bracket && std::isspace(static_cast<unsigned char>(c))) {
        continue;
      }
    }
    norm.push_back(c);
  }
  size_t i = 0;
  while (i < norm.size()) {
    const char c = norm[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    std::string w;
    if (c == '"') {
      ++i;
      for (;;) {
        if (i >= norm.size()) {
          return Status::InvalidArgument("hnsw_knn: column definition '" + Short(def) + "': unterminated \"");
        }
        if (norm[i] == '"') {
          if (i + 1 < norm.size() && norm[i + 1] == '"') {
            w.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        w.push_back(norm[i++]);
      }
      out->push_back(w);
      quoted->push_back(true);
      continue;
    }
    while (i < norm.size() && !std::isspace(static_cast<unsigned char>(norm[i]))) w.push_back(norm[i++]);
    out->push_back(w);
    quoted->push_back(false);
  }
  return Status::Ok();
}

bool ValidName(const std::string& w) {
  if (w.empty() || !IsIdentStart(w[0])) return false;
  for (char c : w)
    if (!IsIdentChar(c)) return false;
  return true;
}

std::string QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  return out + "\"";
}

// float[768] / float32[768] → 768; 0 when `w` is not a vector type; -1 for another T[N].
long VectorDim(const std::string& w) {
  size_t b = w.find('[');
  if (b == std::string::npos || w.back() != ']') return 0;
  std::string base = Lower(w.substr(0, b)), num = w.substr(b + 1, w.size() - b - 2);
  if (base != "float" && base != "float32") return -1;
  if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos) return -2;
  const long d = std::strtol(num.c_str(), nullptr, 10);
  return d == 0 ? -3 : d;  // -3: float[0], out of range
}

// quantizer=none|int8 (an index option, or written on the vector column as the issue of typed
// columns spells it: embedding float[768] quantizer=int8).
StatusOr<hnsw::Quantizer> ParseQuantizer(const std::string& value) {
  const std::string v = Lower(Trim(value));
  if (v == "none") return hnsw::Quantizer::kNone;
  if (v == "int8") return hnsw::Quantizer::kInt8;
  return Status::InvalidArgument(StrFormat("expected none or int8, found '%s'", Short(Trim(value)).c_str()));
}

Status ParseOption(const std::string& arg, bool legacy, std::set<std::string>* seen, hnsw::HnswConfig* cfg,
                   bool* have_dim) {
  size_t eq = arg.find('=');
  std::string key = Lower(Trim(arg.substr(0, eq)));
  std::string value = Trim(arg.substr(eq + 1));
  if (!seen->insert(key).second) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: option '%s' is given more than once", Short(key).c_str()));
  }
  uint64_t x = 0;
  if ((key == "dim" || key == "metric") && !legacy) {
    return Status::InvalidArgument(StrFormat(
        "hnsw_knn: option '%s' belongs to the vector column when columns are declared: write "
        "embedding float[768] distance_metric=cosine",
        key.c_str()));
  }
  if (key == "dim") {
    VG_RETURN_IF_ERROR(ParseUint(key, value, hnsw::kMinDim, hnsw::kMaxDim, &x));
    cfg->dim = static_cast<uint32_t>(x);
    *have_dim = true;
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
  } else if (key == "quantizer") {
    auto q = ParseQuantizer(value);
    if (!q.ok()) return q.status().WithPrefix("hnsw_knn: option 'quantizer': ");
    cfg->quantizer = *q;
  } else if (key == "rescore") {
    VG_RETURN_IF_ERROR(ParseUint(key, value, 1, hnsw::kMaxRescore, &x));
    cfg->rescore = static_cast<uint32_t>(x);
  } else {
    return Status::InvalidArgument(StrFormat("hnsw_knn: unknown option '%s' (expected %s)", Short(key).c_str(),
                                             legacy ? "dim, metric, m, ef_construction, ef_search, quantizer, rescore"
                                                    : "m, ef_construction, ef_search, quantizer, rescore"));
  }
  return Status::Ok();
}

struct ParsedColumns {
  bool have_vector = false;
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  bool have_quantizer = false;
  hnsw::Quantizer quantizer = hnsw::Quantizer::kAuto;
  std::string rescore;  // rescore=R written on the vector column (checked with the options)
  size_t partitions = 0, aux = 0, metadata = 0;
};

Status ParseColumn(const std::string& def, const std::string& table, HnswSchema* schema, ParsedColumns* pc,
                   std::set<std::string>* names) {
  std::vector<std::string> w;
  std::vector<bool> quoted;
  VG_RETURN_IF_ERROR(Words(def, &w, &quoted));
  if (w.empty()) return Status::InvalidArgument("hnsw_knn: empty argument (expected a column definition or key=value)");
  bool aux = false;
  if (!quoted[0] && w[0][0] == '+') {
    aux = true;
    if (w[0].size() == 1) {
      w.erase(w.begin());
      quoted.erase(quoted.begin());
      if (w.empty()) return Status::InvalidArgument("hnsw_knn: '+' without a column name");
    } else {
      w[0] = w[0].substr(1);
    }
  }
  const std::string name = w[0];
  if (!quoted[0] && !ValidName(name)) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: '%s' is not a column definition or key=value option",
                                             Short(def).c_str()));
  }
  if (name.empty()) return Status::InvalidArgument("hnsw_knn: a column name is empty");
  const std::string lname = Lower(name);
  for (const char* reserved : {"rowid", "oid", "_rowid_", "distance", "k", "ef", "exact"}) {
    if (lname == reserved) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': the name is reserved (rowid, oid, _rowid_, "
                                               "distance, k, ef and exact are the table's own columns)",
                                               Short(name).c_str()));
    }
  }
  if (lname == Lower(table)) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': the table's own name is its command column",
                                             Short(name).c_str()));
  }
  if (!names->insert(lname).second) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s' is declared twice", Short(name).c_str()));
  }
  const std::string type = w.size() > 1 ? w[1] : "";
  const std::string ltype = Lower(type);
  const long vdim = VectorDim(type);
  if (vdim != 0) {
    if (vdim == -1) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': vector type '%s' is not supported (expected "
                                               "float[N] or float32[N])",
                                               Short(name).c_str(), Short(type).c_str()));
    }
    if (vdim == -2) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': expected float[N] with N a number, found '%s'",
                                               Short(name).c_str(), Short(type).c_str()));
    }
    if (vdim < static_cast<long>(hnsw::kMinDim) || vdim > static_cast<long>(hnsw::kMaxDim)) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': dimension in '%s' must be between %u and %u",
                                               Short(name).c_str(), Short(type).c_str(), hnsw::kMinDim, hnsw::kMaxDim));
    }
    if (aux) return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': a vector column cannot be auxiliary", Short(name).c_str()));
    if (pc->have_vector) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': a table has one vector column ('%s' is declared "
                                               "already)",
                                               Short(name).c_str(), schema->vector_name.c_str()));
    }
    pc->have_vector = true;
    pc->dim = static_cast<uint32_t>(vdim);
    schema->vector_name = name;
    bool have_metric = false;
    for (size_t i = 2; i < w.size(); ++i) {
      std::string lw = Lower(w[i]);
      if (lw.rfind("distance_metric=", 0) == 0 && !have_metric) {
        auto m = ParseMetric(Trim(w[i].substr(16)));
        if (!m.ok()) return m.status().WithPrefix(StrFormat("hnsw_knn: column '%s': distance_metric: ", Short(name).c_str()));
        pc->metric = *m;
        have_metric = true;
      } else if (lw.rfind("quantizer=", 0) == 0 && !pc->have_quantizer) {
        auto q = ParseQuantizer(w[i].substr(10));
        if (!q.ok()) return q.status().WithPrefix(StrFormat("hnsw_knn: column '%s': quantizer: ", Short(name).c_str()));
        pc->quantizer = *q;
        pc->have_quantizer = true;
      } else if (lw.rfind("rescore=", 0) == 0 && pc->rescore.empty()) {
        pc->rescore = w[i];
      } else {
        return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': unexpected '%s' (a vector column takes "
                                                 "distance_metric=cosine|l2|dot, quantizer=none|int8 and rescore=R)",
                                                 Short(name).c_str(), Short(w[i]).c_str()));
      }
    }
    return Status::Ok();
  }
  HnswColumnDef col;
  col.name = name;
  if (aux) {
    col.kind = HnswColumnKind::kAux;
    if (w.size() > 2) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: auxiliary column '%s': unexpected '%s' (write +name [type])",
                                               Short(name).c_str(), Short(w[2]).c_str()));
    }
    if (!type.empty() && !ValidName(type)) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: auxiliary column '%s': bad type '%s'", Short(name).c_str(),
                                               Short(type).c_str()));
    }
    col.declared_type = ltype;
    if (++pc->aux > kMaxAuxColumns) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: too many auxiliary columns (at most %zu)", kMaxAuxColumns));
    }
    schema->columns.push_back(col);
    return Status::Ok();
  }
  if (type.empty()) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s' needs a type (integer, real, text, boolean; or "
                                             "float[N] for the vector column; +%s for an auxiliary column of any type)",
                                             Short(name).c_str(), Short(name).c_str()));
  }
  if (ltype == "integer" || ltype == "int") col.type = hnsw::AttrType::kInteger;
  else if (ltype == "real" || ltype == "float" || ltype == "double") col.type = hnsw::AttrType::kReal;
  else if (ltype == "text") col.type = hnsw::AttrType::kText;
  else if (ltype == "boolean" || ltype == "bool") col.type = hnsw::AttrType::kBoolean;
  else {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': unknown type '%s' (expected integer, real, text or "
                                             "boolean)",
                                             Short(name).c_str(), Short(type).c_str()));
  }
  col.declared_type = hnsw::AttrTypeName(col.type);
  col.kind = HnswColumnKind::kMetadata;
  size_t i = 2;
  if (i + 1 < w.size() && Lower(w[i]) == "partition" && Lower(w[i + 1]) == "key") {
    if (col.type != hnsw::AttrType::kInteger && col.type != hnsw::AttrType::kText) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: partition key '%s' must be integer or text, not %s",
                                               Short(name).c_str(), col.declared_type.c_str()));
    }
    col.kind = HnswColumnKind::kPartition;
    i += 2;
    if (++pc->partitions > kMaxPartitionColumns) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: too many partition keys (at most %zu)", kMaxPartitionColumns));
    }
  }
  if (i < w.size()) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column '%s': unexpected '%s' (a metadata column is `name type` "
                                             "or `name type partition key`)",
                                             Short(name).c_str(), Short(w[i]).c_str()));
  }
  col.attr = static_cast<int>(schema->attrs++);
  if (col.kind == HnswColumnKind::kMetadata && ++pc->metadata > kMaxMetadataColumns) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: too many metadata columns (at most %zu)", kMaxMetadataColumns));
  }
  schema->columns.push_back(col);
  return Status::Ok();
}

Status ParseAll(int argc, const char* const* argv, hnsw::HnswConfig* cfg, HnswSchema* schema, bool options,
                uint32_t* declared_dim) {
  *schema = HnswSchema{};
  const std::string table = argc > 2 && argv[2] ? argv[2] : "";
  // The form: any argument that is not an option makes it the column form.
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i] ? argv[i] : "";
    if (!LooksLikeOption(arg)) schema->legacy = false;
  }
  ParsedColumns pc;
  std::set<std::string> names, seen;
  bool have_dim = false;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i] ? argv[i] : "";
    if (LooksLikeOption(arg)) {
      if (options) VG_RETURN_IF_ERROR(ParseOption(arg, schema->legacy, &seen, cfg, &have_dim));
      continue;
    }
    if (arg.find('=') != std::string::npos && arg.find_first_of(" \t") == std::string::npos &&
        arg.find('[') == std::string::npos && arg.find('"') == std::string::npos) {
      return Status::InvalidArgument(StrFormat("hnsw_knn: option '%s': expected key=value", Short(Trim(arg)).c_str()));
    }
    VG_RETURN_IF_ERROR(ParseColumn(arg, table, schema, &pc, &names));
  }
  if (schema->legacy) {
    if (options && !have_dim) return Status::InvalidArgument("hnsw_knn: option 'dim' is required (e.g. dim=768)");
    if (declared_dim) *declared_dim = 0;
    return Status::Ok();
  }
  if (!pc.have_vector) {
    return Status::InvalidArgument("hnsw_knn: no vector column: declare one as `name float[N]` (e.g. embedding "
                                   "float[768])");
  }
  if (declared_dim) *declared_dim = pc.dim;
  if (options) {
    cfg->dim = pc.dim;
    cfg->metric = pc.metric;
    if (pc.have_quantizer) {
      if (seen.count("quantizer") != 0) {
        return Status::InvalidArgument("hnsw_knn: option 'quantizer' is given more than once (on the vector column "
                                       "and as an option)");
      }
      cfg->quantizer = pc.quantizer;
    }
    if (!pc.rescore.empty()) {
      bool unused = false;
      VG_RETURN_IF_ERROR(ParseOption(pc.rescore, false, &seen, cfg, &unused));
    }
  }
  return Status::Ok();
}

}  // namespace

const char* HnswColumnKindName(HnswColumnKind k) {
  switch (k) {
    case HnswColumnKind::kMetadata: return "metadata";
    case HnswColumnKind::kPartition: return "partition key";
    case HnswColumnKind::kAux: return "auxiliary";
  }
  return "?";
}

std::vector<hnsw::AttrType> HnswSchema::AttrTypes() const {
  std::vector<hnsw::AttrType> t;
  for (const HnswColumnDef& c : columns)
    if (c.attr >= 0) t.push_back(c.type);
  return t;
}

bool HnswSchema::HasPartition() const {
  for (const HnswColumnDef& c : columns)
    if (c.kind == HnswColumnKind::kPartition) return true;
  return false;
}

std::string HnswSchema::DeclareSql(const std::string& table) const {
  std::string sql = "CREATE TABLE x(" + QuoteIdent(vector_name) + " BLOB";
  for (const HnswColumnDef& c : columns) {
    sql += ", " + QuoteIdent(c.name);
    if (c.kind == HnswColumnKind::kAux) {
      if (!c.declared_type.empty()) sql += " " + c.declared_type;
    } else {
      sql += c.type == hnsw::AttrType::kReal ? " REAL" : c.type == hnsw::AttrType::kText ? " TEXT" : " INTEGER";
    }
  }
  sql += ", distance REAL HIDDEN, k INTEGER HIDDEN, ef INTEGER HIDDEN, exact INTEGER HIDDEN, " + QuoteIdent(table) +
         " HIDDEN)";
  return sql;
}

std::string HnswSchema::Canonical(uint32_t dim) const {
  std::string s = vector_name + " float[" + std::to_string(dim) + "]";
  for (const HnswColumnDef& c : columns) {
    s += "\n";
    if (c.kind == HnswColumnKind::kAux) {
      s += "+" + c.name + (c.declared_type.empty() ? "" : " " + c.declared_type);
    } else {
      s += c.name + " " + c.declared_type + (c.kind == HnswColumnKind::kPartition ? " partition key" : "");
    }
  }
  return s;
}

Status ParseHnswArguments(int argc, const char* const* argv, hnsw::HnswConfig* cfg, HnswSchema* schema) {
  VG_RETURN_IF_ERROR(ParseAll(argc, argv, cfg, schema, true, nullptr));
  if (cfg->rescore != 0 && !cfg->Coded()) {
    return Status::InvalidArgument(
        cfg->quantizer == hnsw::Quantizer::kNone
            ? "hnsw_knn: option 'rescore' chooses which nodes of a walk over the int8 codes are re-scored; with "
              "quantizer=none the walk reads the float vectors"
            : StrFormat("hnsw_knn: option 'rescore' chooses which nodes of a walk over the int8 codes are re-scored; "
                        "at %u dimensions the walk reads the float vectors unless quantizer=int8 is given",
                        cfg->dim));
  }
  return cfg->Validate().WithPrefix("hnsw_knn: ");
}

Status ParseHnswSchema(int argc, const char* const* argv, HnswSchema* schema, uint32_t* declared_dim) {
  hnsw::HnswConfig ignored;
  return ParseAll(argc, argv, &ignored, schema, false, declared_dim);
}

Status ParseHnswOptions(int argc, const char* const* argv, hnsw::HnswConfig* cfg) {
  HnswSchema schema;
  return ParseHnswArguments(argc, argv, cfg, &schema);
}

}  // namespace vecgraph::sql
