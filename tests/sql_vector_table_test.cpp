// hnsw_knn as a vector table (issue 10): declared vector / metadata / partition / auxiliary
// columns, metadata filters inside the search (never short, SQLite's comparison rules),
// ORDER BY distance LIMIT, distance bounds, writes of every column kind, persistence,
// corruption, vecgraph_index_info. Every filtered answer is compared with the same WHERE clause
// on a plain SQLite table holding the same rows (`mirror`), which is SQLite's own semantics.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class VectorTable : public SqlTest {
 protected:
  std::string Column(const std::string& sql) {
    std::string out;
    for (const Row& r : Query(sql)) out += (out.empty() ? "" : ",") + r[0];
    return out;
  }
  std::vector<std::string> Ids(const std::string& sql) {
    std::vector<std::string> out;
    for (const Row& r : Query(sql)) out.push_back(r[0]);
    return out;
  }

  // docs (the vector table) and mirror (a plain table) with the same n rows of dim 8:
  // cat = a hash of the row in 0..9999 (so `cat < t` has selectivity t / 10000, uncorrelated with
  // the vectors), score real, tag text ('x' every 7th, NULL every 11th), flag boolean, part 0..9,
  // body aux.
  void Build(int n) {
    Exec("CREATE VIRTUAL TABLE docs USING hnsw_knn(embedding float[8] distance_metric=l2, cat integer, score real, "
         "tag text, flag boolean, part integer partition key, +body text, m=12, ef_construction=100)");
    Exec("CREATE TABLE mirror(id INTEGER PRIMARY KEY, e BLOB, cat INTEGER, score REAL, tag TEXT, flag INTEGER, "
         "part INTEGER, body TEXT)");
    std::mt19937 rng(11);
    std::normal_distribution<float> g;
    Exec("BEGIN");
    sqlite3_stmt* a = nullptr;
    sqlite3_stmt* b = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO docs(rowid, embedding, cat, score, tag, flag, part, body) VALUES "
                                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                 -1, &a, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO mirror VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &b, nullptr),
              SQLITE_OK);
    for (int i = 1; i <= n; ++i) {
      std::vector<float> v(8);
      for (float& x : v) x = g(rng);
      for (sqlite3_stmt* st : {a, b}) {
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_blob(st, 2, v.data(), 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, (static_cast<int64_t>(i) * 7919) % 10000);
        if (i % 13 == 0) sqlite3_bind_null(st, 4);
        else sqlite3_bind_double(st, 4, (i % 100) / 4.0);
        if (i % 11 == 0) sqlite3_bind_null(st, 5);
        else sqlite3_bind_text(st, 5, i % 7 == 0 ? "x" : "y", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, i % 2);
        sqlite3_bind_int(st, 7, i % 10);
        std::string body = "body " + std::to_string(i);
        sqlite3_bind_text(st, 8, body.c_str(), -1, SQLITE_TRANSIENT);
        ASSERT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db_);
        sqlite3_reset(st);
      }
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    Exec("COMMIT");
  }

  // The ids of the k nearest mirror rows passing `cond` (l2, ties by rowid): SQLite's answer.
  std::vector<std::string> Brute(const std::string& q, const std::string& cond, int k) {
    return Ids("SELECT id FROM mirror WHERE " + cond + " ORDER BY vec_distance(e, '" + q + "', 'l2'), id LIMIT " +
               std::to_string(k));
  }
};

const char* kQuery = "[0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.1]";

TEST_F(VectorTable, DeclarationsAndTheirErrors) {
  Exec("CREATE VIRTUAL TABLE a USING hnsw_knn(\"my vec\" FLOAT32 [ 3 ] distance_metric = cosine, \"Cat\" INT, "
       "t TEXT, r double, b bool, p text partition key, +aux, +blobby blob, ef_search=32)");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('a'), '$.vector')"),
            "{\"name\":\"my vec\",\"dim\":3,\"metric\":\"cosine\",\"quantizer\":\"int8\",\"rescore\":null}");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('a'), '$.ef_search')"), "32");
  EXPECT_EQ(Column("SELECT name FROM pragma_table_info('a')"), "my vec,Cat,t,r,b,p,aux,blobby");
  // The vec0 default metric is l2.
  Exec("CREATE VIRTUAL TABLE d USING hnsw_knn(e float[2])");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('d'), '$.vector.metric')"), "l2");
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"e float[2], c varchar", "hnsw_knn: column 'c': unknown type 'varchar' (expected integer, real, text or boolean)"},
      {"e float[2], f float[2]", "hnsw_knn: column 'f': a table has one vector column ('e' is declared already)"},
      {"c integer", "hnsw_knn: no vector column: declare one as `name float[N]` (e.g. embedding float[768])"},
      {"e float[2], distance real",
       "hnsw_knn: column 'distance': the name is reserved (rowid, oid, _rowid_, distance, k, ef and exact are the "
       "table's own columns)"},
      {"e float[2], rowid integer",
       "hnsw_knn: column 'rowid': the name is reserved (rowid, oid, _rowid_, distance, k, ef and exact are the "
       "table's own columns)"},
      {"e float[2], x integer, X text", "hnsw_knn: column 'X' is declared twice"},
      {"e float[2], bad integer", "hnsw_knn: column 'bad': the table's own name is its command column"},
      {"e int8[2]", "hnsw_knn: column 'e': vector type 'int8[2]' is not supported (expected float[N] or float32[N])"},
      {"e float[0]", "hnsw_knn: column 'e': dimension in 'float[0]' must be between 1 and 16000"},
      {"e float[16001]", "hnsw_knn: column 'e': dimension in 'float[16001]' must be between 1 and 16000"},
      {"e float[2] metric=l2", "hnsw_knn: column 'e': unexpected 'metric=l2' (a vector column takes "
                               "distance_metric=cosine|l2|dot, quantizer=none|int8 and rescore=R)"},
      {"e float[2] rescore=0", "hnsw_knn: option 'rescore': expected an integer between 1 and 1024, found '0'"},
      {"e float[2] rescore=2, rescore=3", "hnsw_knn: option 'rescore' is given more than once"},
      {"e float[300] rescore=2",
       "hnsw_knn: option 'rescore' chooses which nodes of a walk over the int8 codes are re-scored; at 300 "
       "dimensions the walk reads the float vectors unless quantizer=int8 is given"},
      {"e float[2] quantizer=none rescore=2",
       "hnsw_knn: option 'rescore' chooses which nodes of a walk over the int8 codes are re-scored; with "
       "quantizer=none the walk reads the float vectors"},
      {"e float[2] quantizer=bit", "hnsw_knn: column 'e': quantizer: expected none or int8, found 'bit'"},
      {"e float[2] quantizer=int8 quantizer=none", "hnsw_knn: column 'e': unexpected 'quantizer=none' (a vector column "
                                                   "takes distance_metric=cosine|l2|dot, quantizer=none|int8 and "
                                                   "rescore=R)"},
      {"e float[2] quantizer=int8, quantizer=int8",
       "hnsw_knn: option 'quantizer' is given more than once (on the vector column and as an option)"},
      {"e float[2], quantizer=int4", "hnsw_knn: option 'quantizer': expected none or int8, found 'int4'"},
      {"e float[2] distance_metric=hamming",
       "hnsw_knn: column 'e': distance_metric: unknown metric 'hamming': expected 'cosine', 'dot' or 'l2'"},
      {"e float[2], dim=3",
       "hnsw_knn: option 'dim' belongs to the vector column when columns are declared: write embedding float[768] "
       "distance_metric=cosine"},
      {"e float[2], p real partition key", "hnsw_knn: partition key 'p' must be integer or text, not real"},
      {"e float[2], +p text partition key",
       "hnsw_knn: auxiliary column 'p': unexpected 'partition' (write +name [type])"},
      {"e float[2], c integer primary key",
       "hnsw_knn: column 'c': unexpected 'primary' (a metadata column is `name type` or `name type partition key`)"},
      {"e float[2], c", "hnsw_knn: column 'c' needs a type (integer, real, text, boolean; or float[N] for the vector "
                        "column; +c for an auxiliary column of any type)"},
      {"e float[2], +", "hnsw_knn: '+' without a column name"},
      {"e float[2], \"unterminated", "unrecognized token: \"\"unterminated)\""},  // SQLite's tokenizer
      {"+e float[2]", "hnsw_knn: column 'e': a vector column cannot be auxiliary"},
      {"e float[2], m=1", "hnsw_knn: option 'm': expected an integer between 2 and 128, found '1'"},
      {"e float[2], m=4, m=5", "hnsw_knn: option 'm' is given more than once"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Error(std::string("CREATE VIRTUAL TABLE bad USING hnsw_knn(") + c.args + ")"), c.message) << c.args;
  }
  // Limits (vec0's): 16 metadata columns, 4 partition keys, 16 auxiliary columns.
  std::string meta = "e float[2]", parts = "e float[2]", aux = "e float[2]";
  for (int i = 0; i < 17; ++i) meta += ", m" + std::to_string(i) + " integer";
  for (int i = 0; i < 5; ++i) parts += ", p" + std::to_string(i) + " integer partition key";
  for (int i = 0; i < 17; ++i) aux += ", +a" + std::to_string(i);
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad USING hnsw_knn(" + meta + ")"),
            "hnsw_knn: too many metadata columns (at most 16)");
  std::string full = "e float[2]";
  for (int i = 0; i < 16; ++i) full += ", m" + std::to_string(i) + " integer";
  for (int i = 0; i < 4; ++i) full += ", p" + std::to_string(i) + " text partition key";
  for (int i = 0; i < 16; ++i) full += ", +a" + std::to_string(i);
  Exec("CREATE VIRTUAL TABLE full USING hnsw_knn(" + full + ")");
  Exec("INSERT INTO full(rowid, e, m15, p3, a15) VALUES (1, '[1, 2]', 15, 'p', 'a')");
  EXPECT_EQ(Query("SELECT m15, p3, a15 FROM full WHERE e MATCH '[1, 2]' AND k = 1 AND m15 = 15 AND p3 = 'p'"),
            (std::vector<Row>{{"15", "p", "a"}}));
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad USING hnsw_knn(" + parts + ")"), "hnsw_knn: too many partition keys (at most 4)");
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad USING hnsw_knn(" + aux + ")"), "hnsw_knn: too many auxiliary columns (at most 16)");
  EXPECT_EQ(Value("SELECT count(*) FROM sqlite_master WHERE name LIKE 'bad%'"), "0");
}

TEST_F(VectorTable, WritesCheckTypesLikeAStrictTable) {
  Exec("CREATE VIRTUAL TABLE t USING hnsw_knn(e float[2], i integer, r real, s text, b boolean, +x)");
  Exec("INSERT INTO t(rowid, e, i, r, s, b, x) VALUES (1, '[1,0]', '7', 3, 42, 1, x'00ff')");
  Exec("INSERT INTO t(rowid, e, i, r, s, b, x) VALUES (2, '[0,1]', 8.0, '2.5', 'two', 0, 2.5)");
  Exec("INSERT INTO t(rowid, e) VALUES (3, '[1,1]')");
  EXPECT_EQ(Query("SELECT rowid, i, typeof(i), r, typeof(r), s, typeof(s), b, hex(x), typeof(x) FROM t ORDER BY rowid"),
            (std::vector<Row>{{"1", "7", "integer", "3.0", "real", "42", "text", "1", "00FF", "blob"},
                              {"2", "8", "integer", "2.5", "real", "two", "text", "0", "322E35", "real"},
                              {"3", "NULL", "null", "NULL", "null", "NULL", "null", "NULL", "", "null"}}));
  struct Case {
    const char* sql;
    const char* message;
  };
  const Case cases[] = {
      {"INSERT INTO t(rowid, e, i) VALUES (9, '[1,0]', 'abc')", "hnsw_knn: column i of row 9: expected an integer, found text 'abc'"},
      {"INSERT INTO t(rowid, e, i) VALUES (9, '[1,0]', 2.5)", "hnsw_knn: column i of row 9: expected an integer, found real 2.5"},
      {"INSERT INTO t(rowid, e, i) VALUES (9, '[1,0]', x'01')", "hnsw_knn: column i of row 9: expected an integer, found a blob of 1 byte"},
      {"INSERT INTO t(rowid, e, r) VALUES (9, '[1,0]', 'abc')", "hnsw_knn: column r of row 9: expected a real number, found text 'abc'"},
      {"INSERT INTO t(rowid, e, s) VALUES (9, '[1,0]', x'41')", "hnsw_knn: column s of row 9: expected text, found a blob of 1 byte"},
      {"INSERT INTO t(rowid, e, b) VALUES (9, '[1,0]', 2)", "hnsw_knn: column b of row 9: expected a boolean (0 or 1), found integer 2"},
      {"UPDATE t SET b = 5 WHERE rowid = 1", "hnsw_knn: column b of row 1: expected a boolean (0 or 1), found integer 5"},
      {"INSERT INTO t(rowid, e) VALUES (9, NULL)", "hnsw_knn: column e must not be NULL"},
      {"INSERT INTO t(t) VALUES ('ef_search=0')", "hnsw_knn: setting 'ef_search': expected an integer between 1 and 65536, found '0'"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.sql), c.message) << c.sql;
  EXPECT_EQ(Value("SELECT count(*) FROM t"), "3");
  EXPECT_EQ(Value("SELECT vecgraph_check('t')"), "ok");
}

TEST_F(VectorTable, UpdatesOfEachColumnKind) {
  Exec("CREATE VIRTUAL TABLE t USING hnsw_knn(e float[2], c integer, p text partition key, +body)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) "
       "INSERT INTO t(rowid, e, c, p, body) SELECT i, json_array(i, 0), i % 5, 'p' || (i % 2), 'b' || i FROM s");
  EXPECT_EQ(Query("SELECT json_extract(vecgraph_index_info('t'), '$.build.built', '$.build.total', '$.build.running', "
                  "'$.pending_rows')"),
            (std::vector<Row>{{"[50,50,false,0]"}}));
  const std::string records = "SELECT group_concat(hex(record)) FROM (SELECT record FROM t_nodes ORDER BY rowid)";
  const std::string before = Value(records);
  // Metadata and auxiliary updates leave the graph alone; a partition-key update moves the row
  // to that partition's graph.
  Exec("UPDATE t SET c = 99 WHERE rowid = 3");
  Exec("UPDATE t SET body = 'new' WHERE rowid = 4");
  Exec("UPDATE t SET p = 'p1' WHERE rowid = 5");  // the same value: nothing moves
  EXPECT_EQ(Value(records), before);
  Exec("UPDATE t SET p = 'q' WHERE rowid <= 2");
  EXPECT_NE(Value(records), before);
  EXPECT_EQ(Value("SELECT vecgraph_check('t')"), "ok");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND c = 99"), "3");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND p = 'q'"), "1,2");
  EXPECT_EQ(Value("SELECT body FROM t WHERE rowid = 4"), "new");
  // A vector update keeps the declared columns; a rowid change carries them.
  Exec("UPDATE t SET e = '[100, 0]' WHERE rowid = 3");
  EXPECT_EQ(Query("SELECT c, p, body FROM t WHERE rowid = 3"), (std::vector<Row>{{"99", "p1", "b3"}}));
  Exec("UPDATE t SET rowid = 1000 WHERE rowid = 3");
  EXPECT_EQ(Query("SELECT c, p, body, vec_json(e) FROM t WHERE rowid = 1000"), (std::vector<Row>{{"99", "p1", "b3", "[100,0]"}}));
  EXPECT_EQ(Value("SELECT count(*) FROM t_rows WHERE rowid = 3"), "0");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND c = 99"), "1000");
  // Upsert replaces every column; DELETE removes the row's columns.
  Exec("INSERT OR REPLACE INTO t(rowid, e, c) VALUES (1000, '[1, 1]', 7)");
  EXPECT_EQ(Query("SELECT c, p, body FROM t WHERE rowid = 1000"), (std::vector<Row>{{"7", "NULL", "NULL"}}));
  Exec("DELETE FROM t WHERE rowid = 1000");
  EXPECT_EQ(Value("SELECT count(*) FROM t_rows"), "49");
  // A failed statement inside a transaction, then ROLLBACK: everything as before.
  Exec("BEGIN");
  Exec("UPDATE t SET c = 42 WHERE rowid = 10");
  EXPECT_NE(Error("UPDATE t SET c = 'x' WHERE rowid = 11"), "");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND c = 42"), "10");
  Exec("ROLLBACK");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND c = 42"), "");
  EXPECT_EQ(Value("SELECT c FROM t WHERE rowid = 10"), "0");
  Exec("SAVEPOINT s");
  Exec("UPDATE t SET c = 43 WHERE rowid = 12");
  Exec("ROLLBACK TO s");
  Exec("RELEASE s");
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0]' AND k = 5 AND c = 43"), "");
  EXPECT_EQ(Value("SELECT vecgraph_check('t')"), "ok");
}

// Never short, and the k nearest passing rows, for every operator and type, NULLs, mixed
// constraints and rowid ranges, at selectivities from one row to all of them.
TEST_F(VectorTable, FilteredKnnMatchesSqliteOnAPlainTable) {
  const int n = 3000;
  Build(n);
  std::vector<std::string> conds;
  for (int t : {1, 3, 10, 30, 100, 300, 1000, 3000, 10000}) conds.push_back("cat < " + std::to_string(t));
  const std::vector<std::string> more = {
      "cat = 7919", "cat != 7919", "cat >= 9990", "cat <= 5", "cat > 2.5 AND cat < 300.5", "cat BETWEEN 100 AND 200",
      "cat IN (7919, 5838, 3757, 42)", "cat = '7919'", "cat < 'abc'", "cat > 'abc'", "cat = NULL", "cat IS NULL",
      "score IS NULL", "score IS NOT NULL", "score > 20", "score <= 0.25", "score = 5", "score IN (0.25, 24.75)",
      "score > '20'", "tag = 'x'", "tag != 'x'", "tag IS NOT 'x'", "tag IS 'x'", "tag IS NULL", "tag > 'x'",
      "tag < 'y'", "tag IN ('x', 'z')", "tag = 1", "tag > 1", "flag = 1", "flag = 0 AND tag = 'x'",
      "part = 3", "part IN (1, 2) AND cat < 3000", "part = 3 AND score > 10 AND tag IS NOT NULL",
      "rowid > 2500 AND cat < 5000", "rowid IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) AND tag = 'y'",
      "cat < 100 AND cat > 200", "score BETWEEN 5 AND 6 AND flag = 1"};
  conds.insert(conds.end(), more.begin(), more.end());
  double recall_sum = 0;
  int recall_n = 0;
  for (const std::string& cond : conds) {
    const std::string mcond = [&] {
      std::string c = cond;
      for (size_t p = c.find("rowid"); p != std::string::npos; p = c.find("rowid", p + 2)) c.replace(p, 5, "id");
      return c;
    }();
    for (int k : {1, 10, 50}) {
      const std::vector<std::string> want = Brute(kQuery, mcond, k);
      const std::string knn =
          std::string("SELECT rowid FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = " + std::to_string(k) + " AND " + cond;
      const std::vector<std::string> got = Ids(knn);
      ASSERT_EQ(got.size(), want.size()) << cond << " k=" << k;  // never short
      // Every row passes the condition (SQLite's own evaluation on the mirror).
      std::set<std::string> passing;
      for (const std::string& id : Ids("SELECT id FROM mirror WHERE " + mcond)) passing.insert(id);
      for (const std::string& id : got) ASSERT_TRUE(passing.count(id)) << cond << ": row " << id << " does not pass";
      // exact = 1 is the brute force, row for row.
      EXPECT_EQ(Ids(knn + " AND exact = 1"), want) << cond;
      // The LIMIT form answers the same rows as k.
      EXPECT_EQ(Ids(std::string("SELECT rowid FROM docs WHERE embedding MATCH '") + kQuery + "' AND " + cond +
                    " ORDER BY distance LIMIT " + std::to_string(k) + ""),
                got)
          << cond;
      size_t found = 0;
      for (const std::string& id : got) found += std::count(want.begin(), want.end(), id);
      recall_sum += want.empty() ? 1.0 : static_cast<double>(found) / want.size();
      ++recall_n;
    }
  }
  EXPECT_GE(recall_sum / recall_n, 0.97);
  // How the last query was answered is visible.
  EXPECT_EQ(Value(std::string("SELECT count(*) FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 10 AND cat = 7919"), "1");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.strategy')"), "exact");
  EXPECT_EQ(Value(std::string("SELECT count(*) FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 10 AND cat < 9000"), "10");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.strategy')"), "graph");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.passing_counted')"), "1");
}

// Filters repeated across queries are cached inside the index (their bits over every row); the
// same filters must follow every kind of write: metadata and partition updates, deletes,
// inserts, a rolled-back savepoint and transaction, 'optimize' (ids compacted) and a write from
// another connection. After each, every filter is asked three times (the cache fills on the
// second) and must equal SQLite's answer on the mirror.
TEST_F(VectorTable, RepeatedFiltersFollowEveryWrite) {
  const std::string path = ::testing::TempDir() + "vecgraph_repeated_filters.db";
  std::remove(path.c_str());
  sqlite3_close(db_);
  Open(&db_, path.c_str());
  Build(1500);
  sqlite3* other = nullptr;
  Open(&other, path.c_str());
  const std::vector<std::string> conds = {"cat < 3000", "tag = 'x' AND flag = 1", "score > 10", "cat < 5000 AND part = 3",
                                          "tag IS NULL"};
  auto check = [&](const std::string& after) {
    for (const std::string& cond : conds) {
      const std::string mcond = cond;
      const std::vector<std::string> want = Brute(kQuery, mcond, 40);
      std::set<std::string> passing;
      for (const std::string& id : Ids("SELECT id FROM mirror WHERE " + mcond)) passing.insert(id);
      for (int rep = 0; rep < 3; ++rep) {
        const std::string knn = std::string("SELECT rowid FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 40 AND " + cond;
        const std::vector<std::string> got = Ids(knn);
        ASSERT_EQ(got.size(), want.size()) << cond << " after " << after;
        for (const std::string& id : got) ASSERT_TRUE(passing.count(id)) << cond << " after " << after << ": row " << id;
        ASSERT_EQ(Ids(knn + " AND exact = 1"), want) << cond << " after " << after;
      }
    }
  };
  check("the build");
  if (HasFatalFailure()) return;
  struct Write {
    std::string what;
    std::vector<std::string> sql;
    sqlite3* on;
  };
  const std::vector<Write> writes = {
      {"metadata updates",
       {"UPDATE docs SET cat = 1 WHERE rowid % 17 = 0", "UPDATE mirror SET cat = 1 WHERE id % 17 = 0",
        "UPDATE docs SET tag = NULL, score = 20 WHERE rowid % 5 = 0", "UPDATE mirror SET tag = NULL, score = 20 WHERE id % 5 = 0"},
       db_},
      {"deletes", {"DELETE FROM docs WHERE rowid % 9 = 0", "DELETE FROM mirror WHERE id % 9 = 0"}, db_},
      {"inserts",
       {"INSERT INTO docs(rowid, embedding, cat, score, tag, flag, part, body) SELECT id + 100000, e, 0, 50, 'x', 1, 3, 'n' "
        "FROM mirror WHERE id % 10 = 1 AND id < 100000",
        "INSERT INTO mirror SELECT id + 100000, e, 0, 50, 'x', 1, 3, 'n' FROM mirror WHERE id % 10 = 1 AND id < 100000"},
       db_},
      {"a rolled-back savepoint",
       {"SAVEPOINT s", "UPDATE docs SET cat = 0, tag = 'x' WHERE rowid % 3 = 0", "UPDATE mirror SET cat = 0, tag = 'x' WHERE id % 3 = 0",
        "ROLLBACK TO s", "RELEASE s"},
       db_},
      {"a rolled-back transaction",
       {"BEGIN", "UPDATE docs SET cat = 2, flag = 1 WHERE rowid % 4 = 0", "DELETE FROM docs WHERE rowid % 7 = 0", "ROLLBACK"},
       db_},
      {"partition moves", {"UPDATE docs SET part = 3 WHERE rowid % 8 = 0", "UPDATE mirror SET part = 3 WHERE id % 8 = 0"}, db_},
      {"optimize", {"INSERT INTO docs(docs) VALUES ('optimize')"}, db_},
      {"another connection",
       {"BEGIN", "UPDATE docs SET cat = 3, tag = 'x', flag = 1 WHERE rowid % 6 = 0",
        "UPDATE mirror SET cat = 3, tag = 'x', flag = 1 WHERE id % 6 = 0", "COMMIT"},
       other},
  };
  for (const Write& w : writes) {
    for (const std::string& sql : w.sql) ASSERT_EQ(ErrorOn(w.on, sql), "") << w.what << ": " << sql;
    check(w.what);
    if (HasFatalFailure()) break;
  }
  sqlite3_close(other);
  std::remove(path.c_str());
}

// Enough rows for the graph strategy below 40 % passing: the two-hop walk answers, says so in
// last_query, returns only passing rows, never short, and finds the nearest ones.
TEST_F(VectorTable, TwoHopWalkAnswersMidSelectivityFilters) {
  Build(12000);
  double recall = 0;
  int n = 0;
  // About 35 % passing each (the graph strategy starts near 17 % at 12k rows: n · s^0.9 > 400).
  for (const char* cond : {"cat < 3500", "cat >= 6500 AND cat < 9800", "tag = 'y' AND cat < 4500"}) {
    const std::vector<std::string> want = Brute(kQuery, cond, 20);
    const std::vector<std::string> got =
        Ids(std::string("SELECT rowid FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 20 AND " + cond);
    ASSERT_EQ(got.size(), want.size()) << cond;
    EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.strategy')"), "graph") << cond;
    EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.two_hop')"), "1") << cond;
    std::set<std::string> passing;
    for (const std::string& id : Ids(std::string("SELECT id FROM mirror WHERE ") + cond)) passing.insert(id);
    size_t found = 0;
    for (const std::string& id : got) {
      ASSERT_TRUE(passing.count(id)) << cond << ": row " << id;
      found += std::count(want.begin(), want.end(), id);
    }
    recall += static_cast<double>(found) / want.size();
    ++n;
  }
  EXPECT_GE(recall / n, 0.9);
  // A filter used again keeps its two-hop lists from its third use: the same rows; a write drops
  // them and the next answers follow it.
  const std::string q20 = std::string("SELECT rowid FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 20 AND cat < 3500";
  const std::vector<std::string> first = Ids(q20);
  for (int use = 0; use < 3; ++use) EXPECT_EQ(Ids(q20), first) << use;
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.two_hop_lists')"), "1");
  Exec("UPDATE docs SET cat = 9999 WHERE rowid = " + first[0]);
  Exec("UPDATE mirror SET cat = 9999 WHERE id = " + first[0]);
  const std::vector<std::string> after = Ids(q20);
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.two_hop_lists')"), "0");
  EXPECT_EQ(std::count(after.begin(), after.end(), first[0]), 0);
  EXPECT_EQ(after.size(), 20u);
  for (int use = 0; use < 3; ++use) EXPECT_EQ(Ids(q20), after) << use;
  // 90 % passing: the walk through every node.
  EXPECT_EQ(Value(std::string("SELECT count(*) FROM docs WHERE embedding MATCH '") + kQuery + "' AND k = 10 AND cat < 9000"), "10");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.two_hop')"), "0");
}

TEST_F(VectorTable, ConditionsTheSearchCannotApplyAreNeverShort) {
  Build(600);
  const std::string q = std::string("embedding MATCH '") + kQuery + "'";
  // With k these are errors (SQLite would filter the k rows).
  EXPECT_EQ(Error("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND body LIKE 'body 1%'"),
            "hnsw_knn: a k-NN query with k = N cannot apply auxiliary column body inside the search (SQLite would apply "
            "it to the N rows found, which could leave fewer than N): write ORDER BY distance LIMIT N instead of k = N "
            "(SQLite then filters a complete distance-ordered scan), or filter in a subquery: rowid IN (SELECT ...)");
  EXPECT_NE(Error("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND tag LIKE 'x'"), "");
  EXPECT_NE(Error("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND tag = 'X' COLLATE NOCASE"), "");
  // With LIMIT they are applied by SQLite to the complete distance-ordered stream.
  struct Case {
    const char* vt;
    const char* mirror;
  };
  const Case cases[] = {
      {"body LIKE 'body 1%'", "body LIKE 'body 1%'"},
      {"tag = 'X' COLLATE NOCASE", "tag = 'X' COLLATE NOCASE"},
      {"(cat < 100 OR tag = 'x')", "(cat < 100 OR tag = 'x')"},
      {"abs(cat) < 50", "abs(cat) < 50"},
      {"rowid + 0 < 40", "id + 0 < 40"},
      {"distance = distance AND cat < 2000", "cat < 2000"},
  };
  for (const Case& c : cases) {
    for (int k : {1, 7, 30}) {
      EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND " + c.vt + " ORDER BY distance LIMIT " + std::to_string(k)),
                Brute(kQuery, c.mirror, k))
          << c.vt;
    }
  }
  // LIMIT reaches the table on SQLite 3.41 and later; before, SQLite keeps it when the query has a
  // MATCH and the table answers with the complete stream (the same rows, an exact scan).
  Value("SELECT count(*) FROM (SELECT rowid FROM docs WHERE " + q + " AND cat < 5000 ORDER BY distance LIMIT 3)");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('docs'), '$.last_query.from')"),
            sqlite3_libversion_number() >= 3041000 ? "LIMIT" : "all");
  // Another order, or LIMIT without ORDER BY distance; OFFSET; negative LIMIT.
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " ORDER BY distance DESC, rowid LIMIT 3"),
            Ids(std::string("SELECT id FROM mirror ORDER BY vec_distance(e, '") + kQuery + "', 'l2') DESC, id LIMIT 3"));
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND cat < 5000 ORDER BY rowid LIMIT 4"),
            Ids("SELECT id FROM mirror WHERE cat < 5000 ORDER BY id LIMIT 4"));
  std::vector<std::string> all = Brute(kQuery, "1", 600);
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND exact = 1 ORDER BY distance LIMIT 5 OFFSET 3"),
            std::vector<std::string>(all.begin() + 3, all.begin() + 8));
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " ORDER BY distance LIMIT -1"), all);
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q), all);  // every row, nearest first
  // A join: the vector table as the inner loop with a bound metadata value.
  Exec("CREATE TABLE wanted(c INTEGER)");
  Exec("INSERT INTO wanted VALUES (7919), (5838)");
  EXPECT_EQ(Column("SELECT docs.rowid FROM wanted, docs WHERE " + q + " AND k = 3 AND docs.cat = wanted.c ORDER BY 1"),
            Column("SELECT id FROM mirror WHERE cat IN (7919, 5838) ORDER BY 1"));
}

TEST_F(VectorTable, DistanceBounds) {
  Build(800);
  const std::string q = std::string("embedding MATCH '") + kQuery + "'";
  const std::string d = std::string("vec_distance(e, '") + kQuery + "', 'l2')";
  for (const char* r : {"0.5", "1.5", "2.5", "3.5", "100"}) {
    for (const char* op : {"<", "<=", ">", ">="}) {
      const std::string vc = std::string("distance ") + op + " " + r, mc = d + " " + op + " " + r;
      EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND exact = 1 AND k = 10 AND " + vc),
                Ids("SELECT id FROM mirror WHERE " + mc + " ORDER BY " + d + ", id LIMIT 10"))
          << vc;
      // A range query without k: every row in range, nearest first.
      EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND " + vc),
                Ids("SELECT id FROM mirror WHERE " + mc + " ORDER BY " + d + ", id"))
          << vc;
      // ANN with a bound: never short.
      EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10 AND " + vc).size(),
                Ids("SELECT id FROM mirror WHERE " + mc + " LIMIT 10").size())
          << vc;
    }
  }
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 10 AND distance > 1 AND distance < 1"), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 10 AND distance < NULL"), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 10 AND distance < 'abc'"), "10");
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 10 AND distance > 'abc'"), "0");
}

TEST_F(VectorTable, PersistsAndReopens) {
  const std::string path = ::testing::TempDir() + "vecgraph_vector_table.db";
  std::remove(path.c_str());
  sqlite3* db = nullptr;
  Open(&db, path.c_str());
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE VIRTUAL TABLE t USING hnsw_knn(e float[2] distance_metric=cosine, c integer, "
                         "s text, +note);"
                         "WITH RECURSIVE x(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM x WHERE i < 300) "
                         "INSERT INTO t(rowid, e, c, s, note) SELECT i, json_array(cos(i), sin(i)), i % 10, "
                         "CASE WHEN i % 3 = 0 THEN 'three' END, 'n' || i FROM x;"
                         "INSERT INTO t(t) VALUES ('ef_search=99');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  const std::string knn = "SELECT group_concat(rowid) FROM (SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 7 AND "
                          "c IN (1, 2) AND s IS NULL)";
  auto first = QueryOn(db, knn);
  sqlite3_close(db);
  Open(&db, path.c_str());
  EXPECT_EQ(QueryOn(db, knn), first);
  EXPECT_EQ(QueryOn(db, "SELECT json_extract(vecgraph_index_info('t'), '$.ef_search'), "
                        "json_extract(vecgraph_index_info('t'), '$.rows'), vecgraph_check('t')"),
            (std::vector<Row>{{"99", "300", "ok"}}));
  // Another connection changes metadata: this one sees it.
  sqlite3* other = nullptr;
  Open(&other, path.c_str());
  ASSERT_EQ(sqlite3_exec(other, "UPDATE t SET c = 77 WHERE rowid = 5", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(QueryOn(db, "SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 3 AND c = 77"), (std::vector<Row>{{"5"}}));
  sqlite3_close(other);
  // Corruption of the metadata shadow table is an error, never a wrong answer.
  ASSERT_EQ(sqlite3_exec(db, "UPDATE t_rows SET c1 = 'zzz' WHERE rowid = 9", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3* fresh = nullptr;
  Open(&fresh, path.c_str());
  EXPECT_EQ(ErrorOn(fresh, "SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 3 AND c = 1"),
            "hnsw_knn: index 't': row 9: column c in t_rows is text 'zzz', expected integer");
  EXPECT_EQ(QueryOn(fresh, "SELECT vecgraph_check('t')")[0][0],
            "hnsw_knn: index 't': row 9: column c in t_rows is text 'zzz', expected integer");
  sqlite3_close(fresh);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE t_rows SET c1 = 9 WHERE rowid = 9; DELETE FROM t_rows WHERE rowid = 10", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  Open(&fresh, path.c_str());
  EXPECT_EQ(ErrorOn(fresh, "SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 3"),
            "hnsw_knn: index 't': t_rows has 299 rows, t_nodes 300 live vectors");
  sqlite3_close(fresh);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO t_rows(rowid, c1) VALUES (10, 0); UPDATE t_info SET value = 'e float[2]' "
                         "WHERE key = 'columns'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  Open(&fresh, path.c_str());
  EXPECT_EQ(ErrorOn(fresh, "SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 3"),
            "hnsw_knn: index 't': the columns recorded in t_info (text 'e float[2]') differ from the table's declaration");
  sqlite3_close(fresh);
  sqlite3_close(db);
  std::remove(path.c_str());
}

// A partition key: one graph per partition value; `part = v` walks only that graph, a query
// without the key walks every partition and merges; moving a row re-links it; a reload answers
// the same.
TEST_F(VectorTable, PartitionsSearchOnlyTheirOwnGraph) {
  Build(3000);
  const std::string q = std::string("embedding MATCH '") + kQuery + "'";
  auto info = [&](const char* path) {
    return Value(std::string("SELECT json_extract(vecgraph_index_info('docs'), '") + path + "')");
  };
  double recall = 0;
  for (int p = 0; p < 10; ++p) {
    const std::string cond = "part = " + std::to_string(p);
    auto got = Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10 AND " + cond);
    EXPECT_EQ(info("$.last_query.partitions"), "1");
    auto want = Brute(kQuery, cond, 10);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10 AND exact = 1 AND " + cond), want);
    size_t found = 0;
    for (const std::string& id : got) {
      ASSERT_EQ(std::stoi(id) % 10, p);
      found += std::count(want.begin(), want.end(), id);
    }
    recall += found / 10.0;
    // With other conditions, and k above the partition's rows.
    EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10 AND " + cond + " AND tag = 'x' AND exact = 1"),
              Brute(kQuery, cond + " AND tag = 'x'", 10));
    EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 100000 AND " + cond), "300");
  }
  EXPECT_GE(recall / 10, 0.95);
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 10 AND part IN (1, 2)"), "10");
  EXPECT_EQ(info("$.last_query.partitions"), "2");
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND part = '3'"),
            Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND part = 3"));
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND part = 3.0"),
            Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 5 AND part = 3"));
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 5 AND part = 3.5"), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 5 AND part = 11"), "0");
  // No key: every partition, merged.
  auto all = Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10");
  EXPECT_EQ(info("$.last_query.partitions"), "all");
  auto want = Brute(kQuery, "1", 10);
  size_t found = 0;
  for (const std::string& id : all) found += std::count(want.begin(), want.end(), id);
  EXPECT_GE(found, 9u);
  EXPECT_EQ(info("$.partitions.part"), "10");
  // Moving rows between partitions re-links them there (vecgraph_check reports a link across
  // partitions).
  Exec("UPDATE docs SET part = 5 WHERE rowid IN (1, 2, 3, 4)");
  Exec("UPDATE mirror SET part = 5 WHERE id IN (1, 2, 3, 4)");
  EXPECT_EQ(Value("SELECT count(*) FROM docs WHERE " + q + " AND k = 100000 AND part = 5"), "304");
  EXPECT_EQ(Ids("SELECT rowid FROM docs WHERE " + q + " AND k = 10 AND exact = 1 AND part = 5"), Brute(kQuery, "part = 5", 10));
  EXPECT_EQ(Value("SELECT vecgraph_check('docs')"), "ok");
  // hnsw_knn_batch over a partitioned table searches every partition.
  Exec("CREATE TABLE qs(id INTEGER PRIMARY KEY, v BLOB)");
  Exec(std::string("INSERT INTO qs VALUES (1, vec_f32('") + kQuery + "'))");
  EXPECT_EQ(Value("SELECT count(*) FROM hnsw_knn_batch('docs', 'qs', 'v', 10)"), "10");
}

TEST_F(VectorTable, PartitionsReopen) {
  const std::string path = ::testing::TempDir() + "vecgraph_partitions.db";
  std::remove(path.c_str());
  sqlite3* db = nullptr;
  Open(&db, path.c_str());
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE VIRTUAL TABLE t USING hnsw_knn(e float[2], u text partition key, c integer, m=4);"
                         "WITH RECURSIVE x(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM x WHERE i < 2000) "
                         "INSERT INTO t(rowid, e, u, c) SELECT i, json_array(cos(i), sin(i * 1.3)), "
                         "CASE i % 4 WHEN 0 THEN NULL ELSE 'user' || (i % 4) END, i % 3 FROM x;"
                         "DELETE FROM t WHERE rowid % 17 = 0;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  const std::string knn = "SELECT group_concat(rowid) FROM (SELECT rowid FROM t WHERE e MATCH '[1, 0]' AND k = 7 AND "
                          "u = 'user2' AND c = 1)";
  const std::string all = "SELECT group_concat(rowid) FROM (SELECT rowid FROM t WHERE e MATCH '[0.3, 0.9]' AND k = 9)";
  auto a = QueryOn(db, knn), b = QueryOn(db, all);
  sqlite3_close(db);
  Open(&db, path.c_str());
  EXPECT_EQ(QueryOn(db, knn), a);
  EXPECT_EQ(QueryOn(db, all), b);
  EXPECT_EQ(QueryOn(db, "SELECT vecgraph_check('t'), json_extract(vecgraph_index_info('t'), '$.partitions.u')"),
            (std::vector<Row>{{"ok", "3"}}));
  // NULL is a partition of its own for the graph, but `u = NULL` matches no row.
  EXPECT_EQ(QueryOn(db, "SELECT count(*) FROM t WHERE e MATCH '[1, 0]' AND k = 5 AND u = NULL"), (std::vector<Row>{{"0"}}));
  EXPECT_EQ(QueryOn(db, "SELECT count(*) FROM t WHERE e MATCH '[1, 0]' AND k = 5 AND u IS NULL"), (std::vector<Row>{{"5"}}));
  sqlite3_close(db);
  std::remove(path.c_str());
}

// Buffered inserts that a later statement fails to build (here a trigger on the shadow table
// makes the write fail; an interrupt does the same) are never silently lost: the table refuses
// everything until ROLLBACK, and COMMIT fails (SQLite then rolls the transaction back).
TEST_F(VectorTable, AFailedBuildPoisonsTheTransactionInsteadOfLosingRows) {
  for (const char* decl : {"dim=2, metric=l2", "e float[2], c integer"}) {
    Exec(std::string("CREATE VIRTUAL TABLE ix USING hnsw_knn(") + decl + ")");
    const std::string col = std::string(decl).rfind("dim", 0) == 0 ? "vector" : "e";
    Exec("INSERT INTO ix(rowid, " + col + ") VALUES (1, '[0, 0]')");
    Exec("BEGIN");
    Exec("INSERT INTO ix(rowid, " + col + ") VALUES (2, '[1, 0]'), (3, '[2, 0]')");  // buffered
    Exec("CREATE TRIGGER boom BEFORE INSERT ON ix_nodes BEGIN SELECT RAISE(ABORT, 'boom'); END");
    EXPECT_EQ(Error("SELECT rowid FROM ix WHERE " + col + " MATCH '[0, 0]' AND k = 3"),
              "hnsw_knn: index 'ix': writing a node row: constraint failed");
    const std::string poisoned =
        "hnsw_knn: index 'ix': 2 inserted rows could not be built (hnsw_knn: index 'ix': writing a node row: constraint failed); "
        "this transaction must be rolled back (ROLLBACK): committing it would lose them";
    EXPECT_EQ(Error("SELECT count(*) FROM ix"), poisoned);
    EXPECT_EQ(Error("INSERT INTO ix(rowid, " + col + ") VALUES (4, '[3, 0]')"), poisoned);
    EXPECT_EQ(Error("COMMIT"), poisoned);
    EXPECT_EQ(sqlite3_get_autocommit(db_), 1);  // the failed COMMIT rolled the transaction back
    EXPECT_EQ(Value("SELECT count(*) FROM ix"), "1");
    EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
    Exec("INSERT INTO ix(rowid, " + col + ") VALUES (2, '[1, 0]')");
    EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE " + col + " MATCH '[0, 0]' AND k = 3"), "2");
    Exec("DROP TABLE ix");
  }
}

// Findings of fuzz_sql's declared-column session (tests/fuzz/fuzz_sql_columns.h), one each.
TEST_F(VectorTable, FuzzFindings) {
  Exec("CREATE VIRTUAL TABLE t USING hnsw_knn(e float[4], c integer, r real, +\"x y\" text)");
  Exec("INSERT INTO t(rowid, e, c, r, \"x y\") VALUES (1, '[0,0,0,0]', 1, 0.5, 'a'), (2, '[1,0,0,0]', 2, 2.5, 'b')");
  // 1. A condition comparing two columns of the row (SQLite also derives one by constant
  //    propagation) is never usable: not "no query solution", but SQLite's to apply.
  EXPECT_EQ(Column("SELECT rowid FROM t WHERE e MATCH '[0,0,0,0]' AND c = 1 AND c > r ORDER BY distance LIMIT 2"), "1");
  EXPECT_EQ(Error("SELECT rowid FROM t WHERE e MATCH '[0,0,0,0]' AND k = 2 AND c = 1 AND c > r").substr(0, 60),
            "hnsw_knn: a k-NN query with k = N cannot apply a condition o");
  // 2. Integers as a STRICT column takes them: nothing that only rounds to -2^63.
  EXPECT_EQ(Error("INSERT INTO t(rowid, e, c) VALUES (3, '[0,0,0,0]', '-9223372036854775809')"),
            "hnsw_knn: column c of row 3: expected an integer, found text '-9223372036854775809'");
  EXPECT_EQ(Error("INSERT INTO t(rowid, e, c) VALUES (3, '[0,0,0,0]', -9223372036854775808.0)"),
            "hnsw_knn: column c of row 3: expected an integer, found real -9223372036854775808");
  Exec("INSERT INTO t(rowid, e, c) VALUES (3, '[0,0,0,0]', '-9223372036854775808')");
  EXPECT_EQ(Value("SELECT c FROM t WHERE rowid = 3"), "-9223372036854775808");
  // 3. OR IGNORE that skips a row counts no change (both table forms).
  Exec("INSERT OR IGNORE INTO t(rowid, e) VALUES (3, '[1,1,1,1]')");
  EXPECT_EQ(Query("SELECT changes(), last_insert_rowid()"), (std::vector<Row>{{"0", "3"}}));
  Exec("UPDATE OR IGNORE t SET rowid = 1 WHERE rowid = 2");
  EXPECT_EQ(Value("SELECT changes()"), "0");
  // 4. last_insert_rowid() is the user's, not the shadow tables'.
  Exec("BEGIN");
  Exec("INSERT INTO t(rowid, e) VALUES (40, '[0,0,0,0]'), (30, '[0,0,0,1]')");
  Exec("COMMIT");
  EXPECT_EQ(Value("SELECT last_insert_rowid()"), "30");
  Exec("UPDATE t SET c = 5 WHERE rowid = 2");
  EXPECT_EQ(Value("SELECT last_insert_rowid()"), "30");
  // 5. A quoted auxiliary column name.
  EXPECT_EQ(Value("SELECT \"x y\" FROM t WHERE rowid = 1"), "a");
  Exec("CREATE VIRTUAL TABLE old USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO old(rowid, vector) VALUES (5, '[0,1]'), (6, '[1,1]')");
  Exec("INSERT OR IGNORE INTO old(rowid, vector) VALUES (5, '[1,0]')");
  EXPECT_EQ(Query("SELECT changes(), last_insert_rowid()"), (std::vector<Row>{{"0", "6"}}));
}

}  // namespace
}  // namespace vecgraph::testing
