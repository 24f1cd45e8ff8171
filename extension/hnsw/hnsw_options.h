// extension/hnsw/hnsw_options.h — the arguments of CREATE VIRTUAL TABLE ... USING hnsw_knn(...):
// column definitions and index options (as FTS5's fts5_config.c reads both).
//
//   CREATE VIRTUAL TABLE docs USING hnsw_knn(
//     embedding float[768] distance_metric=cosine,  -- the vector column (any name): float[N] or float32[N]
//     category integer, lang text, published real, draft boolean,   -- metadata: filterable in k-NN
//     user_id integer partition key,               -- partition key: integer or text, filterable
//     +body text,                                  -- auxiliary: stored and returned, any type
//     m=16, ef_construction=200, ef_search=64);    -- index options
//
//   CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=768, metric=cosine, m=16, ...);   -- the 0.1 form
//
// An argument that starts with `identifier =` is an option; anything else is a column
// definition. Options: `key=value` (spaces around either ignored, the value may be quoted with
// '...' or "..."), keys case-insensitive, each at most once: dim and metric (0.1 form only),
// m, ef_construction, ef_search. Column names: identifiers or "double-quoted", unique
// (case-insensitive) and none of rowid, oid, _rowid_, distance, k, ef, exact or the table's own
// name. Exactly one vector column when any column is declared; its distance_metric defaults to
// l2 (as in sqlite-vec's vec0); the 0.1 form's metric defaults to cosine.
// Metadata types: integer/int, real/float/double, text, boolean/bool (values are checked as in a
// STRICT table); partition keys: integer or text. Limits (those of sqlite-vec's vec0):
// kMaxMetadataColumns metadata columns, kMaxPartitionColumns partition keys and kMaxAuxColumns
// auxiliary columns.
// Messages read "hnsw_knn: option 'm': expected an integer between 2 and 128, found '1'" or
// "hnsw_knn: column 'lang': unknown type 'varchar' (expected integer, real, text or boolean)".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/hnsw/attributes.h"
#include "engine/hnsw/hnsw_config.h"

namespace vecgraph::sql {

inline constexpr size_t kMaxMetadataColumns = 16;
inline constexpr size_t kMaxPartitionColumns = 4;
inline constexpr size_t kMaxAuxColumns = 16;

enum class HnswColumnKind : uint8_t { kMetadata = 0, kPartition, kAux };
const char* HnswColumnKindName(HnswColumnKind k);  // "metadata", "partition key", "auxiliary"

struct HnswColumnDef {
  std::string name;
  HnswColumnKind kind = HnswColumnKind::kMetadata;
  hnsw::AttrType type = hnsw::AttrType::kInteger;  // metadata and partition keys
  std::string declared_type;                       // as written, lower-case (may be empty for aux)
  int attr = -1;                                   // engine attribute column (metadata, partition)
};

// The table's columns. SQLite column numbers: 0 the vector, 1..n the declared columns in order,
// then the hidden distance, k, ef, exact and the command column named after the table.
struct HnswSchema {
  bool legacy = true;  // the 0.1 form: no column definitions, one column named `vector`
  std::string vector_name = "vector";
  std::vector<HnswColumnDef> columns;
  size_t attrs = 0;  // metadata + partition columns

  int ColDistance() const { return 1 + static_cast<int>(columns.size()); }
  int ColK() const { return ColDistance() + 1; }
  int ColEf() const { return ColDistance() + 2; }
  int ColExact() const { return ColDistance() + 3; }
  int ColCommand() const { return ColDistance() + 4; }
  // The declared column of SQLite column number col, or null (vector, hidden).
  const HnswColumnDef* User(int col) const {
    return col >= 1 && col <= static_cast<int>(columns.size()) ? &columns[static_cast<size_t>(col - 1)] : nullptr;
  }
  std::vector<hnsw::AttrType> AttrTypes() const;
  bool HasPartition() const;
  // The CREATE TABLE statement for sqlite3_declare_vtab.
  std::string DeclareSql(const std::string& table) const;
  // One line per column ("embedding float[768]", "category integer", "user_id integer partition
  // key", "+body text"), persisted in <name>_info so a reopened table can be checked against it.
  std::string Canonical(uint32_t dim) const;
};

// argv[0..2] are the module, schema and table names (as SQLite passes them to xCreate/xConnect);
// the arguments are argv[3..argc). Fills *cfg (defaults for what is not given) and *schema, and
// validates both.
Status ParseHnswArguments(int argc, const char* const* argv, hnsw::HnswConfig* cfg, HnswSchema* schema);
// The columns only (xConnect: the persisted header is the truth for the options, and a table an
// older release created must open even if this release would reject one of its options).
Status ParseHnswSchema(int argc, const char* const* argv, HnswSchema* schema, uint32_t* declared_dim);
// ParseHnswArguments without the schema (the fuzz target and tests of options).
Status ParseHnswOptions(int argc, const char* const* argv, hnsw::HnswConfig* cfg);

}  // namespace vecgraph::sql
