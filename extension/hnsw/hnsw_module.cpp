// extension/hnsw/hnsw_module.cpp — the hnsw_knn virtual table: a persistent, transactional HNSW
// vector table.
//
//   CREATE VIRTUAL TABLE docs USING hnsw_knn(embedding float[768] distance_metric=cosine,
//       category integer, lang text, user_id integer partition key, +body text, m=16);
//   INSERT INTO docs(rowid, embedding, category, lang, user_id, body) SELECT ...;  -- bulk: built in parallel
//   SELECT rowid, body, distance FROM docs
//    WHERE embedding MATCH :q AND k = 10 AND category IN (1, 3) AND lang = 'en';  -- filtered in the search
//   SELECT rowid, distance FROM docs WHERE embedding MATCH :q ORDER BY distance LIMIT 10;
//   SELECT rowid, distance FROM docs WHERE embedding MATCH :q AND k = 50 AND distance < 0.35;
//     [AND ef = 200] [AND exact = 1] [AND rowid IN (SELECT ...)] [AND rowid > 100]
//   SELECT rowid, embedding, category FROM docs [WHERE rowid = ?];             -- like a table
//   INSERT INTO docs(docs) VALUES ('optimize');                                -- purge deletes, repair
//   INSERT INTO docs(docs) VALUES ('ef_search=128');                           -- persisted setting
//   SELECT vecgraph_check('docs'), vecgraph_index_info('docs');
//   SELECT * FROM hnsw_knn_batch('docs', 'queries', 'embedding', 10);          -- hnsw_batch.cpp
// The 0.1 form hnsw_knn(dim=768, metric=cosine) has one column named `vector` (hnsw_options.h).
//
// Columns: 0 the vector (BLOB), 1..n the declared ones, then hidden distance, k, ef, exact and a
// command column named after the table (as FTS5 does). Storage and the in-memory cache:
// hnsw_vtab.h and hnsw_storage.cpp. INSERTs are buffered and built in parallel
// (deterministically, engine/hnsw/hnsw.h) before the next read, write, savepoint or commit.
//
// xConnect runs no SQL: it declares the table and nothing else; the header and format row are
// read at first use. (SQL run from xConnect executes while SQLite is parsing the schema, and after
// failed CREATE VIRTUAL TABLE statements inside a transaction it failed with SQLITE_SCHEMA on
// every statement of the connection.)
//
// xBestIndex encoding. idxNum: 0 a scan, 1 a k-NN query (MATCH on the vector column), 2 a query
// that is an error (idxStr: the message; xBestIndex never fails, so that a plan SQLite only
// considers cannot fail the statement). Otherwise idxStr lists the argv order, one token per
// constraint, separated by ',':
//   'M' the MATCH query, 'K' k, 'E' ef, 'X' exact, 'L' LIMIT, 'O' OFFSET;
//   'R' + op: rowid (op '=' EQ, 'I' IN with all values at once via sqlite3_vtab_in, '>' GT,
//       'G' GE, '<' LT, 'L' LE, '!' NE, 's' IS, 'n' IS NOT);
//   'C' + column number + op: a metadata or partition column (ops as for rowid, plus 'N' IS NULL
//       and 'U' IS NOT NULL);
//   'D' + op: distance ('>' '<' 'G' 'L').
// A k-NN plan consumes every constraint it can apply inside the search (rowid: rowid_bounds.h;
// metadata: engine/hnsw/attributes.h, both with SQLite's comparison rules; distance bounds), so
// SQLite never filters its k rows afterwards — except rowid = x and rowid IS x (one value): those
// SQLite applies to the k rows found. They are usually a join condition (`JOIN docs ON docs.id =
// idx.rowid`), and a join must answer the same whichever table SQLite puts in the outer loop: as
// the inner loop with the rowid bound, the search would otherwise rank only that row and every
// joined row would come back, k or not. What it cannot apply (LIKE, GLOB, a function, a
// non-BINARY collation, an auxiliary column, distance = x) is a "residual" that SQLite applies:
//   - with k = N that could leave fewer than N rows: the query is an error naming the condition
//     and the rewrite (ORDER BY distance LIMIT N);
//   - without k, LIMIT is consumed only when nothing is residual and the order is ORDER BY
//     distance (or none); otherwise the search returns every passing row in distance order (an
//     exact scan) and SQLite filters, sorts and limits that, so the answer is never short.
// Conditions SQLite never hands to xBestIndex (an OR across columns, an expression) keep LIMIT
// from reaching the table at all, so they also get the complete distance-ordered stream; with
// k = N they are applied to the N rows found (docs/reference.md says so). A k-NN plan is refused
// (SQLITE_CONSTRAINT, SQLite tries another order) while one of its constraints is not usable yet.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/executor/executor.h"
#include "extension/build_progress.h"
#include "extension/functions.h"
#include "extension/hnsw/hnsw_options.h"
#include "extension/hnsw/hnsw_vtab.h"
#include "extension/rowid_bounds.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

constexpr int kColVector = 0;
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
  // The declared columns of the current row (format 2), read once per row.
  bool cols_valid = false;
  int64_t cols_rowid = 0;
  std::vector<sqlite3_value*> cols;
  void FreeCols() {
    for (sqlite3_value* v : cols) sqlite3_value_free(v);
    cols.clear();
    cols_valid = false;
  }
  ~HnswCursor() { FreeCols(); }
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
  // xConnect reads the columns only: the persisted header is the truth for the options, and a
  // table created by an older release with options this one rejects must still open (and DROP).
  Status st = create ? ParseHnswArguments(argc, argv, &vt->config, &vt->decl)
                     : ParseHnswSchema(argc, argv, &vt->decl, &vt->declared_dim);
  if (!st.ok()) {
    *pz_err = SqliteStrdup(st.message());
    return SQLITE_ERROR;
  }
  if (create) vt->declared_dim = vt->decl.legacy ? 0 : vt->config.dim;
  int rc = sqlite3_declare_vtab(db, vt->decl.DeclareSql(vt->name).c_str());
  if (rc != SQLITE_OK) return rc;
  if (create) {
    st = CreateStorage(vt.get());
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
    ForgetBuild(MakeBuildKey(vt->db, vt->schema, vt->name));
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
  return sqlite3_stricmp(suffix, "info") == 0 || sqlite3_stricmp(suffix, "nodes") == 0 ||
         sqlite3_stricmp(suffix, "rows") == 0;
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

char AttrCode(unsigned char op) {
  if (op == SQLITE_INDEX_CONSTRAINT_ISNULL) return 'N';
  if (op == SQLITE_INDEX_CONSTRAINT_ISNOTNULL) return 'U';
  return RowidCode(op);
}

hnsw::AttrOp AttrOpOf(char code) {
  switch (code) {
    case '=': return hnsw::AttrOp::kEq;
    case 'I': return hnsw::AttrOp::kIn;
    case '>': return hnsw::AttrOp::kGt;
    case 'G': return hnsw::AttrOp::kGe;
    case '<': return hnsw::AttrOp::kLt;
    case 'L': return hnsw::AttrOp::kLe;
    case '!': return hnsw::AttrOp::kNe;
    case 's': return hnsw::AttrOp::kIs;
    case 'n': return hnsw::AttrOp::kIsNot;
    case 'N': return hnsw::AttrOp::kIsNull;
    default: return hnsw::AttrOp::kIsNotNull;
  }
}

const char* OpText(unsigned char op) {
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_LIKE: return "LIKE";
    case SQLITE_INDEX_CONSTRAINT_GLOB: return "GLOB";
    case SQLITE_INDEX_CONSTRAINT_REGEXP: return "REGEXP";
    case SQLITE_INDEX_CONSTRAINT_MATCH: return "MATCH";
    case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
    case SQLITE_INDEX_CONSTRAINT_NE: return "!=";
    case SQLITE_INDEX_CONSTRAINT_IS: return "IS";
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return "IS NOT";
    case SQLITE_INDEX_CONSTRAINT_ISNULL: return "IS NULL";
    case SQLITE_INDEX_CONSTRAINT_ISNOTNULL: return "IS NOT NULL";
    default: return op >= SQLITE_INDEX_CONSTRAINT_FUNCTION ? "a function" : "this operator";
  }
}

int DeferredError(sqlite3_index_info* info, const std::string& message) {
  return DeferredPlanError(info, kPlanError, message);
}

int HnswBestIndex(sqlite3_vtab* v, sqlite3_index_info* info) {
  HnswVtab* vt = Vt(v);
  try {
    const HnswSchema& d = vt->decl;
    const int col_k = d.ColK(), col_ef = d.ColEf(), col_exact = d.ColExact(), col_dist = d.ColDistance();
    const char* const param_names[3] = {"k", "ef", "exact"};
    int match = -1, limit = -1, offset = -1;
    bool match_unusable = false;
    std::vector<int> params[3];  // constraints on k, ef, exact
    bool unusable = false;       // a constraint the search takes is not usable yet
    std::vector<std::pair<int, char>> rowid_cons;  // (constraint index, code)
    // rowid = x and rowid IS x (one value; not IN): a k-NN plan leaves them to SQLite, which applies
    // them to the rows found, as it applies the join condition `rowid = other.id` they usually are
    // (so a join answers the same whichever table SQLite puts in the outer loop); a scan uses them.
    auto is_point = [&](int i) {
      const auto op = info->aConstraint[i].op;
      return op == SQLITE_INDEX_CONSTRAINT_IS || (op == SQLITE_INDEX_CONSTRAINT_EQ && !sqlite3_vtab_in(info, i, -1));
    };
    bool rowid_point = false;
    std::vector<std::pair<int, std::string>> attr_cons, dist_cons;
    std::string residual;  // the first condition SQLite would apply itself, for messages
    auto add_residual = [&](const std::string& what) {
      if (residual.empty()) residual = what;
    };
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (c.op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
        if (c.usable) limit = i;
        continue;
      }
      if (c.op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
        if (c.usable) offset = i;
        continue;
      }
      const int col = c.iColumn;
      if (col == kColVector && c.op == SQLITE_INDEX_CONSTRAINT_MATCH) {
        if (!c.usable) {
          match_unusable = true;
          continue;
        }
        if (match >= 0) {
          return DeferredError(info, StrFormat("hnsw_knn: a query takes one MATCH constraint on %s (found two)",
                                               d.vector_name.c_str()));
        }
        match = i;
      } else if (col == col_k || col == col_ef || col == col_exact) {
        const char* name = param_names[col - col_k];
        if (c.op != SQLITE_INDEX_CONSTRAINT_EQ || sqlite3_vtab_in(info, i, -1)) {
          return DeferredError(info, StrFormat("hnsw_knn: %s takes one value: write %s = N", name, name));
        }
        if (!c.usable) unusable = true;
        else params[col - col_k].push_back(i);
      } else if (col == -1) {
        if (RowidCode(c.op) == 0) {
          add_residual(StrFormat("rowid %s", OpText(c.op)));
        } else if (is_point(i)) {
          rowid_point = true;
          if (c.usable) rowid_cons.push_back({i, RowidCode(c.op)});
        } else if (!c.usable) {
          // Not usable in this plan (it compares with another table's column — a plan with it
          // bound is cheaper — or with a column of this row, which no plan binds): SQLite applies it.
          add_residual("a condition on rowid that compares with another column");
        } else {
          rowid_cons.push_back({i, RowidCode(c.op)});
        }
      } else if (const HnswColumnDef* uc = d.User(col)) {
        const char code = AttrCode(c.op);
        const char* coll = sqlite3_vtab_collation(info, i);
        if (uc->kind == HnswColumnKind::kAux) {
          add_residual(StrFormat("auxiliary column %s", uc->name.c_str()));
        } else if (code == 0) {
          add_residual(StrFormat("%s %s", uc->name.c_str(), OpText(c.op)));
        } else if (uc->type == hnsw::AttrType::kText && coll != nullptr && sqlite3_stricmp(coll, "BINARY") != 0) {
          add_residual(StrFormat("%s with COLLATE %s", uc->name.c_str(), coll));
        } else if (!c.usable) {
          add_residual(StrFormat("a condition on %s that compares with another column", uc->name.c_str()));
        } else {
          attr_cons.push_back({i, "C" + std::to_string(col) + code});
        }
      } else if (col == col_dist) {
        const char code = RowidCode(c.op);
        if (code == '>' || code == 'G' || code == '<' || code == 'L') {
          if (!c.usable) add_residual("a condition on distance that compares with another column");
          else dist_cons.push_back({i, std::string("D") + code});
        } else {
          add_residual(StrFormat("distance %s", OpText(c.op)));
        }
      } else {
        add_residual(col == kColVector ? StrFormat("%s %s", d.vector_name.c_str(), OpText(c.op)) : "a condition");
      }
    }
    if (match < 0 && match_unusable) return SQLITE_CONSTRAINT;  // a plan with the query bound exists
    const bool has_params = !params[0].empty() || !params[1].empty() || !params[2].empty();
    if (match < 0 && has_params) {
      return DeferredError(info, StrFormat("hnsw_knn: k, ef and exact are parameters of a k-NN query: add a MATCH "
                                           "constraint (WHERE %s MATCH :query AND k = 10)",
                                           d.vector_name.c_str()));
    }
    std::string codes;
    int argv_index = 0;
    auto use = [&](int i, const std::string& code, bool omit = true) {
      info->aConstraintUsage[i].argvIndex = ++argv_index;
      info->aConstraintUsage[i].omit = omit ? 1 : 0;
      if (!codes.empty()) codes.push_back(',');
      codes += code;
    };
    // = with IN (...) on the right: all values at once.
    auto in_code = [&](int i, std::string code) {
      if (code.back() == '=' && sqlite3_vtab_in(info, i, 1)) code.back() = 'I';
      return code;
    };
    if (match >= 0) {
      if (unusable) return SQLITE_CONSTRAINT;  // wait for a plan that binds them
      const bool has_k = !params[0].empty();
      if (has_k && !residual.empty()) {
        return DeferredError(info, StrFormat("hnsw_knn: a k-NN query with k = N cannot apply %s inside the search (SQLite "
                                             "would apply it to the N rows found, which could leave fewer than N): write "
                                             "ORDER BY distance LIMIT N instead of k = N (SQLite then filters a complete "
                                             "distance-ordered scan), or filter in a subquery: rowid IN (SELECT ...)",
                                             residual.c_str()));
      }
      use(match, "M");
      const char* param_codes[3] = {"K", "E", "X"};
      for (int p = 0; p < 3; ++p) {
        for (int i : params[p]) use(i, param_codes[p]);
      }
      for (auto [i, code] : rowid_cons) {
        if (!is_point(i)) use(i, in_code(i, std::string("R") + code));
      }
      for (auto& [i, code] : attr_cons) use(i, in_code(i, code));
      for (auto& [i, code] : dist_cons) use(i, code);
      bool ordered = false;
      if (info->nOrderBy >= 1 && info->aOrderBy[0].iColumn == col_dist && !info->aOrderBy[0].desc) {
        ordered = info->nOrderBy == 1 || (info->nOrderBy == 2 && info->aOrderBy[1].iColumn == -1 && !info->aOrderBy[1].desc);
      }
      if (ordered) info->orderByConsumed = 1;
      // LIMIT as k: only when SQLite applies nothing after us and the order is ours.
      if (!has_k && limit >= 0 && residual.empty() && !rowid_point && (info->nOrderBy == 0 || ordered)) {
        use(limit, "L", /*omit=*/false);
        if (offset >= 0) use(offset, "O", /*omit=*/true);
      }
      // Cheaper than any scan plan: SQLite also prices an OR of rowid terms as a union of scans,
      // which cannot run the search (each branch sees rowid and k, never the MATCH).
      info->idxNum = kPlanKnn;
      info->estimatedCost = 1.0;
      info->estimatedRows = 10;
    } else {
      // Like a table: rowid lookups and ranges (unusable ones and every other condition are left
      // to SQLite).
      bool have_eq = false, have_in = false;
      for (auto [i, code] : rowid_cons) {
        const std::string used = in_code(i, std::string("R") + code);
        use(i, used);
        have_eq = have_eq || used == "R=" || used == "Rs";
        have_in = have_in || used == "RI";
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

// The constraints of argv, read in idxStr order (the tokens of the xBestIndex encoding).
struct KnnArgs {
  sqlite3_value* query = nullptr;
  bool have_k = false, have_ef = false, have_limit = false;
  int64_t k = 0, ef = 0, exact = 0, limit = -1, offset = 0;
  RowidBounds bounds;
  std::vector<hnsw::AttrTerm> terms;
  // distance bounds: lo/hi with open flags; none = no row can pass
  double dlo = -INFINITY, dhi = INFINITY;
  bool dlo_open = false, dhi_open = false, dnone = false, dbounded = false;
  bool DistanceOk(double d) const {
    return !dnone && (dlo_open ? d > dlo : d >= dlo) && (dhi_open ? d < dhi : d <= dhi);
  }
};

std::vector<std::string> SplitCodes(const std::string& codes) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= codes.size() && !codes.empty()) {
    size_t e = codes.find(',', b);
    if (e == std::string::npos) e = codes.size();
    out.push_back(codes.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

// `distance op v`: v gets numeric affinity (distance is REAL); numbers are less than TEXT and
// BLOB; NULL passes no row.
void AddDistanceBound(KnnArgs* a, char op, sqlite3_value* v) {
  a->dbounded = true;
  NumericValue nv(v);
  const bool upper = op == '<' || op == 'L';
  if (nv.type() == SQLITE_NULL) {
    a->dnone = true;
    return;
  }
  if (nv.type() == SQLITE_TEXT || nv.type() == SQLITE_BLOB) {
    if (!upper) a->dnone = true;  // distance > 'abc': no number is
    return;                       // distance < 'abc': every number is
  }
  const double x = nv.type() == SQLITE_INTEGER ? static_cast<double>(sqlite3_value_int64(nv.value()))
                                               : sqlite3_value_double(nv.value());
  const bool open = op == '<' || op == '>';
  if (upper) {
    if (x < a->dhi || (x == a->dhi && open)) {
      a->dhi = x;
      a->dhi_open = open;
    }
  } else if (x > a->dlo || (x == a->dlo && open)) {
    a->dlo = x;
    a->dlo_open = open;
  }
}

Status ReadKnnArgs(const HnswVtab* vt, const std::string& codes, int argc, sqlite3_value** argv, KnnArgs* a) {
  const std::vector<std::string> tokens = SplitCodes(codes);
  for (int i = 0; i < argc && i < static_cast<int>(tokens.size()); ++i) {
    sqlite3_value* v = argv[i];
    const std::string& tok = tokens[static_cast<size_t>(i)];
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
    switch (tok[0]) {
      case 'M': a->query = v; break;
      case 'K': VG_RETURN_IF_ERROR(param("k", 1, INT64_MAX, &a->have_k, &a->k)); break;
      case 'E': VG_RETURN_IF_ERROR(param("ef", 1, hnsw::kMaxEf, &a->have_ef, &a->ef)); break;
      case 'X': VG_RETURN_IF_ERROR(param("exact", 0, 1, &have_exact, &a->exact)); break;
      case 'L':
        // SQLite's LIMIT: a negative one means no limit (SQLite checked that it is an integer).
        a->have_limit = true;
        a->limit = sqlite3_value_int64(v);
        break;
      case 'O': a->offset = std::max<int64_t>(0, sqlite3_value_int64(v)); break;
      case 'R': {
        const char op = tok[1];
        if (op == 'I') {
          int rc = a->bounds.AddIn(v);
          if (rc != SQLITE_OK) return Status(StatusCode::kInternal, "hnsw_knn: reading the rowid IN list").WithDetail(rc);
        } else if (RowidOp(op) != 0) {
          a->bounds.Add(RowidOp(op), v);
        }
        break;
      }
      case 'D': AddDistanceBound(a, tok[1], v); break;
      case 'C': {
        const int col = std::atoi(tok.c_str() + 1);
        const char op = tok.back();
        const HnswColumnDef* uc = vt->decl.User(col);
        if (uc == nullptr || uc->attr < 0) return Status::Internal("hnsw_knn: bad plan (column " + tok + ")");
        hnsw::AttrTerm term;
        term.column = static_cast<uint32_t>(uc->attr);
        term.op = AttrOpOf(op);
        if (op == 'I') {
          sqlite3_value* x = nullptr;
          int rc = sqlite3_vtab_in_first(v, &x);
          while (rc == SQLITE_OK && x != nullptr) {
            term.values.push_back(ConstraintValue(*uc, x));
            rc = sqlite3_vtab_in_next(v, &x);
          }
          if (rc != SQLITE_OK && rc != SQLITE_DONE) {
            return Status(StatusCode::kInternal, "hnsw_knn: reading an IN list").WithDetail(rc);
          }
        } else if (op != 'N' && op != 'U') {
          term.values.push_back(ConstraintValue(*uc, v));
        }
        a->terms.push_back(std::move(term));
        break;
      }
      default: break;
    }
  }
  return Status::Ok();
}

// Partitioned tables: the groups a query must search, when every partition key has an `=` or
// `IN` term (the cross product of their values, as keys of vt->part_ids); empty: all groups.
// Values that cannot equal a stored key (another class, a non-integral REAL for an integer key,
// NULL) are dropped; when no key remains the answer is empty ({kNoGroup}).
// *used: the indexes of the terms the groups stand for (the walk of those groups applies them).
std::vector<uint32_t> QueryGroups(HnswVtab* vt, const std::vector<hnsw::AttrTerm>& terms, std::vector<size_t>* used) {
  used->clear();
  const HnswSchema& d = vt->decl;
  std::vector<std::vector<hnsw::AttrValue>> choices;  // per partition key, in schema order
  std::vector<const HnswColumnDef*> keys;
  for (const HnswColumnDef& c : d.columns) {
    if (c.kind != HnswColumnKind::kPartition) continue;
    keys.push_back(&c);
    const std::vector<hnsw::AttrValue>* best = nullptr;
    size_t best_i = 0;
    for (size_t ti = 0; ti < terms.size(); ++ti) {
      const hnsw::AttrTerm& t = terms[ti];
      if (t.column != static_cast<uint32_t>(c.attr)) continue;
      if (t.op != hnsw::AttrOp::kEq && t.op != hnsw::AttrOp::kIn) continue;
      if (best == nullptr || t.values.size() < best->size()) {
        best = &t.values;
        best_i = ti;
      }
    }
    if (best == nullptr) {
      used->clear();
      return {};
    }
    used->push_back(best_i);
    std::vector<hnsw::AttrValue> vals;
    for (const hnsw::AttrValue& v : *best) {
      if (c.type == hnsw::AttrType::kText && v.kind == hnsw::AttrValue::Kind::kText) {
        vals.push_back(v);
      } else if (c.type == hnsw::AttrType::kInteger && v.kind == hnsw::AttrValue::Kind::kInteger) {
        vals.push_back(v);
      } else if (int64_t x = 0; c.type == hnsw::AttrType::kInteger && v.kind == hnsw::AttrValue::Kind::kReal &&
                                   hnsw::IntegralInt64(v.r, &x)) {
        vals.push_back(hnsw::AttrValue::Int(x));
      }
    }
    choices.push_back(std::move(vals));
  }
  if (keys.empty()) return {};
  size_t combos = 1;
  for (const auto& c : choices) combos *= std::max<size_t>(c.size(), 1);
  if (combos > 4096) {  // search all groups (the terms still filter)
    used->clear();
    return {};
  }
  std::vector<uint32_t> out;
  std::vector<hnsw::AttrValue> attrs(d.attrs);
  std::vector<size_t> pick(choices.size(), 0);
  bool empty = false;
  for (const auto& c : choices) empty = empty || c.empty();
  while (!empty) {
    for (size_t i = 0; i < keys.size(); ++i) attrs[static_cast<size_t>(keys[i]->attr)] = choices[i][pick[i]];
    auto it = vt->part_ids.find(PartitionKey(vt, attrs));
    if (it != vt->part_ids.end()) out.push_back(it->second);
    size_t i = 0;
    while (i < pick.size() && ++pick[i] == choices[i].size()) pick[i++] = 0;
    if (i == pick.size()) break;
  }
  if (out.empty()) out.push_back(hnsw::HnswIndex::kNoGroup);
  return out;
}

const char* StrategyName(hnsw::FilterStrategy s) { return s == hnsw::FilterStrategy::kExact ? "exact" : "graph"; }

int KnnFilter(HnswVtab* vt, HnswCursor* c, const std::string& codes, int argc, sqlite3_value** argv) {
  KnnArgs a;
  Status st = ReadKnnArgs(vt, codes, argc, argv, &a);
  if (!st.ok()) return Fail(vt, st);
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
  const uint64_t live = idx.size();
  // How many rows the answer needs: k; else LIMIT + OFFSET (a negative LIMIT is none); else every
  // passing row (a MATCH whose LIMIT SQLite keeps, or a range query on distance).
  uint64_t want = live;
  enum class From { kK, kLimit, kAll } from = From::kAll;  // where the row count comes from
  if (a.have_k) {
    want = static_cast<uint64_t>(a.k);
    from = From::kK;
  } else if (a.have_limit && a.limit >= 0) {
    want = static_cast<uint64_t>(a.limit) + static_cast<uint64_t>(a.offset);
    from = From::kLimit;
  }
  const bool all = from == From::kAll;
  const char* from_name = from == From::kK ? "k" : from == From::kLimit ? "LIMIT" : "all";
  if (a.bounds.empty() || a.dnone || live == 0 || want == 0) {
    vt->last_query = HnswVtab::LastQuery{};
    vt->last_query.set = vt->last_query.none = true;
    return SQLITE_OK;
  }
  const size_t ef = static_cast<size_t>(a.ef);
  const bool filtered = !a.terms.empty() || !a.bounds.unbounded();
  hnsw::AllowedSet allowed;
  if (!a.bounds.unbounded()) {
    // The passing rowids as an allowed set.
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
    allowed = idx.MakeAllowedSet(passing);
  }
  hnsw::SearchStats stats;
  std::vector<size_t> group_terms;
  const std::vector<uint32_t> groups =
      vt->decl.HasPartition() ? QueryGroups(vt, a.terms, &group_terms) : std::vector<uint32_t>{};
  // The partition-key terms the groups stand for are not tested again node by node.
  std::vector<hnsw::AttrTerm> engine_terms;
  for (size_t i = 0; i < a.terms.size(); ++i) {
    if (std::find(group_terms.begin(), group_terms.end(), i) == group_terms.end()) engine_terms.push_back(a.terms[i]);
  }
  auto search = [&](size_t kk) -> StatusOr<std::vector<hnsw::HnswHit>> {
    if (filtered) {
      return idx.SearchFiltered(q.view(), kk, ef,
                                hnsw::SearchFilter{engine_terms, a.bounds.unbounded() ? nullptr : &allowed, groups},
                                c->exact != 0 || all, &stats);
    }
    stats = hnsw::SearchStats{};
    stats.strategy = c->exact || all ? hnsw::FilterStrategy::kExact : hnsw::FilterStrategy::kGraph;
    return c->exact || all ? idx.ExactSearch(q.view(), kk) : idx.Search(q.view(), kk, ef, &stats);
  };
  // More than the live rows cannot be returned: cap there (an answer with every row is whole).
  size_t kk = static_cast<size_t>(std::min<uint64_t>(want, live));
  StatusOr<std::vector<hnsw::HnswHit>> hits = std::vector<hnsw::HnswHit>{};
  size_t rounds = 0;
  for (;;) {
    hits = search(kk);
    if (!hits.ok()) return Fail(vt, hits.status().WithPrefix("hnsw_knn: "));
    ++rounds;
    if (!a.dbounded) break;
    // Distance bounds: an upper bound only cuts the nearest rows; a lower bound may need more of
    // them — search again for 4× as many until enough are beyond it or every passing row is in.
    size_t in_bounds = 0;
    for (const hnsw::HnswHit& h : *hits) in_bounds += a.DistanceOk(h.distance);
    const bool exhausted = hits->size() < kk || kk >= live;
    const bool beyond_hi = !hits->empty() && !(a.dhi_open ? hits->back().distance < a.dhi : hits->back().distance <= a.dhi);
    if (in_bounds >= want || exhausted || beyond_hi) break;
    kk = static_cast<size_t>(std::min<uint64_t>(live, static_cast<uint64_t>(kk) * 4));
  }
  std::vector<hnsw::HnswHit> out;
  out.reserve(hits->size());
  for (const hnsw::HnswHit& h : *hits) {
    if (a.dbounded && !a.DistanceOk(h.distance)) continue;
    out.push_back(h);
    if (out.size() >= want) break;
  }
  // OFFSET consumed (omit): skip its rows here.
  if (from == From::kLimit && a.offset > 0) {
    const size_t skip = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(a.offset), out.size()));
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(skip));
  }
  const char* reason;
  if (all) {
    reason = "no k and no LIMIT reached the index (none given, or SQLite applies a condition or an order after the "
             "search): exact scan of every passing row in distance order";
  } else if (c->exact) {
    reason = "exact = 1";
  } else if (!filtered) {
    reason = "unfiltered graph walk";
  } else if (stats.fallback) {
    reason = "the filtered walk found fewer than k passing rows: exact scan of the passing rows";
  } else if (stats.strategy == hnsw::FilterStrategy::kExact) {
    reason = "few rows pass the filter: exact scan of the passing rows (cheaper than a filtered walk)";
  } else if (stats.hop) {
    reason = "two-hop graph walk (scores passing rows only, reaching them through the others)";
  } else {
    reason = "filtered graph walk (enough rows pass for the walk to find k of them)";
  }
  HnswVtab::LastQuery& lq = vt->last_query;
  lq = HnswVtab::LastQuery{};
  lq.set = true;
  lq.strategy = StrategyName(stats.strategy);
  lq.reason = reason;
  lq.rows_wanted = want;
  lq.from = from_name;
  lq.filtered = filtered;
  lq.passing_estimate = filtered ? stats.passing_estimate : live;
  lq.passing_counted = !filtered || stats.counted;
  lq.sampled = stats.sampled;
  lq.two_hop = stats.hop;
  lq.two_hop_lists = stats.hop_lists;
  lq.correlated = stats.correlated;
  lq.fallback = stats.fallback;
  lq.searches = rounds;
  lq.rows = out.size();
  lq.partitions = !vt->decl.HasPartition() ? -1
                  : groups.empty()         ? -2
                                           : static_cast<int64_t>(groups.size() == 1 && groups[0] == hnsw::HnswIndex::kNoGroup
                                                                      ? 0
                                                                      : groups.size());
  c->hits = std::move(out);
  c->pos = 0;
  return SQLITE_OK;
}

int ScanFilter(HnswVtab* vt, HnswCursor* c, const std::string& codes, int argc, sqlite3_value** argv) {
  KnnArgs a;
  Status st = ReadKnnArgs(vt, codes, argc, argv, &a);
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
    c->FreeCols();
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
  const HnswSchema& d = vt->decl;
  try {
    const int64_t rowid = c->knn ? c->hits[c->pos].rowid : c->rowid;
    if (col == kColVector) {
      if (sqlite3_vtab_nochange(ctx)) return SQLITE_OK;  // an UPDATE that leaves the vector alone
      VectorBuf v;
      Status st;
      if (!c->knn) {
        // The vector as inserted (formats 1 and 2: original, else the stored one; 3 and 4: the
        // stored one), checked like every value read back: a corrupt row is an error, never garbage.
        const bool has_original = HasOriginal(vt, sqlite3_column_value(c->scan, 1));
        st = CheckStoredVector(vt, sqlite3_column_value(c->scan, has_original ? 1 : 2), c->rowid,
                               has_original ? "original" : "vector", &v);
      } else {
        st = ReadUserVector(vt, rowid, &v);
      }
      if (!st.ok()) return Fail(vt, st);
      ResultVector(ctx, v.view());
    } else if (d.User(col) != nullptr) {
      if (sqlite3_vtab_nochange(ctx)) return SQLITE_OK;  // UPDATE: xUpdate reads what it keeps
      if (!c->cols_valid || c->cols_rowid != rowid) {
        c->FreeCols();
        Status st = ReadRowColumns(vt, rowid, &c->cols);
        if (!st.ok()) return Fail(vt, st);
        c->cols_valid = true;
        c->cols_rowid = rowid;
      }
      sqlite3_result_value(ctx, c->cols[static_cast<size_t>(col - 1)]);
    } else if (col == d.ColDistance()) {
      if (c->knn) sqlite3_result_double(ctx, c->hits[c->pos].distance);
    } else if (col == d.ColK()) {
      if (c->knn && c->k) sqlite3_result_int64(ctx, c->k);
    } else if (col == d.ColEf()) {
      if (c->knn && c->ef) sqlite3_result_int64(ctx, c->ef);
    } else if (col == d.ColExact()) {
      if (c->knn) sqlite3_result_int64(ctx, c->exact);
    }
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

// ---- writes -----------------------------------------------------------------------------------

// INSERT INTO t(t) VALUES ('optimize') | ('ef_search=N').
int Command(HnswVtab* vt, sqlite3_value* v) {
  std::string cmd = sqlite3_value_type(v) == SQLITE_TEXT ? reinterpret_cast<const char*>(sqlite3_value_text(v)) : "";
  std::string key = cmd.substr(0, cmd.find('='));
  while (!key.empty() && key.back() == ' ') key.pop_back();
  while (!key.empty() && key.front() == ' ') key.erase(key.begin());
  const bool setting = cmd.find('=') != std::string::npos;
  if (setting && sqlite3_stricmp(key.c_str(), "ef_search") == 0) {
    std::string value = cmd.substr(cmd.find('=') + 1);
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    while (!value.empty() && value.back() == ' ') value.pop_back();
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || !std::isdigit(static_cast<unsigned char>(value[0])) || *end != '\0' || errno != 0 || x < 1 ||
        x > hnsw::kMaxEf) {
      return Fail(vt, StrFormat("hnsw_knn: setting 'ef_search': expected an integer between 1 and %u, found '%s'",
                                hnsw::kMaxEf, value.substr(0, 64).c_str()));
    }
    Status st = Flush(vt);
    if (st.ok()) st = EnsureLoaded(vt);
    if (st.ok()) st = vt->index->SetEfSearch(static_cast<uint32_t>(x)).WithPrefix("hnsw_knn: ");
    if (st.ok()) st = WriteChanges(vt, {});
    if (!st.ok()) {
      Invalidate(vt);
      return Fail(vt, st);
    }
    vt->config.ef_search = static_cast<uint32_t>(x);
    return SQLITE_OK;
  }
  if (sqlite3_stricmp(cmd.c_str(), "optimize") != 0) {
    std::string shown = sqlite3_value_type(v) == SQLITE_TEXT ? QuotedName(cmd) : DescribeValue(v);
    return Fail(vt, StrFormat("hnsw_knn: unknown command %s (expected 'optimize' or 'ef_search=N')", shown.c_str()));
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

// The declared columns of an INSERT/UPDATE (format 2): new values converted, and for an UPDATE
// the unchanged ones (sqlite3_value_nochange) read from <name>_rows. `old` owns what was read.
Status GatherRow(HnswVtab* vt, sqlite3_value** cols, bool update, int64_t old_rowid, const std::string& who,
                 RowValues* row, std::vector<sqlite3_value*>* old) {
  const HnswSchema& d = vt->decl;
  row->attrs.assign(d.attrs, hnsw::AttrValue::Null());
  row->raw.assign(d.columns.size(), nullptr);
  bool need_old = false;
  for (size_t i = 0; i < d.columns.size(); ++i) need_old = need_old || (update && sqlite3_value_nochange(cols[1 + i]));
  if (need_old) VG_RETURN_IF_ERROR(ReadRowColumns(vt, old_rowid, old));
  for (size_t i = 0; i < d.columns.size(); ++i) {
    const HnswColumnDef& c = d.columns[i];
    sqlite3_value* v = update && sqlite3_value_nochange(cols[1 + i]) ? (*old)[i] : cols[1 + i];
    if (c.attr >= 0) {
      VG_RETURN_IF_ERROR(ConvertMetadata(c, v, who, &row->attrs[static_cast<size_t>(c.attr)]));
    } else {
      row->raw[i] = v;
    }
  }
  return Status::Ok();
}

void FreeValues(std::vector<sqlite3_value*>* v) {
  for (sqlite3_value* x : *v) sqlite3_value_free(x);
  v->clear();
}

int HnswUpdate(sqlite3_vtab* v, int argc, sqlite3_value** argv, sqlite3_int64* out_rowid) {
  HnswVtab* vt = Vt(v);
  const HnswSchema& d = vt->decl;
  // The shadow-table writes must not show in last_insert_rowid() (an INSERT sets it afterwards
  // from *out_rowid).
  KeepLastRowid keep(vt->db);
  std::vector<sqlite3_value*> old_cols;
  struct Cleanup {
    std::vector<sqlite3_value*>* v;
    ~Cleanup() { FreeValues(v); }
  } cleanup{&old_cols};
  try {
    // DELETE
    if (argc == 1) {
      int64_t rowid = sqlite3_value_int64(argv[0]);
      Status st = Flush(vt);
      if (st.ok()) st = EnsureLoaded(vt);
      if (st.ok()) st = vt->index->Delete(rowid).WithPrefix("hnsw_knn: ");
      if (st.ok()) st = WriteChanges(vt, {});
      if (st.ok() && !d.legacy) st = DeleteRowColumns(vt, rowid);
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st);
      }
      return SQLITE_OK;
    }
    sqlite3_value** cols = argv + 2;
    if (sqlite3_value_type(cols[d.ColCommand()]) != SQLITE_NULL) return Command(vt, cols[d.ColCommand()]);
    const char* hidden_names[4] = {"distance", "k", "ef", "exact"};
    for (int h = 0; h < 4; ++h) {
      if (sqlite3_value_type(cols[d.ColDistance() + h]) != SQLITE_NULL) {
        return Fail(vt, StrFormat("hnsw_knn: column %s cannot be written (it is a query parameter)", hidden_names[h]));
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
    const std::string who = StrFormat("row %lld", static_cast<long long>(rowid));
    // The declared columns (format 2).
    RowValues row;
    if (!d.legacy) {
      if (!insert) {
        st = Flush(vt);
        if (!st.ok()) return Fail(vt, st);
      }
      st = GatherRow(vt, cols, !insert, old_rowid, who, &row, &old_cols);
      if (!st.ok()) return Fail(vt, st);
    }
    const bool partitioned = d.HasPartition();
    const uint32_t group = partitioned ? PartitionGroup(vt, row.attrs) : 0;
    // A new partition-key value moves the row to another partition's graph: re-linked like a
    // vector change.
    const bool moves = partitioned && !insert && keep_vector && old_rowid == rowid && vt->index->GroupOf(rowid) != group;
    if (keep_vector && old_rowid == rowid && !moves) {
      // UPDATE of declared columns only: the graph is not touched.
      if (d.legacy) return SQLITE_OK;  // nothing we store changes
      st = WriteRowColumns(vt, rowid, row);
      if (st.ok() && d.attrs > 0) st = vt->index->SetAttributes(rowid, row.attrs).WithPrefix("hnsw_knn: ");
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st);
      }
      return SQLITE_OK;
    }
    VectorBuf vec;
    if (keep_vector) {
      // UPDATE of the rowid or the partition (and maybe other columns): carry the stored vector
      // (as inserted) over.
      st = Flush(vt);
      if (st.ok()) st = ReadUserVector(vt, old_rowid, &vec);
      if (!st.ok()) return Fail(vt, st);
    } else {
      if (sqlite3_value_type(cols[kColVector]) == SQLITE_NULL) {
        return Fail(vt, StrFormat("hnsw_knn: column %s must not be NULL", d.vector_name.c_str()), SQLITE_CONSTRAINT);
      }
      st = ReadInputVector(vt, cols[kColVector], who, &vec);
      if (!st.ok()) return Fail(vt, st);
    }

    // A row with the new rowid exists already: what the statement's conflict clause says.
    const bool conflict = (insert || old_rowid != rowid) &&
                          (vt->pending_set.count(rowid) > 0 || vt->index->Contains(rowid));
    if (conflict) {
      int mode = sqlite3_vtab_on_conflict(vt->db);
      // With SQLITE_VTAB_CONSTRAINT_SUPPORT, SQLITE_CONSTRAINT under OR IGNORE makes SQLite skip
      // the row without counting it in changes() (as for a table).
      if (mode == SQLITE_IGNORE) return SQLITE_CONSTRAINT;
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
        if (st.ok()) st = vt->index->Insert(rowid, vec.view(), group);
        if (st.ok() && !d.legacy) st = DeleteRowColumns(vt, old_rowid);
      } else if (st.ok()) {
        st = vt->index->Upsert(rowid, vec.view(), group);
      }
      if (st.ok() && d.attrs > 0) st = vt->index->SetAttributes(rowid, row.attrs);
      if (st.ok()) st = WriteChanges(vt, {{rowid, vec.data()}});
      if (st.ok() && !d.legacy) st = WriteRowColumns(vt, rowid, row);
      if (!st.ok()) {
        Invalidate(vt);
        return Fail(vt, st.WithPrefix(st.message().rfind("hnsw_knn", 0) == 0 ? "" : "hnsw_knn: "));
      }
    } else {
      if (!d.legacy) {
        st = WriteRowColumns(vt, rowid, row);
        if (!st.ok()) {
          Invalidate(vt);
          return Fail(vt, st);
        }
      }
      vt->pending_rowids.push_back(rowid);
      vt->pending_vecs.insert(vt->pending_vecs.end(), vec.view().begin(), vec.view().end());
      vt->pending_set.insert(rowid);
      // The buffered count, for vecgraph_index_info on any connection (every 4096 rows: the
      // registry takes a process-wide lock).
      if ((vt->pending_rowids.size() & 4095) == 1) {
        SetPending(MakeBuildKey(vt->db, vt->schema, vt->name), vt->pending_rowids.size());
      }
      if (d.attrs > 0) vt->pending_attrs.push_back(std::move(row.attrs));
      if (partitioned) vt->pending_groups.push_back(group);
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
  Vt(v)->poison.clear();  // and the rows a failed build lost are gone with the transaction
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
  rc = sqlite3_create_function_v2(db, "vecgraph_check", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, reg, HnswCheckFunc,
                                  nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_create_function_v2(db, "vecgraph_index_info", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, reg,
                                    HnswIndexInfoFunc, nullptr, nullptr, nullptr);
}

}  // namespace vecgraph::sql
