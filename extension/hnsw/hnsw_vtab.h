// extension/hnsw/hnsw_vtab.h — what the files of the hnsw_knn module share.
//
//   hnsw_options.cpp   CREATE VIRTUAL TABLE arguments
//   hnsw_storage.cpp   the shadow tables: create/drop/rename, header, node rows, the in-memory
//                      index as a cache of them (load, reload, flush of buffered inserts)
//   hnsw_module.cpp      the hnsw_knn module (planning, k-NN and scan cursors, writes,
//                      transactions) and lookup of a table by name
//   hnsw_batch.cpp     hnsw_knn_batch, the table-valued function running a table of queries
//   hnsw_check.cpp     vecgraph_check(index)
//
// Storage (all in the table's own schema, so the index commits, rolls back and survives crashes
// with the data): "<name>_info"(key PRIMARY KEY, value) WITHOUT ROWID holds 'format' and
// 'header' (the engine header, engine/hnsw/hnsw_format.h); "<name>_nodes"(rowid INTEGER PRIMARY
// KEY, vector, record, original) holds one row per node: the vector, the node record (level,
// flags and neighbour rowids) and the unused-since-format-3 'original'.
//   Formats 1 and 2 (written before 0.2): `vector` is the stored vector (for cosine the unit
//   vector the index searches) and, for cosine, `original` the vector as inserted when it
//   differs from the stored one (what SELECT vector shows): a cosine index held every vector
//   twice. They open, are read and are written in their own format.
//   Formats 3 and 4 (new tables): `vector` is the vector as inserted and `original` is always
//   NULL; loading derives the stored form (HnswIndex::StoredForm, a pure function of the
//   vector: the same bits the insert computed), so each vector is on disk once. An older
//   release refuses these formats ("storage format is 3, expected format 1") rather than
//   misread a cosine vector as unit length.
//   Formats 1 and 3 (the 0.1 form, hnsw_knn(dim=..., metric=...)): just these tables.
//   Formats 2 and 4 (declared columns, hnsw_options.h): also 'columns' in <name>_info (the column
//   declarations, HnswSchema::Canonical, checked against the CREATE statement at first use) and
//   "<name>_rows"(rowid INTEGER PRIMARY KEY, c1, ..., cn): one row per live row, column ci holding
//   declared column i (metadata and partition keys as converted, auxiliary values as given).
//   The metadata columns are also kept in memory by the engine (HnswIndex::SetAttributes), where
//   the k-NN filters read them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/common/status.h"
#include "engine/hnsw/hnsw.h"
#include "engine/vector/codec.h"
#include "extension/hnsw/hnsw_options.h"
#include "extension/sqlite_api.h"

namespace vecgraph::sql {

inline constexpr const char* kHnswModule = "hnsw_knn";
// The 'format' row (layouts above). New tables get kHnswStorageFormatSingle / ...ColumnsSingle.
inline constexpr int kHnswStorageFormat = 1;               // 0.1-form table, stored + original vectors
inline constexpr int kHnswStorageFormatColumns = 2;        // declared columns, stored + original vectors
inline constexpr int kHnswStorageFormatSingle = 3;         // 0.1-form table, vectors as inserted
inline constexpr int kHnswStorageFormatColumnsSingle = 4;  // declared columns, vectors as inserted
// The format a new table gets.
inline int NewStorageFormat(bool legacy) { return legacy ? kHnswStorageFormatSingle : kHnswStorageFormatColumnsSingle; }
// Buffered rows are built when this many are pending even without a read (bounds memory).
inline constexpr size_t kMaxPendingRows = 65536;

struct HnswVtab;

// Per connection: the hnsw_knn tables connected on it, by lower-case "schema.name".
struct Registry {
  std::map<std::string, HnswVtab*> tables;
};

// A prepared statement owned by the vtab (SQLITE_PREPARE_PERSISTENT), finalized on disconnect.
struct Stmt {
  sqlite3_stmt* st = nullptr;
  ~Stmt() { sqlite3_finalize(st); }
  void Finalize() {
    sqlite3_finalize(st);
    st = nullptr;
  }
};

struct HnswVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3* db = nullptr;
  Registry* registry = nullptr;
  std::string schema, name;
  // The CREATE arguments at xCreate; replaced by the persisted header's once loaded (the header
  // is the truth; xConnect runs no SQL, see hnsw_module.cpp).
  hnsw::HnswConfig config;
  // The 'format' row (1..4; 0 until read or written). Formats 3 and 4 keep vectors as inserted.
  int format = 0;
  bool VectorsAsInserted() const { return format >= kHnswStorageFormatSingle; }
  // The declared columns (parsed from the CREATE arguments at xCreate and xConnect) and the
  // dimension written in the vector column's type (0 for the 0.1 form).
  HnswSchema decl;
  uint32_t declared_dim = 0;
  std::unique_ptr<hnsw::HnswIndex> index;  // cache of the shadow tables; null until loaded
  int64_t data_version = -1;
  // The largest rowid ever stored (tombstones included), for automatic rowids; none when the
  // table has never had a row.
  std::optional<int64_t> max_rowid;
  bool config_known = false;  // config holds the persisted header's values
  // Buffered INSERTs (vectors as given), built at the next flush point.
  std::vector<int64_t> pending_rowids;
  std::vector<float> pending_vecs;
  std::unordered_set<int64_t> pending_set;
  std::vector<std::vector<hnsw::AttrValue>> pending_attrs;  // per pending row, when decl.attrs > 0
  std::vector<uint32_t> pending_groups;                      // per pending row, when partitioned
  // Partitioned tables: the engine's group number of each partition-key value (PartitionKey),
  // assigned as values appear; in memory only (rebuilt with the index).
  std::map<std::string, uint32_t> part_ids;
  // Set when buffered inserts could not be built (an interrupt, an error): those rows were written
  // by statements that succeeded, so the transaction must not commit without them. Every use of
  // the table (COMMIT included) fails with this message until ROLLBACK; never a silent loss.
  std::string poison;
  size_t poison_rows = 0;
  // How the last k-NN query on this connection was answered (vecgraph_index_info 'last_query'),
  // kept as values and written as JSON only when asked (hnsw_info.cpp): formatting it on every
  // query cost 2-4 % of a query's time.
  struct LastQuery {
    bool set = false;   // a k-NN query ran on this table and connection
    bool none = false;  // ...and no row could pass its conditions (nothing else is set)
    const char* strategy = "";
    const char* reason = "";
    uint64_t rows_wanted = 0;
    const char* from = "";
    bool filtered = false;
    uint64_t passing_estimate = 0;
    bool passing_counted = false;
    uint32_t sampled = 0;
    bool two_hop = false, two_hop_lists = false, correlated = false, fallback = false;
    size_t searches = 0, rows = 0;
    int64_t partitions = -1;  // -1: not partitioned (null), -2: every partition ("all"), else how many
    std::string Json() const;
  } last_query;
  // Device residency key of the live vectors (hnsw_knn_batch on a device): a process-unique id
  // and a version bumped by every change or reload.
  uint64_t object_id = 0;
  uint64_t version = 0;
  Stmt data_version_st, read_header_st, write_header_st, read_format_st, read_all_st, max_rowid_st,
      insert_node_st, update_record_st, delete_node_st, get_row_st, insert_row_st, delete_row_st, get_cols_st,
      read_rows_st, read_columns_st;

  std::string Key() const;
  void FinalizeStatements();
};

inline HnswVtab* Vt(sqlite3_vtab* v) { return reinterpret_cast<HnswVtab*>(v); }

// Restores sqlite3_last_insert_rowid() when it goes out of scope (shadow-table writes set it).
struct KeepLastRowid {
  sqlite3* db;
  sqlite3_int64 saved;
  explicit KeepLastRowid(sqlite3* d) : db(d), saved(sqlite3_last_insert_rowid(d)) {}
  ~KeepLastRowid() { sqlite3_set_last_insert_rowid(db, saved); }
  KeepLastRowid(const KeepLastRowid&) = delete;
  KeepLastRowid& operator=(const KeepLastRowid&) = delete;
};

// ---- hnsw_storage.cpp

// "hnsw_knn: index 'ix': " — the prefix of messages about one index.
std::string IndexPrefix(const HnswVtab* vt);
// sqlite3_mprintf(fmt, a, b) as a std::string (for %w / %Q quoting).
std::string Q(const char* fmt, const std::string& a, const std::string& b);
// Prepares (once) or resets a persistent statement.
Status Prepare(HnswVtab* vt, Stmt* s, const std::string& sql);
// The same for statements run once per row: make_sql() builds the SQL only the first time.
template <typename MakeSql>
Status PrepareOnce(HnswVtab* vt, Stmt* s, MakeSql make_sql) {
  return s->st ? Prepare(vt, s, std::string()) : Prepare(vt, s, make_sql());
}

// Creates <name>_info and <name>_nodes and writes the format row and header of an empty index.
// A name already taken by another table is an error naming it.
Status CreateStorage(HnswVtab* vt);
Status DropStorage(HnswVtab* vt);
// Renames the shadow tables to <new_name>_info / _nodes (an error when those names are taken).
Status RenameStorage(HnswVtab* vt, const std::string& new_name);

// Makes vt->index match the shadow tables (loads or reloads them when needed: first use, after
// a rollback, or when PRAGMA data_version says another connection committed).
Status EnsureLoaded(HnswVtab* vt);
// Reads the persisted header into vt->config when the index is not loaded (a scan needs the
// dimension, not the graph); checks the format row.
Status EnsureConfig(HnswVtab* vt);
// Drops the cache (and the buffered inserts); the next use reloads.
void Invalidate(HnswVtab* vt);
// An error while the table is poisoned (HnswVtab::poison), else Ok.
Status CheckPoison(const HnswVtab* vt);
// Builds the buffered inserts into the index and writes the changed rows. On failure the rows
// are lost and the table is poisoned until ROLLBACK.
Status Flush(HnswVtab* vt);
// Writes what the engine says changed. `fresh` maps rowids whose vector is new to the vector as
// the user gave it (the 'original' column, kept for cosine).
Status WriteChanges(HnswVtab* vt, const std::unordered_map<int64_t, const float*>& fresh);

// Decodes a vector given to an INSERT/UPDATE (a float32 BLOB or JSON text) and checks its
// dimension against the index. `who` names the row in messages ("row 5").
Status ReadInputVector(HnswVtab* vt, sqlite3_value* v, const std::string& who, VectorBuf* out);
// Checks a vector value read back from <name>_nodes: a BLOB of dim × 4 bytes of finite floats
// (Corruption naming the row and column otherwise); borrows the value's bytes.
Status CheckStoredVector(const HnswVtab* vt, sqlite3_value* v, int64_t rowid, const char* column, VectorBuf* out);
// The same for a dimension given explicitly (while loading, before vt->config holds the header's).
Status CheckVectorBlob(const HnswVtab* vt, sqlite3_value* v, int64_t rowid, const char* column, size_t dim,
                       VectorBuf* out);
// Whether a node row's vector as inserted is its `original` value (formats 1 and 2, when not
// NULL) rather than its `vector` (formats 3 and 4 never read `original`; vecgraph_check reports
// one that is set).
bool HasOriginal(const HnswVtab* vt, sqlite3_value* original);
// The vector of rowid as the user inserted it (HasOriginal ? original : vector), checked and copied.
Status ReadUserVector(HnswVtab* vt, int64_t rowid, VectorBuf* out);

// Format 2: the values of a row's declared columns (schema order), from <name>_rows, as
// sqlite3_value copies owned by the caller (sqlite3_value_free). Corruption when the row is
// missing.
Status ReadRowColumns(HnswVtab* vt, int64_t rowid, std::vector<sqlite3_value*>* out);
// A row's declared columns as <name>_rows stores them: attrs[c.attr] for metadata and partition
// keys (converted), raw[i] for auxiliary column i (as given; may be null for NULL).
struct RowValues {
  std::vector<hnsw::AttrValue> attrs;
  std::vector<sqlite3_value*> raw;
};
// Writes (INSERT OR REPLACE) / deletes a row of <name>_rows.
Status WriteRowColumns(HnswVtab* vt, int64_t rowid, const RowValues& values);
Status DeleteRowColumns(HnswVtab* vt, int64_t rowid);
// A metadata or partition value as the column stores it, checked as in a STRICT table: an
// integer/boolean column takes INTEGER (or a REAL / TEXT that converts losslessly), boolean only
// 0 or 1; real takes INTEGER or REAL (or numeric TEXT); text takes TEXT (numbers become their
// text); NULL is NULL; anything else is an error naming the column and the row.
Status ConvertMetadata(const HnswColumnDef& col, sqlite3_value* v, const std::string& who, hnsw::AttrValue* out);
// The right-hand side of a constraint on col, with the column's affinity applied as SQLite does
// for a comparison (numeric for integer/real/boolean, text for text).
hnsw::AttrValue ConstraintValue(const HnswColumnDef& col, sqlite3_value* v);
// Partitioned tables: the partition-key values of a row (its attrs, schema order of attribute
// columns) as one key, and the engine group of that key (a new number for a new key).
std::string PartitionKey(const HnswVtab* vt, const std::vector<hnsw::AttrValue>& attrs);
uint32_t PartitionGroup(HnswVtab* vt, const std::vector<hnsw::AttrValue>& attrs);
// Binds an AttrValue to a statement parameter.
void BindAttr(sqlite3_stmt* st, int i, const hnsw::AttrValue& v);

// True when a node record's flags mark a tombstone.
bool RecordDeleted(const void* rec, int n);

// ---- hnsw_module.cpp

// Finds an hnsw_knn table by name ('schema.table' or a name searched like SQLite does), connecting
// it first if needed. `fn` and `arg` name the caller's argument in messages.
StatusOr<HnswVtab*> FindIndex(sqlite3* db, Registry* reg, const char* fn, const char* arg, const std::string& spec);

// ---- hnsw_batch.cpp / hnsw_check.cpp

extern sqlite3_module kHnswBatchModule;
void HnswCheckFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv);
// ---- hnsw_info.cpp
void HnswIndexInfoFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv);

}  // namespace vecgraph::sql
