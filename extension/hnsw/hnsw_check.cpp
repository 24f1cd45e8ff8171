// extension/hnsw/hnsw_check.cpp — vecgraph_check(index): is an hnsw_knn index consistent?
//
//   SELECT vecgraph_check('docs_idx');   -- 'ok', or one problem per line
//
// It checks everything the table later reads: the 'format' and 'header' rows of <name>_info, every
// node row of <name>_nodes (the vector and record blobs byte by byte, through the same loader
// the index uses, then the graph's invariants: HnswIndex::Check), the number of node rows, and
// the 'original' column (formats 1 and 2: NULL, or a blob of dim float32 values whose stored form
// is the row's vector: what SELECT vector returns for the row; formats 3 and 4: NULL). A damaged or hostile file is described in the
// result, not raised as an error; an error is raised only for a bad argument (not a name, no
// such table, not an hnsw_knn table) or when SQLite itself fails (SQLITE_BUSY, ...).
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "extension/hnsw/hnsw_vtab.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

constexpr size_t kMaxProblems = 100;

// Problems with the 'original' column, appended to *problems.
Status CheckOriginals(HnswVtab* vt, std::vector<std::string>* problems) {
  sqlite3_stmt* st = nullptr;
  std::string sql = Q("SELECT rowid, vector, original FROM \"%w\".\"%w_nodes\" WHERE original IS NOT NULL ORDER BY rowid",
                      vt->schema, vt->name);
  int rc = sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &st, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
  if (rc != SQLITE_OK) return SqliteError(vt->db, rc, IndexPrefix(vt) + "reading node rows");
  const hnsw::HnswIndex& idx = *vt->index;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && problems->size() < kMaxProblems) {
    const int64_t rowid = sqlite3_column_int64(st, 0);
    if (vt->VectorsAsInserted()) {
      // Formats 3 and 4 keep each vector once, in column vector.
      problems->push_back(StrFormat("row %lld: column original is %s, expected NULL in storage format %d",
                                    static_cast<long long>(rowid), DescribeValue(sqlite3_column_value(st, 2)).c_str(),
                                    vt->format));
      continue;
    }
    VectorBuf original, stored;
    Status s = CheckStoredVector(vt, sqlite3_column_value(st, 2), rowid, "original", &original);
    if (!s.ok()) {
      problems->push_back(s.message().substr(IndexPrefix(vt).size()));
      continue;
    }
    s = CheckStoredVector(vt, sqlite3_column_value(st, 1), rowid, "vector", &stored);
    if (!s.ok()) {
      problems->push_back(s.message().substr(IndexPrefix(vt).size()));
      continue;
    }
    std::vector<float> expect = idx.StoredForm(original.view());
    if (std::memcmp(expect.data(), stored.data(), expect.size() * sizeof(float)) != 0) {
      problems->push_back(StrFormat("row %lld: column original does not match the stored vector (its %s form differs)",
                                    static_cast<long long>(rowid), MetricName(vt->config.metric)));
    }
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(vt->db, rc, IndexPrefix(vt) + "reading node rows");
  return Status::Ok();
}

}  // namespace

void HnswCheckFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  VG_SQL_TRY
  auto* reg = static_cast<Registry*>(sqlite3_user_data(ctx));
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    return ResultError(ctx, StrFormat("vecgraph_check: argument 1 (index): expected a name (TEXT), found %s",
                                      DescribeValue(argv[0]).c_str()));
  }
  sqlite3* db = sqlite3_context_db_handle(ctx);
  auto vt = FindIndex(db, reg, "vecgraph_check", "argument 1 (index)",
                      std::string(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                                  static_cast<size_t>(sqlite3_value_bytes(argv[0]))));
  if (!vt.ok()) return ResultError(ctx, vt.status());
  // Read everything back from the shadow tables, not from the cache: the check is of what is
  // stored (this connection may have changed the shadow tables directly).
  Status st = Flush(*vt);
  if (st.ok()) {
    Invalidate(*vt);
    st = EnsureLoaded(*vt);
  }
  if (!st.ok()) {
    // A corrupted or hostile file: describe it rather than fail.
    if (st.code() == StatusCode::kCorruption) return ResultText(ctx, st.message());
    return ResultError(ctx, st.WithPrefix("vecgraph_check: "));
  }
  hnsw::CheckOptions opt;
  std::vector<std::string> problems = (*vt)->index->Check(opt);
  // The stored rows must match the index one to one.
  sqlite3_stmt* cs = nullptr;
  std::string sql = Q("SELECT count(*) FROM \"%w\".\"%w_nodes\"", (*vt)->schema, (*vt)->name);
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &cs, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(cs);
  if (rc == SQLITE_ROW) {
    auto rows = static_cast<size_t>(sqlite3_column_int64(cs, 0));
    if (rows != (*vt)->index->node_count()) {
      problems.push_back(StrFormat("%zu node rows stored but the index has %zu nodes", rows, (*vt)->index->node_count()));
    }
    rc = SQLITE_OK;
  }
  Status count_st = rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, "vecgraph_check: counting node rows");
  sqlite3_finalize(cs);
  if (count_st.ok()) count_st = CheckOriginals(*vt, &problems);
  if (!count_st.ok()) return ResultError(ctx, count_st);
  if (problems.empty()) {
    sqlite3_result_text(ctx, "ok", 2, SQLITE_STATIC);
    return;
  }
  std::string out;
  for (const std::string& p : problems) out += (out.empty() ? "" : "\n") + p;
  ResultText(ctx, out);
  VG_SQL_CATCH(ctx)
}

}  // namespace vecgraph::sql
