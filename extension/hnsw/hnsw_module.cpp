// extension/hnsw/hnsw_module.cpp — the hnsw_knn virtual table: a persistent, transactional HNSW index.
//
//   CREATE VIRTUAL TABLE docs_idx USING hnsw_knn(dim=768, metric=cosine, m=16,
//                                                ef_construction=200, ef_search=64);
//   INSERT INTO docs_idx(rowid, vector) SELECT id, emb FROM docs;          -- bulk: built in parallel
//   SELECT rowid, distance FROM docs_idx WHERE vector MATCH :q AND k = 10; -- k-NN, ordered by distance
//     [AND ef = 200] [AND exact = 1] [AND rowid IN (SELECT id FROM docs WHERE ...)] [AND rowid > 100]
//   SELECT rowid, vector FROM docs_idx [WHERE rowid = ?];                   -- like a table
//   INSERT INTO docs_idx(docs_idx) VALUES ('optimize');                    -- purge deletes, repair
//   SELECT vecgraph_check('docs_idx');                                      -- 'ok' or the problems
//   SELECT * FROM hnsw_knn_batch('docs_idx', 'queries', 'embedding', 10);  -- hnsw_batch.cpp
//
// Columns: vector (BLOB); hidden: distance, k, ef, exact, and a command column named after the
// table (as FTS5 does) for 'optimize'. Storage and the in-memory cache: hnsw_vtab.h and
// hnsw_storage.cpp. INSERTs are buffered and built in parallel (deterministically,
// engine/hnsw/hnsw.h) before the next read, write, savepoint or commit of this table.
//
// xConnect runs no SQL: it declares the table and nothing else; the header and format row are
// read at first use. (SQL run from xConnect executes while SQLite is parsing the schema, and after
// failed CREATE VIRTUAL TABLE statements inside a transaction it failed with SQLITE_SCHEMA on
// every statement of the connection.)
//
// xBestIndex encoding: idxNum = 1 for a k-NN plan (MATCH on vector), 0 for a scan, 2 for a query
// that is an error (idxStr: the message; xBestIndex never fails, so that a plan SQLite only
// considers cannot fail the statement); otherwise idxStr lists
// the argv order, one letter per constraint: 'M' MATCH query, 'K' k, 'E' ef, 'X' exact, and the
// rowid constraints '=' EQ, 'I' IN (all values at once via sqlite3_vtab_in), '>' GT, 'G' GE,
// '<' LT, 'L' LE, '!' NE, 's' IS, 'n' IS NOT. Both plans read the rowid constraints with one
// parser (rowid_bounds.h: SQLite's comparison rules) and consume all of them; a k-NN plan takes
// them into the search (filter first, then the k nearest), so SQLite never filters its k rows
// afterwards, which could leave fewer than k. A k-NN plan is refused (SQLITE_CONSTRAINT, SQLite
// tries another order) while one of its constraints is not usable yet; a query whose k-NN needs a
// rowid constraint the search cannot take (LIKE, GLOB, a function) is an error. Conditions SQLite
// does not hand to xBestIndex at all (an OR of rowid terms, an expression on rowid) are applied by
// SQLite to the k rows found (docs/reference.md says so).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/executor/executor.h"
#include "extension/functions.h"
#include "extension/hnsw/hnsw_options.h"
#include "extension/hnsw/hnsw_vtab.h"
#include "extension/rowid_bounds.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

enum Column { kColVector = 0, kColDistance, kColK, kColEf, kColExact, kColCommand };
const char* const kColumnNames[] = {"vector", "distance", "k", "ef", "exact"};
// xBestIndex's idxNum: a scan, a k-NN search, or a query that is an error (idxStr: the message).
enum Plan { kPlanScan = 0, kPlanKnn = 1, kPlanError = 2 };

struct HnswCursor {
  sqlite3_vtab_cursor base; /* must be first */
  bool knn = false;
  // k-NN results
  std::vector<hnsw::HnswHit> hits;
  size_t pos = 0;
  int64_t k = 0, ef = 0, exact = 0;
  // scan: a rowid range statement, or the listed rowids looked up one by one
  sqlite3_stmt* scan = nullptr;
  bool by_points = false;
  std::vector<int64_t> points;
  size_t next_point = 0;
  std::vector<int64_t> excluded;  // ascending
  bool eof = true;
  int64_t rowid = 0;
};

int Fail(HnswVtab* vt, const Status& st) {
  VtabError(&vt->base, st.message());
  return StatusToSqlite(st);
}
int Fail(HnswVtab* vt, const std::string& msg, int rc = SQLITE_ERROR) {
  VtabError(&vt->base, msg);
  return rc;
}

// ---- create / connect ------------------------------------------------------------------------

int Init(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out, char** pz_err, bool create) {
  auto vt = std::make_unique<HnswVtab>();
  vt->base = sqlite3_vtab{};
  vt->db = db;
  vt->registry = static_cast<Registry*>(aux);
  static std::atomic<uint64_t> next_object_id{1};
  vt->object_id = next_object_id++;
  vt->schema = argv[1];
  vt->name = argv[2];
  if (create) {
    // xConnect does not parse them again: the persisted header is the truth there, and a table
    // created by an older release with arguments this one rejects must still open (and DROP).
    Status st = ParseHnswOptions(argc, argv, &vt->config);
    if (!st.ok()) {
      *pz_err = SqliteStrdup(st.message());
      return SQLITE_ERROR;
    }
  }
  int rc = sqlite3_declare_vtab(
      db, Q("CREATE TABLE x(vector BLOB, distance REAL HIDDEN, k INTEGER HIDDEN, ef INTEGER HIDDEN, "
            "exact INTEGER HIDDEN, \"%w\" HIDDEN)",
            vt->name, "")
              .c_str());
  if (rc != SQLITE_OK) return rc;
  if (create) {
    Status st = CreateStorage(vt.get());
    if (!st.ok()) {
      *pz_err = SqliteStrdup(st.message());
      return StatusToSqlite(st);
    }
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
  try {
    Status st = DropStorage(vt);
    if (!st.ok()) return Fail(vt, st);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
  return HnswDisconnect(v);
}

int HnswRename(sqlite3_vtab* v, const char* new_name) {
  HnswVtab* vt = Vt(v);
  try {
    Status st = Flush(vt);
    if (st.ok()) st = RenameStorage(vt, new_name);
    if (!st.ok()) return Fail(vt, st);
    vt->registry->tables.erase(vt->Key());
    vt->name = new_name;
    vt->registry->tables[vt->Key()] = vt;
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

int HnswShadowName(const char* suffix) {
  return sqlite3_stricmp(suffix, "info") == 0 || sqlite3_stricmp(suffix, "nodes") == 0;
}

// ---- planning --------------------------------------------------------------------------------

char RowidCode(unsigned char op) {
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ: return '=';
    case SQLITE_INDEX_CONSTRAINT_GT: return '>';
    case SQLITE_INDEX_CONSTRAINT_GE: return 'G';
    case SQLITE_INDEX_CONSTRAINT_LT: return '<';
    case SQLITE_INDEX_CONSTRAINT_LE: return 'L';
    case SQLITE_INDEX_CONSTRAINT_NE: return '!';
    case SQLITE_INDEX_CONSTRAINT_IS: return 's';
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return 'n';
    default: return 0;
  }
}

unsigned char RowidOp(char code) {
  switch (code) {
    case '=':
    case 'I': return SQLITE_INDEX_CONSTRAINT_EQ;
    case '>': return SQLITE_INDEX_CONSTRAINT_GT;
    case 'G': return SQLITE_INDEX_CONSTRAINT_GE;
    case '<': return SQLITE_INDEX_CONSTRAINT_LT;
    case 'L': return SQLITE_INDEX_CONSTRAINT_LE;
    case '!': return SQLITE_INDEX_CONSTRAINT_NE;
    case 's': return SQLITE_INDEX_CONSTRAINT_IS;
    case 'n': return SQLITE_INDEX_CONSTRAINT_ISNOT;
    default: return 0;
  }
}

bool IsLimitOrOffset(unsigned char op) {
  return op == SQLITE_INDEX_CONSTRAINT_LIMIT || op == SQLITE_INDEX_CONSTRAINT_OFFSET;
}

int DeferredError(sqlite3_index_info* info, const std::string& message) {
  return DeferredPlanError(info, kPlanError, message);
}

int HnswBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  try {
    int match = -1;
    bool match_unusable = false;
    std::vector<int> params[3];  // constraints on k, ef, exact
    bool params_unusable = false;
    std::vector<std::pair<int, char>> rowid_cons;  // (constraint index, code)
    bool rowid_unusable = false, rowid_unsupported = false;
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (IsLimitOrOffset(c.op)) continue;
      if (c.iColumn == kColVector && c.op == SQLITE_INDEX_CONSTRAINT_MATCH) {
        if (!c.usable) {
          match_unusable = true;
          continue;
        }
        if (match >= 0) return DeferredError(info, "hnsw_knn: a query takes one MATCH constraint on vector (found two)");
        match = i;
      } else if (c.iColumn == kColK || c.iColumn == kColEf || c.iColumn == kColExact) {
        const char* name = kColumnNames[c.iColumn];
        if (c.op != SQLITE_INDEX_CONSTRAINT_EQ || sqlite3_vtab_in(info, i, -1)) {
          return DeferredError(info, StrFormat("hnsw_knn: %s takes one value: write %s = N", name, name));
        }
        if (!c.usable) params_unusable = true;
        else params[c.iColumn - kColK].push_back(i);
      } else if (c.iColumn == -1) {
        if (RowidCode(c.op) == 0) {
          rowid_unsupported = true;
        } else if (!c.usable) {
          rowid_unusable = true;
        } else {
          rowid_cons.push_back({i, RowidCode(c.op)});
        }
      }
    }
    if (match < 0 && match_unusable) return SQLITE_CONSTRAINT;  // a plan with the query bound exists
    const bool has_params = params_unusable || !params[0].empty() || !params[1].empty() || !params[2].empty();
    if (match < 0 && has_params) {
      return DeferredError(info, "hnsw_knn: k, ef and exact are parameters of a k-NN query: add a MATCH constraint "
                                 "(WHERE vector MATCH :query AND k = 10)");
    }
    std::string codes;
    int argv_index = 0;
    auto use = [&](int i, char code) {
      info->aConstraintUsage[i].argvIndex = ++argv_index;
      info->aConstraintUsage[i].omit = 1;
      codes.push_back(code);
    };
    auto use_rowid = [&](int i, char code) {
      if (code == '=' && sqlite3_vtab_in(info, i, 1)) code = 'I';  // rowid IN (...): all values at once
      use(i, code);
      return code;
    };
    if (match >= 0) {
      // Every rowid constraint goes into the search: one SQLite applied afterwards would cut
      // the k rows short.
      if (rowid_unusable || params_unusable) return SQLITE_CONSTRAINT;  // wait for a plan that binds them
      if (rowid_unsupported) {
        return DeferredError(info, "hnsw_knn: a k-NN query can filter rowid with =, IN, <, <=, >, >=, !=, IS and IS NOT "
                                   "only (another condition on rowid would be applied after the search and could leave "
                                   "fewer than k rows); filter in a subquery instead: rowid IN (SELECT ...)");
      }
      use(match, 'M');
      const char param_codes[3] = {'K', 'E', 'X'};
      for (int p = 0; p < 3; ++p) {
        for (int i : params[p]) use(i, param_codes[p]);
      }
      for (auto [i, code] : rowid_cons) use_rowid(i, code);
      // Cheaper than any scan plan: SQLite also prices an OR of rowid terms as a union of scans,
      // which cannot run the search (each branch sees rowid and k, never the MATCH).
      info->idxNum = kPlanKnn;
      info->estimatedCost = 1.0;
      info->estimatedRows = 10;
      if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == kColDistance && !info->aOrderBy[0].desc) {
        info->orderByConsumed = 1;
      }
    } else {
      // Like a table: rowid lookups and ranges (unusable ones are left to SQLite).
      bool have_eq = false, have_in = false;
      for (auto [i, code] : rowid_cons) {
        const char used = use_rowid(i, code);
        have_eq = have_eq || used == '=' || used == 's';
        have_in = have_in || used == 'I';
      }
      info->idxNum = kPlanScan;
      info->estimatedCost = have_eq ? 2.0 : have_in ? 10.0 : (rowid_cons.empty() ? 1e6 : 1e4);
      info->estimatedRows = have_eq ? 1 : have_in ? 10 : 100000;
      if (have_eq) info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;  // at most one row
      if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == -1 && !info->aOrderBy[0].desc) {
        info->orderByConsumed = 1;
      }
    }
    info->idxStr = sqlite3_mprintf("%s", codes.c_str());
    if (info->idxStr == nullptr) return SQLITE_NOMEM;
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

// `vector MATCH q` evaluated by SQLite itself, row by row: only when the planner chose a plan that
// does not run the search. An error then, never a silent answer.
void MatchOutsideSearch(sqlite3_context* ctx, int, sqlite3_value**) {
  ResultError(ctx, "hnsw_knn: vector MATCH can only run as a k-NN search of the table (WHERE vector MATCH :query "
                   "AND k = 10, with other conditions on rowid or in a subquery); SQLite planned this query "
                   "otherwise");
}

int HnswFindFunction(sqlite3_vtab*, int n_arg, const char* name, void (**fn)(sqlite3_context*, int, sqlite3_value**),
                     void** arg) {
  if (n_arg == 2 && sqlite3_stricmp(name, "match") == 0) {
    *fn = MatchOutsideSearch;
    *arg = nullptr;
    return 1;
  }
  return 0;
}

// ---- cursors ----------------------------------------------------------------------------------

int HnswOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  try {
    auto* c = new HnswCursor();
    c->base = sqlite3_vtab_cursor{};
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

// Advances a scan cursor to the next live, not excluded node row.
int ScanStep(HnswVtab* vt, HnswCursor* c) {
  for (;;) {
    if (c->by_points) {
      if (c->next_point >= c->points.size()) {
        c->eof = true;
        return SQLITE_OK;
      }
      sqlite3_reset(c->scan);
      sqlite3_bind_int64(c->scan, 1, c->points[c->next_point++]);
    }
    int rc = sqlite3_step(c->scan);
    if (rc == SQLITE_DONE) {
      if (c->by_points) continue;  // no such row
      c->eof = true;
      return SQLITE_OK;
    }
    if (rc != SQLITE_ROW) return Fail(vt, SqliteError(vt->db, rc, IndexPrefix(vt) + "scanning node rows"));
    const int64_t rowid = sqlite3_column_int64(c->scan, 0);
    if (RecordDeleted(sqlite3_column_blob(c->scan, 3), sqlite3_column_bytes(c->scan, 3))) continue;
    if (std::binary_search(c->excluded.begin(), c->excluded.end(), rowid)) continue;
    c->rowid = rowid;
    c->eof = false;
    return SQLITE_OK;
  }
}

// Reads the k-NN parameters and rowid constraints of argv (in idxStr order).
struct KnnArgs {
  sqlite3_value* query = nullptr;
  bool have_k = false, have_ef = false;
  int64_t k = 0, ef = 0, exact = 0;
  RowidBounds bounds;
};

Status ReadKnnArgs(const std::string& codes, int argc, sqlite3_value** argv, KnnArgs* a) {
  for (int i = 0; i < argc && i < static_cast<int>(codes.size()); ++i) {
    sqlite3_value* v = argv[i];
    const char code = codes[static_cast<size_t>(i)];
    auto param = [&](const char* name, int64_t lo, int64_t hi, bool* have, int64_t* out) -> Status {
      int64_t x = 0;
      Status st = ReadIntegral(v, lo, hi, &x);
      if (!st.ok()) return st.WithPrefix(StrFormat("hnsw_knn: %s: ", name));
      if (*have && x != *out) {
        return Status::InvalidArgument(StrFormat("hnsw_knn: %s is given twice, as %lld and %lld", name,
                                                 static_cast<long long>(*out), static_cast<long long>(x)));
      }
      *have = true;
      *out = x;
      return Status::Ok();
    };
    bool have_exact = false;
    switch (code) {
      case 'M': a->query = v; break;
      case 'K': VG_RETURN_IF_ERROR(param("k", 1, INT64_MAX, &a->have_k, &a->k)); break;
      case 'E': VG_RETURN_IF_ERROR(param("ef", 1, hnsw::kMaxEf, &a->have_ef, &a->ef)); break;
      case 'X': VG_RETURN_IF_ERROR(param("exact", 0, 1, &have_exact, &a->exact)); break;
      case 'I': {
        int rc = a->bounds.AddIn(v);
        if (rc != SQLITE_OK) return Status(StatusCode::kInternal, "hnsw_knn: reading the rowid IN list").WithDetail(rc);
        break;
      }
      default:
        if (RowidOp(code) != 0) a->bounds.Add(RowidOp(code), v);
        break;
    }
  }
  return Status::Ok();
}

int KnnFilter(HnswVtab* vt, HnswCursor* c, const std::string& codes, int argc, sqlite3_value** argv) {
  KnnArgs a;
  Status st = ReadKnnArgs(codes, argc, argv, &a);
  if (!st.ok()) return Fail(vt, st);
  if (!a.have_k) return Fail(vt, "hnsw_knn: a k-NN query needs k: add AND k = 10 (the number of neighbours)");
  c->k = a.k;
  c->ef = a.ef;
  c->exact = a.exact;
  VectorBuf q;
  st = DecodeVectorValue(a.query, &q);
  if (!st.ok()) return Fail(vt, st.WithPrefix("hnsw_knn: MATCH query: "));
  st = Flush(vt);
  if (st.ok()) st = EnsureLoaded(vt);
  if (!st.ok()) return Fail(vt, st);
  if (q.dims() != vt->config.dim) {
    std::string hint = sqlite3_value_type(a.query) == SQLITE_BLOB
                           ? Float64Hint(static_cast<size_t>(sqlite3_value_bytes(a.query)), vt->config.dim)
                           : "";
    return Fail(vt, StrFormat("hnsw_knn: dimension mismatch: index '%s' has dim=%u, the MATCH query has %zu%s",
                              vt->name.c_str(), vt->config.dim, q.dims(), hint.c_str()));
  }
  hnsw::HnswIndex& idx = *vt->index;
  if (a.bounds.empty() || idx.size() == 0) return SQLITE_OK;
  // More than the live rows cannot be returned: cap k there (an answer with every row is whole).
  const size_t k = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(a.k), idx.size()));
  const size_t ef = static_cast<size_t>(a.ef);
  StatusOr<std::vector<hnsw::HnswHit>> hits = std::vector<hnsw::HnswHit>{};
  if (a.bounds.unbounded()) {
    hits = c->exact ? idx.ExactSearch(q.view(), k) : idx.Search(q.view(), k, ef);
  } else {
    // Filtered: the passing rowids as an allowed set; exact over them when selective.
    std::vector<int64_t> passing;
    if (a.bounds.points()) {
      passing = *a.bounds.points();
    } else {
      std::vector<int64_t> all = idx.Rowids();  // ascending
      auto b = std::lower_bound(all.begin(), all.end(), a.bounds.lo());
      auto e = std::upper_bound(all.begin(), all.end(), a.bounds.hi());
      const std::vector<int64_t>& ex = a.bounds.excluded();
      passing.reserve(static_cast<size_t>(e - b));
      for (auto it = b; it < e; ++it) {
        if (!std::binary_search(ex.begin(), ex.end(), *it)) passing.push_back(*it);
      }
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

int ScanFilter(HnswVtab* vt, HnswCursor* c, const std::string& codes, int argc, sqlite3_value** argv) {
  KnnArgs a;
  Status st = ReadKnnArgs(codes, argc, argv, &a);
  if (st.ok()) st = Flush(vt);
  if (st.ok()) st = EnsureConfig(vt);
  if (!st.ok()) return Fail(vt, st);
  if (a.bounds.empty()) return SQLITE_OK;  // eof
  std::string sql = Q("SELECT rowid, original, vector, record FROM \"%w\".\"%w_nodes\"", vt->schema, vt->name);
  c->by_points = a.bounds.points().has_value();
  if (c->by_points) {
    c->points = *a.bounds.points();
    sql += " WHERE rowid = ?1";
  } else {
    sql += " WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid";
    c->excluded = a.bounds.excluded();
  }
  int rc = sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &c->scan, nullptr);
  if (rc != SQLITE_OK) return Fail(vt, SqliteError(vt->db, rc, IndexPrefix(vt) + "scanning node rows"));
  if (!c->by_points) {
    sqlite3_bind_int64(c->scan, 1, a.bounds.lo());
    sqlite3_bind_int64(c->scan, 2, a.bounds.hi());
  }
  return ScanStep(vt, c);
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
    c->by_points = false;
    c->points.clear();
    c->next_point = 0;
    c->excluded.clear();
    c->eof = true;
    std::string codes = idx_str ? idx_str : "";
    if (idx_num == kPlanError) return Fail(vt, codes);
    c->knn = idx_num == kPlanKnn;
    return c->knn ? KnnFilter(vt, c, codes, argc, argv) : ScanFilter(vt, c, codes, argc, argv);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    return Fail(vt, std::string("hnsw_knn: internal error: ") + e.what(), SQLITE_INTERNAL);
  }
}

int HnswNext(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<HnswCursor*>(cur);
  if (c->knn) {
    ++c->pos;
    return SQLITE_OK;
  }
  return ScanStep(Vt(cur->pVtab), c);
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
  try {
    switch (col) {
      case kColVector: {
        if (sqlite3_vtab_nochange(ctx)) break;  // an UPDATE that leaves the vector alone
        VectorBuf v;
        Status st;
        if (!c->knn) {
          // The vector as inserted (original, else the stored one), checked like every value
          // read back: a corrupt row is an error, never garbage.
          const bool has_original = sqlite3_column_type(c->scan, 1) != SQLITE_NULL;
          st = CheckStoredVector(vt, sqlite3_column_value(c->scan, has_original ? 1 : 2), c->rowid,
                                 has_original ? "original" : "vector", &v);
        } else {
          st = ReadUserVector(vt, c->hits[c->pos].rowid, &v);
        }
        if (!st.ok()) return Fail(vt, st);
        ResultVector(ctx, v.view());
        break;
      }
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
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

// ---- writes -----------------------------------------------------------------------------------

int Command(HnswVtab* vt, sqlite3_value* v) {
  std::string cmd = sqlite3_value_type(v) == SQLITE_TEXT ? reinterpret_cast<const char*>(sqlite3_value_text(v)) : "";
  if (sqlite3_stricmp(cmd.c_str(), "optimize") != 0) {
    std::string shown = sqlite3_value_type(v) == SQLITE_TEXT ? QuotedName(cmd) : DescribeValue(v);
    return Fail(vt, StrFormat("hnsw_knn: unknown command %s (expected 'optimize')", shown.c_str()));
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

// A rowid for INSERT without one, as SQLite picks it for a rowid table: one more than the
// largest ever stored (1 for a table that never had a row); after 2^63 − 1 has been used, a
// random unused one (SQLITE_FULL when 100 random tries all hit used ones).
StatusOr<int64_t> NewRowid(HnswVtab* vt) {
  if (!vt->max_rowid) return int64_t{1};
  if (*vt->max_rowid < std::numeric_limits<int64_t>::max()) return *vt->max_rowid + 1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int64_t r = 0;
    sqlite3_randomness(sizeof r, &r);
    r &= std::numeric_limits<int64_t>::max();
    if (r == 0) r = 1;
    if (vt->pending_set.count(r) == 0 && !vt->index->Contains(r)) return r;
  }
  return Status(StatusCode::kResourceExhausted, "hnsw_knn: database or disk is full (no unused rowid found)")
      .WithDetail(SQLITE_FULL);
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
        return Fail(vt, StrFormat("hnsw_knn: column %s cannot be written (it is a query parameter)", kColumnNames[col]));
      }
    }
    const bool insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
    const bool rowid_given = sqlite3_value_type(argv[1]) != SQLITE_NULL;
    // While inserts are buffered the statement holds the write lock: nobody else can have
    // committed since the last check, so a bulk INSERT checks data_version once, not per row.
    Status st = vt->pending_rowids.empty() ? EnsureLoaded(vt) : Status::Ok();
    if (!st.ok()) return Fail(vt, st);
    int64_t rowid = 0;
    if (rowid_given) {
      // As for a rowid table: an integer, or a value numeric affinity makes one (5.0, '5').
      st = ReadIntegral(argv[1], std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &rowid);
      if (!st.ok()) return Fail(vt, st.WithPrefix("hnsw_knn: rowid: ").message(), SQLITE_MISMATCH);
    } else if (!insert) {
      // UPDATE ... SET rowid = NULL: as for a rowid table.
      return Fail(vt, "hnsw_knn: rowid: datatype mismatch (UPDATE sets it to NULL)", SQLITE_MISMATCH);
    } else {
      auto r = NewRowid(vt);
      if (!r.ok()) return Fail(vt, r.status());
      rowid = *r;
    }
    const int64_t old_rowid = insert ? 0 : sqlite3_value_int64(argv[0]);
    const bool keep_vector = !insert && sqlite3_value_nochange(cols[kColVector]);
    if (keep_vector && old_rowid == rowid) return SQLITE_OK;  // UPDATE that changes nothing we store
    VectorBuf vec;
    const std::string who = StrFormat("row %lld", static_cast<long long>(rowid));
    if (keep_vector) {
      // UPDATE of the rowid alone: carry the stored vector (as inserted) over.
      st = Flush(vt);
      if (st.ok()) st = ReadUserVector(vt, old_rowid, &vec);
      if (!st.ok()) return Fail(vt, st);
    } else {
      if (sqlite3_value_type(cols[kColVector]) == SQLITE_NULL) {
        return Fail(vt, "hnsw_knn: column vector must not be NULL", SQLITE_CONSTRAINT);
      }
      st = ReadInputVector(vt, cols[kColVector], who, &vec);
      if (!st.ok()) return Fail(vt, st);
    }

    // A row with the new rowid exists already: what the statement's conflict clause says.
    const bool conflict = (insert || old_rowid != rowid) &&
                          (vt->pending_set.count(rowid) > 0 || vt->index->Contains(rowid));
    if (conflict) {
      int mode = sqlite3_vtab_on_conflict(vt->db);
      if (mode == SQLITE_IGNORE) return SQLITE_OK;
      if (mode != SQLITE_REPLACE) {
        return Fail(vt, StrFormat("UNIQUE constraint failed: %s.rowid", vt->name.c_str()), SQLITE_CONSTRAINT);
      }
    }
    if (!insert || conflict) {
      // UPDATE, or INSERT OR REPLACE over an existing row: applied at once.
      st = Flush(vt);
      if (st.ok() && !insert && old_rowid != rowid) {
        if (conflict) st = vt->index->Delete(rowid);  // OR REPLACE: the row in the way goes
        if (st.ok()) st = vt->index->Delete(old_rowid);
        if (st.ok()) st = vt->index->Insert(rowid, vec.view());
      } else if (st.ok()) {
        st = vt->index->Upsert(rowid, vec.view());
      }
      if (st.ok()) st = WriteChanges(vt, {{rowid, vec.data()}});
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st.WithPrefix(st.message().rfind("hnsw_knn", 0) == 0 ? "" : "hnsw_knn: "));
      }
    } else {
      vt->pending_rowids.push_back(rowid);
      vt->pending_vecs.insert(vt->pending_vecs.end(), vec.view().begin(), vec.view().end());
      vt->pending_set.insert(rowid);
    }
    vt->max_rowid = std::max(vt->max_rowid.value_or(rowid), rowid);
    if (insert) *out_rowid = rowid;
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
    return Fail(vt, std::string("hnsw_knn: internal error: ") + e.what(), SQLITE_INTERNAL);
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

sqlite3_module kHnswModuleDef = {
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
    /* xFindFunction */ HnswFindFunction,
    /* xRename       */ HnswRename,
    /* xSavepoint    */ HnswSavepoint,
    /* xRelease      */ HnswRelease,
    /* xRollbackTo   */ HnswRollbackTo,
    /* xShadowName   */ HnswShadowName,
#if SQLITE_VERSION_NUMBER >= 3044000
    /* xIntegrity    */ nullptr,  // SQLite 3.44+ (not used: iVersion < 4)
#endif
};

void DestroyRegistry(void* p) { delete static_cast<Registry*>(p); }

}  // namespace

// ---- lookup by name (hnsw_knn_batch, vecgraph_check) -----------------------------------------

StatusOr<HnswVtab*> FindIndex(sqlite3* db, Registry* reg, const char* fn, const char* arg, const std::string& spec) {
  auto ref = ResolveTable(db, spec, StrFormat("%s: %s", fn, arg));
  if (!ref.ok()) return ref.status();
  if (!*ref) {
    return Status::InvalidArgument(StrFormat("%s: %s: no such table: %s", fn, arg, QuotedName(spec).c_str()));
  }
  const TableRef& t = **ref;
  std::string key = t.schema + "." + t.table;
  for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = reg->tables.find(key);  // resolving it read its columns, which connected it
  if (it == reg->tables.end()) {
    return Status::InvalidArgument(
        StrFormat("%s: %s: %s is not an hnsw_knn table", fn, arg, QuotedName(spec).c_str()));
  }
  return it->second;
}

int RegisterHnsw(sqlite3* db) {
  auto* reg = new (std::nothrow) Registry();
  if (!reg) return SQLITE_NOMEM;
  int rc = sqlite3_create_module_v2(db, kHnswModule, &kHnswModuleDef, reg, DestroyRegistry);
  if (rc != SQLITE_OK) return rc;  // the destructor already ran
  rc = sqlite3_create_module_v2(db, "hnsw_knn_batch", &kHnswBatchModule, reg, nullptr);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_create_function_v2(db, "vecgraph_check", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, reg, HnswCheckFunc,
                                    nullptr, nullptr, nullptr);
}

}  // namespace vecgraph::sql
