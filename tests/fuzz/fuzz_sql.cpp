// tests/fuzz/fuzz_sql.cpp — vecgraph through SQL: random statements against an hnsw_knn index,
// run by the real SQLite (linked, vecgraph_register on a fresh :memory: connection per input).
//
// Each input opens a connection, creates `ix` (hnsw_knn, dim=3, metric / m / ef_construction
// from the input), an edge table `edges`, a query table `q`, and the declared-column table `t`
// with its plain mirror table (fuzz_sql_columns.h: metadata of every class, filtered k-NN
// checked row for row against the mirror), then runs up to 64 statements drawn from a small
// grammar (FuzzedDataProvider): INSERT (with or without rowid, several rows,
// OR REPLACE, from a SELECT), UPDATE (vector and/or rowid, OR REPLACE), DELETE, k-NN SELECTs
// (`vector MATCH ? AND k = ?` with rowid =, IN, IN (subquery), <, <=, >, >= on INTEGER, REAL,
// TEXT, BLOB or NULL values, ef, exact, ORDER BY distance, LIMIT, terms in any order), plain scans
// with rowid ranges, vec_distance / vec_normalize / vec_topk / ..., spread_activation over
// `edges` (seeds also from a k-NN subquery), hnsw_knn_batch, vecgraph_check, BEGIN / COMMIT /
// ROLLBACK / SAVEPOINT / RELEASE / ROLLBACK TO and 'optimize'. Vectors come as JSON text with odd
// numbers (1e400, -0, denormals, 01, 1., nan, ...) or as BLOBs of any length. It never writes the
// shadow tables. About a third of the statements are fuzz_sql_columns.h's, on `t`; BEGIN,
// SAVEPOINT and ROLLBACK TO apply to both tables (and to t's mirror) alike.
//
// SQLite errors are expected and ignored, except SQLITE_INTERNAL and SQLITE_CORRUPT (nobody
// touched the shadow tables, so either is a vecgraph bug). Findings besides crashes and sanitizer
// reports — only what must hold whatever the k and rowid-constraint rules end up being:
//   - a k-NN query returns at most k rows (k bound as an INTEGER), ascending by distance (NaN
//     ordered last), each a live row (a plain `rowid = ?` lookup finds it) that satisfies every
//     rowid constraint of the query under SQLite's own comparison rules (checked on a temp
//     table `probe(id INTEGER PRIMARY KEY)` with the same WHERE terms and values);
//   - a plain scan returns distinct rows that satisfy its constraints, in rowid order when
//     ORDER BY rowid [DESC] is asked;
//   - vec_topk returns at most k entries, ascending by distance; hnsw_knn_batch at most k rows
//     per query, ascending; spread_activation rows by query, activation descending, node ascending;
//   - at the end of every input, back in autocommit (the open transaction is committed or rolled
//     back): vecgraph_check('ix') = 'ok'; the rows of a scan are exactly the rows of an exact
//     k-NN over everything; and the database serialized into a fresh connection (so the index
//     is loaded from its shadow tables, the graph built afresh) gives 'ok', the same rows, and
//     the same answers to a few fixed k-NN and spread_activation queries (hnsw.h promises that a
//     reloaded index behaves exactly like the original);
//   - for `t`: what fuzz_sql_columns.h's header lists (answers equal the mirror's).
#include <fuzzer/FuzzedDataProvider.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "extension/vecgraph.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_sql_columns.h"
#include "tests/fuzz/fuzz_sql_run.h"

namespace {

using namespace fuzz_sql;  // Val, Result, Run, Show

constexpr int kDim = 3;

// ---- value generators -------------------------------------------------------------------------

int64_t SmallRowid(FuzzedDataProvider& p) {
  if (p.ConsumeIntegralInRange(0, 7) != 0) return p.ConsumeIntegralInRange<int64_t>(1, 12);
  static const int64_t kOdd[] = {0, -1, -7, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                                 int64_t{1} << 53, -(int64_t{1} << 53), 1000000};
  return kOdd[p.ConsumeIntegralInRange<size_t>(0, std::size(kOdd) - 1)];
}

// A value compared with rowid or written as one: mostly INTEGER, sometimes any type.
Val RowidVal(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange(0, 15)) {
    case 0: {
      static const double kReal[] = {1.0, 2.5, -0.5, 3.0, 1e19, -1e19, 9.2233720368547758e18, 0.0, -0.0, 4.999999};
      return Val::Real(kReal[p.ConsumeIntegralInRange<size_t>(0, std::size(kReal) - 1)]);
    }
    case 1: {
      static const char* kText[] = {"3", "abc", "1e1", " 4", "0x5", "", "2.0", "-1", "9223372036854775808"};
      return Val::Text(kText[p.ConsumeIntegralInRange<size_t>(0, std::size(kText) - 1)]);
    }
    case 2: return Val::Blob(p.ConsumeBool() ? "3" : std::string("\x01\0\0\0\0\0\0\0", 8));
    case 3: return Val::Null();
    default: return Val::Int(SmallRowid(p));
  }
}

std::string NumberLiteral(FuzzedDataProvider& p) {
  static const char* kOdd[] = {"1e400", "-1e400", "1e-400", "-0", "0", "1.4e-45", "1e-45", "1e-46",
                               "3.4028235e38", "3.4028236e38", "3.5e38", "-3.4028235e38", "1e38", "nan", "-nan",
                               "NaN", "inf", "-Infinity", "01", "1.", ".5", "+1", "0x10", "1e", "2.5e-3",
                               "1E+2", "-0.0", "0.1", "1e308", "4.9e-324", "12345678901234567890", "true",
                               "null", "\"1\"", "[1]", "1 2", "\xef\xbc\x91", "\\u0031"};
  switch (p.ConsumeIntegralInRange(0, 11)) {
    case 0: return kOdd[p.ConsumeIntegralInRange<size_t>(0, std::size(kOdd) - 1)];
    case 1: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(p.ConsumeFloatingPoint<float>()));
      return buf;
    }
    default: return std::to_string(p.ConsumeIntegralInRange(-4, 4));
  }
}

float FloatValue(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange(0, 23)) {
    case 0: return -0.0f;
    case 1: return std::numeric_limits<float>::denorm_min();
    case 2: return std::numeric_limits<float>::min();
    case 3: return std::numeric_limits<float>::max();
    case 4: return -std::numeric_limits<float>::max();
    case 5: return p.ConsumeBool() ? std::numeric_limits<float>::infinity() : std::nanf("");
    case 6: return p.ConsumeFloatingPoint<float>();
    default: return static_cast<float>(p.ConsumeIntegralInRange(-4, 4)) * 0.5f;
  }
}

Val VectorVal(FuzzedDataProvider& p) {
  int kind = p.ConsumeIntegralInRange(0, 19);
  if (kind < 9) {  // JSON text, usually of the right length
    int n = kind == 8 ? p.ConsumeIntegralInRange(0, 5) : kDim;
    std::string s = p.ConsumeBool() ? "[" : "[ ";
    for (int i = 0; i < n; ++i) s += (i ? "," : "") + NumberLiteral(p);
    s += "]";
    return Val::Text(s);
  }
  if (kind < 15) {  // a float32 BLOB of dim (or a few) elements
    int n = kind == 14 ? p.ConsumeIntegralInRange(0, 5) : kDim;
    std::string b(static_cast<size_t>(n) * 4, '\0');
    for (int i = 0; i < n; ++i) {
      float f = FloatValue(p);
      std::memcpy(&b[static_cast<size_t>(i) * 4], &f, 4);
    }
    return Val::Blob(b);
  }
  switch (kind) {
    case 15: return Val::Blob(p.ConsumeBytesAsString(p.ConsumeIntegralInRange<size_t>(0, 17)));
    case 16: {
      static const char* kBad[] = {"[", "[1,2,", "[[1,2,3]]", "\"x\"", "", "[1,2,3]x", "{\"a\":1}",
                                   "[1,,3]", "[1 2 3]", " [1,2,3] ", "[1,2,3,]", "\t[\n1,\r2,3]"};
      return Val::Text(kBad[p.ConsumeIntegralInRange<size_t>(0, std::size(kBad) - 1)]);
    }
    case 17: return Val::Null();
    case 18: return Val::Int(p.ConsumeIntegralInRange(-2, 2));
    default: return Val::Text(p.ConsumeRandomLengthString(24));
  }
}

// k, ef, exact, LIMIT: mostly a small INTEGER.
Val CountVal(FuzzedDataProvider& p, int64_t lo, int64_t hi) {
  switch (p.ConsumeIntegralInRange(0, 11)) {
    case 0: {
      static const int64_t kOdd[] = {0, -1, int64_t{1} << 40, INT64_MAX, INT64_MIN, 65536, 65537, 1 << 20};
      return Val::Int(kOdd[p.ConsumeIntegralInRange<size_t>(0, std::size(kOdd) - 1)]);
    }
    case 1: return Val::Real(p.ConsumeBool() ? 2.0 : 2.5);
    case 2: return Val::Text(p.ConsumeBool() ? "3" : "x");
    case 3: return Val::Null();
    default: return Val::Int(p.ConsumeIntegralInRange(lo, hi));
  }
}

std::string SeedsText(FuzzedDataProvider& p) {
  static const char* kFixed[] = {"[1]", "[1,2,3]", "{\"1\": 1, \"4\": 0.5}", "[[1],[2,3]]", "[{\"1\": 1}, [5]]",
                                 "[]", "{}", "{\"1\": 1e400}", "{\"x\": 1}", "[1.5]", "[\"2\"]", "7",
                                 "{\"1\": -1, \"2\": 0}", "[[1], 2]", "[9223372036854775807, -9223372036854775808]",
                                 "{\"1\": 1, \"1\": 2}", "nan", "[1, 1, 1]"};
  if (p.ConsumeBool()) return kFixed[p.ConsumeIntegralInRange<size_t>(0, std::size(kFixed) - 1)];
  std::string s = "{";
  int n = p.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < n; ++i) {
    s += (i ? ", \"" : "\"") + std::to_string(SmallRowid(p)) + "\": " + NumberLiteral(p);
  }
  return s + "}";
}

std::string OptionsText(FuzzedDataProvider& p) {
  struct Opt {
    const char* key;
    std::vector<const char*> values;
  };
  static const Opt kOpts[] = {
      {"decay", {"0.5", "1", "0", "1.5", "-1", "1e-300", "\"x\"", "null"}},
      {"threshold", {"0", "0.01", "-0", "1e400", "-1", "100"}},
      {"max_hops", {"0", "1", "3", "64", "65", "-1", "2.5", "1e300"}},
      {"normalize", {"\"none\"", "\"out\"", "\"degree\"", "\"sqrt_degree\"", "\"bogus\"", "1"}},
      {"accumulate", {"\"sum\"", "\"max\"", "\"min\""}},
      {"refractory", {"\"none\"", "\"once\"", "true"}},
      {"max_fanout", {"0", "1", "2", "9007199254740993", "-1"}},
      {"max_frontier", {"0", "1", "2", "1e10"}},
      {"top_k", {"0", "1", "2", "3.0", "-1"}},
      {"min_activation", {"0", "0.1", "-0.1", "1e300"}},
      {"weight_col", {"\"weight\"", "null", "\"nope\"", "\"\"", "\"src\""}},
      {"src_col", {"\"src\"", "\"dst\"", "\"nope\"", "\"\\u0000\""}},
      {"dst_col", {"\"dst\"", "\"src\"", "\"weight\""}},
      {"directed", {"true", "false", "0", "1", "2", "\"yes\""}},
      {"speed", {"1"}},
  };
  if (p.ConsumeIntegralInRange(0, 9) == 0) return p.ConsumeBool() ? "[1]" : "{\"decay\": ";
  std::string s = "{";
  int n = p.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < n; ++i) {
    const Opt& o = kOpts[p.ConsumeIntegralInRange<size_t>(0, std::size(kOpts) - 1)];
    s += std::string(i ? ", \"" : "\"") + o.key + "\": " + o.values[p.ConsumeIntegralInRange<size_t>(0, o.values.size() - 1)];
  }
  return s + "}";
}

// ---- rowid constraints --------------------------------------------------------------------------

// "<col> op ?" terms; rendered for `rowid` in the query and for `id` in the probe.
struct Constraint {
  enum Op { kEq, kIn, kInJson, kLt, kLe, kGt, kGe } op = kEq;
  std::vector<Val> vals;
  std::string Render(const char* col, std::vector<Val>* params) const {
    static const char* kOps[] = {"=", "IN", "IN", "<", "<=", ">", ">="};
    std::string s = std::string(col) + " " + kOps[op] + " ";
    if (op == kIn) {
      s += "(";
      for (size_t i = 0; i < vals.size(); ++i) s += i ? ", ?" : "?";
      s += ")";
    } else if (op == kInJson) {
      s += "(SELECT value FROM json_each(?))";
    } else {
      s += "?";
    }
    params->insert(params->end(), vals.begin(), vals.end());
    return s;
  }
};

Constraint MakeConstraint(FuzzedDataProvider& p) {
  Constraint c;
  c.op = static_cast<Constraint::Op>(p.ConsumeIntegralInRange(0, 6));
  if (c.op == Constraint::kIn) {
    int n = p.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < n; ++i) c.vals.push_back(RowidVal(p));
  } else if (c.op == Constraint::kInJson) {
    std::string j = "[";
    int n = p.ConsumeIntegralInRange(0, 4);
    for (int i = 0; i < n; ++i) j += (i ? "," : "") + (p.ConsumeIntegralInRange(0, 5) ? std::to_string(SmallRowid(p)) : std::string("2.5"));
    c.vals.push_back(Val::Text(j + "]"));
  } else {
    c.vals.push_back(RowidVal(p));
  }
  return c;
}

// Does rowid r satisfy all constraints, by SQLite's rules for an INTEGER PRIMARY KEY?
bool Satisfies(sqlite3* db, int64_t r, const std::vector<Constraint>& cs) {
  if (cs.empty()) return true;
  Run(db, "DELETE FROM temp.probe");
  Result ins = Run(db, "INSERT INTO temp.probe(id) VALUES (?)", {Val::Int(r)});
  FUZZ_CHECK(ins.ok(), "probe insert failed: %s", ins.error.c_str());
  std::vector<Val> params;
  std::string sql = "SELECT count(*) FROM temp.probe WHERE ";
  for (size_t i = 0; i < cs.size(); ++i) sql += (i ? " AND " : "") + cs[i].Render("id", &params);
  Result q = Run(db, sql, params);
  FUZZ_CHECK(q.ok() && q.rows.size() == 1, "probe query failed: %s\n  sql: %s", q.error.c_str(), sql.c_str());
  return q.rows[0][0].i == 1;
}

std::string Describe(const std::vector<Constraint>& cs) {
  std::vector<Val> params;
  std::string s;
  for (size_t i = 0; i < cs.size(); ++i) s += (i ? " AND " : "") + cs[i].Render("rowid", &params);
  s += "   with";
  for (const Val& v : params) s += " " + Show(v);
  return s;
}

double OrderKey(const Val& v) { return v.type == Val::kReal && !std::isnan(v.d) ? v.d : HUGE_VAL; }

// ---- the session --------------------------------------------------------------------------------

class Session {
 public:
  Session(sqlite3* db, FuzzedDataProvider& p, ColumnsSession* cols) : db_(db), p_(p), cols_(cols) {}

  void Step() {
    switch (p_.ConsumeIntegralInRange(0, 41)) {
      case 0: case 1: Insert(); break;
      case 2: InsertAuto(); break;
      case 3: InsertMany(); break;
      case 4: InsertOrReplace(); break;
      case 5: case 6: Update(); break;
      case 7: case 8: Delete(); break;
      case 9: case 10: case 11: case 12: Knn(); break;
      case 13: case 14: Scan(); break;
      case 15: VecFunction(); break;
      case 16: Topk(); break;
      case 17: Spread(); break;
      case 18: EdgeWrite(); break;
      case 19: case 20: Transaction(); break;
      case 21: Command(); break;
      case 22: Check(); break;
      case 23: Batch(); break;
      case 24: Run(db_, "INSERT INTO q(v) VALUES (?)", {VectorVal(p_)}); break;
      case 25:
        Run(db_, "INSERT INTO ix(rowid, vector) SELECT rowid + ?, v FROM q", {Val::Int(SmallRowid(p_))});
        break;
      default: cols_->Step(); break;  // the declared-column table t and its mirror
    }
  }

  // Back to autocommit, then the end-of-input invariants.
  void Finish() {
    if (!sqlite3_get_autocommit(db_)) {
      if (!p_.ConsumeBool() || !Run(db_, "COMMIT").ok()) Run(db_, "ROLLBACK");
    }
    if (!sqlite3_get_autocommit(db_)) return;  // cannot happen, but then there is nothing to assert
    CheckConsistent(db_, "end of input");
    cols_->Finish();
    Reopen();
  }

 private:
  void Insert() {
    int shape = p_.ConsumeIntegralInRange(0, 9);
    if (shape == 0) {  // a hidden column written: an error, never a crash
      static const char* kCols[] = {"distance", "k", "ef", "exact"};
      Run(db_, std::string("INSERT INTO ix(rowid, vector, ") + kCols[p_.ConsumeIntegralInRange(0, 3)] +
                   ") VALUES (?, ?, ?)",
          {RowidVal(p_), VectorVal(p_), Val::Int(1)});
    } else if (shape == 1) {
      Run(db_, "INSERT INTO ix(vector, rowid) VALUES (?, ?)", {VectorVal(p_), RowidVal(p_)});
    } else {
      Run(db_, "INSERT INTO ix(rowid, vector) VALUES (?, ?)", {RowidVal(p_), VectorVal(p_)});
    }
  }
  void InsertAuto() { Run(db_, "INSERT INTO ix(vector) VALUES (?)", {VectorVal(p_)}); }
  void InsertMany() {
    int n = p_.ConsumeIntegralInRange(2, 5);
    std::string sql = "INSERT INTO ix(rowid, vector) VALUES ";
    std::vector<Val> params;
    for (int i = 0; i < n; ++i) {
      sql += i ? ", (?, ?)" : "(?, ?)";
      params.push_back(p_.ConsumeIntegralInRange(0, 5) ? Val::Int(SmallRowid(p_)) : RowidVal(p_));
      params.push_back(VectorVal(p_));
    }
    Run(db_, sql, params);
  }
  void InsertOrReplace() {
    Run(db_, p_.ConsumeBool() ? "INSERT OR REPLACE INTO ix(rowid, vector) VALUES (?, ?)"
                              : "REPLACE INTO ix(rowid, vector) VALUES (?, ?)",
        {RowidVal(p_), VectorVal(p_)});
  }
  void Update() {
    std::string verb = p_.ConsumeIntegralInRange(0, 3) == 0 ? "UPDATE OR REPLACE ix SET " : "UPDATE ix SET ";
    switch (p_.ConsumeIntegralInRange(0, 4)) {
      case 0: Run(db_, verb + "vector = ? WHERE rowid = ?", {VectorVal(p_), RowidVal(p_)}); break;
      case 1: Run(db_, verb + "rowid = ? WHERE rowid = ?", {RowidVal(p_), RowidVal(p_)}); break;
      case 2: Run(db_, verb + "rowid = ?, vector = ? WHERE rowid = ?", {RowidVal(p_), VectorVal(p_), RowidVal(p_)}); break;
      case 3: Run(db_, verb + "rowid = rowid + ? WHERE rowid >= ?", {Val::Int(SmallRowid(p_)), RowidVal(p_)}); break;
      default: Run(db_, verb + "vector = ?", {VectorVal(p_)}); break;
    }
  }
  void Delete() {
    switch (p_.ConsumeIntegralInRange(0, 5)) {
      case 0: {
        std::vector<Val> params;
        std::string w = MakeConstraint(p_).Render("rowid", &params);
        Run(db_, "DELETE FROM ix WHERE " + w, params);
        break;
      }
      case 1: Run(db_, "DELETE FROM ix"); break;
      default: Run(db_, "DELETE FROM ix WHERE rowid = ?", {RowidVal(p_)}); break;
    }
  }

  void Knn() {
    std::vector<std::pair<std::string, std::vector<Val>>> terms;
    terms.push_back({"vector MATCH ?", {VectorVal(p_)}});
    Val k = CountVal(p_, 1, 8);
    terms.push_back({"k = ?", {k}});
    std::vector<Constraint> cs;
    for (int n = p_.ConsumeIntegralInRange(0, 3); n > 0; --n) {
      cs.push_back(MakeConstraint(p_));
      std::vector<Val> params;
      std::string t = cs.back().Render("rowid", &params);
      terms.push_back({t, params});
    }
    if (p_.ConsumeIntegralInRange(0, 3) == 0) terms.push_back({"ef = ?", {CountVal(p_, 1, 64)}});
    if (p_.ConsumeIntegralInRange(0, 3) == 0) terms.push_back({"exact = ?", {CountVal(p_, 0, 1)}});
    // Any order of the WHERE terms (xBestIndex sees them in that order).
    for (size_t i = terms.size(); i > 1; --i) std::swap(terms[i - 1], terms[p_.ConsumeIntegralInRange<size_t>(0, i - 1)]);
    std::string sql = p_.ConsumeIntegralInRange(0, 3) == 0 ? "SELECT rowid, distance, vector, k, ef, exact FROM ix WHERE "
                                                           : "SELECT rowid, distance FROM ix WHERE ";
    std::vector<Val> params;
    for (size_t i = 0; i < terms.size(); ++i) {
      sql += (i ? " AND " : "") + terms[i].first;
      params.insert(params.end(), terms[i].second.begin(), terms[i].second.end());
    }
    if (p_.ConsumeBool()) sql += " ORDER BY distance";
    if (p_.ConsumeIntegralInRange(0, 3) == 0) {
      sql += " LIMIT ?";
      params.push_back(Val::Int(p_.ConsumeIntegralInRange(0, 5)));
    }
    Result r = Run(db_, sql, params);
    if (!r.ok()) return;
    if (k.type == Val::kInt && k.i >= 1) {
      FUZZ_CHECK(r.rows.size() <= static_cast<uint64_t>(k.i), "k-NN returned %zu rows for k = %lld\n  sql: %s",
                 r.rows.size(), static_cast<long long>(k.i), sql.c_str());
    }
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const auto& row = r.rows[i];
      FUZZ_CHECK(row[0].type == Val::kInt, "k-NN row %zu has a non-INTEGER rowid\n  sql: %s", i, sql.c_str());
      // SQLite turns a NaN result into NULL (a dot product can overflow to inf - inf).
      FUZZ_CHECK(row[1].type == Val::kReal || row[1].type == Val::kNull, "k-NN row %zu has a distance of type %d\n"
                 "  sql: %s", i, row[1].type, sql.c_str());
      if (i) {
        FUZZ_CHECK(OrderKey(r.rows[i - 1][1]) <= OrderKey(row[1]),
                   "k-NN rows %zu and %zu not ascending by distance: %.17g then %.17g\n  sql: %s", i - 1, i,
                   r.rows[i - 1][1].d, row[1].d, sql.c_str());
      }
    }
    for (const auto& row : r.rows) {
      const int64_t id = row[0].i;
      FUZZ_CHECK(Satisfies(db_, id, cs), "k-NN returned rowid %lld, outside the constraint %s\n  sql: %s",
                 static_cast<long long>(id), Describe(cs).c_str(), sql.c_str());
      Result live = Run(db_, "SELECT count(*) FROM ix WHERE rowid = ?", {Val::Int(id)});
      FUZZ_CHECK(live.ok() && live.rows[0][0].i == 1, "k-NN returned rowid %lld, which a rowid lookup does not find "
                 "(%s)\n  sql: %s", static_cast<long long>(id), live.error.c_str(), sql.c_str());
    }
  }

  void Scan() {
    std::vector<Constraint> cs;
    std::vector<Val> params;
    std::string sql = "SELECT rowid, vector FROM ix";
    for (int n = p_.ConsumeIntegralInRange(0, 2); n > 0; --n) {
      cs.push_back(MakeConstraint(p_));
      sql += (cs.size() == 1 ? " WHERE " : " AND ") + cs.back().Render("rowid", &params);
    }
    int order = p_.ConsumeIntegralInRange(0, 2);  // none, ASC, DESC
    if (order == 1) sql += " ORDER BY rowid";
    if (order == 2) sql += " ORDER BY rowid DESC";
    Result r = Run(db_, sql, params);
    if (!r.ok()) return;
    std::vector<int64_t> ids;
    for (size_t i = 0; i < r.rows.size(); ++i) {
      FUZZ_CHECK(r.rows[i][0].type == Val::kInt, "scan row %zu: non-INTEGER rowid", i);
      FUZZ_CHECK(r.rows[i][1].type != Val::kNull, "scan row %zu: NULL vector\n  sql: %s", i, sql.c_str());
      int64_t id = r.rows[i][0].i;
      if (i && order == 1) FUZZ_CHECK(ids.back() < id, "ORDER BY rowid scan not ascending\n  sql: %s", sql.c_str());
      if (i && order == 2) FUZZ_CHECK(ids.back() > id, "ORDER BY rowid DESC scan not descending\n  sql: %s", sql.c_str());
      ids.push_back(id);
      FUZZ_CHECK(Satisfies(db_, id, cs), "scan returned rowid %lld, outside the constraint %s\n  sql: %s",
                 static_cast<long long>(id), Describe(cs).c_str(), sql.c_str());
    }
    std::sort(ids.begin(), ids.end());
    FUZZ_CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), "scan returned a rowid twice\n  sql: %s",
               sql.c_str());
  }

  Val MetricVal() {
    static const char* kMetrics[] = {"l2", "cosine", "dot", "L2", "Cosine", "bogus", ""};
    if (p_.ConsumeIntegralInRange(0, 7) == 0) return Val::Null();
    return Val::Text(kMetrics[p_.ConsumeIntegralInRange<size_t>(0, std::size(kMetrics) - 1)]);
  }

  void VecFunction() {
    switch (p_.ConsumeIntegralInRange(0, 7)) {
      case 0: Run(db_, "SELECT vec_distance(?, ?)", {VectorVal(p_), VectorVal(p_)}); break;
      case 1: Run(db_, "SELECT vec_distance(?, ?, ?)", {VectorVal(p_), VectorVal(p_), MetricVal()}); break;
      case 2: Run(db_, "SELECT vec_normalize(?)", {VectorVal(p_)}); break;
      case 3: Run(db_, "SELECT vec_json(?), vec_dims(?), vec_norm(?)", {VectorVal(p_), VectorVal(p_), VectorVal(p_)}); break;
      case 4: Run(db_, "SELECT vec_f32(?)", {VectorVal(p_)}); break;
      case 5: Run(db_, "SELECT vec_similarity(?, ?, ?)", {VectorVal(p_), VectorVal(p_), MetricVal()}); break;
      case 6: Run(db_, "SELECT vec_distance(vector, ?) FROM ix", {VectorVal(p_)}); break;
      default: Run(db_, "SELECT vec_json(vec_normalize(vector)) FROM ix WHERE rowid = ?", {RowidVal(p_)}); break;
    }
  }

  void Topk() {
    Val k = CountVal(p_, 1, 6);
    std::string sql = p_.ConsumeBool() ? "SELECT vec_topk(rowid, vector, ?, ?) FROM ix"
                                       : "SELECT vec_topk(rowid, vector, ?, ?, ?) FROM ix";
    std::vector<Val> params = {VectorVal(p_), k};
    if (sql.find("?, ?, ?") != std::string::npos) params.push_back(MetricVal());
    if (p_.ConsumeBool()) {
      sql += " WHERE " + MakeConstraint(p_).Render("rowid", &params);
    }
    Result r = Run(db_, sql, params);
    if (!r.ok() || r.rows.size() != 1 || r.rows[0][0].type != Val::kText) return;
    Result items = Run(db_, "SELECT json_extract(value, '$[1]') FROM json_each(?)", {r.rows[0][0]});
    FUZZ_CHECK(items.ok(), "vec_topk returned text that json_each cannot read: %.200s", r.rows[0][0].s.c_str());
    if (k.type == Val::kInt && k.i >= 1) {
      FUZZ_CHECK(items.rows.size() <= static_cast<uint64_t>(k.i), "vec_topk returned %zu entries for k = %lld",
                 items.rows.size(), static_cast<long long>(k.i));
    }
    for (size_t i = 1; i < items.rows.size(); ++i) {
      auto key = [](const Val& v) { return v.type == Val::kReal ? v.d : v.type == Val::kInt ? v.i : HUGE_VAL; };
      FUZZ_CHECK(key(items.rows[i - 1][0]) <= key(items.rows[i][0]), "vec_topk entries not ascending: %.200s",
                 r.rows[0][0].s.c_str());
    }
  }

  void Spread() {
    std::string sql;
    std::vector<Val> params;
    switch (p_.ConsumeIntegralInRange(0, 4)) {
      case 0:
        sql = "SELECT query, node, activation, depth FROM spread_activation('edges', ?)";
        params = {Val::Text(SeedsText(p_))};
        break;
      case 1:
        sql = "SELECT query, node, activation, depth FROM spread_activation('edges', "
              "(SELECT json_group_object(rowid, 1 - distance) FROM ix WHERE vector MATCH ? AND k = 3), ?)";
        params = {VectorVal(p_), Val::Text(OptionsText(p_))};
        break;
      case 2:
        sql = "SELECT query, node, activation, depth FROM spread_activation('edges', ?, NULL)";
        params = {Val::Int(SmallRowid(p_))};
        break;
      default:
        sql = "SELECT query, node, activation, depth FROM spread_activation('edges', ?, ?)";
        params = {Val::Text(SeedsText(p_)), Val::Text(OptionsText(p_))};
        break;
    }
    Result r = Run(db_, sql, params);
    if (!r.ok()) return;
    for (size_t i = 1; i < r.rows.size(); ++i) {
      const auto &a = r.rows[i - 1], &b = r.rows[i];
      if (a[0].type != b[0].type || a[0].i != b[0].i) {
        FUZZ_CHECK(a[0].type == Val::kInt && b[0].type == Val::kInt && a[0].i < b[0].i,
                   "spread_activation rows not grouped by ascending query\n  sql: %s", sql.c_str());
        continue;
      }
      if (a[2].type != Val::kReal || b[2].type != Val::kReal || std::isnan(a[2].d) || std::isnan(b[2].d)) continue;
      bool ordered = a[2].d > b[2].d || (a[2].d == b[2].d && a[1].i < b[1].i);
      FUZZ_CHECK(ordered, "spread_activation rows %zu and %zu out of order: (%lld, %.17g) then (%lld, %.17g)\n  sql: %s",
                 i - 1, i, static_cast<long long>(a[1].i), a[2].d, static_cast<long long>(b[1].i), b[2].d, sql.c_str());
    }
  }

  void EdgeWrite() {
    static const double kWeights[] = {1.0, 0.5, 0.0, -1.0, 1e308, 2.0, 1e-310};
    Val w = p_.ConsumeIntegralInRange(0, 5) ? Val::Real(kWeights[p_.ConsumeIntegralInRange<size_t>(0, std::size(kWeights) - 1)])
                                            : RowidVal(p_);
    if (p_.ConsumeIntegralInRange(0, 3) == 0) {
      Run(db_, "DELETE FROM edges WHERE src = ?", {RowidVal(p_)});
    } else {
      Run(db_, "INSERT INTO edges(src, dst, weight) VALUES (?, ?, ?)", {RowidVal(p_), RowidVal(p_), w});
    }
  }

  void Transaction() {
    const std::string sp = "s" + std::to_string(p_.ConsumeIntegralInRange(0, 2));
    switch (p_.ConsumeIntegralInRange(0, 7)) {
      case 0: Run(db_, "BEGIN"); break;
      case 1: Run(db_, "BEGIN IMMEDIATE"); break;
      case 2: Run(db_, "COMMIT"); break;
      case 3: Run(db_, "ROLLBACK"); break;
      case 4: case 5: Run(db_, "SAVEPOINT " + sp); break;
      case 6: Run(db_, "RELEASE " + sp); break;
      default: Run(db_, "ROLLBACK TO " + sp); break;
    }
  }

  void Command() {
    static const char* kCmds[] = {"optimize", "OPTIMIZE", "bogus", ""};
    if (p_.ConsumeIntegralInRange(0, 4) == 0) {
      Run(db_, "INSERT INTO ix(ix) VALUES (?)", {p_.ConsumeBool() ? Val::Null() : Val::Int(1)});
    } else {
      Run(db_, "INSERT INTO ix(ix) VALUES (?)", {Val::Text(kCmds[p_.ConsumeIntegralInRange(0, 3)])});
    }
  }

  void Check() {
    Result r = Run(db_, "SELECT vecgraph_check('ix')");
    if (r.ok() && sqlite3_get_autocommit(db_)) {
      FUZZ_CHECK(r.rows.size() == 1 && r.rows[0][0].type == Val::kText && r.rows[0][0].s == "ok",
                 "vecgraph_check('ix') in autocommit: %s", r.rows.empty() ? "no row" : r.rows[0][0].s.c_str());
    }
  }

  void Batch() {
    Val k = CountVal(p_, 1, 4);
    Result r = p_.ConsumeBool()
                   ? Run(db_, "SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch('ix', 'q', 'v', ?)", {k})
                   : Run(db_, "SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch('ix', 'q', 'v', ?, ?)",
                         {k, CountVal(p_, 1, 32)});
    if (!r.ok()) return;
    size_t run = 0;
    for (size_t i = 0; i < r.rows.size(); ++i) {
      bool same = i && r.rows[i - 1][0].type == r.rows[i][0].type && r.rows[i - 1][0].i == r.rows[i][0].i;
      run = same ? run + 1 : 1;
      if (k.type == Val::kInt && k.i >= 1) {
        FUZZ_CHECK(run <= static_cast<uint64_t>(k.i), "hnsw_knn_batch returned more than k = %lld rows for a query",
                   static_cast<long long>(k.i));
      }
      if (same) {
        FUZZ_CHECK(OrderKey(r.rows[i - 1][2]) <= OrderKey(r.rows[i][2]), "hnsw_knn_batch rows not ascending by distance");
      }
    }
  }

  // The index agrees with its stored rows and with itself (autocommit only).
  static void CheckConsistent(sqlite3* db, const char* when) {
    Result check = Run(db, "SELECT vecgraph_check('ix')");
    FUZZ_CHECK(check.ok() && check.rows.size() == 1 && check.rows[0][0].type == Val::kText &&
                   check.rows[0][0].s == "ok",
               "%s: vecgraph_check('ix') = %s", when,
               check.ok() && !check.rows.empty() ? check.rows[0][0].s.c_str() : check.error.c_str());
    Result scan = Run(db, "SELECT rowid FROM ix ORDER BY rowid");
    FUZZ_CHECK(scan.ok(), "%s: scan fails: %s", when, scan.error.c_str());
    Result knn = Run(db, "SELECT rowid FROM ix WHERE vector MATCH '[1,1,1]' AND k = 1000000 AND exact = 1");
    FUZZ_CHECK(knn.ok(), "%s: exact k-NN over everything fails: %s", when, knn.error.c_str());
    std::vector<int64_t> a, b;
    for (const auto& row : scan.rows) a.push_back(row[0].i);
    for (const auto& row : knn.rows) b.push_back(row[0].i);
    std::sort(b.begin(), b.end());
    FUZZ_CHECK(a == b, "%s: a scan finds %zu rows, an exact k-NN over everything %zu", when, a.size(), b.size());
  }

  // The database copied into a fresh connection: the index loads from its shadow tables.
  void Reopen() {
    sqlite3_int64 n = 0;
    unsigned char* bytes = sqlite3_serialize(db_, "main", &n, 0);
    if (!bytes) return;  // out of memory
    sqlite3* db2 = nullptr;
    FUZZ_CHECK(sqlite3_open(":memory:", &db2) == SQLITE_OK, "open");
    FUZZ_CHECK(vecgraph_register(db2) == SQLITE_OK, "vecgraph_register");
    int rc = sqlite3_deserialize(db2, "main", bytes, n, n, SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
    FUZZ_CHECK(rc == SQLITE_OK, "deserialize: %s", sqlite3_errstr(rc));
    CheckConsistent(db2, "reopened copy");
    Result mine = Run(db_, "SELECT rowid, vector FROM ix ORDER BY rowid");
    Result theirs = Run(db2, "SELECT rowid, vector FROM ix ORDER BY rowid");
    FUZZ_CHECK(mine.ok() && theirs.ok() && mine.rows.size() == theirs.rows.size(),
               "the reopened copy has %zu rows, the original %zu", theirs.rows.size(), mine.rows.size());
    for (size_t i = 0; i < mine.rows.size(); ++i) {
      FUZZ_CHECK(mine.rows[i][0].i == theirs.rows[i][0].i && mine.rows[i][1].type == theirs.rows[i][1].type &&
                     mine.rows[i][1].s == theirs.rows[i][1].s,
                 "row %zu of the reopened copy differs", i);
    }
    // A reloaded index behaves exactly like the original (hnsw.h: ties by rowid, never by internal
    // id), and a cached graph answers like a fresh one: the same queries give the same rows.
    const char* kSame[] = {
        "SELECT rowid, distance FROM ix WHERE vector MATCH '[1,0.5,-1]' AND k = 1000000 AND exact = 1",
        "SELECT rowid, distance FROM ix WHERE vector MATCH '[1,0.5,-1]' AND k = 3",
        "SELECT rowid, distance FROM ix WHERE vector MATCH '[-2,0,1]' AND k = 5 AND ef = 5",
        "SELECT rowid, distance FROM ix WHERE vector MATCH '[0,1,0]' AND k = 2 AND rowid > 3",
        "SELECT node, activation, depth FROM spread_activation('edges', '[1, 2]')",
        "SELECT node, activation, depth FROM spread_activation('edges', '{\"3\": 1}', '{\"normalize\": \"out\"}')",
    };
    for (const char* sql : kSame) {
      Result x = Run(db_, sql), y = Run(db2, sql);
      bool same = x.rc == y.rc && x.rows.size() == y.rows.size();
      for (size_t i = 0; same && i < x.rows.size(); ++i) {
        for (size_t c = 0; same && c < x.rows[i].size(); ++c) {
          const Val &u = x.rows[i][c], &v = y.rows[i][c];
          same = u.type == v.type && u.i == v.i && (u.d == v.d || (std::isnan(u.d) && std::isnan(v.d))) && u.s == v.s;
        }
      }
      FUZZ_CHECK(same, "the original and the reopened copy answer differently (%zu vs %zu rows, %s vs %s)\n  sql: %s",
                 x.rows.size(), y.rows.size(), x.error.c_str(), y.error.c_str(), sql);
    }
    cols_->CheckCopy(db2);
    sqlite3_close(db2);
  }

  sqlite3* db_;
  FuzzedDataProvider& p_;
  ColumnsSession* cols_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  FuzzedDataProvider p(data, size);
  sqlite3* db = nullptr;
  FUZZ_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "open");
  FUZZ_CHECK(vecgraph_register(db) == SQLITE_OK, "vecgraph_register");
  static const char* kMetrics[] = {"l2", "cosine", "dot"};
  const std::string create = std::string("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=3, metric=") +
                             kMetrics[p.ConsumeIntegralInRange(0, 2)] +
                             ", m=" + std::to_string(p.ConsumeIntegralInRange(2, 6)) +
                             ", ef_construction=" + std::to_string(p.ConsumeIntegralInRange(1, 24)) +
                             ", ef_search=" + std::to_string(p.ConsumeIntegralInRange(1, 16)) + ")";
  Result setup = Run(db, create);
  FUZZ_CHECK(setup.ok(), "%s: %s", create.c_str(), setup.error.c_str());
  char* err = nullptr;
  int rc = sqlite3_exec(db,
                        "CREATE TABLE edges(src INTEGER, dst INTEGER, weight REAL);"
                        "INSERT INTO edges VALUES (1, 2, 1.0), (2, 3, 0.5), (3, 1, 1.0), (1, 4, 2.0), (4, 5, 1.0);"
                        "CREATE TABLE q(v);"
                        "CREATE TEMP TABLE probe(id INTEGER PRIMARY KEY);",
                        nullptr, nullptr, &err);
  FUZZ_CHECK(rc == SQLITE_OK, "setup: %s", err ? err : "?");
  ColumnsSession cols(db, p);
  cols.Create();
  Session s(db, p, &cols);
  for (int i = 0; i < 64 && p.remaining_bytes() > 0; ++i) s.Step();
  s.Finish();
  sqlite3_close(db);
  return 0;
}
