// extension/hnsw/hnsw_storage.cpp — the shadow tables of an hnsw_knn index (layout in hnsw_vtab.h).
//
// The in-memory HnswIndex is a cache of these tables: loaded lazily on first use, dropped on
// ROLLBACK / ROLLBACK TO (including a failed statement's implicit savepoint) and reloaded when
// `PRAGMA data_version` says another connection or process committed. Everything read back is
// checked: the engine checks the header and records byte by byte (HnswIndex::Load), this file the
// types and lengths of the stored vectors, so a hostile file gives SQLITE_CORRUPT naming the row,
// never a crash or a wrong answer. Only changed node rows are written per statement.
//
// Errors from SQLite keep SQLite's result code (SqliteError: SQLITE_BUSY stays SQLITE_BUSY, a
// malformed page SQLITE_CORRUPT).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "extension/build_progress.h"
#include "extension/hnsw/hnsw_vtab.h"
#include "extension/interrupt.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {

std::string HnswVtab::Key() const {
  std::string k = schema + "." + name;
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

void HnswVtab::FinalizeStatements() {
  for (Stmt* s : {&data_version_st, &read_header_st, &write_header_st, &read_format_st, &read_all_st, &max_rowid_st,
                  &insert_node_st, &update_record_st, &delete_node_st, &get_row_st, &insert_row_st, &delete_row_st,
                  &get_cols_st, &read_rows_st, &read_columns_st}) {
    s->Finalize();
  }
}

std::string IndexPrefix(const HnswVtab* vt) { return StrFormat("hnsw_knn: index '%s': ", vt->name.c_str()); }

std::string Q(const char* fmt, const std::string& a, const std::string& b) {
  char* s = sqlite3_mprintf(fmt, a.c_str(), b.c_str());
  if (s == nullptr) throw std::bad_alloc();
  std::string out = s;
  sqlite3_free(s);
  return out;
}

Status Prepare(HnswVtab* vt, Stmt* s, const std::string& sql) {
  if (s->st) {
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    return Status::Ok();
  }
  int rc = sqlite3_prepare_v3(vt->db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s->st, nullptr);
  if (rc != SQLITE_OK) {
    s->Finalize();
    return SqliteError(vt->db, rc, IndexPrefix(vt) + "preparing a shadow-table statement");
  }
  return Status::Ok();
}

namespace {

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, what);
}

// Steps a statement that returns no row (INSERT/UPDATE/DELETE) and resets it.
Status StepDone(HnswVtab* vt, sqlite3_stmt* st, const char* what) {
  int rc = sqlite3_step(st);
  // The message before the reset (which may replace a trigger's RAISE text by a generic one).
  Status out = rc == SQLITE_DONE ? Status::Ok() : SqliteError(vt->db, rc, IndexPrefix(vt) + what);
  sqlite3_reset(st);
  return out;
}

// An error when schema already has a table, view, index or trigger named `name` (SQLite's own
// message for that case would otherwise come out of a nested CREATE/ALTER as an internal error).
Status CheckNameFree(HnswVtab* vt, const std::string& name, const char* doing) {
  sqlite3_stmt* st = nullptr;
  std::string sql = Q("SELECT type FROM \"%w\".sqlite_master WHERE name = ?1 COLLATE NOCASE", vt->schema, "");
  int rc = sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &st, nullptr);
  std::string type;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      type = t ? t : "table";
      rc = SQLITE_DONE;
    }
  }
  Status err = rc == SQLITE_DONE ? Status::Ok() : SqliteError(vt->db, rc, IndexPrefix(vt) + "checking shadow-table names");
  sqlite3_finalize(st);
  if (!err.ok()) return err;
  if (!type.empty()) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: cannot %s '%s': its shadow table name '%s' is taken by a %s in "
                                             "schema '%s'",
                                             doing, vt->name.c_str(), name.c_str(), type.c_str(), vt->schema.c_str()));
  }
  return Status::Ok();
}

Status WriteHeader(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->write_header_st,
                             Q("INSERT OR REPLACE INTO \"%w\".\"%w_info\"(key, value) VALUES ('header', ?1)", vt->schema,
                               vt->name)));
  std::vector<uint8_t> bytes = vt->index->Header().Encode();
  sqlite3_bind_blob(vt->write_header_st.st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return StepDone(vt, vt->write_header_st.st, "writing the index header");
}

// The 'format' row must be one this release reads for the table's form (1 or 3 without declared
// columns, 2 or 4 with them); sets vt->format.
Status CheckFormat(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->read_format_st, Q("SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'format'", vt->schema, vt->name)));
  sqlite3_stmt* st = vt->read_format_st.st;
  int rc = sqlite3_step(st);
  Status out;
  const int older = vt->decl.legacy ? kHnswStorageFormat : kHnswStorageFormatColumns;
  const int newer = NewStorageFormat(vt->decl.legacy);
  if (rc == SQLITE_ROW) {
    sqlite3_value* v = sqlite3_column_value(st, 0);
    const int64_t f = sqlite3_value_type(v) == SQLITE_INTEGER ? sqlite3_value_int64(v) : 0;
    if (f != older && f != newer) {
      out = Status::Corruption(IndexPrefix(vt) + StrFormat("%s_info: storage format is %s, expected format %d or %d for %s",
                                                           vt->name.c_str(), DescribeValue(v).c_str(), older, newer,
                                                           vt->decl.legacy ? "a table without declared columns"
                                                                             : "a table with declared columns"));
    } else {
      vt->format = static_cast<int>(f);
    }
  } else if (rc == SQLITE_DONE) {
    out = Status::Corruption(IndexPrefix(vt) + StrFormat("%s_info has no 'format' row", vt->name.c_str()));
  } else {
    out = SqliteError(vt->db, rc, IndexPrefix(vt) + "reading the storage format");
  }
  sqlite3_reset(st);
  return out;
}

StatusOr<hnsw::HnswHeader> ReadHeader(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->read_header_st, Q("SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'header'", vt->schema, vt->name)));
  sqlite3_stmt* st = vt->read_header_st.st;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return Status::Corruption(IndexPrefix(vt) + StrFormat("%s_info has no 'header' row", vt->name.c_str()));
    return SqliteError(vt->db, rc, IndexPrefix(vt) + "reading the index header");
  }
  sqlite3_value* v = sqlite3_column_value(st, 0);
  if (sqlite3_value_type(v) != SQLITE_BLOB) {
    Status bad = Status::Corruption(IndexPrefix(vt) + StrFormat("the header in %s_info is %s, expected a blob",
                                                                vt->name.c_str(), DescribeValue(v).c_str()));
    sqlite3_reset(st);
    return bad;
  }
  const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(v));
  std::vector<uint8_t> bytes(p, p + sqlite3_value_bytes(v));
  sqlite3_reset(st);
  auto h = hnsw::HnswHeader::Decode(bytes);
  if (!h.ok()) return h.status().WithPrefix(IndexPrefix(vt) + "header: ");
  return h;
}

// Streams the node rows to the engine's loader; the types are checked here, the bytes there.
// Formats 3 and 4 store the vector as inserted: the engine gets its stored form (for cosine the
// unit vector, computed exactly as the insert did; other metrics store the vector unchanged).
class SqlRecordSource final : public hnsw::RecordSource {
 public:
  SqlRecordSource(HnswVtab* vt, const hnsw::HnswHeader& header)
      : vt_(vt),
        st_(vt->read_all_st.st),
        dim_(header.dim),
        metric_(header.metric),
        derive_(vt->VectorsAsInserted() && header.metric == Metric::kCosine) {}
  StatusOr<bool> Next(hnsw::NodeRow* row) override {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return SqliteError(vt_->db, rc, IndexPrefix(vt_) + "reading node rows");
    row->rowid = sqlite3_column_int64(st_, 0);
    for (int col : {1, 2}) {
      sqlite3_value* v = sqlite3_column_value(st_, col);
      if (sqlite3_value_type(v) != SQLITE_BLOB) {
        return Status::Corruption(IndexPrefix(vt_) + StrFormat("row %lld: column %s is %s, expected a blob",
                                                               static_cast<long long>(row->rowid),
                                                               col == 1 ? "vector" : "record", DescribeValue(v).c_str()));
      }
      const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(v));
      std::span<const uint8_t> bytes(p, static_cast<size_t>(sqlite3_value_bytes(v)));
      (col == 1 ? row->vector : row->record) = bytes;
    }
    if (derive_) {
      // The inserted vector, checked as every stored vector is (length, finite), then its
      // stored form; the engine checks the result again (unit length).
      VectorBuf in;
      VG_RETURN_IF_ERROR(CheckVectorBlob(vt_, sqlite3_column_value(st_, 1), row->rowid, "vector", dim_, &in));
      stored_.resize(in.dims());
      hnsw::HnswIndex::StoredFormOf(metric_, in.view(), stored_.data());
      row->vector = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(stored_.data()), stored_.size() * sizeof(float));
    }
    return true;
  }

 private:
  HnswVtab* vt_;
  sqlite3_stmt* st_;
  size_t dim_;
  Metric metric_;
  bool derive_;
  std::vector<float> stored_;  // the current row's stored form (valid until the next call)
};

// Format 2: the 'columns' row must equal the declaration of the CREATE statement, and the
// header's dimension the one in the vector column's type.
Status CheckColumns(HnswVtab* vt, const hnsw::HnswHeader& header) {
  if (vt->decl.legacy) return Status::Ok();
  if (header.dim != vt->declared_dim) {
    return Status::Corruption(IndexPrefix(vt) + StrFormat("the header says dim=%u, the vector column is declared float[%u]",
                                                          header.dim, vt->declared_dim));
  }
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->read_columns_st,
                             Q("SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'columns'", vt->schema, vt->name)));
  sqlite3_stmt* st = vt->read_columns_st.st;
  int rc = sqlite3_step(st);
  Status out;
  if (rc == SQLITE_ROW) {
    const std::string want = vt->decl.Canonical(vt->declared_dim);
    sqlite3_value* v = sqlite3_column_value(st, 0);
    if (sqlite3_value_type(v) != SQLITE_TEXT ||
        std::string(reinterpret_cast<const char*>(sqlite3_value_text(v)), static_cast<size_t>(sqlite3_value_bytes(v))) != want) {
      out = Status::Corruption(IndexPrefix(vt) + StrFormat("the columns recorded in %s_info (%s) differ from the table's "
                                                           "declaration",
                                                           vt->name.c_str(), DescribeValue(v).c_str()));
    }
  } else if (rc == SQLITE_DONE) {
    out = Status::Corruption(IndexPrefix(vt) + StrFormat("%s_info has no 'columns' row", vt->name.c_str()));
  } else {
    out = SqliteError(vt->db, rc, IndexPrefix(vt) + "reading the column declarations");
  }
  sqlite3_reset(st);
  return out;
}

// A metadata value read back from <name>_rows must be of its column's class (it was stored
// converted); anything else is corruption.
Status StoredAttr(const HnswVtab* vt, const HnswColumnDef& col, sqlite3_value* v, int64_t rowid, hnsw::AttrValue* out) {
  const int t = sqlite3_value_type(v);
  bool ok = t == SQLITE_NULL;
  if (t == SQLITE_NULL) {
    *out = hnsw::AttrValue::Null();
  } else if ((col.type == hnsw::AttrType::kInteger || col.type == hnsw::AttrType::kBoolean) && t == SQLITE_INTEGER) {
    *out = hnsw::AttrValue::Int(sqlite3_value_int64(v));
    ok = col.type == hnsw::AttrType::kInteger || out->i == 0 || out->i == 1;
  } else if (col.type == hnsw::AttrType::kReal && t == SQLITE_FLOAT) {
    *out = hnsw::AttrValue::Real(sqlite3_value_double(v));
    ok = true;
  } else if (col.type == hnsw::AttrType::kText && t == SQLITE_TEXT) {
    *out = hnsw::AttrValue::Text(std::string(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                                             static_cast<size_t>(sqlite3_value_bytes(v))));
    ok = out->s.size() <= hnsw::AttributeTable::kMaxTextBytes;
  }
  if (!ok) {
    return Status::Corruption(IndexPrefix(vt) + StrFormat("row %lld: column %s in %s_rows is %s, expected %s",
                                                          static_cast<long long>(rowid), col.name.c_str(),
                                                          vt->name.c_str(), DescribeValue(v).c_str(),
                                                          col.declared_type.c_str()));
  }
  return Status::Ok();
}

// Format 2: hands every row's metadata to the freshly loaded index and checks that <name>_rows
// has exactly one row per live node.
Status LoadAttributes(HnswVtab* vt, hnsw::HnswIndex* idx) {
  if (vt->decl.legacy) return Status::Ok();
  idx->SetAttributeSchema(vt->decl.AttrTypes());
  const bool grouped = vt->decl.HasPartition();
  if (grouped) idx->SetGrouped();
  vt->part_ids.clear();
  std::string cols;
  std::vector<const HnswColumnDef*> attr_cols;
  for (size_t i = 0; i < vt->decl.columns.size(); ++i) {
    if (vt->decl.columns[i].attr < 0) continue;
    cols += ", c" + std::to_string(i + 1);
    attr_cols.push_back(&vt->decl.columns[i]);
  }
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->read_rows_st, Q("SELECT rowid", "", "") + cols + Q(" FROM \"%w\".\"%w_rows\"", vt->schema, vt->name)));
  sqlite3_stmt* st = vt->read_rows_st.st;
  std::vector<hnsw::AttrValue> row(attr_cols.size());
  size_t n = 0;
  Status out;
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      out = SqliteError(vt->db, rc, IndexPrefix(vt) + "reading metadata rows");
      break;
    }
    const int64_t rowid = sqlite3_column_int64(st, 0);
    if (!idx->Contains(rowid)) {
      out = Status::Corruption(IndexPrefix(vt) + StrFormat("row %lld of %s_rows has no vector in %s_nodes",
                                                           static_cast<long long>(rowid), vt->name.c_str(), vt->name.c_str()));
      break;
    }
    for (size_t c = 0; c < attr_cols.size() && out.ok(); ++c) {
      out = StoredAttr(vt, *attr_cols[c], sqlite3_column_value(st, static_cast<int>(c) + 1), rowid, &row[c]);
    }
    if (out.ok() && !row.empty()) out = idx->SetAttributes(rowid, row);
    if (out.ok() && grouped) out = idx->SetGroup(rowid, PartitionGroup(vt, row));
    if (!out.ok()) break;
    ++n;
  }
  sqlite3_reset(st);
  VG_RETURN_IF_ERROR(out);
  if (grouped) idx->FinishGroups();
  if (n != idx->size()) {
    return Status::Corruption(IndexPrefix(vt) + StrFormat("%s_rows has %zu rows, %s_nodes %zu live vectors",
                                                          vt->name.c_str(), n, vt->name.c_str(), idx->size()));
  }
  return Status::Ok();
}

StatusOr<int64_t> DataVersion(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(Prepare(vt, &vt->data_version_st, Q("PRAGMA \"%w\".data_version", vt->schema, "")));
  sqlite3_stmt* st = vt->data_version_st.st;
  int rc = sqlite3_step(st);
  int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) return SqliteError(vt->db, rc, IndexPrefix(vt) + "reading PRAGMA data_version");
  return v;
}

}  // namespace

Status CreateStorage(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(CheckNameFree(vt, vt->name + "_info", "create"));
  VG_RETURN_IF_ERROR(CheckNameFree(vt, vt->name + "_nodes", "create"));
  if (!vt->decl.legacy) VG_RETURN_IF_ERROR(CheckNameFree(vt, vt->name + "_rows", "create"));
  const std::string what = IndexPrefix(vt) + "creating the shadow tables";
  VG_RETURN_IF_ERROR(
      Exec(vt->db, Q("CREATE TABLE \"%w\".\"%w_info\"(key TEXT PRIMARY KEY, value) WITHOUT ROWID", vt->schema, vt->name), what));
  VG_RETURN_IF_ERROR(Exec(vt->db,
                          Q("CREATE TABLE \"%w\".\"%w_nodes\"(rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL, "
                            "record BLOB NOT NULL, original BLOB)",
                            vt->schema, vt->name),
                          what));
  const int format = NewStorageFormat(vt->decl.legacy);
  VG_RETURN_IF_ERROR(Exec(vt->db,
                          Q("INSERT INTO \"%w\".\"%w_info\"(key, value) VALUES ('format', ", vt->schema, vt->name) +
                              std::to_string(format) + ")",
                          what));
  if (!vt->decl.legacy) {
    std::string cols;
    for (size_t i = 1; i <= vt->decl.columns.size(); ++i) cols += ", c" + std::to_string(i);
    VG_RETURN_IF_ERROR(Exec(
        vt->db, Q("CREATE TABLE \"%w\".\"%w_rows\"(rowid INTEGER PRIMARY KEY", vt->schema, vt->name) + cols + ")", what));
    char* ins = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_info\"(key, value) VALUES ('columns', %Q)", vt->schema.c_str(),
                                vt->name.c_str(), vt->decl.Canonical(vt->declared_dim).c_str());
    if (ins == nullptr) throw std::bad_alloc();
    std::string ins_sql = ins;
    sqlite3_free(ins);
    VG_RETURN_IF_ERROR(Exec(vt->db, ins_sql, what));
  }
  auto idx = hnsw::HnswIndex::Create(vt->config);
  if (!idx.ok()) return idx.status().WithPrefix("hnsw_knn: ");
  vt->index = std::move(*idx);
  vt->format = format;
  if (!vt->decl.legacy) vt->index->SetAttributeSchema(vt->decl.AttrTypes());
  if (vt->decl.HasPartition()) vt->index->SetGrouped();
  vt->part_ids.clear();
  vt->config_known = true;
  VG_RETURN_IF_ERROR(WriteHeader(vt));
  (void)vt->index->TakeChanges();
  auto v = DataVersion(vt);
  if (!v.ok()) return v.status();
  vt->data_version = *v;
  return Status::Ok();
}

Status DropStorage(HnswVtab* vt) {
  const std::string what = IndexPrefix(vt) + "dropping the shadow tables";
  VG_RETURN_IF_ERROR(Exec(vt->db, Q("DROP TABLE IF EXISTS \"%w\".\"%w_nodes\"", vt->schema, vt->name), what));
  if (!vt->decl.legacy) {
    VG_RETURN_IF_ERROR(Exec(vt->db, Q("DROP TABLE IF EXISTS \"%w\".\"%w_rows\"", vt->schema, vt->name), what));
  }
  return Exec(vt->db, Q("DROP TABLE IF EXISTS \"%w\".\"%w_info\"", vt->schema, vt->name), what);
}

Status RenameStorage(HnswVtab* vt, const std::string& new_name) {
  VG_RETURN_IF_ERROR(CheckNameFree(vt, new_name + "_info", "rename"));
  VG_RETURN_IF_ERROR(CheckNameFree(vt, new_name + "_nodes", "rename"));
  if (!vt->decl.legacy) VG_RETURN_IF_ERROR(CheckNameFree(vt, new_name + "_rows", "rename"));
  std::vector<const char*> suffixes = {"_info", "_nodes"};
  if (!vt->decl.legacy) suffixes.push_back("_rows");
  for (const char* suffix : suffixes) {
    std::string sql = Q("ALTER TABLE \"%w\".", vt->schema, "") + Q("\"%w", vt->name, "") + suffix + "\" RENAME TO " +
                      Q("\"%w", new_name, "") + suffix + "\"";
    VG_RETURN_IF_ERROR(Exec(vt->db, sql, IndexPrefix(vt) + "renaming the shadow tables"));
  }
  // Statements name the old tables: prepare them again on next use.
  vt->FinalizeStatements();
  return Status::Ok();
}

void Invalidate(HnswVtab* vt) {
  vt->index.reset();
  ++vt->version;
  vt->data_version = -1;
  vt->pending_rowids.clear();
  vt->pending_vecs.clear();
  vt->pending_set.clear();
  vt->pending_attrs.clear();
  vt->pending_groups.clear();
}

Status EnsureConfig(HnswVtab* vt) {
  if (vt->config_known) return Status::Ok();
  VG_RETURN_IF_ERROR(CheckFormat(vt));
  auto header = ReadHeader(vt);
  if (!header.ok()) return header.status();
  VG_RETURN_IF_ERROR(CheckColumns(vt, *header));
  hnsw::HnswConfig persisted = header->ToConfig();
  vt->config.dim = persisted.dim;
  vt->config.metric = persisted.metric;
  vt->config.M = persisted.M;
  vt->config.ef_construction = persisted.ef_construction;
  vt->config.ef_search = persisted.ef_search;
  vt->config.seed = persisted.seed;
  vt->config.keep_pruned_connections = persisted.keep_pruned_connections;
  vt->config_known = true;
  return Status::Ok();
}

Status EnsureLoaded(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(CheckPoison(vt));
  auto v = DataVersion(vt);
  if (!v.ok()) return v.status();
  if (vt->index && *v == vt->data_version) return Status::Ok();
  if (vt->index && !vt->pending_rowids.empty()) {
    // Cannot happen (another connection cannot commit while this one has uncommitted writes).
    return Status::Internal("hnsw_knn: the database changed under buffered inserts");
  }
  VG_RETURN_IF_ERROR(CheckFormat(vt));
  auto header = ReadHeader(vt);
  if (!header.ok()) return header.status();
  VG_RETURN_IF_ERROR(CheckColumns(vt, *header));
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->read_all_st, Q("SELECT rowid, vector, record FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name)));
  SqlRecordSource source(vt, *header);
  hnsw::HnswConfig runtime = vt->config;  // runtime-only fields (filter thresholds)
  auto idx = hnsw::HnswIndex::Load(*header, source, &runtime);
  sqlite3_reset(vt->read_all_st.st);
  if (!idx.ok()) {
    const std::string& m = idx.status().message();
    return m.rfind("hnsw_knn: ", 0) == 0 ? idx.status() : idx.status().WithPrefix(IndexPrefix(vt));
  }
  VG_RETURN_IF_ERROR(LoadAttributes(vt, idx->get()));
  // The largest rowid ever stored, tombstones included (automatic rowids never reuse one).
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->max_rowid_st, Q("SELECT max(rowid) FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name)));
  int rc = sqlite3_step(vt->max_rowid_st.st);
  std::optional<int64_t> max_rowid;
  if (rc == SQLITE_ROW && sqlite3_column_type(vt->max_rowid_st.st, 0) != SQLITE_NULL) {
    max_rowid = sqlite3_column_int64(vt->max_rowid_st.st, 0);
  }
  sqlite3_reset(vt->max_rowid_st.st);
  if (rc != SQLITE_ROW) return SqliteError(vt->db, rc, IndexPrefix(vt) + "reading the largest rowid");
  vt->index = std::move(*idx);
  vt->config = vt->index->config();
  vt->config_known = true;
  vt->data_version = *v;
  vt->max_rowid = max_rowid;
  ++vt->version;
  return Status::Ok();
}

Status WriteChanges(HnswVtab* vt, const std::unordered_map<int64_t, const float*>& fresh) {
  hnsw::HnswChanges ch = vt->index->TakeChanges();
  if (ch.empty()) return Status::Ok();
  ++vt->version;
  VG_RETURN_IF_ERROR(
      Prepare(vt, &vt->delete_node_st, Q("DELETE FROM \"%w\".\"%w_nodes\" WHERE rowid = ?1", vt->schema, vt->name)));
  for (int64_t r : ch.erased) {
    sqlite3_bind_int64(vt->delete_node_st.st, 1, r);
    VG_RETURN_IF_ERROR(StepDone(vt, vt->delete_node_st.st, "deleting a node row"));
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
      st = vt->insert_node_st.st;
      sqlite3_bind_int64(st, 1, r);
      sqlite3_bind_blob(st, 3, rec->data(), static_cast<int>(rec->size()), SQLITE_TRANSIENT);
      if (vt->VectorsAsInserted()) {
        // Formats 3 and 4: the vector once, as inserted (loading derives the stored form).
        sqlite3_bind_blob(st, 2, it->second, static_cast<int>(dim * sizeof(float)), SQLITE_TRANSIENT);
        sqlite3_bind_null(st, 4);
      } else {
        auto vec = vt->index->StoredVector(r);
        if (!vec.ok()) return vec.status();
        sqlite3_bind_blob(st, 2, vec->data(), static_cast<int>(vec->size() * sizeof(float)), SQLITE_TRANSIENT);
        if (std::memcmp(vec->data(), it->second, dim * sizeof(float)) != 0) {
          sqlite3_bind_blob(st, 4, it->second, static_cast<int>(dim * sizeof(float)), SQLITE_TRANSIENT);
        } else {
          sqlite3_bind_null(st, 4);
        }
      }
    } else {
      st = vt->update_record_st.st;
      sqlite3_bind_int64(st, 1, r);
      sqlite3_bind_blob(st, 2, rec->data(), static_cast<int>(rec->size()), SQLITE_TRANSIENT);
    }
    VG_RETURN_IF_ERROR(StepDone(vt, st, "writing a node row"));
    if (st == vt->update_record_st.st && sqlite3_changes(vt->db) != 1) {
      return Status::Corruption(IndexPrefix(vt) +
                                StrFormat("node row %lld is missing from %s_nodes", static_cast<long long>(r), vt->name.c_str()));
    }
  }
  if (ch.header) VG_RETURN_IF_ERROR(WriteHeader(vt));
  return Status::Ok();
}

namespace {

// How often a build asks whether sqlite3_interrupt was called (interrupt.h; the probe is cheap).
constexpr std::chrono::milliseconds kInterruptPollInterval{10};

// InsertBatch of a flush's rows with progress (build_progress.h) and sqlite3_interrupt: the engine
// calls `cancelled` on this thread between pieces of work (engine/hnsw/build_control.h); it
// reports progress every time and probes the connection at most every kInterruptPollInterval.
// Interrupted: Cancelled with SQLITE_INTERRUPT, "build interrupted after N of M rows" (of the
// whole build, earlier pieces included); the index must then be dropped.
Status BuildRows(HnswVtab* vt, std::span<const int64_t> rowids, const float* vecs, std::span<const uint32_t> groups,
                 BuildTracker* tracker) {
  InterruptProbe probe(vt->db);
  hnsw::BuildControl ctl;
  auto next_probe = std::chrono::steady_clock::now() + kInterruptPollInterval;
  ctl.cancelled = [&] {
    tracker->Progress(ctl.built.load(std::memory_order_relaxed));
    const auto now = std::chrono::steady_clock::now();
    if (now < next_probe) return false;
    next_probe = now + kInterruptPollInterval;
    return probe.Interrupted();
  };
  Status st = vt->index->InsertBatch(rowids, vecs, /*upsert=*/false, &ctl, groups);
  if (st.code() == StatusCode::kCancelled) {
    tracker->Progress(ctl.built.load());
    return Status::Cancelled(IndexPrefix(vt) + StrFormat("build interrupted after %llu of %llu rows",
                                                         static_cast<unsigned long long>(tracker->built()),
                                                         static_cast<unsigned long long>(tracker->total())))
        .WithDetail(SQLITE_INTERRUPT);
  }
  return st.WithPrefix("hnsw_knn: ");
}

}  // namespace

namespace {

// A failed build loses the buffered rows: the table refuses to go on until ROLLBACK (HnswVtab::poison).
Status Poison(HnswVtab* vt, const Status& cause) {
  vt->poison = IndexPrefix(vt) + StrFormat("%zu inserted rows could not be built (%s); this transaction must be "
                                           "rolled back (ROLLBACK): committing it would lose them",
                                           vt->poison_rows, cause.message().c_str());
  return cause;
}

}  // namespace

Status CheckPoison(const HnswVtab* vt) {
  if (vt->poison.empty()) return Status::Ok();
  return Status::InvalidArgument(vt->poison);
}

Status Flush(HnswVtab* vt) {
  VG_RETURN_IF_ERROR(CheckPoison(vt));
  if (vt->pending_rowids.empty()) return Status::Ok();
  KeepLastRowid keep(vt->db);  // the node rows written here are not the user's inserts
  vt->poison_rows = vt->pending_rowids.size();
  std::vector<int64_t> rowids = std::move(vt->pending_rowids);
  std::vector<float> vecs = std::move(vt->pending_vecs);
  std::vector<std::vector<hnsw::AttrValue>> attrs = std::move(vt->pending_attrs);
  std::vector<uint32_t> groups = std::move(vt->pending_groups);
  vt->pending_rowids.clear();
  vt->pending_vecs.clear();
  vt->pending_set.clear();
  vt->pending_attrs.clear();
  vt->pending_groups.clear();
  Status loaded = EnsureLoaded(vt);
  if (!loaded.ok()) {
    Invalidate(vt);
    return Poison(vt, loaded);
  }
  // A full buffer: the INSERT goes on, and the build (its progress) with it.
  BuildTracker tracker(vt->db, vt->schema, vt->name, rowids.size(), rowids.size() >= kMaxPendingRows);
  Status st = BuildRows(vt, rowids, vecs.data(), groups, &tracker);
  if (!st.ok()) {
    // Interrupted or failed: the statement fails and SQLite rolls back what it wrote; the index
    // reloads from the shadow tables at the next use.
    Invalidate(vt);
    tracker.Finish(false, st.code() == StatusCode::kCancelled);
    return Poison(vt, st);
  }
  for (size_t i = 0; i < attrs.size() && i < rowids.size(); ++i) {
    st = vt->index->SetAttributes(rowids[i], attrs[i]);
    if (!st.ok()) {
      Invalidate(vt);
      return Poison(vt, st.WithPrefix("hnsw_knn: "));
    }
  }
  std::unordered_map<int64_t, const float*> fresh;
  fresh.reserve(rowids.size());
  for (size_t i = 0; i < rowids.size(); ++i) fresh.emplace(rowids[i], vecs.data() + i * vt->config.dim);
  st = WriteChanges(vt, fresh);
  if (!st.ok()) {
    Invalidate(vt);
    tracker.Finish(false, (StatusToSqlite(st) & 0xff) == SQLITE_INTERRUPT);
    return Poison(vt, st);
  }
  tracker.Finish(true, false);
  return st;
}

Status ReadInputVector(HnswVtab* vt, sqlite3_value* v, const std::string& who, VectorBuf* out) {
  const std::string hint =
      sqlite3_value_type(v) == SQLITE_BLOB ? Float64Hint(static_cast<size_t>(sqlite3_value_bytes(v)), vt->config.dim) : "";
  Status st = DecodeVectorValue(v, out);
  if (!st.ok()) {
    return Status(st.code(), StrFormat("hnsw_knn: column vector of %s: %s%s", who.c_str(), st.message().c_str(),
                                       hint.c_str()));
  }
  if (out->dims() != vt->config.dim) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: dimension mismatch: index '%s' has dim=%u, vector of %s has %zu%s",
                                             vt->name.c_str(), vt->config.dim, who.c_str(), out->dims(), hint.c_str()));
  }
  return Status::Ok();
}

Status CheckStoredVector(const HnswVtab* vt, sqlite3_value* v, int64_t rowid, const char* column, VectorBuf* out) {
  return CheckVectorBlob(vt, v, rowid, column, vt->config.dim, out);
}

Status CheckVectorBlob(const HnswVtab* vt, sqlite3_value* v, int64_t rowid, const char* column, size_t dim,
                       VectorBuf* out) {
  const size_t want = dim * sizeof(float);
  if (sqlite3_value_type(v) != SQLITE_BLOB || static_cast<size_t>(sqlite3_value_bytes(v)) != want) {
    return Status::Corruption(IndexPrefix(vt) + StrFormat("row %lld: column %s is %s, expected a blob of %zu bytes",
                                                          static_cast<long long>(rowid), column,
                                                          DescribeValue(v).c_str(), want));
  }
  Status st = DecodeBlob(sqlite3_value_blob(v), want, out);
  if (!st.ok()) {
    return Status::Corruption(IndexPrefix(vt) + StrFormat("row %lld: column %s: %s", static_cast<long long>(rowid), column,
                                                          st.message().c_str()));
  }
  return Status::Ok();
}

bool HasOriginal(const HnswVtab* vt, sqlite3_value* original) {
  return !vt->VectorsAsInserted() && sqlite3_value_type(original) != SQLITE_NULL;
}

Status ReadUserVector(HnswVtab* vt, int64_t rowid, VectorBuf* out) {
  VG_RETURN_IF_ERROR(PrepareOnce(vt, &vt->get_row_st, [vt] {
    return Q("SELECT original, vector FROM \"%w\".\"%w_nodes\" WHERE rowid = ?1", vt->schema, vt->name);
  }));
  sqlite3_stmt* st = vt->get_row_st.st;
  sqlite3_bind_int64(st, 1, rowid);
  int rc = sqlite3_step(st);
  Status out_st;
  if (rc == SQLITE_ROW) {
    const bool has_original = HasOriginal(vt, sqlite3_column_value(st, 0));
    VectorBuf borrowed;
    out_st = CheckStoredVector(vt, sqlite3_column_value(st, has_original ? 0 : 1), rowid,
                               has_original ? "original" : "vector", &borrowed);
    if (out_st.ok()) {
      std::vector<float> copy(borrowed.view().begin(), borrowed.view().end());  // outlives the reset
      std::memcpy(out->Own(copy.size()), copy.data(), copy.size() * sizeof(float));
    }
  } else if (rc == SQLITE_DONE) {
    out_st = Status::Corruption(IndexPrefix(vt) + StrFormat("node row %lld is missing from %s_nodes",
                                                            static_cast<long long>(rowid), vt->name.c_str()));
  } else {
    out_st = SqliteError(vt->db, rc, IndexPrefix(vt) + "reading a node row");
  }
  sqlite3_reset(st);
  return out_st;
}

bool RecordDeleted(const void* rec, int n) {
  return n >= 2 && (static_cast<const uint8_t*>(rec)[1] & hnsw::kNodeFlagDeleted);
}

Status ReadRowColumns(HnswVtab* vt, int64_t rowid, std::vector<sqlite3_value*>* out) {
  out->clear();
  VG_RETURN_IF_ERROR(PrepareOnce(vt, &vt->get_cols_st, [vt] {
    std::string cols;
    for (size_t i = 1; i <= vt->decl.columns.size(); ++i) cols += (i > 1 ? ", c" : "c") + std::to_string(i);
    return "SELECT " + cols + Q(" FROM \"%w\".\"%w_rows\" WHERE rowid = ?1", vt->schema, vt->name);
  }));
  sqlite3_stmt* st = vt->get_cols_st.st;
  sqlite3_bind_int64(st, 1, rowid);
  int rc = sqlite3_step(st);
  Status s;
  if (rc == SQLITE_ROW) {
    for (size_t i = 0; i < vt->decl.columns.size(); ++i) {
      sqlite3_value* v = sqlite3_value_dup(sqlite3_column_value(st, static_cast<int>(i)));
      if (v == nullptr) {
        for (sqlite3_value* x : *out) sqlite3_value_free(x);
        out->clear();
        sqlite3_reset(st);
        throw std::bad_alloc();
      }
      out->push_back(v);
    }
  } else if (rc == SQLITE_DONE) {
    s = Status::Corruption(IndexPrefix(vt) + StrFormat("row %lld is missing from %s_rows", static_cast<long long>(rowid),
                                                       vt->name.c_str()));
  } else {
    s = SqliteError(vt->db, rc, IndexPrefix(vt) + "reading a row's columns");
  }
  sqlite3_reset(st);
  return s;
}

Status WriteRowColumns(HnswVtab* vt, int64_t rowid, const RowValues& values) {
  VG_RETURN_IF_ERROR(PrepareOnce(vt, &vt->insert_row_st, [vt] {
    std::string cols, params;
    for (size_t i = 1; i <= vt->decl.columns.size(); ++i) {
      cols += ", c" + std::to_string(i);
      params += ", ?" + std::to_string(i + 1);
    }
    return Q("INSERT OR REPLACE INTO \"%w\".\"%w_rows\"(rowid", vt->schema, vt->name) + cols + ") VALUES (?1" + params + ")";
  }));
  sqlite3_stmt* st = vt->insert_row_st.st;
  sqlite3_bind_int64(st, 1, rowid);
  for (size_t i = 0; i < vt->decl.columns.size(); ++i) {
    const HnswColumnDef& c = vt->decl.columns[i];
    const int p = static_cast<int>(i) + 2;
    if (c.attr >= 0) {
      BindAttr(st, p, values.attrs[static_cast<size_t>(c.attr)]);
    } else if (i < values.raw.size() && values.raw[i] != nullptr) {
      sqlite3_bind_value(st, p, values.raw[i]);
    } else {
      sqlite3_bind_null(st, p);
    }
  }
  return StepDone(vt, st, "writing a row's columns");
}

Status DeleteRowColumns(HnswVtab* vt, int64_t rowid) {
  VG_RETURN_IF_ERROR(PrepareOnce(vt, &vt->delete_row_st, [vt] {
    return Q("DELETE FROM \"%w\".\"%w_rows\" WHERE rowid = ?1", vt->schema, vt->name);
  }));
  sqlite3_bind_int64(vt->delete_row_st.st, 1, rowid);
  return StepDone(vt, vt->delete_row_st.st, "deleting a row's columns");
}

Status ConvertMetadata(const HnswColumnDef& col, sqlite3_value* v, const std::string& who, hnsw::AttrValue* out) {
  const int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) {
    *out = hnsw::AttrValue::Null();
    return Status::Ok();
  }
  auto bad = [&](const char* expected) {
    return Status::InvalidArgument(StrFormat("hnsw_knn: column %s of %s: expected %s, found %s", col.name.c_str(),
                                             who.c_str(), expected, DescribeValue(v).c_str()));
  };
  switch (col.type) {
    case hnsw::AttrType::kInteger:
    case hnsw::AttrType::kBoolean: {
      int64_t x = 0;
      // As a STRICT INTEGER column: an INTEGER, or a REAL / numeric TEXT whose value is an integer
      // strictly inside int64's range (a REAL of -2^63, or a text that rounds to it, is not).
      bool ok = t != SQLITE_BLOB;
      if (ok) {
        NumericValue nv(v);
        if (nv.type() == SQLITE_INTEGER) {
          x = sqlite3_value_int64(nv.value());
        } else if (nv.type() == SQLITE_FLOAT) {
          ok = hnsw::IntegralInt64(sqlite3_value_double(nv.value()), &x) && x != INT64_MIN;
        } else {
          ok = false;
        }
      }
      if (!ok) {
        return bad(col.type == hnsw::AttrType::kBoolean ? "a boolean (0 or 1)" : "an integer");
      }
      if (col.type == hnsw::AttrType::kBoolean && x != 0 && x != 1) return bad("a boolean (0 or 1)");
      *out = hnsw::AttrValue::Int(x);
      return Status::Ok();
    }
    case hnsw::AttrType::kReal: {
      if (t == SQLITE_BLOB) return bad("a real number");
      NumericValue nv(v);
      if (nv.type() == SQLITE_INTEGER) {
        *out = hnsw::AttrValue::Real(static_cast<double>(sqlite3_value_int64(nv.value())));
      } else if (nv.type() == SQLITE_FLOAT) {
        *out = hnsw::AttrValue::Real(sqlite3_value_double(nv.value()));
      } else {
        return bad("a real number");
      }
      return Status::Ok();
    }
    case hnsw::AttrType::kText: {
      if (t == SQLITE_BLOB) return bad("text");
      const unsigned char* p = sqlite3_value_text(v);
      if (p == nullptr) throw std::bad_alloc();
      const size_t n = static_cast<size_t>(sqlite3_value_bytes(v));
      if (n > hnsw::AttributeTable::kMaxTextBytes) {
        return Status::InvalidArgument(StrFormat("hnsw_knn: column %s of %s: text of %zu bytes (a metadata text holds at "
                                                 "most %zu bytes; use an auxiliary column for longer text)",
                                                 col.name.c_str(), who.c_str(), n, hnsw::AttributeTable::kMaxTextBytes));
      }
      *out = hnsw::AttrValue::Text(std::string(reinterpret_cast<const char*>(p), n));
      return Status::Ok();
    }
  }
  return bad("a value");
}

hnsw::AttrValue ConstraintValue(const HnswColumnDef& col, sqlite3_value* v) {
  const int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return hnsw::AttrValue::Null();
  if (t == SQLITE_BLOB) {
    return hnsw::AttrValue::Blob(std::string(static_cast<const char*>(sqlite3_value_blob(v)),
                                             static_cast<size_t>(sqlite3_value_bytes(v))));
  }
  if (col.type == hnsw::AttrType::kText) {
    // TEXT affinity: a number compares as its text.
    const unsigned char* p = sqlite3_value_text(v);
    if (p == nullptr) throw std::bad_alloc();
    return hnsw::AttrValue::Text(std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(v))));
  }
  NumericValue nv(v);
  switch (nv.type()) {
    case SQLITE_INTEGER: return hnsw::AttrValue::Int(sqlite3_value_int64(nv.value()));
    case SQLITE_FLOAT: return hnsw::AttrValue::Real(sqlite3_value_double(nv.value()));
    default: {
      const unsigned char* p = sqlite3_value_text(v);
      if (p == nullptr) throw std::bad_alloc();
      return hnsw::AttrValue::Text(std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(v))));
    }
  }
}

void BindAttr(sqlite3_stmt* st, int i, const hnsw::AttrValue& v) {
  switch (v.kind) {
    case hnsw::AttrValue::Kind::kNull: sqlite3_bind_null(st, i); break;
    case hnsw::AttrValue::Kind::kInteger: sqlite3_bind_int64(st, i, v.i); break;
    case hnsw::AttrValue::Kind::kReal: sqlite3_bind_double(st, i, v.r); break;
    case hnsw::AttrValue::Kind::kText: sqlite3_bind_text(st, i, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
    case hnsw::AttrValue::Kind::kBlob: sqlite3_bind_blob(st, i, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
  }
}

std::string PartitionKey(const HnswVtab* vt, const std::vector<hnsw::AttrValue>& attrs) {
  std::string key;
  for (const HnswColumnDef& c : vt->decl.columns) {
    if (c.kind != HnswColumnKind::kPartition) continue;
    const hnsw::AttrValue& v = attrs[static_cast<size_t>(c.attr)];
    switch (v.kind) {
      case hnsw::AttrValue::Kind::kInteger:
        key.push_back('i');
        key.append(reinterpret_cast<const char*>(&v.i), sizeof v.i);
        break;
      case hnsw::AttrValue::Kind::kText: {
        key.push_back('t');
        const uint64_t n = v.s.size();
        key.append(reinterpret_cast<const char*>(&n), sizeof n);
        key += v.s;
        break;
      }
      default: key.push_back('n'); break;  // NULL (a partition of its own)
    }
  }
  return key;
}

uint32_t PartitionGroup(HnswVtab* vt, const std::vector<hnsw::AttrValue>& attrs) {
  auto [it, fresh] = vt->part_ids.emplace(PartitionKey(vt, attrs), static_cast<uint32_t>(vt->part_ids.size()));
  (void)fresh;
  return it->second;
}

}  // namespace vecgraph::sql
