// extension/hnsw_vtab.cpp — the hnsw_knn virtual table: a persistent, transactional HNSW index.
//
//   CREATE VIRTUAL TABLE docs_idx USING hnsw_knn(dim=768, metric=cosine, m=16,
//                                                ef_construction=200, ef_search=64);
//   INSERT INTO docs_idx(rowid, vector) SELECT id, emb FROM docs;          -- bulk: built in parallel
//   SELECT rowid, distance FROM docs_idx WHERE vector MATCH :q AND k = 10; -- k-NN, ordered by distance
//     [AND ef = 200] [AND exact = 1] [AND rowid IN (SELECT id FROM docs WHERE ...)] [AND rowid > 100]
//   SELECT rowid, vector FROM docs_idx [WHERE rowid = ?];                   -- like a table
//   INSERT INTO docs_idx(docs_idx) VALUES ('optimize');                    -- purge deletes, repair
//   SELECT vecgraph_check('docs_idx');                                      -- 'ok' or the problems
//   SELECT query_id, rowid, distance, rank
//     FROM hnsw_knn_batch('docs_idx', 'queries', 'embedding', 10 [, ef]);  -- every query of a table
//
// Columns: vector (BLOB); hidden: distance, k, ef, exact, and a command column named after the
// table (as FTS5 does) for 'optimize'.
//
// Storage (all in the same database, so the index commits, rolls back and survives crashes with
// the data): "<name>_info"(key PRIMARY KEY, value) holds 'format' (1) and 'header' (the engine
// header, engine/hnsw/hnsw_format.h); "<name>_nodes"(rowid INTEGER PRIMARY KEY, vector, record,
// original) holds one row per node: the stored vector (unit-length for cosine), the node record
// (level and neighbour rowids) and, for cosine, the vector as inserted (what SELECT vector shows).
// Only changed node rows are written per statement; nothing rewrites the whole index.
//
// The in-memory HnswIndex is a cache: loaded lazily, dropped on ROLLBACK / ROLLBACK TO (including
// a failed statement's implicit savepoint) and reloaded when `PRAGMA data_version` says another
// connection or process committed. Everything read back is bounds-checked by the engine
// (HnswIndex::Load → Corruption naming the rowid), so a hostile file gives an error, not a crash.
// INSERTs are buffered and built in parallel (deterministically, engine/hnsw/hnsw.h) before the
// next read, write, savepoint or commit of this table.
//
// xBestIndex encoding: idxNum = 1 for a k-NN plan (MATCH on vector), 0 for a scan; idxStr lists
// the argv order, one letter per constraint: 'M' MATCH query, 'K' k, 'E' ef, 'X' exact,
// '=' rowid EQ, 'I' rowid IN (all values at once via sqlite3_vtab_in), '>' '≥'→'G' '<' '≤'→'L'
// rowid ranges. A scan consumes only rowid constraints (EQ / ranges) and is ordered by rowid.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/hnsw/hnsw.h"
#include "engine/vector/codec.h"
#include "extension/functions.h"
#include "extension/hnsw_options.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

constexpr const char* kModule = "hnsw_knn";
constexpr int kFormatVersion = 1;
// Buffered rows are built when this many are pending even without a read (bounds memory).
constexpr size_t kMaxPendingRows = 65536;

enum Column { kColVector = 0, kColDistance, kColK, kColEf, kColExact, kColCommand };

struct HnswVtab;

// Per connection: the hnsw_knn tables connected on it, by lower-case "schema.name".
struct Registry {
  std::map<std::string, HnswVtab*> tables;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A prepared statement owned by the vtab (SQLITE_PREPARE_PERSISTENT), finalized on disconnect.
struct Stmt {
  sqlite3_stmt* st = nullptr;
  ~Stmt() { sqlite3_finalize(st); }
};

struct HnswVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3* db = nullptr;
  Registry* registry = nullptr;
  std::string schema, name;
  hnsw::HnswConfig config;
  std::unique_ptr<hnsw::HnswIndex> index;  // cache of the shadow tables; null until loaded
  int64_t data_version = -1;
  int64_t max_rowid = 0;                   // largest rowid ever stored (automatic rowids)
  // Buffered INSERTs (originals as given), built at the next flush point.
  std::vector<int64_t> pending_rowids;
  std::vector<float> pending_vecs;
  std::unordered_set<int64_t> pending_set;
  // Device residency key of the live vectors (hnsw_knn_batch on a device): a process-unique id
  // and a version bumped by every change or reload.
  uint64_t object_id = 0;
  uint64_t version = 0;
  Stmt data_version_st, read_header_st, write_header_st, read_all_st, insert_node_st, update_record_st,
      delete_node_st, get_row_st;

  std::string Key() const { return Lower(schema + "." + name); }
  std::string Shadow(const char* suffix) const { return name + suffix; }
};

struct HnswCursor {
  sqlite3_vtab_cursor base; /* must be first */
  bool knn = false;
  // k-NN results
  std::vector<hnsw::HnswHit> hits;
  size_t pos = 0;
  int64_t k = 0, ef = 0, exact = 0;
  // scan
  sqlite3_stmt* scan = nullptr;
  bool eof = true;
  int64_t rowid = 0;
};

HnswVtab* Vt(sqlite3_vtab* v) { return reinterpret_cast<HnswVtab*>(v); }

int Fail(HnswVtab* vt, const Status& st) {
  VtabError(&vt->base, st.message());
  return StatusToSqlite(st);
}
int Fail(HnswVtab* vt, const std::string& msg, int rc = SQLITE_ERROR) {
  VtabError(&vt->base, msg);
  return rc;
}

Status SqlError(sqlite3* db, const char* what) {
  return Status::Internal(StrFormat("hnsw_knn: %s: %s", what, sqlite3_errmsg(db)));
}

Status Prepare(HnswVtab* vt, Stmt* s, const std::string& sql) {
  if (s->st) {
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    return Status::Ok();
  }
  if (sqlite3_prepare_v3(vt->db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s->st, nullptr) != SQLITE_OK) {
    return SqlError(vt->db, "preparing a shadow-table statement");
  }
  return Status::Ok();
}

std::string Q(const char* fmt, const std::string& a, const std::string& b) {
  char* s = sqlite3_mprintf(fmt, a.c_str(), b.c_str());
  std::string out = s ? s : "";
  sqlite3_free(s);
  return out;
}

// ---- storage -------------------------------------------------------------------------------

Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::Internal(StrFormat("hnsw_knn: %s", err ? err : sqlite3_errmsg(db)));
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Status WriteHeader(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->write_header_st,
                             Q("INSERT OR REPLACE INTO \"%w\".\"%w_info\"(key, value) VALUES ('header', ?1)", vt->schema,
                               vt->name)));
  std::vector<uint8_t> bytes = vt->index->Header().Encode();
  sqlite3_bind_blob(vt->write_header_st.st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(vt->write_header_st.st);
  sqlite3_reset(vt->write_header_st.st);
  return rc == SQLITE_DONE ? Status::Ok() : SqlError(vt->db, "writing the index header");
}

StatusOr<hnsw::HnswHeader> ReadHeader(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->read_header_st,
                             Q("SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'header'", vt->schema, vt->name)));
  sqlite3_stmt* st = vt->read_header_st.st;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
      return Status::Corruption(StrFormat("hnsw_knn: index '%s' has no header row in %s_info", vt->name.c_str(),
                                          vt->name.c_str()));
    }
    return SqlError(vt->db, "reading the index header");
  }
  const void* p = sqlite3_column_blob(st, 0);
  int n = sqlite3_column_bytes(st, 0);
  std::vector<uint8_t> bytes(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + (p ? n : 0));
  sqlite3_reset(st);
  auto h = hnsw::HnswHeader::Decode(bytes);
  if (!h.ok()) return h.status().WithPrefix(StrFormat("hnsw_knn: index '%s': ", vt->name.c_str()));
  return h;
}

// Streams the node rows to the engine's loader.
class SqlRecordSource final : public hnsw::RecordSource {
 public:
  explicit SqlRecordSource(sqlite3_stmt* st) : st_(st) {}
  StatusOr<bool> Next(hnsw::NodeRow* row) override {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return Status::Internal("hnsw_knn: reading node rows failed");
    row->rowid = sqlite3_column_int64(st_, 0);
    auto span = [&](int col) {
      const void* p = sqlite3_column_blob(st_, col);
      int n = sqlite3_column_bytes(st_, col);
      return std::span<const uint8_t>(static_cast<const uint8_t*>(p), p ? static_cast<size_t>(n) : 0);
    };
    row->vector = span(1);
    row->record = span(2);
    return true;
  }

 private:
  sqlite3_stmt* st_;
};

StatusOr<int64_t> DataVersion(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->data_version_st, Q("PRAGMA \"%w\".data_version", vt->schema, "")));
  sqlite3_stmt* st = vt->data_version_st.st;
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return v;
}

void Invalidate(HnswVtab* vt) {
  vt->index.reset();
  ++vt->version;
  vt->data_version = -1;
  vt->pending_rowids.clear();
  vt->pending_vecs.clear();
  vt->pending_set.clear();
}

// Makes vt->index match the shadow tables (loads or reloads when needed).
Status EnsureLoaded(HnswVtab* vt) {
  auto v = DataVersion(vt);
  if (!v.ok()) return v.status();
  if (vt->index && *v == vt->data_version) return Status::Ok();
  if (vt->index && !vt->pending_rowids.empty()) {
    // Cannot happen (another connection cannot commit while this one has uncommitted writes).
    return Status::Internal("hnsw_knn: the database changed under buffered inserts");
  }
  auto header = ReadHeader(vt);
  if (!header.ok()) return header.status();
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->read_all_st,
                             Q("SELECT rowid, vector, record FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name)));
  SqlRecordSource source(vt->read_all_st.st);
  hnsw::HnswConfig runtime = vt->config;
  auto idx = hnsw::HnswIndex::Load(*header, source, &runtime);
  sqlite3_reset(vt->read_all_st.st);
  if (!idx.ok()) return idx.status().WithPrefix(StrFormat("hnsw_knn: index '%s': ", vt->name.c_str()));
  vt->index = std::move(*idx);
  vt->config = vt->index->config();
  vt->data_version = *v;
  ++vt->version;
  // The largest rowid ever stored, tombstones included (automatic rowids never reuse one).
  sqlite3_stmt* st = nullptr;
  std::string sql = Q("SELECT max(rowid) FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name);
  if (sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    vt->max_rowid = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return Status::Ok();
}

// Writes what the engine says changed. `fresh` maps rowids whose vector is new to the vector as
// the user gave it (the 'original' column, kept for cosine).
Status WriteChanges(HnswVtab* vt, const std::unordered_map<int64_t, const float*>& fresh) {
  hnsw::HnswChanges ch = vt->index->TakeChanges();
  if (ch.empty()) return Status::Ok();
  ++vt->version;
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->delete_node_st,
                             Q("DELETE FROM \"%w\".\"%w_nodes\" WHERE rowid = ?1", vt->schema, vt->name)));
  for (int64_t r : ch.erased) {
    sqlite3_bind_int64(vt->delete_node_st.st, 1, r);
    int rc = sqlite3_step(vt->delete_node_st.st);
    sqlite3_reset(vt->delete_node_st.st);
    if (rc != SQLITE_DONE) return SqlError(vt->db, "deleting a node row");
  }
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->insert_node_st,
                             Q("INSERT OR REPLACE INTO \"%w\".\"%w_nodes\"(rowid, vector, record, original) "
                               "VALUES (?1, ?2, ?3, ?4)",
                               vt->schema, vt->name)));
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->update_record_st,
                             Q("UPDATE \"%w\".\"%w_nodes\" SET record = ?2 WHERE rowid = ?1", vt->schema, vt->name)));
  const size_t dim = vt->config.dim;
  for (int64_t r : ch.written) {
    auto rec = vt->index->EncodeNode(r);
    if (!rec.ok()) return rec.status();
    auto it = fresh.find(r);
    sqlite3_stmt* st;
    if (it != fresh.end()) {
      auto vec = vt->index->StoredVector(r);
      if (!vec.ok()) return vec.status();
      st = vt->insert_node_st.st;
      sqlite3_bind_int64(st, 1, r);
      sqlite3_bind_blob(st, 2, vec->data(), static_cast<int>(vec->size() * sizeof(float)), SQLITE_TRANSIENT);
      sqlite3_bind_blob(st, 3, rec->data(), static_cast<int>(rec->size()), SQLITE_TRANSIENT);
      if (vt->config.metric == Metric::kCosine && std::memcmp(vec->data(), it->second, dim * sizeof(float)) != 0) {
        sqlite3_bind_blob(st, 4, it->second, static_cast<int>(dim * sizeof(float)), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_null(st, 4);
      }
    } else {
      st = vt->update_record_st.st;
      sqlite3_bind_int64(st, 1, r);
      sqlite3_bind_blob(st, 2, rec->data(), static_cast<int>(rec->size()), SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqlError(vt->db, "writing a node row");
    if (st == vt->update_record_st.st && sqlite3_changes(vt->db) != 1) {
      return Status::Corruption(StrFormat("hnsw_knn: index '%s': node row %lld is missing from %s_nodes",
                                          vt->name.c_str(), static_cast<long long>(r), vt->name.c_str()));
    }
  }
  if (ch.header) VG_RETURN_IF_ERROR(WriteHeader(vt));
  return Status::Ok();
}

// Builds the buffered inserts into the index and writes the changed rows.
Status Flush(HnswVtab* vt) {
  if (vt->pending_rowids.empty()) return Status::Ok();
  std::vector<int64_t> rowids = std::move(vt->pending_rowids);
  std::vector<float> vecs = std::move(vt->pending_vecs);
  vt->pending_rowids.clear();
  vt->pending_vecs.clear();
  vt->pending_set.clear();
  VG_RETURN_IF_ERROR(EnsureLoaded(vt));
  Status st = vt->index->InsertBatch(rowids, vecs.data(), /*upsert=*/false);
  if (!st.ok()) {
    Invalidate(vt);
    return st.WithPrefix("hnsw_knn: ");
  }
  std::unordered_map<int64_t, const float*> fresh;
  fresh.reserve(rowids.size());
  for (size_t i = 0; i < rowids.size(); ++i) fresh.emplace(rowids[i], vecs.data() + i * vt->config.dim);
  st = WriteChanges(vt, fresh);
  if (!st.ok()) Invalidate(vt);
  return st;
}

// Reads the vector argument of an INSERT/UPDATE: a float32 BLOB or JSON of the index's dim.
Status ReadRowVector(HnswVtab* vt, sqlite3_value* v, int64_t rowid, VectorBuf* out) {
  std::string who = StrFormat("row %lld", static_cast<long long>(rowid));
  Status st = DecodeVectorValue(v, out);
  if (!st.ok()) return st.WithPrefix(StrFormat("hnsw_knn: column vector of %s: ", who.c_str()));
  if (out->dims() != vt->config.dim) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: dimension mismatch: index '%s' has dim=%u, vector of %s has %zu",
                                             vt->name.c_str(), vt->config.dim, who.c_str(), out->dims()));
  }
  return Status::Ok();
}

// ---- create / connect ------------------------------------------------------------------------

int Init(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out, char** pz_err, bool create) {
  auto vt = std::make_unique<HnswVtab>();
  vt->db = db;
  vt->registry = static_cast<Registry*>(aux);
  static std::atomic<uint64_t> next_object_id{1};
  vt->object_id = next_object_id++;
  vt->schema = argv[1];
  vt->name = argv[2];
  Status st = ParseHnswOptions(argc, argv, &vt->config);
  if (!st.ok()) {
    *pz_err = SqliteStrdup(st.message());
    return SQLITE_ERROR;
  }
  int rc = sqlite3_declare_vtab(
      db, Q("CREATE TABLE x(vector BLOB, distance REAL HIDDEN, k INTEGER HIDDEN, ef INTEGER HIDDEN, "
            "exact INTEGER HIDDEN, \"%w\" HIDDEN)",
            vt->name, "")
              .c_str());
  if (rc != SQLITE_OK) return rc;
  if (create) {
    st = Exec(db, Q("CREATE TABLE \"%w\".\"%w_info\"(key TEXT PRIMARY KEY, value) WITHOUT ROWID", vt->schema, vt->name));
    if (st.ok()) {
      st = Exec(db, Q("CREATE TABLE \"%w\".\"%w_nodes\"(rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL, "
                      "record BLOB NOT NULL, original BLOB)",
                      vt->schema, vt->name));
    }
    if (st.ok()) {
      st = Exec(db, Q("INSERT INTO \"%w\".\"%w_info\"(key, value) VALUES ('format', ", vt->schema, vt->name) +
                        std::to_string(kFormatVersion) + ")");
    }
    if (st.ok()) {
      auto idx = hnsw::HnswIndex::Create(vt->config);
      if (!idx.ok()) {
        st = idx.status();
      } else {
        vt->index = std::move(*idx);
        st = WriteHeader(vt.get());
        (void)vt->index->TakeChanges();
        auto v = DataVersion(vt.get());
        vt->data_version = v.ok() ? *v : -1;
      }
    }
  } else {
    // The persisted header is the truth; the CREATE arguments only had to parse.
    auto h = ReadHeader(vt.get());
    if (!h.ok()) {
      st = h.status();
    } else {
      vt->config = h->ToConfig();  // runtime-only fields (filter thresholds) keep their defaults
    }
    // Check the format row.
    sqlite3_stmt* fs = nullptr;
    if (st.ok() && sqlite3_prepare_v2(db, Q("SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'format'", vt->schema, vt->name).c_str(),
                                      -1, &fs, nullptr) == SQLITE_OK) {
      if (sqlite3_step(fs) != SQLITE_ROW || sqlite3_column_int64(fs, 0) != kFormatVersion) {
        st = Status::Corruption(StrFormat("hnsw_knn: index '%s': unsupported storage format (expected %d)",
                                          vt->name.c_str(), kFormatVersion));
      }
    }
    sqlite3_finalize(fs);
  }
  if (!st.ok()) {
    *pz_err = SqliteStrdup(st.message());
    return StatusToSqlite(st);
  }
  sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  vt->registry->tables[vt->Key()] = vt.get();
  *out = &vt.release()->base;
  return SQLITE_OK;
}

int HnswCreate(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out, char** pz_err) {
  try {
    return Init(db, aux, argc, argv, out, pz_err, true);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

int HnswConnect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out, char** pz_err) {
  try {
    return Init(db, aux, argc, argv, out, pz_err, false);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

int HnswDisconnect(sqlite3_vtab* v) {
  HnswVtab* vt = Vt(v);
  auto it = vt->registry->tables.find(vt->Key());
  if (it != vt->registry->tables.end() && it->second == vt) vt->registry->tables.erase(it);
  sqlite3_free(vt->base.zErrMsg);
  delete vt;
  return SQLITE_OK;
}

int HnswDestroy(sqlite3_vtab* v) {
  HnswVtab* vt = Vt(v);
  Status st = Exec(vt->db, Q("DROP TABLE IF EXISTS \"%w\".\"%w_nodes\"", vt->schema, vt->name));
  if (st.ok()) st = Exec(vt->db, Q("DROP TABLE IF EXISTS \"%w\".\"%w_info\"", vt->schema, vt->name));
  if (!st.ok()) return Fail(vt, st);
  return HnswDisconnect(v);
}

int HnswRename(sqlite3_vtab* v, const char* new_name) {
  HnswVtab* vt = Vt(v);
  try {
    for (const char* suffix : {"_info", "_nodes"}) {
      char* sql = sqlite3_mprintf("ALTER TABLE \"%w\".\"%w%s\" RENAME TO \"%w%s\"", vt->schema.c_str(), vt->name.c_str(),
                                  suffix, new_name, suffix);
      Status st = Exec(vt->db, sql ? sql : "");
      sqlite3_free(sql);
      if (!st.ok()) return Fail(vt, st);
    }
    vt->registry->tables.erase(vt->Key());
    vt->name = new_name;
    vt->registry->tables[vt->Key()] = vt;
    // Statements name the old tables: prepare them again on next use.
    for (Stmt* s : {&vt->data_version_st, &vt->read_header_st, &vt->write_header_st, &vt->read_all_st,
                    &vt->insert_node_st, &vt->update_record_st, &vt->delete_node_st, &vt->get_row_st}) {
      sqlite3_finalize(s->st);
      s->st = nullptr;
    }
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

int HnswShadowName(const char* suffix) {
  return sqlite3_stricmp(suffix, "info") == 0 || sqlite3_stricmp(suffix, "nodes") == 0;
}

// ---- planning --------------------------------------------------------------------------------

int HnswBestIndex(sqlite3_vtab* v, sqlite3_index_info* info) {
  try {
    int match = -1, k = -1, ef = -1, exact = -1;
    std::vector<std::pair<int, char>> rowid_cons;  // (constraint index, code)
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (c.iColumn == kColVector && c.op == SQLITE_INDEX_CONSTRAINT_MATCH) {
        if (!c.usable) return SQLITE_CONSTRAINT;
        match = i;
      } else if (c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.usable && c.iColumn == kColK) {
        k = i;
      } else if (c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.usable && c.iColumn == kColEf) {
        ef = i;
      } else if (c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.usable && c.iColumn == kColExact) {
        exact = i;
      } else if (c.iColumn == -1 && c.usable) {
        switch (c.op) {
          case SQLITE_INDEX_CONSTRAINT_EQ: rowid_cons.push_back({i, '='}); break;
          case SQLITE_INDEX_CONSTRAINT_GT: rowid_cons.push_back({i, '>'}); break;
          case SQLITE_INDEX_CONSTRAINT_GE: rowid_cons.push_back({i, 'G'}); break;
          case SQLITE_INDEX_CONSTRAINT_LT: rowid_cons.push_back({i, '<'}); break;
          case SQLITE_INDEX_CONSTRAINT_LE: rowid_cons.push_back({i, 'L'}); break;
          default: break;
        }
      }
    }
    std::string codes;
    int argv_index = 0;
    auto use = [&](int i, char code) {
      info->aConstraintUsage[i].argvIndex = ++argv_index;
      info->aConstraintUsage[i].omit = 1;
      codes.push_back(code);
    };
    if (match >= 0) {
      use(match, 'M');
      if (k >= 0) use(k, 'K');
      if (ef >= 0) use(ef, 'E');
      if (exact >= 0) use(exact, 'X');
      bool have_eq = false;
      for (auto [i, code] : rowid_cons) {
        if (code == '=') {
          if (have_eq) continue;  // one EQ/IN is enough
          have_eq = true;
          // rowid IN (...): all values at once.
          if (sqlite3_vtab_in(info, i, 1)) code = 'I';
        }
        use(i, code);
      }
      info->idxNum = 1;
      info->estimatedCost = 10.0;
      info->estimatedRows = 10;
      if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == kColDistance && !info->aOrderBy[0].desc) {
        info->orderByConsumed = 1;
      }
    } else {
      // Like a table: rowid lookups and ranges; k/ef/exact without MATCH are left to SQLite
      // (they are NULL on every row, so `k = 10` filters everything out — xFilter of a MATCH-less
      // plan reports that instead when it sees them; see HnswFilter).
      bool have_eq = false;
      for (auto [i, code] : rowid_cons) {
        if (code == '=') {
          if (have_eq) continue;
          have_eq = true;
        }
        use(i, code);
      }
      info->idxNum = 0;
      info->estimatedCost = have_eq ? 1.0 : (rowid_cons.empty() ? 1e6 : 1e4);
      info->estimatedRows = have_eq ? 1 : 100000;
      if (have_eq) info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
      if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == -1 && !info->aOrderBy[0].desc) {
        info->orderByConsumed = 1;
      }
    }
    info->idxStr = sqlite3_mprintf("%s", codes.c_str());
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

// ---- cursors ----------------------------------------------------------------------------------

int HnswOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  try {
    auto* c = new HnswCursor();
    *out = &c->base;
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

int HnswClose(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  sqlite3_finalize(c->scan);
  delete c;
  return SQLITE_OK;
}

bool RecordDeleted(const void* rec, int n) { return n >= 2 && (static_cast<const uint8_t*>(rec)[1] & hnsw::kNodeFlagDeleted); }

// Advances a scan cursor to the next live node row.
int ScanStep(HnswCursor* c) {
  for (;;) {
    int rc = sqlite3_step(c->scan);
    if (rc == SQLITE_DONE) {
      c->eof = true;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW) return rc;
    if (!RecordDeleted(sqlite3_column_blob(c->scan, 2), sqlite3_column_bytes(c->scan, 2))) {
      c->rowid = sqlite3_column_int64(c->scan, 0);
      c->eof = false;
      return SQLITE_OK;
    }
  }
}

int KnnFilter(HnswVtab* vt, HnswCursor* c, const std::string& codes, int argc, sqlite3_value** argv) {
  sqlite3_value* query = nullptr;
  bool have_k = false, have_ef = false;
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> in_rowids;
  bool have_in = false;
  for (int i = 0; i < argc && i < static_cast<int>(codes.size()); ++i) {
    sqlite3_value* a = argv[i];
    auto int_arg = [&](const char* name, int64_t* out) -> Status {
      if (sqlite3_value_type(a) != SQLITE_INTEGER) {
        return Status::InvalidArgument(StrFormat("hnsw_knn: %s: expected an INTEGER, found %s", name, TypeName(a)));
      }
      *out = sqlite3_value_int64(a);
      return Status::Ok();
    };
    Status st;
    switch (codes[static_cast<size_t>(i)]) {
      case 'M': query = a; break;
      case 'K':
        st = int_arg("k", &c->k);
        have_k = true;
        break;
      case 'E':
        st = int_arg("ef", &c->ef);
        have_ef = true;
        break;
      case 'X': st = int_arg("exact", &c->exact); break;
      case '=': {
        have_in = true;
        if (sqlite3_value_type(a) == SQLITE_INTEGER) in_rowids.push_back(sqlite3_value_int64(a));
        break;
      }
      case 'I': {
        have_in = true;
        sqlite3_value* x = nullptr;
        for (int rc = sqlite3_vtab_in_first(a, &x); rc == SQLITE_OK && x; rc = sqlite3_vtab_in_next(a, &x)) {
          if (sqlite3_value_type(x) == SQLITE_INTEGER) in_rowids.push_back(sqlite3_value_int64(x));
          else if (sqlite3_value_type(x) == SQLITE_FLOAT) {
            double d = sqlite3_value_double(x);
            if (d == std::floor(d) && std::fabs(d) < 9.2e18) in_rowids.push_back(static_cast<int64_t>(d));
          }
        }
        break;
      }
      case '>':
      case 'G':
      case '<':
      case 'L': {
        int t = sqlite3_value_type(a);
        if (t == SQLITE_NULL) {
          lo = 1;
          hi = 0;  // comparison with NULL: no row passes
          break;
        }
        double d = sqlite3_value_double(a);
        int64_t iv = sqlite3_value_int64(a);
        char code = codes[static_cast<size_t>(i)];
        if (t != SQLITE_INTEGER) {
          // Non-integer bound: round in the direction that keeps the comparison exact.
          if (code == '>' || code == 'L') iv = static_cast<int64_t>(std::floor(std::clamp(d, -9.2e18, 9.2e18)));
          else iv = static_cast<int64_t>(std::ceil(std::clamp(d, -9.2e18, 9.2e18)));
          if (code == '>' && d != std::floor(d)) code = 'G';
          if (code == '<' && d != std::floor(d)) code = 'L';
          if (code == 'G' && d != std::ceil(d)) code = 'G';
        }
        if (code == '>') lo = std::max(lo, iv == std::numeric_limits<int64_t>::max() ? iv : iv + 1);
        if (code == 'G') lo = std::max(lo, iv);
        if (code == '<') hi = std::min(hi, iv == std::numeric_limits<int64_t>::min() ? iv : iv - 1);
        if (code == 'L') hi = std::min(hi, iv);
        break;
      }
      default: break;
    }
    if (!st.ok()) return Fail(vt, st);
  }
  if (!have_k) return Fail(vt, "hnsw_knn: a k-NN query needs k: add AND k = 10 (the number of neighbours)");
  if (c->k < 1) return Fail(vt, StrFormat("hnsw_knn: k: expected an INTEGER >= 1, found %lld", static_cast<long long>(c->k)));
  if (have_ef && (c->ef < 1 || c->ef > static_cast<int64_t>(hnsw::kMaxEf))) {
    return Fail(vt, StrFormat("hnsw_knn: ef: expected an INTEGER between 1 and %u, found %lld", hnsw::kMaxEf,
                              static_cast<long long>(c->ef)));
  }
  VectorBuf q;
  Status st = DecodeVectorValue(query, &q);
  if (!st.ok()) return Fail(vt, st.WithPrefix("hnsw_knn: MATCH query: "));
  if (q.dims() != vt->config.dim) {
    return Fail(vt, StrFormat("hnsw_knn: dimension mismatch: index '%s' has dim=%u, the MATCH query has %zu",
                              vt->name.c_str(), vt->config.dim, q.dims()));
  }
  st = Flush(vt);
  if (st.ok()) st = EnsureLoaded(vt);
  if (!st.ok()) return Fail(vt, st);
  hnsw::HnswIndex& idx = *vt->index;
  const size_t k = static_cast<size_t>(std::min<int64_t>(c->k, 1 << 20));
  const size_t ef = static_cast<size_t>(c->ef);
  const bool ranged = lo != std::numeric_limits<int64_t>::min() || hi != std::numeric_limits<int64_t>::max();
  StatusOr<std::vector<hnsw::HnswHit>> hits = std::vector<hnsw::HnswHit>{};
  if (!have_in && !ranged) {
    hits = c->exact ? idx.ExactSearch(q.view(), k) : idx.Search(q.view(), k, ef);
  } else {
    // Filtered: the passing rowids as an allowed set; exact over them when selective.
    std::vector<int64_t> passing;
    if (have_in) {
      for (int64_t r : in_rowids)
        if (r >= lo && r <= hi) passing.push_back(r);
    } else {
      std::vector<int64_t> all = idx.Rowids();  // ascending
      auto b = std::lower_bound(all.begin(), all.end(), lo);
      auto e = std::upper_bound(all.begin(), all.end(), hi);
      passing.assign(b, e);
    }
    hnsw::AllowedSet allowed = idx.MakeAllowedSet(passing);
    if (allowed.count() == 0) {
      hits = std::vector<hnsw::HnswHit>{};
    } else if (c->exact || idx.ExactWhenSelective(allowed.count())) {
      hits = idx.ExactSearch(q.view(), k, allowed);
    } else {
      hits = idx.Search(q.view(), k, ef, allowed);
    }
  }
  if (!hits.ok()) return Fail(vt, hits.status().WithPrefix("hnsw_knn: "));
  c->hits = std::move(*hits);
  c->pos = 0;
  return SQLITE_OK;
}

int HnswFilter(sqlite3_vtab_cursor* cur, int idx_num, const char* idx_str, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  HnswVtab* vt = Vt(cur->pVtab);
  try {
    c->hits.clear();
    c->pos = 0;
    c->k = c->ef = c->exact = 0;
    sqlite3_finalize(c->scan);
    c->scan = nullptr;
    c->eof = true;
    std::string codes = idx_str ? idx_str : "";
    if (idx_num == 1) {
      c->knn = true;
      return KnnFilter(vt, c, codes, argc, argv);
    }
    c->knn = false;
    Status st = Flush(vt);
    if (!st.ok()) return Fail(vt, st);
    std::string where;
    for (size_t i = 0; i < codes.size(); ++i) {
      const char* op = codes[i] == '=' ? "=" : codes[i] == '>' ? ">" : codes[i] == 'G' ? ">=" : codes[i] == '<' ? "<" : "<=";
      where += (where.empty() ? " WHERE " : " AND ") + std::string("rowid ") + op + " ?" + std::to_string(i + 1);
    }
    std::string sql = Q("SELECT rowid, coalesce(original, vector), record FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name) +
                      where + " ORDER BY rowid";
    if (sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &c->scan, nullptr) != SQLITE_OK) {
      return Fail(vt, SqlError(vt->db, "scanning nodes"));
    }
    for (int i = 0; i < argc; ++i) sqlite3_bind_value(c->scan, i + 1, argv[i]);
    return ScanStep(c);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    return Fail(vt, std::string("hnsw_knn: internal error: ") + e.what());
  }
}

int HnswNext(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  if (c->knn) {
    ++c->pos;
    return SQLITE_OK;
  }
  return ScanStep(c);
}

int HnswEof(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  return c->knn ? c->pos >= c->hits.size() : c->eof;
}

int HnswRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  *rowid = c->knn ? c->hits[c->pos].rowid : c->rowid;
  return SQLITE_OK;
}

int HnswColumn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  HnswVtab* vt = Vt(cur->pVtab);
  switch (col) {
    case kColVector:
      if (sqlite3_vtab_nochange(ctx)) break;  // an UPDATE that leaves the vector alone
      if (!c->knn) {
        sqlite3_result_value(ctx, sqlite3_column_value(c->scan, 1));
      } else {
        Status st = Prepare(vt, &vt->get_row_st,
                            Q("SELECT coalesce(original, vector) FROM \"%w\".\"%w_nodes\" WHERE rowid = ?1", vt->schema,
                              vt->name));
        if (!st.ok()) return Fail(vt, st);
        sqlite3_bind_int64(vt->get_row_st.st, 1, c->hits[c->pos].rowid);
        if (sqlite3_step(vt->get_row_st.st) == SQLITE_ROW) sqlite3_result_value(ctx, sqlite3_column_value(vt->get_row_st.st, 0));
        sqlite3_reset(vt->get_row_st.st);
      }
      break;
    case kColDistance:
      if (c->knn) sqlite3_result_double(ctx, c->hits[c->pos].distance);
      break;
    case kColK:
      if (c->knn) sqlite3_result_int64(ctx, c->k);
      break;
    case kColEf:
      if (c->knn && c->ef) sqlite3_result_int64(ctx, c->ef);
      break;
    case kColExact:
      if (c->knn) sqlite3_result_int64(ctx, c->exact);
      break;
    default: break;
  }
  return SQLITE_OK;
}

// ---- writes -----------------------------------------------------------------------------------

int Command(HnswVtab* vt, sqlite3_value* v) {
  std::string cmd = sqlite3_value_type(v) == SQLITE_TEXT ? reinterpret_cast<const char*>(sqlite3_value_text(v)) : "";
  if (Lower(cmd) != "optimize") {
    return Fail(vt, StrFormat("hnsw_knn: unknown command '%s' (expected 'optimize')", cmd.substr(0, 64).c_str()));
  }
  Status st = Flush(vt);
  if (st.ok()) st = EnsureLoaded(vt);
  if (!st.ok()) return Fail(vt, st);
  auto r = vt->index->Optimize();
  if (!r.ok()) {
    Invalidate(vt);
    return Fail(vt, r.status().WithPrefix("hnsw_knn: optimize: "));
  }
  st = WriteChanges(vt, {});
  if (!st.ok()) {
    Invalidate(vt);
    return Fail(vt, st);
  }
  return SQLITE_OK;
}

int HnswUpdate(sqlite3_vtab* v, int argc, sqlite3_value** argv, sqlite3_int64* out_rowid) {
  HnswVtab* vt = Vt(v);
  try {
    // DELETE
    if (argc == 1) {
      int64_t rowid = sqlite3_value_int64(argv[0]);
      Status st = Flush(vt);
      if (st.ok()) st = EnsureLoaded(vt);
      if (st.ok()) st = vt->index->Delete(rowid).WithPrefix("hnsw_knn: ");
      if (st.ok()) st = WriteChanges(vt, {});
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st);
      }
      return SQLITE_OK;
    }
    sqlite3_value** cols = argv + 2;
    if (sqlite3_value_type(cols[kColCommand]) != SQLITE_NULL) return Command(vt, cols[kColCommand]);
    for (int col : {kColDistance, kColK, kColEf, kColExact}) {
      if (sqlite3_value_type(cols[col]) != SQLITE_NULL) {
        static const char* names[] = {"vector", "distance", "k", "ef", "exact"};
        return Fail(vt, StrFormat("hnsw_knn: column %s cannot be written (it is a query parameter)", names[col]));
      }
    }
    const bool insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
    const bool rowid_given = sqlite3_value_type(argv[1]) != SQLITE_NULL;
    if (rowid_given && sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
      return Fail(vt, StrFormat("hnsw_knn: rowid: expected an INTEGER, found %s", TypeName(argv[1])), SQLITE_MISMATCH);
    }
    // While inserts are buffered the statement holds the write lock: nobody else can have
    // committed since the last check, so a bulk INSERT checks data_version once, not per row.
    Status st = vt->pending_rowids.empty() ? EnsureLoaded(vt) : Status::Ok();
    if (!st.ok()) return Fail(vt, st);
    int64_t rowid = rowid_given ? sqlite3_value_int64(argv[1]) : std::max(vt->max_rowid, int64_t{0}) + 1;
    if (!insert && sqlite3_value_nochange(cols[kColVector]) && sqlite3_value_int64(argv[0]) == rowid) {
      return SQLITE_OK;  // UPDATE that does not touch the vector
    }
    VectorBuf vec;
    if (!insert && sqlite3_value_nochange(cols[kColVector])) {
      // UPDATE of the rowid alone: carry the stored vector (as inserted) over.
      st = Prepare(vt, &vt->get_row_st,
                   Q("SELECT coalesce(original, vector) FROM \"%w\".\"%w_nodes\" WHERE rowid = ?1", vt->schema, vt->name));
      if (!st.ok()) return Fail(vt, st);
      sqlite3_bind_int64(vt->get_row_st.st, 1, sqlite3_value_int64(argv[0]));
      if (sqlite3_step(vt->get_row_st.st) == SQLITE_ROW) {
        st = ReadRowVector(vt, sqlite3_column_value(vt->get_row_st.st, 0), rowid, &vec);
        if (st.ok() && vec.data() != nullptr) {
          std::vector<float> copy(vec.view().begin(), vec.view().end());  // outlives the statement reset
          std::memcpy(vec.Own(copy.size()), copy.data(), copy.size() * sizeof(float));
        }
      } else {
        st = Status::Corruption(StrFormat("hnsw_knn: index '%s': node row %lld is missing", vt->name.c_str(),
                                          static_cast<long long>(sqlite3_value_int64(argv[0]))));
      }
      sqlite3_reset(vt->get_row_st.st);
      if (!st.ok()) return Fail(vt, st);
    } else {
      if (sqlite3_value_type(cols[kColVector]) == SQLITE_NULL) {
        return Fail(vt, "hnsw_knn: column vector must not be NULL", SQLITE_CONSTRAINT);
      }
      st = ReadRowVector(vt, cols[kColVector], rowid, &vec);
      if (!st.ok()) return Fail(vt, st);
    }

    if (!insert) {
      int64_t old_rowid = sqlite3_value_int64(argv[0]);
      st = Flush(vt);
      if (st.ok() && old_rowid != rowid) {
        if (vt->index->Contains(rowid)) {
          return Fail(vt, StrFormat("UNIQUE constraint failed: %s.rowid", vt->name.c_str()), SQLITE_CONSTRAINT);
        }
        st = vt->index->Delete(old_rowid);
        if (st.ok()) st = vt->index->Insert(rowid, vec.view());
      } else if (st.ok()) {
        st = vt->index->Upsert(rowid, vec.view());
      }
      if (st.ok()) st = WriteChanges(vt, {{rowid, vec.data()}});
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st.WithPrefix(st.message().rfind("hnsw_knn", 0) == 0 ? "" : "hnsw_knn: "));
      }
      vt->max_rowid = std::max(vt->max_rowid, rowid);
      return SQLITE_OK;
    }

    // INSERT
    const bool exists = vt->pending_set.count(rowid) > 0 || vt->index->Contains(rowid);
    if (exists) {
      int conflict = sqlite3_vtab_on_conflict(vt->db);
      if (conflict == SQLITE_IGNORE) return SQLITE_OK;
      if (conflict != SQLITE_REPLACE) {
        return Fail(vt, StrFormat("UNIQUE constraint failed: %s.rowid", vt->name.c_str()), SQLITE_CONSTRAINT);
      }
      // INSERT OR REPLACE: an upsert.
      st = Flush(vt);
      if (st.ok()) st = vt->index->Upsert(rowid, vec.view());
      if (st.ok()) st = WriteChanges(vt, {{rowid, vec.data()}});
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st.WithPrefix("hnsw_knn: "));
      }
      *out_rowid = rowid;
      return SQLITE_OK;
    }
    vt->pending_rowids.push_back(rowid);
    vt->pending_vecs.insert(vt->pending_vecs.end(), vec.view().begin(), vec.view().end());
    vt->pending_set.insert(rowid);
    vt->max_rowid = std::max(vt->max_rowid, rowid);
    *out_rowid = rowid;
    if (vt->pending_rowids.size() >= kMaxPendingRows) {
      st = Flush(vt);
      if (!st.ok()) return Fail(vt, st);
    }
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    Invalidate(vt);
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    Invalidate(vt);
    return Fail(vt, std::string("hnsw_knn: internal error: ") + e.what());
  }
}

// ---- transactions -------------------------------------------------------------------------------

int FlushOrFail(sqlite3_vtab* v) {
  HnswVtab* vt = Vt(v);
  try {
    Status st = Flush(vt);
    return st.ok() ? SQLITE_OK : Fail(vt, st);
  } catch (const std::bad_alloc&) {
    Invalidate(vt);
    return SQLITE_NOMEM;
  }
}

int HnswBegin(sqlite3_vtab*) { return SQLITE_OK; }
int HnswSync(sqlite3_vtab* v) { return FlushOrFail(v); }
int HnswCommit(sqlite3_vtab*) { return SQLITE_OK; }
int HnswRollback(sqlite3_vtab* v) {
  Invalidate(Vt(v));  // the shadow tables rolled back; reload them on next use
  return SQLITE_OK;
}
int HnswSavepoint(sqlite3_vtab* v, int) { return FlushOrFail(v); }
int HnswRelease(sqlite3_vtab*, int) { return SQLITE_OK; }
int HnswRollbackTo(sqlite3_vtab* v, int) {
  Invalidate(Vt(v));
  return SQLITE_OK;
}

sqlite3_module kHnswModule = {
    /* iVersion      */ 3,  // through xShadowName (the struct is compiled against 3.40 headers)
    /* xCreate       */ HnswCreate,
    /* xConnect      */ HnswConnect,
    /* xBestIndex    */ HnswBestIndex,
    /* xDisconnect   */ HnswDisconnect,
    /* xDestroy      */ HnswDestroy,
    /* xOpen         */ HnswOpen,
    /* xClose        */ HnswClose,
    /* xFilter       */ HnswFilter,
    /* xNext         */ HnswNext,
    /* xEof          */ HnswEof,
    /* xColumn       */ HnswColumn,
    /* xRowid        */ HnswRowid,
    /* xUpdate       */ HnswUpdate,
    /* xBegin        */ HnswBegin,
    /* xSync         */ HnswSync,
    /* xCommit       */ HnswCommit,
    /* xRollback     */ HnswRollback,
    /* xFindFunction */ nullptr,
    /* xRename       */ HnswRename,
    /* xSavepoint    */ HnswSavepoint,
    /* xRelease      */ HnswRelease,
    /* xRollbackTo   */ HnswRollbackTo,
    /* xShadowName   */ HnswShadowName,
};

// ---- lookup by name (hnsw_knn_batch, vecgraph_check) -----------------------------------------

// "schema.table" → (schema, table) when a schema of that name is attached; otherwise the whole
// spec is a table name in main.
std::pair<std::string, std::string> SplitQualified(sqlite3* db, const std::string& spec) {
  size_t dot = spec.find('.');
  if (dot == std::string::npos) return {"main", spec};
  std::string s = spec.substr(0, dot);
  sqlite3_stmt* st = nullptr;
  bool attached = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_database_list WHERE name = ?1", -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, s.c_str(), -1, SQLITE_TRANSIENT);
    attached = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  if (!attached) return {"main", spec};
  return {s, spec.substr(dot + 1)};
}

// Finds a connected hnsw_knn table by name, connecting it first if needed.
StatusOr<HnswVtab*> FindIndex(sqlite3* db, Registry* reg, const char* fn, const std::string& spec) {
  auto [schema, table] = SplitQualified(db, spec);
  auto it = reg->tables.find(Lower(schema + "." + table));
  if (it == reg->tables.end()) {
    // Not connected yet: preparing a statement that names it connects it.
    sqlite3_stmt* st = nullptr;
    std::string sql = Q("SELECT rowid FROM \"%w\".\"%w\" LIMIT 0", schema, table);
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    sqlite3_finalize(st);
    (void)rc;
    it = reg->tables.find(Lower(schema + "." + table));
  }
  if (it == reg->tables.end()) {
    return Status::InvalidArgument(StrFormat("%s: argument 1 (index): '%s' is not an hnsw_knn table", fn,
                                             spec.substr(0, 128).c_str()));
  }
  return it->second;
}

void CheckFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  VG_SQL_TRY
  auto* reg = static_cast<Registry*>(sqlite3_user_data(ctx));
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    return ResultError(ctx, StrFormat("vecgraph_check: argument 1 (index): expected TEXT, found %s", TypeName(argv[0])));
  }
  auto vt = FindIndex(sqlite3_context_db_handle(ctx), reg, "vecgraph_check",
                      reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  if (!vt.ok()) return ResultError(ctx, vt.status());
  Status st = Flush(*vt);
  if (st.ok()) st = EnsureLoaded(*vt);
  if (!st.ok()) {
    // A corrupted or hostile file: describe it rather than fail.
    ResultText(ctx, st.message());
    return;
  }
  hnsw::CheckOptions opt;
  std::vector<std::string> problems = (*vt)->index->Check(opt);
  // The stored rows must match the index one to one.
  sqlite3_stmt* cs = nullptr;
  std::string sql = Q("SELECT count(*) FROM \"%w\".\"%w_nodes\"", (*vt)->schema, (*vt)->name);
  if (sqlite3_prepare_v2(sqlite3_context_db_handle(ctx), sql.c_str(), -1, &cs, nullptr) == SQLITE_OK &&
      sqlite3_step(cs) == SQLITE_ROW) {
    auto rows = static_cast<size_t>(sqlite3_column_int64(cs, 0));
    if (rows != (*vt)->index->node_count()) {
      problems.push_back(StrFormat("%zu node rows stored but the index has %zu nodes", rows, (*vt)->index->node_count()));
    }
  }
  sqlite3_finalize(cs);
  if (problems.empty()) {
    sqlite3_result_text(ctx, "ok", 2, SQLITE_STATIC);
    return;
  }
  std::string out;
  for (const std::string& p : problems) out += (out.empty() ? "" : "\n") + p;
  ResultText(ctx, out);
  VG_SQL_CATCH(ctx)
}

// ---- hnsw_knn_batch ----------------------------------------------------------------------------
//
//   SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch(index, query_table, query_column, k [, ef])
//
// Eponymous-only table-valued function. Reads every (rowid, vector) of query_table (quoted as an
// identifier; 'schema.table' when that schema is attached), and runs the queries through the
// executor as op 'knn' batches of kKnnBatch queries (work = queries × index rows): on the CPU the
// queries of a batch run in parallel on the oneTBB arena (HnswIndex::SearchBatch), results equal
// to one query at a time. rank is 1-based. xBestIndex requires the first four arguments.

constexpr size_t kKnnBatch = 256;

enum BatchColumn { kBQueryId = 0, kBRowid, kBDistance, kBRank, kBIndex, kBTable, kBColumn, kBK, kBEf };

struct BatchVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3* db;
  Registry* registry;
};

struct BatchRow {
  int64_t query_id, rowid;
  float distance;
  int64_t rank;
};

struct BatchCursor {
  sqlite3_vtab_cursor base; /* must be first */
  std::vector<BatchRow> rows;
  size_t pos = 0;
};

int BatchConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(query_id INTEGER, rowid INTEGER, distance REAL, rank INTEGER, "
                                "idx HIDDEN, query_table HIDDEN, query_column HIDDEN, k HIDDEN, ef HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  auto* vt = new (std::nothrow) BatchVtab();
  if (!vt) return SQLITE_NOMEM;
  vt->db = db;
  vt->registry = static_cast<Registry*>(aux);
  *out = &vt->base;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  return SQLITE_OK;
}

int BatchDisconnect(sqlite3_vtab* v) {
  sqlite3_free(v->zErrMsg);
  delete reinterpret_cast<BatchVtab*>(v);
  return SQLITE_OK;
}

int BatchBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int slot[5] = {-1, -1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.op != SQLITE_INDEX_CONSTRAINT_EQ || c.iColumn < kBIndex) continue;
    if (!c.usable) return SQLITE_CONSTRAINT;
    slot[c.iColumn - kBIndex] = i;
  }
  for (int j = 0; j < 4; ++j)
    if (slot[j] < 0) return SQLITE_CONSTRAINT;
  int n = 0;
  for (int j = 0; j < 5; ++j) {
    if (slot[j] < 0) continue;
    info->aConstraintUsage[slot[j]].argvIndex = ++n;
    info->aConstraintUsage[slot[j]].omit = 1;
  }
  info->idxNum = n;
  info->estimatedCost = 1e6;
  return SQLITE_OK;
}

int BatchOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* c = new (std::nothrow) BatchCursor();
  if (!c) return SQLITE_NOMEM;
  *out = &c->base;
  return SQLITE_OK;
}

int BatchClose(sqlite3_vtab_cursor* cur) {
  delete reinterpret_cast<BatchCursor*>(cur);
  return SQLITE_OK;
}

int BatchFail(sqlite3_vtab* v, const std::string& msg) {
  VtabError(v, msg);
  return SQLITE_ERROR;
}

int BatchFilter(sqlite3_vtab_cursor* cur, int idx_num, const char*, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<BatchCursor*>(cur);
  auto* bv = reinterpret_cast<BatchVtab*>(cur->pVtab);
  try {
    c->rows.clear();
    c->pos = 0;
    auto text = [&](int i, const char* name, std::string* out) -> bool {
      if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
        BatchFail(cur->pVtab, StrFormat("hnsw_knn_batch: argument %d (%s): expected TEXT, found %s", i + 1, name,
                                        TypeName(argv[i])));
        return false;
      }
      *out = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
      return true;
    };
    std::string index_name, table, column;
    if (argc < 4 || !text(0, "index", &index_name) || !text(1, "query_table", &table) || !text(2, "query_column", &column)) {
      return argc < 4 ? BatchFail(cur->pVtab, "hnsw_knn_batch: expected (index, query_table, query_column, k [, ef])")
                      : SQLITE_ERROR;
    }
    if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || sqlite3_value_int64(argv[3]) < 1) {
      return BatchFail(cur->pVtab, StrFormat("hnsw_knn_batch: argument 4 (k): expected an INTEGER >= 1, found %s",
                                             sqlite3_value_type(argv[3]) == SQLITE_INTEGER
                                                 ? std::to_string(sqlite3_value_int64(argv[3])).c_str()
                                                 : TypeName(argv[3])));
    }
    size_t k = static_cast<size_t>(std::min<int64_t>(sqlite3_value_int64(argv[3]), 1 << 20));
    size_t ef = 0;
    if (idx_num >= 5 && argc >= 5) {
      if (sqlite3_value_type(argv[4]) != SQLITE_INTEGER || sqlite3_value_int64(argv[4]) < 1 ||
          sqlite3_value_int64(argv[4]) > hnsw::kMaxEf) {
        return BatchFail(cur->pVtab, StrFormat("hnsw_knn_batch: argument 5 (ef): expected an INTEGER between 1 and %u", hnsw::kMaxEf));
      }
      ef = static_cast<size_t>(sqlite3_value_int64(argv[4]));
    }
    auto found = FindIndex(bv->db, bv->registry, "hnsw_knn_batch", index_name);
    if (!found.ok()) return BatchFail(cur->pVtab, found.status().message());
    HnswVtab* vt = *found;
    Status st = Flush(vt);
    if (st.ok()) st = EnsureLoaded(vt);
    if (!st.ok()) return BatchFail(cur->pVtab, st.message());
    const size_t dim = vt->config.dim;

    // Read the queries (the table name is quoted as an identifier, never pasted).
    auto [schema, tname] = SplitQualified(bv->db, table);
    char* sql = sqlite3_mprintf("SELECT rowid, \"%w\" FROM \"%w\".\"%w\" ORDER BY rowid", column.c_str(), schema.c_str(),
                                tname.c_str());
    sqlite3_stmt* qs = nullptr;
    int rc = sqlite3_prepare_v2(bv->db, sql ? sql : "", -1, &qs, nullptr);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
      std::string msg = StrFormat("hnsw_knn_batch: cannot read column '%s' of table '%s': %s", column.c_str(),
                                  table.c_str(), sqlite3_errmsg(bv->db));
      sqlite3_finalize(qs);
      return BatchFail(cur->pVtab, msg);
    }
    std::vector<int64_t> qids;
    std::vector<float> queries;
    while ((rc = sqlite3_step(qs)) == SQLITE_ROW) {
      sqlite3_value* v = sqlite3_column_value(qs, 1);
      if (sqlite3_value_type(v) == SQLITE_NULL) continue;  // no vector, no query
      int64_t qid = sqlite3_column_int64(qs, 0);
      VectorBuf qv;
      st = ReadRowVector(vt, v, qid, &qv);
      if (!st.ok()) {
        sqlite3_finalize(qs);
        std::string m = st.message();
        if (m.rfind("hnsw_knn: ", 0) == 0) m = m.substr(10);
        return BatchFail(cur->pVtab, "hnsw_knn_batch: query table '" + table + "': " + m);
      }
      qids.push_back(qid);
      queries.insert(queries.end(), qv.view().begin(), qv.view().end());
    }
    sqlite3_finalize(qs);
    if (rc != SQLITE_DONE) return BatchFail(cur->pVtab, StrFormat("hnsw_knn_batch: reading '%s' failed", table.c_str()));

    // Run in executor batches (op 'knn'); results per query land in their own slots. The CPU
    // searches the HNSW graph; a device computes the exact top-k over the live vectors, kept
    // resident under (object_id, version).
    const size_t nq = qids.size();
    std::vector<std::vector<hnsw::HnswHit>> results(nq);
    hnsw::HnswIndex& idx = *vt->index;
    Status search_status;
    std::mutex mu;  // guards search_status and the lazily built matrix
    std::vector<float> matrix;
    std::vector<int64_t> matrix_ids;
    bool matrix_ready = false;
    auto build_matrix = [&]() -> Status {
      std::lock_guard<std::mutex> lock(mu);
      if (matrix_ready) return Status::Ok();
      VG_RETURN_IF_ERROR(idx.ForEachNode([&](int64_t rowid, std::span<const float> v, std::span<const uint8_t> rec) {
        if (RecordDeleted(rec.data(), static_cast<int>(rec.size()))) return Status::Ok();
        matrix_ids.push_back(rowid);
        matrix.insert(matrix.end(), v.begin(), v.end());
        return Status::Ok();
      }));
      matrix_ready = true;
      return Status::Ok();
    };
    exec::Executor& ex = exec::Executor::Global();
    for (size_t b = 0; b < nq && search_status.ok(); b += kKnnBatch) {
      size_t e = std::min(nq, b + kKnnBatch);
      double work = static_cast<double>(e - b) * static_cast<double>(std::max<size_t>(idx.size(), 1));
      ex.Run(exec::Op::kKnn, work, e - b, [&](exec::Backend& backend, size_t lo, size_t hi) -> exec::DeviceFailure {
        if (backend.kind() == exec::BackendKind::kCpu) {
          auto r = idx.SearchBatch(queries.data() + (b + lo) * dim, hi - lo, k, ef);
          if (!r.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            search_status = r.status();
            return {};
          }
          for (size_t i = 0; i < r->size(); ++i) results[b + lo + i] = std::move((*r)[i]);
          return {};
        }
        Status ms = build_matrix();
        if (!ms.ok()) return {exec::DeviceError::kLaunch, ms.message()};
        exec::KnnTask task;
        task.metric = vt->config.metric;
        task.queries = queries.data() + b * dim;
        task.n_queries = e - b;
        task.dims = dim;
        task.rows = matrix.data();
        task.row_ids = matrix_ids.data();
        task.n_rows = matrix_ids.size();
        task.k = std::min(k, std::max<size_t>(matrix_ids.size(), 1));
        task.object = vt->object_id;
        task.version = vt->version;
        std::vector<int64_t> ids((e - b) * task.k);
        std::vector<float> dists((e - b) * task.k);
        task.out_ids = ids.data();
        task.out_dists = dists.data();
        exec::DeviceFailure f = backend.KnnExact(task, lo, hi);
        if (!f.ok()) return f;
        for (size_t q = lo; q < hi; ++q) {
          std::vector<hnsw::HnswHit>& out = results[b + q];
          out.clear();
          for (size_t j = 0; j < task.k; ++j) {
            if (ids[q * task.k + j] < 0) break;
            out.push_back({ids[q * task.k + j], dists[q * task.k + j]});
          }
        }
        return f;
      });
    }
    if (!search_status.ok()) return BatchFail(cur->pVtab, search_status.WithPrefix("hnsw_knn_batch: ").message());
    for (size_t i = 0; i < nq; ++i) {
      int64_t rank = 0;
      for (const hnsw::HnswHit& h : results[i]) c->rows.push_back({qids[i], h.rowid, h.distance, ++rank});
    }
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    return BatchFail(cur->pVtab, std::string("hnsw_knn_batch: internal error: ") + e.what());
  }
}

int BatchNext(sqlite3_vtab_cursor* cur) {
  reinterpret_cast<BatchCursor*>(cur)->pos++;
  return SQLITE_OK;
}
int BatchEof(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<BatchCursor*>(cur);
  return c->pos >= c->rows.size();
}
int BatchColumnFn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<BatchCursor*>(cur);
  const BatchRow& r = c->rows[c->pos];
  switch (col) {
    case kBQueryId: sqlite3_result_int64(ctx, r.query_id); break;
    case kBRowid: sqlite3_result_int64(ctx, r.rowid); break;
    case kBDistance: sqlite3_result_double(ctx, r.distance); break;
    case kBRank: sqlite3_result_int64(ctx, r.rank); break;
    default: break;
  }
  return SQLITE_OK;
}
int BatchRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<BatchCursor*>(cur)->pos + 1);
  return SQLITE_OK;
}

sqlite3_module kBatchModule = {
    /* iVersion      */ 0,
    /* xCreate       */ nullptr,  // eponymous-only
    /* xConnect      */ BatchConnect,
    /* xBestIndex    */ BatchBestIndex,
    /* xDisconnect   */ BatchDisconnect,
    /* xDestroy      */ nullptr,
    /* xOpen         */ BatchOpen,
    /* xClose        */ BatchClose,
    /* xFilter       */ BatchFilter,
    /* xNext         */ BatchNext,
    /* xEof          */ BatchEof,
    /* xColumn       */ BatchColumnFn,
    /* xRowid        */ BatchRowid,
    /* xUpdate       */ nullptr,
    /* xBegin        */ nullptr,
    /* xSync         */ nullptr,
    /* xCommit       */ nullptr,
    /* xRollback     */ nullptr,
    /* xFindFunction */ nullptr,
    /* xRename       */ nullptr,
    /* xSavepoint    */ nullptr,
    /* xRelease      */ nullptr,
    /* xRollbackTo   */ nullptr,
    /* xShadowName   */ nullptr,
};

void DestroyRegistry(void* p) { delete static_cast<Registry*>(p); }

}  // namespace

int RegisterHnsw(sqlite3* db) {
  auto* reg = new (std::nothrow) Registry();
  if (!reg) return SQLITE_NOMEM;
  int rc = sqlite3_create_module_v2(db, kModule, &kHnswModule, reg, DestroyRegistry);
  if (rc != SQLITE_OK) return rc;  // the destructor already ran
  rc = sqlite3_create_module_v2(db, "hnsw_knn_batch", &kBatchModule, reg, nullptr);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_create_function_v2(db, "vecgraph_check", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, reg, CheckFunc, nullptr,
                                    nullptr, nullptr);
}

}  // namespace vecgraph::sql
