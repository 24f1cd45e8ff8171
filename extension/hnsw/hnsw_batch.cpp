// extension/hnsw/hnsw_batch.cpp — hnsw_knn_batch: the k nearest neighbours of every row of a table.
//
//   SELECT query_id, rowid, distance, rank
//     FROM hnsw_knn_batch(index, query_table, query_column, k [, ef]);
//
// Eponymous-only table-valued function (registered SQLITE_VTAB_DIRECTONLY: it reads the table its
// argument names, so it must not run from a trigger or view). `index` and `query_table` are names
// resolved like SQLite resolves a FROM name ('schema.table' when that schema is attached, else
// temp, main, then attached schemas); `query_column` must be a column of `query_table`. Names are
// quoted as identifiers (%w), never pasted into SQL. Rows whose query is NULL are skipped; rank
// is 1-based; k above the number of rows returns every row.
//
// How it works: every (rowid, vector) of query_table is read, then the queries run through the
// executor as op 'knn' batches of kKnnBatch queries (work = queries × index rows): on the CPU the
// queries of a batch run in parallel on the oneTBB arena (HnswIndex::SearchBatch, results equal
// to one query at a time); a device computes the exact top-k over the live vectors, kept resident
// under (object_id, version).
//
// xBestIndex: the hidden columns idx, query_table, query_column, k, ef are the arguments; an '='
// constraint on each is handed to xFilter (argvIndex in that order, omit set). A missing required
// argument is an error naming it (raised by xFilter: SQLite also asks about plans it will not run);
// one that is present but not usable yet gives SQLITE_CONSTRAINT (SQLite tries another join order).
#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/vector/distance.h"
#include "extension/hnsw/hnsw_vtab.h"
#include "extension/sql_util.h"
#include "extension/vtab_util.h"

namespace vecgraph::sql {
namespace {

constexpr const char* kFn = "hnsw_knn_batch";
constexpr size_t kKnnBatch = 256;

enum BatchColumn { kBQueryId = 0, kBRowid, kBDistance, kBRank, kBIndex, kBTable, kBColumn, kBK, kBEf };
constexpr int kNumArgs = 5;
constexpr int kRequiredArgs = 4;
const char* const kArgNames[kNumArgs] = {"index", "query_table", "query_column", "k", "ef"};

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

using BatchCursor = RowsCursor<BatchRow>;  // rows: every query's hits, computed by xFilter

int BatchConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(query_id INTEGER, rowid INTEGER, distance REAL, rank INTEGER, "
                                "idx HIDDEN, query_table HIDDEN, query_column HIDDEN, k HIDDEN, ef HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  auto* vt = new (std::nothrow) BatchVtab();
  if (!vt) return SQLITE_NOMEM;
  vt->base = sqlite3_vtab{};
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

constexpr int kPlanError = -1;  // idxNum of a plan that fails in xFilter (idxStr: why)

int BatchBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int slot[kNumArgs] = {-1, -1, -1, -1, -1};
  bool seen[kNumArgs] = {false, false, false, false, false};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.op != SQLITE_INDEX_CONSTRAINT_EQ || c.iColumn < kBIndex) continue;
    const int a = c.iColumn - kBIndex;
    seen[a] = true;
    if (c.usable && slot[a] < 0) slot[a] = i;
  }
  for (int a = 0; a < kRequiredArgs; ++a) {
    if (!seen[a]) {
      return DeferredPlanError(info, kPlanError,
                               StrFormat("%s: argument %d (%s) is required: %s(index, query_table, query_column, k [, ef])",
                                         kFn, a + 1, kArgNames[a], kFn));
    }
  }
  for (int a = 0; a < kNumArgs; ++a) {
    if (seen[a] && slot[a] < 0) return SQLITE_CONSTRAINT;  // wait for a plan that binds it
  }
  int n = 0;
  for (int a = 0; a < kNumArgs; ++a) {
    if (slot[a] < 0) continue;
    info->aConstraintUsage[slot[a]].argvIndex = ++n;
    info->aConstraintUsage[slot[a]].omit = 1;
  }
  info->idxNum = n;
  info->estimatedCost = 1e6;
  return SQLITE_OK;
}

// Reads the queries of query_table.column (NULL vectors skipped) into qids / queries.
Status ReadQueries(sqlite3* db, HnswVtab* vt, const TableRef& t, const std::string& column, const std::string& table_arg,
                   std::vector<int64_t>* qids, std::vector<float>* queries) {
  char* sql = sqlite3_mprintf("SELECT rowid, \"%w\" FROM \"%w\".\"%w\" ORDER BY rowid", column.c_str(), t.schema.c_str(),
                              t.table.c_str());
  if (sql == nullptr) throw std::bad_alloc();
  sqlite3_stmt* qs = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &qs, nullptr);
  sqlite3_free(sql);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(qs, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    return SqliteError(db, rc, StrFormat("%s: argument 2 (query_table): cannot read %s", kFn, QuotedName(table_arg).c_str()));
  }
  while ((rc = sqlite3_step(qs)) == SQLITE_ROW) {
    sqlite3_value* v = sqlite3_column_value(qs, 1);
    if (sqlite3_value_type(v) == SQLITE_NULL) continue;  // no vector, no query
    int64_t qid = sqlite3_column_int64(qs, 0);
    VectorBuf qv;
    Status st = ReadInputVector(vt, v, StrFormat("query row %lld", static_cast<long long>(qid)), &qv);
    if (!st.ok()) {
      std::string m = st.message();
      if (m.rfind("hnsw_knn: ", 0) == 0) m = m.substr(10);
      return Status::InvalidArgument(StrFormat("%s: query table %s: %s", kFn, QuotedName(table_arg).c_str(), m.c_str()));
    }
    qids->push_back(qid);
    queries->insert(queries->end(), qv.view().begin(), qv.view().end());
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(db, rc, StrFormat("%s: reading %s", kFn, QuotedName(table_arg).c_str()));
  }
  return Status::Ok();
}

Status FilterImpl(BatchVtab* bv, BatchCursor* c, int idx_num, int argc, sqlite3_value** argv) {
  std::string names[3];
  for (int i = 0; i < 3 && i < argc; ++i) {
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
      return Status::InvalidArgument(StrFormat("%s: argument %d (%s): expected a name (TEXT), found %s", kFn, i + 1,
                                               kArgNames[i], DescribeValue(argv[i]).c_str()));
    }
    const char* t = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    if (t == nullptr) throw std::bad_alloc();
    names[i].assign(t, static_cast<size_t>(sqlite3_value_bytes(argv[i])));
  }
  if (argc < kRequiredArgs) {
    return Status::InvalidArgument(StrFormat("%s: expected (index, query_table, query_column, k [, ef])", kFn));
  }
  int64_t k = 0, ef = 0;
  Status st = ReadIntegral(argv[3], 1, INT64_MAX, &k);
  if (!st.ok()) return st.WithPrefix(StrFormat("%s: argument 4 (k): ", kFn));
  if (idx_num >= 5 && argc >= 5) {
    st = ReadIntegral(argv[4], 1, hnsw::kMaxEf, &ef);
    if (!st.ok()) return st.WithPrefix(StrFormat("%s: argument 5 (ef): ", kFn));
  }
  auto found = FindIndex(bv->db, bv->registry, kFn, "argument 1 (index)", names[0]);
  if (!found.ok()) return found.status();
  HnswVtab* vt = *found;
  auto table = ResolveTable(bv->db, names[1], StrFormat("%s: argument 2 (query_table)", kFn));
  if (!table.ok()) return table.status();
  if (!*table) {
    return Status::InvalidArgument(
        StrFormat("%s: argument 2 (query_table): no such table: %s", kFn, QuotedName(names[1]).c_str()));
  }
  if (!(*table)->HasColumn(names[2])) {
    return Status::InvalidArgument(StrFormat("%s: argument 3 (query_column): no such column %s in table %s", kFn,
                                             QuotedName(names[2]).c_str(), QuotedName(names[1]).c_str()));
  }
  VG_RETURN_IF_ERROR(Flush(vt));
  VG_RETURN_IF_ERROR(EnsureLoaded(vt));
  const size_t dim = vt->config.dim;
  std::vector<int64_t> qids;
  std::vector<float> queries;
  VG_RETURN_IF_ERROR(ReadQueries(bv->db, vt, **table, names[2], names[1], &qids, &queries));

  hnsw::HnswIndex& idx = *vt->index;
  if (idx.size() == 0) return Status::Ok();
  // More than the live rows cannot be returned: k is capped there (every row is a whole answer).
  const size_t kk = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(k), idx.size()));
  // Run in executor batches (op 'knn'); results per query land in their own slots. The CPU
  // searches the HNSW graph; a device computes the exact top-k over the live vectors, kept
  // resident under (object_id, version).
  const size_t nq = qids.size();
  std::vector<std::vector<hnsw::HnswHit>> results(nq);
  Status search_status;
  std::mutex mu;  // guards search_status and the lazily built matrix
  std::vector<float> matrix;
  std::vector<int64_t> matrix_ids;
  // Cosine queries go to a device as unit vectors (normalised here in double, as the index stores
  // its rows): a device computes |q| in float32, which underflows for a tiny query.
  std::vector<float> device_queries;
  bool matrix_ready = false;
  auto build_matrix = [&]() -> Status {
    std::lock_guard<std::mutex> lock(mu);
    if (matrix_ready) return Status::Ok();
    if (vt->config.metric == Metric::kCosine) {
      device_queries.resize(queries.size());
      for (size_t i = 0; i < nq; ++i) UnitVector(queries.data() + i * dim, dim, device_queries.data() + i * dim);
    }
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
        auto r = idx.SearchBatch(queries.data() + (b + lo) * dim, hi - lo, kk, static_cast<size_t>(ef));
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
      task.queries = (device_queries.empty() ? queries.data() : device_queries.data()) + b * dim;
      task.n_queries = e - b;
      task.dims = dim;
      task.rows = matrix.data();
      task.row_ids = matrix_ids.data();
      task.n_rows = matrix_ids.size();
      task.k = std::min(kk, std::max<size_t>(matrix_ids.size(), 1));
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
  if (!search_status.ok()) return search_status.WithPrefix(StrFormat("%s: ", kFn));
  for (size_t i = 0; i < nq; ++i) {
    int64_t rank = 0;
    for (const hnsw::HnswHit& h : results[i]) c->rows.push_back({qids[i], h.rowid, h.distance, ++rank});
  }
  return Status::Ok();
}

int BatchFilter(sqlite3_vtab_cursor* cur, int idx_num, const char* idx_str, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<BatchCursor*>(cur);
  auto* bv = reinterpret_cast<BatchVtab*>(cur->pVtab);
  try {
    c->rows.clear();
    c->pos = 0;
    if (idx_num == kPlanError) {
      VtabError(cur->pVtab, idx_str ? idx_str : "hnsw_knn_batch: no plan");
      return SQLITE_ERROR;
    }
    Status st = FilterImpl(bv, c, idx_num, argc, argv);
    if (st.ok()) return SQLITE_OK;
    c->rows.clear();
    VtabError(cur->pVtab, st.message());
    return StatusToSqlite(st);
  } catch (const std::bad_alloc&) {
    c->rows.clear();
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    c->rows.clear();
    VtabError(cur->pVtab, std::string("hnsw_knn_batch: internal error: ") + e.what());
    return SQLITE_INTERNAL;
  }
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

}  // namespace

// Declared in hnsw_vtab.h (hnsw_module.cpp registers it); constinit: built at compile time.
constinit sqlite3_module kHnswBatchModule = EponymousModule({
    .xConnect = BatchConnect,
    .xBestIndex = BatchBestIndex,
    .xDisconnect = BatchDisconnect,
    .xOpen = CursorOpen<BatchCursor>,
    .xClose = CursorClose<BatchCursor>,
    .xFilter = BatchFilter,
    .xNext = RowsNext<BatchCursor>,
    .xEof = RowsEof<BatchCursor>,
    .xColumn = BatchColumnFn,
    .xRowid = RowsRowid<BatchCursor>,
});

}  // namespace vecgraph::sql
