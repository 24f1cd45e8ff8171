// extension/spread_activation.cpp — spreading activation over an edge table, as a table-valued
// function.
//
//   SELECT node, activation, depth FROM spread_activation(edges, seeds [, options]);
//   SELECT query, node, activation, depth FROM spread_activation(edges, '[{"1": 1}, {"7": 0.5}]');
//
//   edges    TEXT: a table or view name, optionally 'schema.table', with columns src, dst, weight
//            (names changeable with options). Taken literally, never pasted into SQL: quoted as an
//            identifier with %w. 'a.b' means schema a, table b only when a schema named a is
//            attached; otherwise 'a.b' is a table whose name contains a dot.
//   seeds    an INTEGER node id, or JSON TEXT: [id, ...] (activation 1.0 each), {"id": activation}
//            (keys are strings holding integers, as json_group_object(rowid, score) makes), or an
//            integer; duplicates sum, activations <= 0 are dropped, ids not in the graph are still
//            returned. A JSON array of seed sets ([{...}, [...], ...]) is the batched form.
//   options  JSON object (NULL = all defaults): src_col, dst_col, weight_col ('src', 'dst',
//            'weight'; weight_col null = every edge weighs 1.0), directed (1), decay (0.5),
//            threshold (0.01), max_hops (3), normalize ('none'), accumulate ('sum'), refractory
//            ('none'), max_fanout (0), max_frontier (0), top_k (0), min_activation (0).
//            docs/spread_activation.md and engine/graph/spread.h define the semantics.
//
//   Columns: node INTEGER, activation REAL, depth INTEGER, query INTEGER (the 0-based position of
//   the seed set in the batched form; NULL in the plain form, which has no sets), and the HIDDEN
//   argument columns edges, seeds, options. Rows come ordered by query, then activation
//   descending, then node ascending; top_k and min_activation apply per seed set.
//
// How it works
//   Eponymous-only virtual table (no CREATE VIRTUAL TABLE), registered SQLITE_VTAB_DIRECTONLY: it
//   reads whatever table its argument names, so it must not run from a trigger or view, where
//   the user running a statement did not write the SQL (the reasoning of SQLite's csv.c).
//
//   xBestIndex: the hidden columns are the arguments. For each of edges (bit 1), seeds (bit 2) and
//   options (bit 4) it takes the first usable '=' constraint, sets idxNum |= bit and hands the
//   value to xFilter in the order edges, seeds, options (argvIndex 1, 2, 3 among those present),
//   with omit set. A plan with an unusable constraint on an argument is refused
//   (SQLITE_CONSTRAINT: SQLite tries another join order); a call without edges or seeds at all
//   fails with "spread_activation: argument 1 (edges) is required".
//
//   xFilter: parses seeds and options (engine/graph/spread.h), gets the graph from the
//   connection's cache or builds it (the storage adapter below: one prepared SELECT of src, dst,
//   weight, then graph::Graph::Build), and runs graph::Spread, whose hops go through the hybrid
//   executor. The cursor then walks the finished rows. No sqlite3 call happens off this thread.
//
//   Cache: per connection (the module's client data, freed by its destructor when the connection
//   closes), at most kMaxCachedGraphs graphs keyed by (edges argument, columns, directed), least
//   recently used first out, and at most kMaxCachedBytes in all (the newest always stays). An
//   entry is reused only while its stamp is unchanged, and the stamp covers every schema the
//   edge source can read (a view in temp may read main or an attached schema):
//   sqlite3_total_changes64 (this connection's writes), and for each attached schema its name,
//   file, PRAGMA data_version (other connections' commits) and PRAGMA schema_version (DDL, a
//   table shadowing the name); plus an epoch that moves whenever SQLite expires the prepared
//   statements of the connection, which DETACH does: a DETACH, a change by another connection
//   and an ATTACH of the same file under the same name leave every other counter as it was (a
//   fresh attachment restarts data_version), but the epoch moved. A graph built inside an
//   explicit transaction is used for that statement only and never stored: a ROLLBACK could
//   undo the rows it saw without changing any of the counters above.
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/graph/csr.h"
#include "engine/graph/spread.h"
#include "extension/functions.h"
#include "extension/sql_util.h"
#include "extension/vtab_util.h"

namespace vecgraph::sql {
namespace {

constexpr const char* kFn = "spread_activation";
constexpr size_t kMaxCachedGraphs = 4;
constexpr size_t kMaxCachedBytes = size_t{1} << 30;

enum Column { kNode = 0, kActivation, kDepth, kQuery, kArgEdges, kArgSeeds, kArgOptions };
constexpr int kNumArgs = 3;
constexpr const char* kArgNames[kNumArgs] = {"edges", "seeds", "options"};
constexpr int kPlanError = 1 << kNumArgs;  // idxNum of a plan that fails in xFilter (idxStr: why)

// ---- the per-connection graph cache (module client data)

struct CacheKey {
  std::string edges;  // the argument as given
  std::string src, dst, weight;
  bool has_weight = true;
  bool directed = true;
  bool operator==(const CacheKey& o) const {
    return edges == o.edges && src == o.src && dst == o.dst && weight == o.weight && has_weight == o.has_weight &&
           directed == o.directed;
  }
};

// What must not change for a cached graph to stay valid.
struct SchemaStamp {
  std::string name, file;
  int64_t data_version = -1, schema_version = -1;
  bool operator==(const SchemaStamp& o) const {
    return name == o.name && file == o.file && data_version == o.data_version && schema_version == o.schema_version;
  }
};
struct Stamp {
  int64_t total_changes = -1;
  uint64_t epoch = 0;
  std::vector<SchemaStamp> schemas;  // every attached schema, temp and main included
  bool operator==(const Stamp& o) const {
    return total_changes == o.total_changes && epoch == o.epoch && schemas == o.schemas;
  }
};

struct CacheEntry {
  CacheKey key;
  Stamp stamp;
  std::shared_ptr<const graph::Graph> graph;
};

struct ConnCache {
  std::mutex mu;
  std::list<CacheEntry> lru;  // front = most recently used
  // Moves when a vtab (re)connects or sees its sentinel statement re-prepared (Stamp::epoch).
  uint64_t epoch = 0;
};

void DestroyCache(void* p) { delete static_cast<ConnCache*>(p); }

// ---- vtab and cursor

struct SpreadVtab {
  sqlite3_vtab base; /* must be first */
  sqlite3* db = nullptr;
  ConnCache* cache = nullptr;
  // PRAGMA statements of the validity stamp, by SQL text; finalized in xDisconnect.
  std::unordered_map<std::string, sqlite3_stmt*> stmts;
  // "SELECT 1", prepared once: SQLite re-prepares it after it expired the connection's
  // statements (DETACH does), which its SQLITE_STMTSTATUS_REPREPARE counter shows.
  sqlite3_stmt* sentinel = nullptr;
  int reprepares_seen = 0;
};

// RowsCursor's three members, then the extras: the Rows* / Cursor* slots of vtab_util.h work on it,
// and CursorClose's delete runs the destructor, which frees the argument copies.
struct SpreadCursor {
  sqlite3_vtab_cursor base{}; /* must be first */
  std::vector<graph::ResultRow> rows;
  size_t pos = 0;
  bool batched = false;
  sqlite3_value* args[kNumArgs] = {nullptr, nullptr, nullptr};  // the arguments, for the hidden columns

  void ClearArgs() {
    for (auto*& a : args) {
      sqlite3_value_free(a);
      a = nullptr;
    }
  }
  ~SpreadCursor() { ClearArgs(); }
};

// An error raised while serving xFilter: the message (without the "spread_activation: " prefix)
// and the SQLite code.
struct Failure {
  int rc = SQLITE_ERROR;
  std::string message;
};

std::string Quoted(const std::string& s) { return "'" + (s.size() > 80 ? s.substr(0, 80) + "..." : s) + "'"; }

// Runs a one-value PRAGMA through the vtab's statement cache.
sqlite3_stmt* Cached(SpreadVtab* vt, const std::string& sql, Failure* f);

bool PragmaInt(SpreadVtab* vt, const std::string& sql, int64_t* out, Failure* f) {
  sqlite3_stmt* st = Cached(vt, sql, f);
  if (st == nullptr) return false;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  else *out = -1;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    f->rc = rc;
    f->message = StrFormat("%s: %s", sql.c_str(), sqlite3_errmsg(vt->db));
    sqlite3_reset(st);
    return false;
  }
  sqlite3_reset(st);
  return true;
}

// The statement for sql from the vtab's cache (prepared on first use).
sqlite3_stmt* Cached(SpreadVtab* vt, const std::string& sql, Failure* f) {
  sqlite3_stmt*& st = vt->stmts[sql];
  if (st == nullptr) {
    int rc = sqlite3_prepare_v3(vt->db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
      f->rc = rc;
      f->message = StrFormat("%s: %s", sql.c_str(), sqlite3_errmsg(vt->db));
      sqlite3_finalize(st);
      vt->stmts.erase(sql);
      return nullptr;
    }
  }
  return st;
}

bool ReadStamp(SpreadVtab* vt, Stamp* s, Failure* f) {
  s->total_changes = sqlite3_total_changes64(vt->db);
  if (vt->sentinel == nullptr) {
    int rc = sqlite3_prepare_v3(vt->db, "SELECT 1", -1, SQLITE_PREPARE_PERSISTENT, &vt->sentinel, nullptr);
    if (rc != SQLITE_OK) {
      f->rc = rc;
      f->message = StrFormat("cannot prepare a statement: %s", sqlite3_errmsg(vt->db));
      return false;
    }
  }
  sqlite3_step(vt->sentinel);
  sqlite3_reset(vt->sentinel);
  const int reprepares = sqlite3_stmt_status(vt->sentinel, SQLITE_STMTSTATUS_REPREPARE, 0);
  if (reprepares != vt->reprepares_seen) {
    vt->reprepares_seen = reprepares;
    std::lock_guard<std::mutex> lock(vt->cache->mu);
    ++vt->cache->epoch;
  }
  {
    std::lock_guard<std::mutex> lock(vt->cache->mu);
    s->epoch = vt->cache->epoch;
  }
  s->schemas.clear();
  sqlite3_stmt* list = Cached(vt, "SELECT name, file FROM pragma_database_list ORDER BY seq", f);
  if (list == nullptr) return false;
  int rc;
  while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
    SchemaStamp ss;
    const char* n = reinterpret_cast<const char*>(sqlite3_column_text(list, 0));
    const char* file = reinterpret_cast<const char*>(sqlite3_column_text(list, 1));
    ss.name = n ? n : "";
    ss.file = file ? file : "";
    s->schemas.push_back(std::move(ss));
  }
  sqlite3_reset(list);
  if (rc != SQLITE_DONE) {
    f->rc = rc;
    f->message = StrFormat("cannot list the attached databases: %s", sqlite3_errmsg(vt->db));
    return false;
  }
  for (SchemaStamp& ss : s->schemas) {
    char* dv = sqlite3_mprintf("PRAGMA \"%w\".data_version", ss.name.c_str());
    char* sv = sqlite3_mprintf("PRAGMA \"%w\".schema_version", ss.name.c_str());
    std::string dv_sql(dv ? dv : ""), sv_sql(sv ? sv : "");
    sqlite3_free(dv);
    sqlite3_free(sv);
    if (dv_sql.empty() || sv_sql.empty()) throw std::bad_alloc();
    if (!PragmaInt(vt, dv_sql, &ss.data_version, f)) return false;
    if (!PragmaInt(vt, sv_sql, &ss.schema_version, f)) return false;
  }
  return true;
}

// ---- storage adapter: the only place that reads the edge table

// Finds the table (sql::ResolveTable: 'schema.rest' when a schema of that name is attached, else
// the whole name in SQLite's search order) and checks the three columns exist.
bool ResolveEdges(sqlite3* db, const CacheKey& key, std::string* schema, std::string* table, Failure* f) {
  auto ref = ResolveTable(db, key.edges, "argument 1 (edges)");
  if (!ref.ok()) {
    f->rc = StatusToSqlite(ref.status());
    f->message = ref.status().message();
    return false;
  }
  if (!*ref) {
    f->message = StrFormat("argument 1 (edges): no such table or view: %s", Quoted(key.edges).c_str());
    return false;
  }
  struct Need {
    const std::string* col;
    const char* option;
  };
  Need need[] = {{&key.src, "src_col"}, {&key.dst, "dst_col"}, {&key.weight, "weight_col"}};
  for (const Need& n : need) {
    if (n.col == &key.weight && !key.has_weight) continue;
    if (!(*ref)->HasColumn(*n.col)) {
      f->message = StrFormat("argument 1 (edges): table %s has no column %s (option '%s')", Quoted(key.edges).c_str(),
                             Quoted(*n.col).c_str(), n.option);
      return false;
    }
  }
  *schema = (*ref)->schema;
  *table = (*ref)->table;
  return true;
}

// Reads every edge row and builds the graph.
bool LoadGraph(sqlite3* db, const CacheKey& key, const std::string& schema, const std::string& table,
               std::shared_ptr<const graph::Graph>* out, Failure* f) {
  char* sql = key.has_weight
                  ? sqlite3_mprintf("SELECT \"%w\", \"%w\", \"%w\" FROM \"%w\".\"%w\"", key.src.c_str(),
                                    key.dst.c_str(), key.weight.c_str(), schema.c_str(), table.c_str())
                  : sqlite3_mprintf("SELECT \"%w\", \"%w\", NULL FROM \"%w\".\"%w\"", key.src.c_str(),
                                    key.dst.c_str(), schema.c_str(), table.c_str());
  if (sql == nullptr) throw std::bad_alloc();
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    f->rc = rc;
    f->message = StrFormat("argument 1 (edges): cannot read %s: %s", Quoted(key.edges).c_str(), sqlite3_errmsg(db));
    return false;
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
  std::vector<int64_t> src, dst;
  std::vector<double> w;
  int64_t row = 0;
  const std::string* col_names[3] = {&key.src, &key.dst, &key.weight};
  // One sqlite3_column_value per column and row, then the mutex-free sqlite3_value_* accessors:
  // xFilter runs inside this connection's sqlite3_step, which already holds its mutex, so the
  // values are not touched by another thread (and the per-call mutex round trips of
  // sqlite3_column_type/int64/double were ~10 % of reading 10M rows).
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ++row;
    sqlite3_value* v[3] = {sqlite3_column_value(st, 0), sqlite3_column_value(st, 1), sqlite3_column_value(st, 2)};
    if (sqlite3_value_type(v[0]) != SQLITE_INTEGER || sqlite3_value_type(v[1]) != SQLITE_INTEGER) {
      const int c = sqlite3_value_type(v[0]) != SQLITE_INTEGER ? 0 : 1;
      f->message = StrFormat("argument 1 (edges): row %lld of %s: column %s holds %s, expected an integer node id",
                             static_cast<long long>(row), Quoted(key.edges).c_str(), Quoted(*col_names[c]).c_str(),
                             DescribeValue(v[c]).c_str());
      return false;
    }
    const int64_t s_id = sqlite3_value_int64(v[0]);
    const int64_t d_id = sqlite3_value_int64(v[1]);
    double weight = 1.0;
    switch (sqlite3_value_type(v[2])) {
      case SQLITE_NULL: break;
      case SQLITE_INTEGER:
      case SQLITE_FLOAT: weight = sqlite3_value_double(v[2]); break;
      default:
        f->message = StrFormat("argument 1 (edges): row %lld of %s (edge %lld -> %lld): column %s holds %s, expected "
                               "a number (NULL counts 1.0)",
                               static_cast<long long>(row), Quoted(key.edges).c_str(), static_cast<long long>(s_id),
                               static_cast<long long>(d_id), Quoted(key.weight).c_str(), DescribeValue(v[2]).c_str());
        return false;
    }
    src.push_back(s_id);
    dst.push_back(d_id);
    w.push_back(weight);
  }
  if (rc != SQLITE_DONE) {
    f->rc = rc;
    f->message = StrFormat("argument 1 (edges): reading %s: %s", Quoted(key.edges).c_str(), sqlite3_errmsg(db));
    return false;
  }
  guard.reset();
  auto g = graph::Graph::Build(src, dst, w, key.directed);
  if (!g.ok()) {
    f->rc = StatusToSqlite(g.status());
    f->message = g.status().message();
    return false;
  }
  *out = std::move(*g);
  return true;
}

// The graph for key: cached when its stamp still matches, else (re)built.
bool GetGraph(SpreadVtab* vt, const CacheKey& key, std::shared_ptr<const graph::Graph>* out, Failure* f) {
  ConnCache& cache = *vt->cache;
  // Read before the edges: a change after this point makes the stamp stale.
  Stamp stamp;
  if (!ReadStamp(vt, &stamp, f)) return false;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    for (auto it = cache.lru.begin(); it != cache.lru.end(); ++it) {
      if (!(it->key == key)) continue;
      if (stamp == it->stamp) {
        cache.lru.splice(cache.lru.begin(), cache.lru, it);
        *out = it->graph;
        return true;
      }
      cache.lru.erase(it);  // stale
      break;
    }
  }
  std::string schema, table;
  if (!ResolveEdges(vt->db, key, &schema, &table, f)) return false;
  if (!LoadGraph(vt->db, key, schema, table, out, f)) return false;
  if (sqlite3_get_autocommit(vt->db) == 0) return true;  // inside a transaction: not stored
  std::lock_guard<std::mutex> lock(cache.mu);
  cache.lru.push_front(CacheEntry{key, stamp, *out});
  size_t bytes = 0, kept = 0;
  for (auto it = cache.lru.begin(); it != cache.lru.end();) {
    bytes += it->graph->MemoryBytes();
    if (kept > 0 && (kept >= kMaxCachedGraphs || bytes > kMaxCachedBytes)) {
      it = cache.lru.erase(it);
    } else {
      ++kept;
      ++it;
    }
  }
  return true;
}

// ---- module slots

int SpreadConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** pz_err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(node INTEGER, activation REAL, depth INTEGER, query INTEGER, "
                                "edges HIDDEN, seeds HIDDEN, options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  try {
    auto* vt = new SpreadVtab();
    vt->base = sqlite3_vtab{};
    vt->db = db;
    vt->cache = static_cast<ConnCache*>(aux);
    {
      // A new vtab cannot vouch for what happened before it connected.
      std::lock_guard<std::mutex> lock(vt->cache->mu);
      ++vt->cache->epoch;
    }
    *out = &vt->base;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
  // Reads the table its argument names: not from triggers or views (see the header).
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  return SQLITE_OK;
}

int SpreadDisconnect(sqlite3_vtab* base) {
  auto* vt = reinterpret_cast<SpreadVtab*>(base);
  for (auto& [sql, st] : vt->stmts) sqlite3_finalize(st);
  sqlite3_finalize(vt->sentinel);
  sqlite3_free(vt->base.zErrMsg);
  delete vt;
  return SQLITE_OK;
}

int SpreadBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int usable[kNumArgs] = {-1, -1, -1};  // constraint index per argument
  bool seen[kNumArgs] = {false, false, false};
  bool unusable[kNumArgs] = {false, false, false};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn < kArgEdges || c.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    const int a = c.iColumn - kArgEdges;
    seen[a] = true;
    if (!c.usable) unusable[a] = true;
    else if (usable[a] < 0) usable[a] = i;
  }
  for (int a = 0; a < 2; ++a) {
    if (!seen[a]) {
      return DeferredPlanError(info, kPlanError, StrFormat("%s: argument %d (%s) is required", kFn, a + 1, kArgNames[a]));
    }
  }
  for (int a = 0; a < kNumArgs; ++a) {
    if (unusable[a] && usable[a] < 0) return SQLITE_CONSTRAINT;  // wait for a plan that binds it
  }
  int idx_num = 0, argv = 0;
  for (int a = 0; a < kNumArgs; ++a) {
    if (usable[a] < 0) continue;
    idx_num |= 1 << a;
    info->aConstraintUsage[usable[a]].argvIndex = ++argv;
    info->aConstraintUsage[usable[a]].omit = 1;
  }
  info->idxNum = idx_num;
  info->estimatedCost = 1000;
  info->estimatedRows = 1000;
  return SQLITE_OK;
}

// xFilter's work; returns false with *f set on an error.
bool FilterImpl(SpreadVtab* vt, SpreadCursor* c, sqlite3_value* edges, sqlite3_value* seeds, sqlite3_value* options,
                Failure* f) {
  // Argument 1: the table name.
  if (sqlite3_value_type(edges) != SQLITE_TEXT) {
    f->message = StrFormat("argument 1 (edges): expected a table or view name (TEXT), found %s", TypeName(edges));
    return false;
  }
  CacheKey key;
  {
    const char* t = reinterpret_cast<const char*>(sqlite3_value_text(edges));
    if (t == nullptr) throw std::bad_alloc();
    key.edges.assign(t, static_cast<size_t>(sqlite3_value_bytes(edges)));
  }
  // Argument 2: seeds.
  graph::SeedInput in;
  switch (sqlite3_value_type(seeds)) {
    case SQLITE_INTEGER: in.sets.push_back({{sqlite3_value_int64(seeds), 1.0}}); break;
    case SQLITE_TEXT: {
      const char* t = reinterpret_cast<const char*>(sqlite3_value_text(seeds));
      if (t == nullptr) throw std::bad_alloc();
      auto parsed = graph::ParseSeeds(std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(seeds))));
      if (!parsed.ok()) {
        f->message = "argument 2 (seeds): " + parsed.status().message();
        return false;
      }
      in = std::move(*parsed);
      break;
    }
    default:
      f->message = StrFormat("argument 2 (seeds): expected JSON text ([id, ...], {\"id\": activation, ...}) or an "
                             "integer node id, found %s",
                             TypeName(seeds));
      return false;
  }
  // Argument 3: options.
  graph::ParsedOptions opts;
  if (options != nullptr && sqlite3_value_type(options) != SQLITE_NULL) {
    if (sqlite3_value_type(options) != SQLITE_TEXT) {
      f->message = StrFormat("argument 3 (options): expected a JSON object (TEXT) or NULL, found %s", TypeName(options));
      return false;
    }
    const char* t = reinterpret_cast<const char*>(sqlite3_value_text(options));
    if (t == nullptr) throw std::bad_alloc();
    std::string_view text(t, static_cast<size_t>(sqlite3_value_bytes(options)));
    auto parsed = graph::ParseOptions(text);
    if (!parsed.ok()) {
      const std::string& m = parsed.status().message();
      // A bad value names its option; anything else is about the argument as a whole.
      f->message = m.rfind("option '", 0) == 0 ? m : "argument 3 (options): " + m;
      return false;
    }
    opts = std::move(*parsed);
  }
  key.src = opts.source.src_col;
  key.dst = opts.source.dst_col;
  key.weight = opts.source.weight_col;
  key.has_weight = !opts.source.weight_col.empty();
  key.directed = opts.source.directed;

  std::shared_ptr<const graph::Graph> g;
  if (!GetGraph(vt, key, &g, f)) return false;
  auto rows = graph::Spread(*g, in.sets, opts.spread);
  if (!rows.ok()) {
    f->rc = StatusToSqlite(rows.status());
    f->message = rows.status().message();
    return false;
  }
  c->rows = std::move(*rows);
  c->batched = in.batched;
  return true;
}

int SpreadFilter(sqlite3_vtab_cursor* cur, int idx_num, const char* idx_str, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<SpreadCursor*>(cur);
  auto* vt = reinterpret_cast<SpreadVtab*>(cur->pVtab);
  try {
    c->rows.clear();
    c->pos = 0;
    c->ClearArgs();
    if (idx_num == kPlanError) {
      VtabError(cur->pVtab, idx_str ? idx_str : "spread_activation: no plan");
      return SQLITE_ERROR;
    }
    sqlite3_value* args[kNumArgs] = {nullptr, nullptr, nullptr};
    int next = 0;
    for (int a = 0; a < kNumArgs; ++a) {
      if ((idx_num & (1 << a)) != 0 && next < argc) args[a] = argv[next++];
    }
    for (int a = 0; a < kNumArgs; ++a) {
      if (args[a] == nullptr) continue;
      c->args[a] = sqlite3_value_dup(args[a]);
      if (c->args[a] == nullptr) return SQLITE_NOMEM;
    }
    if (args[0] == nullptr || args[1] == nullptr) {
      VtabError(cur->pVtab, StrFormat("%s: argument %d (%s) is required", kFn, args[0] == nullptr ? 1 : 2,
                                      args[0] == nullptr ? "edges" : "seeds"));
      return SQLITE_ERROR;
    }
    Failure f;
    if (!FilterImpl(vt, c, args[0], args[1], args[2], &f)) {
      if (f.rc == SQLITE_NOMEM) return SQLITE_NOMEM;
      VtabError(cur->pVtab, std::string(kFn) + ": " + f.message);
      return f.rc == SQLITE_OK || f.rc == SQLITE_DONE || f.rc == SQLITE_ROW ? SQLITE_ERROR : f.rc;
    }
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    c->rows.clear();
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    c->rows.clear();
    VtabError(cur->pVtab, std::string("vecgraph: internal error: ") + e.what());
    return SQLITE_ERROR;
  }
}

int SpreadColumn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<SpreadCursor*>(cur);
  const graph::ResultRow& r = c->rows[c->pos];
  switch (col) {
    case kNode: sqlite3_result_int64(ctx, r.node); break;
    case kActivation: sqlite3_result_double(ctx, r.activation); break;
    case kDepth: sqlite3_result_int(ctx, r.depth); break;
    case kQuery:
      if (c->batched) sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.query));
      else sqlite3_result_null(ctx);
      break;
    default: {
      sqlite3_value* v = col - kArgEdges < kNumArgs ? c->args[col - kArgEdges] : nullptr;
      if (v != nullptr) sqlite3_result_value(ctx, v);
      else sqlite3_result_null(ctx);
    }
  }
  return SQLITE_OK;
}

constexpr sqlite3_module kSpreadModule = EponymousModule({
    .xConnect = SpreadConnect,
    .xBestIndex = SpreadBestIndex,
    .xDisconnect = SpreadDisconnect,
    .xOpen = CursorOpen<SpreadCursor>,
    .xClose = CursorClose<SpreadCursor>,
    .xFilter = SpreadFilter,
    .xNext = RowsNext<SpreadCursor>,
    .xEof = RowsEof<SpreadCursor>,
    .xColumn = SpreadColumn,
    .xRowid = RowsRowid<SpreadCursor>,
});

}  // namespace

int RegisterSpreadActivation(sqlite3* db) {
  ConnCache* cache = nullptr;
  try {
    cache = new ConnCache();
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
  // On failure SQLite calls DestroyCache itself.
  return sqlite3_create_module_v2(db, kFn, &kSpreadModule, cache, DestroyCache);
}

}  // namespace vecgraph::sql
