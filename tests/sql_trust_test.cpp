// Regression tests of the outside review (issue "Trust at first contact"): each finding was a
// silently wrong or short answer, or a wedged connection, reproduced on the release before the
// fix. Every test compares with what SQLite itself answers for a plain table where one exists.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

std::string TempPath(const char* tag) {
  char path[64];
  std::snprintf(path, sizeof path, "/tmp/vecgraph_trust_%s_XXXXXX", tag);
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  return path;
}

class Trust : public SqlTest {
 protected:
  std::string Column(const std::string& sql) {
    std::string out;
    for (const Row& r : Query(sql)) out += (out.empty() ? "" : ",") + r[0];
    return out;
  }
};

// ---- 1. Out-of-range numbers became 0.

TEST_F(Trust, NumbersOutsideFloat32AreAnErrorNotZero) {
  const std::string fit = "does not fit float32 (largest magnitude 3.4028235e+38)";
  EXPECT_EQ(Error("SELECT vec_json('[1e400]')"), "vec_json: argument 1 (vector): element 0 is out of range: '1e400' " + fit);
  EXPECT_EQ(Error("SELECT vec_json('[-1e999, 2]')"),
            "vec_json: argument 1 (vector): element 0 is out of range: '-1e999' " + fit);
  EXPECT_EQ(Error("SELECT vec_json('[' || printf('%.*c', 400, '9') || ']')"),
            "vec_json: argument 1 (vector): element 0 is out of range: '" + std::string(40, '9') + "...' " + fit);
  EXPECT_EQ(Error("SELECT vec_json('[3.4028236e38]')"),
            "vec_json: argument 1 (vector): element 0 is out of range: '3.4028236e38' " + fit);
  EXPECT_EQ(Error("SELECT vec_json('[0.00000000000000000000000000000000000000000001e83]')"),  // 1e39
            "vec_json: argument 1 (vector): element 0 is out of range: '0.00000000000000000000000000000000000000...' " +
                fit);
  // At the limit, underflow and denormals are fine: rounded to the nearest float32.
  EXPECT_EQ(Value("SELECT vec_json('[3.4028235e38, -3.4028235e38]')"), "[3.4028235e+38,-3.4028235e+38]");
  EXPECT_EQ(Value("SELECT vec_json('[1e-50, -1e-50, 1e-40, 1e-99999999999999999999]')"), "[0,-0,1e-40,0]");
  EXPECT_EQ(Value("SELECT vec_json('[1e+0, 10000000000000000000000000000000000000e-37, 0.5E1]')"), "[1,1,5]");
  // NaN and infinities, however spelled, are named as what they are.
  EXPECT_EQ(Error("SELECT vec_json('[-nan]')"), "vec_json: argument 1 (vector): element 0 is NaN: expected a finite number");
  EXPECT_EQ(Error("SELECT vec_json('[1, NaN]')"), "vec_json: argument 1 (vector): element 1 is NaN: expected a finite number");
  EXPECT_EQ(Error("SELECT vec_json('[-Infinity]')"),
            "vec_json: argument 1 (vector): element 0 is infinite: expected a finite number");
  // Writes and MATCH read numbers the same way.
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=3, metric=l2)");
  EXPECT_EQ(Error("INSERT INTO ix(rowid, vector) VALUES (6, '[1e400,1,2]')"),
            "hnsw_knn: column vector of row 6: element 0 is out of range: '1e400' " + fit);
  EXPECT_EQ(Value("SELECT count(*) FROM ix"), "0");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[0,1,2]')");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[1e400,1,2]' AND k = 1"),
            "hnsw_knn: MATCH query: element 0 is out of range: '1e400' " + fit);
  EXPECT_EQ(Error("SELECT vec_distance('[1]', '[-1e39]')"),
            "vec_distance: argument 2 (b): element 0 is out of range: '-1e39' " + fit);
}

TEST_F(Trust, JsonVectorsFollowTheJsonNumberGrammar) {
  for (const char* bad : {"[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[1e+]", "[0x10]", "[1_000]", "[--1]", "[1.5.2]",
                          "[00]", "[-]", "[1 e5]", "[١]"}) {
    std::string err = Error(std::string("SELECT vec_json('") + bad + "')");
    EXPECT_NE(err.find("vec_json: argument 1 (vector): "), std::string::npos) << bad << ": " << err;
    EXPECT_TRUE(err.find("not a JSON number") != std::string::npos || err.find("malformed JSON") != std::string::npos)
        << bad << ": " << err;
  }
  EXPECT_EQ(Error("SELECT vec_json('[01]')"), "vec_json: argument 1 (vector): element 0 is not a JSON number: found '01]'");
  EXPECT_EQ(Value("SELECT vec_json('[ -0 , 0.0e-0, 1E2 ]')"), "[-0,0,100]");
}

TEST_F(Trust, SpreadOptionsAndSeedsRejectOutOfRangeNumbers) {
  Exec("CREATE TABLE links(src INTEGER, dst INTEGER, weight REAL)");
  Exec("INSERT INTO links VALUES (1, 2, 1.0)");
  EXPECT_NE(Error("SELECT * FROM spread_activation('links', '{\"1\": 1e400}')"), "");
  EXPECT_NE(Error("SELECT * FROM spread_activation('links', 1, '{\"decay\": 1e400}')"), "");
  EXPECT_NE(Error("SELECT * FROM spread_activation('links', 1, '{\"top_k\": 1e400}')"), "");
  EXPECT_NE(Error("SELECT * FROM spread_activation('links', '[01]')"), "");
}

// ---- 2. vec_topk took a query that changes per row as "the same".

TEST_F(Trust, VecTopkComparesQueryValuesNotPointers) {
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, q BLOB)");
  // Every row a different query of the same length: SQLite reuses one buffer for them.
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20) "
       "INSERT INTO t SELECT i, vec_f32(json_array(i, 1, 0)), vec_f32(json_array(1, i, 0)) FROM s");
  const std::string msg = "vec_topk: argument 3 (query): must be the same for every row of a group, found a different value";
  EXPECT_EQ(Error("SELECT vec_topk(id, v, q, 3) FROM t"), msg);
  EXPECT_EQ(Error("SELECT vec_topk(id, v, vec_json(q), 3) FROM t"), msg);
  EXPECT_EQ(Error("SELECT vec_topk(id, v, CASE WHEN id = 20 THEN '[1,0,1]' ELSE '[1,0,0]' END, 3) FROM t"), msg);
  // k and metric too (they were read from the first row only).
  EXPECT_EQ(Error("SELECT vec_topk(id, v, '[1,0,0]', id, 'l2') FROM t"),
            "vec_topk: argument 4 (k): must be the same for every row of a group, found a different value");
  EXPECT_EQ(Error("SELECT vec_topk(id, v, '[1,0,0]', 3, CASE WHEN id < 5 THEN 'l2' ELSE 'dot' END) FROM t"),
            "vec_topk: argument 5 (metric): must be the same for every row of a group, found a different value");
  // The same value on every row, from a column, a literal or a bound parameter, is fine.
  Exec("UPDATE t SET q = vec_f32('[1, 0, 0]')");
  EXPECT_EQ(Value("SELECT vec_topk(id, v, q, 2, 'l2') FROM t"), Value("SELECT vec_topk(id, v, '[1,0,0]', 2, 'l2') FROM t"));
  // Per group it may differ: GROUP BY makes a group per query.
  Exec("UPDATE t SET q = vec_f32(json_array(id % 2, 1, 0))");
  EXPECT_EQ(Query("SELECT id % 2, vec_topk(id, v, q, 1, 'l2') FROM t GROUP BY id % 2").size(), 2u);
}

// ---- 3. k-NN rowid constraints disagreed with SQLite.

TEST_F(Trust, RowidConstraintsAnswerWhatSqliteAnswers) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("CREATE TABLE plain(id INTEGER PRIMARY KEY)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(i, 0) FROM s");
  Exec("INSERT INTO plain SELECT rowid FROM ix");
  const char* conditions[] = {
      "rowid > 2.5", "rowid < 2.5", "rowid >= 2.5", "rowid <= 2.5", "rowid = 2.0", "rowid = 2.5", "rowid = '2'",
      "rowid = '2.0'", "rowid = ' 3 '", "rowid = '3e0'", "rowid = '0x3'", "rowid > 'abc'", "rowid < 'abc'",
      "rowid >= 'abc'", "rowid <= 'abc'", "rowid = 'abc'", "rowid > X'00'", "rowid < X'00'", "rowid = X'03'",
      "rowid > 3 AND rowid < 3", "rowid >= 3 AND rowid <= 3", "rowid > 8 AND rowid < 2", "rowid = NULL",
      "rowid > NULL", "rowid IS NULL", "rowid IS NOT NULL", "rowid != 3", "rowid <> 3.0", "rowid != 3.5",
      "rowid IS 4", "rowid IS NOT 4", "rowid != 'abc'", "rowid IN (2, '3', 4.0, 4.5, 'x', NULL, X'05')",
      "rowid IN (SELECT id * 2 FROM plain)", "rowid NOT IN (1, 2)", "rowid IN (1, 2, 3, 4) AND rowid IN (3, 4, 5)",
      "rowid = 3 AND rowid = 4", "rowid = 3 AND rowid IN (3, 4)", "rowid > 2 AND rowid != 5 AND rowid < 9",
      "rowid > -1e19", "rowid < 1e19", "rowid > 1e19", "rowid < -1e19", "rowid <= 9223372036854775807",
      "rowid > 9223372036854775807", "rowid >= -9223372036854775808", "rowid < -9223372036854775808",
      "rowid <= 9.3e18", "rowid > 9.223372036854775807e18", "rowid > -9.223372036854775808e18",
      "rowid BETWEEN 2.5 AND 7.5", "rowid BETWEEN '3' AND '5'", "rowid IN ()", "rowid = 1 OR rowid = 2",
      "+rowid > 5", "rowid > 5 AND rowid IS NOT NULL",
  };
  for (const char* cond : conditions) {
    SCOPED_TRACE(cond);
    // SQLite's own answer, for a rowid table.
    const std::string sqlite = Column(std::string("SELECT id FROM plain WHERE ") + cond + " ORDER BY id");
    for (const char* extra : {"", " AND exact = 1", " AND ef = 1"}) {
      EXPECT_EQ(Column(std::string("SELECT rowid FROM (SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 20") +
                       extra + " AND (" + cond + ")) ORDER BY rowid"),
                sqlite)
          << extra;
    }
    EXPECT_EQ(Column(std::string("SELECT rowid FROM ix WHERE ") + cond + " ORDER BY rowid"), sqlite) << "scan";
  }
}

TEST_F(Trust, FilteredKnnIsNeverShort) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(i, 0) FROM s");
  // Two IN lists: the intersection 50..60 has 11 rows; the 5 nearest of them to 0 are 50..54.
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 5 AND rowid IN "
                   "(SELECT rowid FROM ix WHERE rowid <= 100) AND rowid IN (SELECT rowid FROM ix WHERE rowid BETWEEN 50 AND 60)"),
            "50,51,52,53,54");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid != 1 AND rowid IS NOT 2"), "3,4,5");
  // A rowid condition the search cannot take is an error, not a short answer.
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid LIKE '1%'"),
            "hnsw_knn: a k-NN query with k = N cannot apply rowid LIKE inside the search (SQLite would apply it to the "
            "N rows found, which could leave fewer than N): write ORDER BY distance LIMIT N instead of k = N (SQLite "
            "then filters a complete distance-ordered scan), or filter in a subquery: rowid IN (SELECT ...)");
  // Without k, SQLite applies it to the complete distance-ordered stream: never short.
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND rowid LIKE '1%' ORDER BY distance LIMIT 3"),
            "1,10,11");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid IN "
                   "(SELECT rowid FROM ix WHERE rowid LIKE '1%')"),
            "1,10,11");
  // A join on rowid is applied to the k rows found, whichever table SQLite puts in the outer loop
  // (as the inner loop, the bound rowid would otherwise make the search rank that row alone, and
  // every picked row would come back, k or not); to search among chosen rows, rowid IN (...).
  Exec("CREATE TABLE pick(id INTEGER PRIMARY KEY)");
  Exec("INSERT INTO pick VALUES (150), (2), (120), (3), (199)");
  for (const char* from : {"pick JOIN ix ON ix.rowid = pick.id", "ix JOIN pick ON ix.rowid = pick.id",
                           "pick CROSS JOIN ix ON ix.rowid = pick.id", "ix CROSS JOIN pick ON ix.rowid = pick.id",
                           "pick, ix", "ix LEFT JOIN pick ON ix.rowid = pick.id"}) {
    SCOPED_TRACE(from);
    const std::string on = std::strstr(from, " ON ") ? "" : " AND ix.rowid = pick.id";
    EXPECT_EQ(Column(std::string("SELECT pick.id FROM ") + from + " WHERE ix.vector MATCH '[0, 0]' AND ix.k = 3" + on +
                     " ORDER BY ix.distance"),
              std::strncmp(from, "ix LEFT", 7) == 0 ? "NULL,2,3" : "2,3");  // row 1: no pick
  }
  EXPECT_EQ(Column("SELECT p.id FROM (SELECT rowid, distance FROM ix WHERE vector MATCH '[0, 0]' AND k = 3) AS h JOIN "
                   "pick AS p ON p.id = h.rowid ORDER BY h.distance"),
            "2,3");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid IN (SELECT id FROM pick)"),
            "2,3,120");
  // rowid = x in a k-NN query: the row if it is among the k nearest (as a join or sqlite-vec).
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid = 2"), "2");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid = 150"), "");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3 AND rowid IS 3"), "3");
  // Without k, SQLite applies it to the complete distance-ordered stream.
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND rowid = 150 ORDER BY distance LIMIT 3"), "150");
}

TEST_F(Trust, KAndEfTakeIntegralReals) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(i, 0) FROM s");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 3.0"), "1,2,3");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = '3'"), "1,2,3");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 2 AND ef = 64.0 AND exact = 1.0"), "1,2");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 2.5"),
            "hnsw_knn: k: expected an integer >= 1, found real 2.5");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 1e19"),
            "hnsw_knn: k: expected an integer >= 1, found real 1e+19");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 2 AND ef = 1.5"),
            "hnsw_knn: ef: expected an integer between 1 and 65536, found real 1.5");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k = 2 AND exact = 2"),
            "hnsw_knn: exact: expected an integer between 0 and 1, found integer 2");
  // k = 2 AND k = 3: SQLite itself folds that to false (no rows), as for a plain column.
  EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE vector MATCH '[0, 0]' AND k = 2 AND k = 3"), "0");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k > 2"), "hnsw_knn: k takes one value: write k = N");
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[0, 0]' AND k IN (2, 3)"),
            "hnsw_knn: k takes one value: write k = N");
  // vec_topk's k and hnsw_knn_batch's k and ef the same way.
  EXPECT_EQ(Value("SELECT vec_topk(rowid, vector, '[0, 0]', 2.0, 'l2') FROM ix"), "[[1,1],[2,2]]");
  EXPECT_EQ(Error("SELECT vec_topk(rowid, vector, '[0, 0]', 2.5, 'l2') FROM ix"),
            "vec_topk: argument 4 (k): expected an integer >= 1, found real 2.5");
  Exec("CREATE TABLE q(id INTEGER PRIMARY KEY, e BLOB)");
  Exec("INSERT INTO q VALUES (1, vec_f32('[0, 0]'))");
  EXPECT_EQ(Column("SELECT rowid FROM hnsw_knn_batch('ix', 'q', 'e', 2.0, 16.0)"), "1,2");
  EXPECT_EQ(Error("SELECT rowid FROM hnsw_knn_batch('ix', 'q', 'e', 2.5)"),
            "hnsw_knn_batch: argument 4 (k): expected an integer >= 1, found real 2.5");
}

TEST_F(Trust, KnnParametersWithoutMatchAreAnError) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[1, 0]')");
  const std::string msg =
      "hnsw_knn: k, ef and exact are parameters of a k-NN query: add a MATCH constraint (WHERE vector MATCH :query AND "
      "k = 10)";
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE k = 2"), msg);
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE ef = 2"), msg);
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE rowid = 1 AND exact = 1"), msg);
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH '[1, 0]' AND vector MATCH '[0, 1]' AND k = 1"),
            "hnsw_knn: a query takes one MATCH constraint on vector (found two)");
}

// ---- 4. k was silently capped at 2^20.

TEST_F(Trust, KIsNotCappedAtTwoToTheTwenty) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "1.1M rows: run in the Release build";
#endif
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=1, metric=l2, m=2, ef_construction=1)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1100000) "
       "INSERT INTO ix(rowid, vector) SELECT i, vec_f32(json_array(i)) FROM s");
  const std::string n = "1100000";
  EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE vector MATCH '[0]' AND k = 2000000"), n);
  EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE vector MATCH '[0]' AND k = 2000000 AND exact = 1"), n);
  EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE vector MATCH '[0]' AND k = 2000000 AND rowid > 1"), "1099999");
  EXPECT_EQ(Value("SELECT max(rowid) FROM ix WHERE vector MATCH '[0]' AND k = 1048577"), "1048577");
  Exec("CREATE TABLE q(id INTEGER PRIMARY KEY, e BLOB)");
  Exec("INSERT INTO q VALUES (1, vec_f32('[0]'))");
  EXPECT_EQ(Value("SELECT count(*) FROM hnsw_knn_batch('ix', 'q', 'e', 2000000)"), n);
  EXPECT_EQ(Value("SELECT max(rank) FROM hnsw_knn_batch('ix', 'q', 'e', 9223372036854775807)"), n);
}

TEST_F(Trust, KAboveTheRowCountReturnsEveryRowInOrder) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=1, metric=l2)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(301 - i) FROM s");
  Exec("DELETE FROM ix WHERE rowid % 7 = 0");
  auto rows = Query("SELECT rowid FROM ix WHERE vector MATCH '[0]' AND k = 9223372036854775807");
  ASSERT_EQ(rows.size(), 300u - 42u);
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GT(std::stoll(rows[i - 1][0]), std::stoll(rows[i][0]));
}

// ---- 5. The automatic rowid after 2^63 − 1 wrapped.

TEST_F(Trust, AutomaticRowidsAfterTheLargestOneBehaveLikeATable) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=1, metric=l2)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (9223372036854775807, '[1]')");
  for (int i = 0; i < 5; ++i) Exec("INSERT INTO ix(vector) VALUES ('[2]')");
  EXPECT_EQ(Value("SELECT count(*) FROM ix"), "6");
  EXPECT_EQ(Value("SELECT count(DISTINCT rowid) FROM ix"), "6");
  EXPECT_EQ(Value("SELECT min(rowid) > 0 FROM ix"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
  // Like a rowid table: one more than the largest, 1 for an empty table, max + 1 when negative.
  Exec("CREATE VIRTUAL TABLE iy USING hnsw_knn(dim=1)");
  Exec("INSERT INTO iy(vector) VALUES ('[1]')");
  EXPECT_EQ(Value("SELECT rowid FROM iy"), "1");
  Exec("CREATE VIRTUAL TABLE iz USING hnsw_knn(dim=1)");
  Exec("CREATE TABLE pz(id INTEGER PRIMARY KEY, x)");
  Exec("INSERT INTO iz(rowid, vector) VALUES (-5, '[1]')");
  Exec("INSERT INTO pz VALUES (-5, 1)");
  Exec("INSERT INTO iz(vector) VALUES ('[2]')");
  Exec("INSERT INTO pz(x) VALUES (2)");
  EXPECT_EQ(Column("SELECT rowid FROM iz ORDER BY rowid"), Column("SELECT id FROM pz ORDER BY id"));
  // The rowid of an INSERT may be an integral REAL or numeric TEXT, as for a rowid table.
  Exec("INSERT INTO iy(rowid, vector) VALUES (7.0, '[1]'), ('8', '[1]')");
  EXPECT_EQ(Column("SELECT rowid FROM iy ORDER BY rowid"), "1,7,8");
  EXPECT_EQ(Code("INSERT INTO iy(rowid, vector) VALUES (7.5, '[1]')"), SQLITE_MISMATCH);
  EXPECT_EQ(Error("INSERT INTO iy(rowid, vector) VALUES ('x', '[1]')"), "datatype mismatch");  // SQLite's own check
  EXPECT_EQ(Code("UPDATE iy SET rowid = NULL WHERE rowid = 7"), SQLITE_MISMATCH);
  EXPECT_EQ(Column("SELECT rowid FROM iy ORDER BY rowid"), "1,7,8");
}

// ---- 6. spread_activation served a stale graph.

class TrustFiles : public Trust {
 protected:
  void SetUp() override {
    main_ = TempPath("main");
    aux_ = TempPath("aux");
    Open(&db_, main_.c_str());
    Open(&other_, main_.c_str());
  }
  void TearDown() override {
    sqlite3_close(other_);
    sqlite3_close(db_);
    unlink(main_.c_str());
    unlink(aux_.c_str());
  }
  void ExecOn(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string main_, aux_;
  sqlite3* other_ = nullptr;
};

TEST_F(TrustFiles, SpreadThroughATempViewSeesOtherConnectionsCommits) {
  Exec("CREATE TABLE edges(src INTEGER, dst INTEGER, weight REAL)");
  Exec("INSERT INTO edges VALUES (1, 2, 1.0)");
  Exec("CREATE TEMP VIEW v AS SELECT * FROM main.edges");
  const std::string q = "SELECT node FROM spread_activation('v', 1, '{\"decay\": 1, \"threshold\": 0}') ORDER BY node";
  EXPECT_EQ(Column(q), "1,2");
  ExecOn(other_, "INSERT INTO edges VALUES (2, 3, 1.0)");
  EXPECT_EQ(Column(q), "1,2,3");
}

TEST_F(TrustFiles, SpreadAfterDetachAndReattachSeesTheChanges) {
  {
    sqlite3* a = nullptr;
    Open(&a, aux_.c_str());
    ExecOn(a, "CREATE TABLE edges(src INTEGER, dst INTEGER, weight REAL); INSERT INTO edges VALUES (1, 2, 1.0)");
    sqlite3_close(a);
  }
  Exec("ATTACH '" + aux_ + "' AS aux");
  const std::string q = "SELECT node FROM spread_activation('aux.edges', 1, '{\"decay\": 1, \"threshold\": 0}') ORDER BY node";
  EXPECT_EQ(Column(q), "1,2");
  Exec("DETACH aux");
  {
    sqlite3* a = nullptr;
    Open(&a, aux_.c_str());
    ExecOn(a, "INSERT INTO edges VALUES (2, 3, 1.0)");
    sqlite3_close(a);
  }
  Exec("ATTACH '" + aux_ + "' AS aux");
  EXPECT_EQ(Column(q), "1,2,3");
  // A view in temp over the attached table, and a change by another connection while attached.
  Exec("CREATE TEMP VIEW tv AS SELECT * FROM aux.edges");
  const std::string qv = "SELECT node FROM spread_activation('tv', 1, '{\"decay\": 1, \"threshold\": 0}') ORDER BY node";
  EXPECT_EQ(Column(qv), "1,2,3");
  {
    sqlite3* a = nullptr;
    Open(&a, aux_.c_str());
    ExecOn(a, "INSERT INTO edges VALUES (3, 4, 1.0)");
    sqlite3_close(a);
  }
  EXPECT_EQ(Column(qv), "1,2,3,4");
}

TEST_F(TrustFiles, SpreadNameResolutionFollowsAttach) {
  // 'aux.edges' names a main table with a dot in its name until a schema 'aux' is attached.
  Exec("CREATE TABLE \"aux.edges\"(src INTEGER, dst INTEGER, weight REAL)");
  Exec("INSERT INTO \"aux.edges\" VALUES (1, 5, 1.0)");
  const std::string q = "SELECT node FROM spread_activation('aux.edges', 1, '{\"decay\": 1, \"threshold\": 0}') ORDER BY node";
  EXPECT_EQ(Column(q), "1,5");
  {
    sqlite3* a = nullptr;
    Open(&a, aux_.c_str());
    ExecOn(a, "CREATE TABLE edges(src INTEGER, dst INTEGER, weight REAL); INSERT INTO edges VALUES (1, 7, 1.0)");
    sqlite3_close(a);
  }
  Exec("ATTACH '" + aux_ + "' AS aux");
  EXPECT_EQ(Column(q), "1,7");
  Exec("DETACH aux");
  EXPECT_EQ(Column(q), "1,5");
}

// ---- 7. hnsw_knn_batch pasted the column name as a string literal.

TEST_F(Trust, BatchChecksEveryNameItIsGiven) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[1, 0]'), (2, '[3, 0]')");
  Exec("CREATE TABLE q(id INTEGER PRIMARY KEY, e BLOB)");
  Exec("INSERT INTO q VALUES (1, vec_f32('[0, 0]'))");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('ix', 'q', '[3,0]', 1)"),
            "hnsw_knn_batch: argument 3 (query_column): no such column '[3,0]' in table 'q'");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('ix', 'q', 'nocol', 1)"),
            "hnsw_knn_batch: argument 3 (query_column): no such column 'nocol' in table 'q'");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('ix', 'q', 'e')"),
            "hnsw_knn_batch: argument 4 (k) is required: hnsw_knn_batch(index, query_table, query_column, k [, ef])");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('ix')"),
            "hnsw_knn_batch: argument 2 (query_table) is required: hnsw_knn_batch(index, query_table, query_column, k "
            "[, ef])");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('nope', 'q', 'e', 1)"),
            "hnsw_knn_batch: argument 1 (index): no such table: 'nope'");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('q', 'q', 'e', 1)"),
            "hnsw_knn_batch: argument 1 (index): 'q' is not an hnsw_knn table");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch('ix', 'nope', 'e', 1)"),
            "hnsw_knn_batch: argument 2 (query_table): no such table: 'nope'");
  EXPECT_EQ(Error("SELECT * FROM hnsw_knn_batch(7, 'q', 'e', 1)"),
            "hnsw_knn_batch: argument 1 (index): expected a name (TEXT), found integer 7");
  EXPECT_EQ(Column("SELECT rowid FROM hnsw_knn_batch('ix', 'q', 'E', 1)"), "1");  // names are case-insensitive
  // TEMP and attached tables are found as SQLite finds them.
  Exec("CREATE VIRTUAL TABLE temp.tix USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO tix(rowid, vector) VALUES (5, '[0, 1]')");
  Exec("CREATE TEMP TABLE tq(e)");
  Exec("INSERT INTO tq VALUES ('[0, 0]')");
  EXPECT_EQ(Column("SELECT rowid FROM hnsw_knn_batch('tix', 'tq', 'e', 1)"), "5");
  EXPECT_EQ(Column("SELECT rowid FROM hnsw_knn_batch('temp.tix', 'main.q', 'e', 1)"), "5");
  EXPECT_EQ(Value("SELECT vecgraph_check('tix')"), "ok");
  EXPECT_EQ(Value("SELECT vecgraph_check('temp.tix')"), "ok");
  EXPECT_EQ(Error("SELECT vecgraph_check('nope')"), "vecgraph_check: argument 1 (index): no such table: 'nope'");
  EXPECT_EQ(Error("SELECT vecgraph_check(NULL)"), "vecgraph_check: argument 1 (index): expected a name (TEXT), found NULL");
}

// ---- 8. vec_topk ranked an overflowing dot product last.

TEST_F(Trust, OverflowingDistancesRankAsVecDistanceSays) {
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  Exec("INSERT INTO t VALUES (1, vec_f32('[3e38, 3e38]')), (2, vec_f32('[1e38, -2e38]')), (3, vec_f32('[-3e38, -3e38]'))");
  // q·v1 = 6e38 (beyond float32): distance −inf; q·v3: +inf.
  EXPECT_EQ(Value("SELECT vec_distance('[1, 1]', v, 'dot') FROM t WHERE id = 1"), "-Inf");
  EXPECT_EQ(Value("SELECT vec_distance('[1, 1]', v, 'dot') FROM t WHERE id = 3"), "Inf");
  EXPECT_EQ(Value("SELECT vec_topk(id, v, '[1, 1]', 3, 'dot') FROM t"), "[[1,-1e999],[2,1e+38],[3,1e999]]");
  EXPECT_EQ(Column("SELECT id FROM t ORDER BY vec_distance('[1, 1]', v, 'dot'), id"), "1,2,3");
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=dot)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM t");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[1, 1]' AND k = 3 AND exact = 1"), "1,2,3");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[1, 1]' AND k = 3"), "1,2,3");
  EXPECT_EQ(Value("SELECT distance FROM ix WHERE vector MATCH '[1, 1]' AND k = 1"), "-Inf");
  // A zero dot product is distance 0, not −0.
  EXPECT_EQ(Value("SELECT vec_topk(id, v, '[1, 1]', 1, 'dot') FROM (SELECT 4 AS id, '[1, -1]' AS v)"), "[[4,0]]");
}

// ---- 9. Tiny vectors had no direction.

TEST_F(Trust, EveryNonZeroVectorHasADirection) {
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[1e-30, 0]'))"), "[1,0]");
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[1e-45, -1e-45]'))"), "[0.70710677,-0.70710677]");
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[3e38, 3e38]'))"), "[0.70710677,0.70710677]");
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[0, 0]'))"), "[0,0]");
  EXPECT_EQ(Value("SELECT vec_distance('[1e-30, 0]', '[1e-30, 0]', 'cosine')"), "0.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1e-30, 0]', '[0, 1]', 'cosine')"), "1.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1e-30, 0]', '[-1e-40, 0]', 'cosine')"), "2.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1e20, 1]', '[1, 0]', 'cosine')"), "0.0");  // huge: no overflow either
  EXPECT_EQ(Value("SELECT vec_distance('[0, 0]', '[1e-30, 0]', 'cosine')"), "1.0");  // the zero-vector rule
  EXPECT_EQ(Value("SELECT vec_similarity('[1e-30, 1e-30]', '[1, 1]')"), "1.0");
  EXPECT_EQ(Value("SELECT vec_norm('[1e-30, 0]') > 0"), "1");
  EXPECT_EQ(Value("SELECT vec_norm('[3e38, 3e38]') > 4e38"), "1");
  // vec_topk, the index and vec_distance agree, including the zero-vector rule.
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  Exec("INSERT INTO t VALUES (1, vec_f32('[1e-30, 0]')), (2, vec_f32('[0, 1]')), (3, vec_f32('[0, 0]')), "
       "(4, vec_f32('[-1e-38, 1e-38]')), (5, vec_f32('[2e19, 2e19]'))");
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=cosine)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM t");
  for (const char* q : {"[1e-30, 0]", "[0, 1]", "[1, 0]", "[3e38, -3e38]", "[1e-45, 0]"}) {
    SCOPED_TRACE(q);
    const std::string qs = std::string("'") + q + "'";
    auto want = Query("SELECT id, vec_distance(v, " + qs + ", 'cosine') AS d FROM t ORDER BY d, id");
    auto knn = Query("SELECT rowid, distance FROM ix WHERE vector MATCH " + qs + " AND k = 5 AND exact = 1");
    auto topk = Query("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each((SELECT vec_topk(id, v, " +
                      qs + ", 5) FROM t))");
    ASSERT_EQ(knn.size(), want.size());
    ASSERT_EQ(topk.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(knn[i][0], want[i][0]) << i;
      EXPECT_EQ(topk[i][0], want[i][0]) << i;
      EXPECT_NEAR(std::stod(knn[i][1]), std::stod(want[i][1]), 1e-6) << i;
      EXPECT_NEAR(std::stod(topk[i][1]), std::stod(want[i][1]), 1e-6) << i;
    }
  }
}

// ---- 10. vecgraph_check missed garbage.

TEST_F(Trust, CheckReadsEveryColumnAndReadsNeverReturnGarbage) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=cosine)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[3, 4]'), (2, '[1, 0]'), (3, '[0, 2]')");
  ASSERT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
  // Storage format 3 keeps each vector once, as inserted; column original must stay NULL and is
  // never read (formats 1 and 2, which use it, are checked in sql_legacy_test.cpp).
  const char* garbage[] = {"'text'", "7", "X'0000C07F0000803F'", "X'000000'", "vec_f32('[4, 3]')"};
  const char* described[] = {"text 'text'", "integer 7", "a blob of 8 bytes", "a blob of 3 bytes", "a blob of 8 bytes"};
  for (size_t i = 0; i < std::size(garbage); ++i) {
    SCOPED_TRACE(garbage[i]);
    Exec("BEGIN");
    Exec(std::string("UPDATE ix_nodes SET original = ") + garbage[i] + " WHERE rowid = 1");
    EXPECT_EQ(Value("SELECT vecgraph_check('ix')"),
              std::string("row 1: column original is ") + described[i] + ", expected NULL in storage format 3");
    EXPECT_EQ(Value("SELECT vec_json(vector) FROM ix WHERE rowid = 1"), "[3,4]");
    EXPECT_EQ(Value("SELECT vec_json(vector) FROM ix WHERE vector MATCH '[3, 4]' AND k = 1"), "[3,4]");
    Exec("ROLLBACK");
  }
  // The stored vector column and the info rows too.
  Exec("BEGIN");
  Exec("UPDATE ix_nodes SET vector = 'abcdefgh' WHERE rowid = 2");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "hnsw_knn: index 'ix': row 2: column vector is text 'abcdefgh', expected a blob");
  Exec("ROLLBACK");
  Exec("BEGIN");
  Exec("UPDATE ix_info SET value = X'00' WHERE key = 'header'");
  std::string header = Value("SELECT vecgraph_check('ix')");
  EXPECT_EQ(header.rfind("hnsw_knn: index 'ix': header: ", 0), 0u) << header;
  EXPECT_EQ(Code("SELECT rowid FROM ix WHERE vector MATCH '[1, 0]' AND k = 1"), SQLITE_CORRUPT_VTAB);
  Exec("ROLLBACK");
  Exec("BEGIN");
  Exec("UPDATE ix_info SET value = 'one' WHERE key = 'format'");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"),
            "hnsw_knn: index 'ix': ix_info: storage format is text 'one', expected format 1 or 3 for a table "
            "without declared columns");
  Exec("ROLLBACK");
  Exec("BEGIN");
  Exec("UPDATE ix_info SET value = 'junk' WHERE key = 'header'");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "hnsw_knn: index 'ix': the header in ix_info is text 'junk', expected a blob");
  Exec("ROLLBACK");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM ix WHERE rowid = 1"), "[3,4]");
}

TEST_F(TrustFiles, CheckNamesACorruptHeaderOnAFreshConnection) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[1, 0]')");
  ExecOn(other_, "UPDATE ix_info SET value = X'0102' WHERE key = 'header'");
  sqlite3* fresh = nullptr;
  Open(&fresh, main_.c_str());
  auto rows = QueryOn(fresh, "SELECT vecgraph_check('ix')");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].rfind("hnsw_knn: index 'ix': header: ", 0), 0u) << rows[0][0];
  // It stays a table that can be dropped.
  EXPECT_EQ(CodeOn(fresh, "DROP TABLE ix"), SQLITE_OK);
  sqlite3_close(fresh);
}

// ---- 11. Two failed CREATEs in one transaction wedged the connection.

TEST_F(TrustFiles, FailedCreatesInATransactionDoNotWedgeTheConnection) {
  Exec("CREATE VIRTUAL TABLE good USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO good(rowid, vector) VALUES (1, '[1, 2]')");
  Exec("CREATE TABLE bad3_nodes(x)");  // a collision: xCreate runs SQL, then fails
  for (int round = 0; round < 2; ++round) {
    Exec("BEGIN");
    EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad1 USING hnsw_knn(metric=l2)"), "hnsw_knn: option 'dim' is required (e.g. dim=768)");
    EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad2 USING hnsw_knn(metric=l2)"), "hnsw_knn: option 'dim' is required (e.g. dim=768)");
    EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad3 USING hnsw_knn(dim=2)"),
              "hnsw_knn: cannot create 'bad3': its shadow table name 'bad3_nodes' is taken by a table in schema 'main'");
    EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad3 USING hnsw_knn(dim=2)"),
              "hnsw_knn: cannot create 'bad3': its shadow table name 'bad3_nodes' is taken by a table in schema 'main'");
    Exec("COMMIT");
    EXPECT_EQ(Column("SELECT rowid FROM good WHERE vector MATCH '[1, 2]' AND k = 1"), "1");
    Exec("INSERT INTO good(rowid, vector) VALUES (" + std::to_string(10 + round) + ", '[1, 3]')");
    EXPECT_EQ(Value("SELECT count(*) FROM good"), std::to_string(2 + round));
    EXPECT_EQ(Value("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'bad%'"), "1");  // bad3_nodes only
  }
  // And on a second connection, which must see a consistent schema.
  EXPECT_EQ(QueryOn(other_, "SELECT count(*) FROM good").at(0).at(0), "3");
}

// ---- 12. The smaller findings.

TEST_F(Trust, UpdateOrReplaceOfTheRowidReplaces) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("CREATE TABLE plain(id INTEGER PRIMARY KEY, v)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (4, '[4, 0]'), (5, '[5, 0]'), (6, '[6, 0]')");
  Exec("INSERT INTO plain VALUES (4, 4), (5, 5), (6, 6)");
  EXPECT_EQ(Code("UPDATE ix SET rowid = 5 WHERE rowid = 4") & 0xff, SQLITE_CONSTRAINT);
  EXPECT_EQ(Code("UPDATE plain SET id = 5 WHERE id = 4") & 0xff, SQLITE_CONSTRAINT);
  Exec("UPDATE OR IGNORE ix SET rowid = 5 WHERE rowid = 4");
  Exec("UPDATE OR IGNORE plain SET id = 5 WHERE id = 4");
  EXPECT_EQ(Column("SELECT rowid FROM ix ORDER BY rowid"), Column("SELECT id FROM plain ORDER BY id"));
  Exec("UPDATE OR REPLACE ix SET rowid = 5 WHERE rowid = 4");
  Exec("UPDATE OR REPLACE plain SET id = 5 WHERE id = 4");
  EXPECT_EQ(Column("SELECT rowid FROM ix ORDER BY rowid"), Column("SELECT id FROM plain ORDER BY id"));
  EXPECT_EQ(Column("SELECT rowid FROM ix ORDER BY rowid"), "5,6");
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM ix WHERE rowid = 5"), "[4,0]");
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[4, 0]' AND k = 3"), "5,6");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
  // INSERT OR REPLACE and OR IGNORE as before.
  Exec("INSERT OR REPLACE INTO ix(rowid, vector) VALUES (6, '[9, 9]')");
  Exec("INSERT OR IGNORE INTO ix(rowid, vector) VALUES (6, '[1, 1]')");
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM ix WHERE rowid = 6"), "[9,9]");
}

TEST_F(Trust, RepeatedCreateOptionsAreAnError) {
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=8, dim=16)"), "hnsw_knn: option 'dim' is given more than once");
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=8, metric=l2, METRIC=dot)"),
            "hnsw_knn: option 'metric' is given more than once");
  EXPECT_EQ(Value("SELECT count(*) FROM sqlite_schema"), "0");
}

TEST_F(Trust, NameCollisionsAreClearErrors) {
  Exec("CREATE TABLE x_info(a)");
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE x USING hnsw_knn(dim=2)"),
            "hnsw_knn: cannot create 'x': its shadow table name 'x_info' is taken by a table in schema 'main'");
  EXPECT_EQ(Code("CREATE VIRTUAL TABLE x USING hnsw_knn(dim=2)"), SQLITE_ERROR);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2)");
  Exec("INSERT INTO ix(rowid, vector) VALUES (1, '[1, 0]')");
  Exec("CREATE VIEW y_nodes AS SELECT 1");
  EXPECT_EQ(Error("ALTER TABLE ix RENAME TO y"),
            "hnsw_knn: cannot rename 'ix': its shadow table name 'y_nodes' is taken by a view in schema 'main'");
  EXPECT_EQ(Code("ALTER TABLE ix RENAME TO y"), SQLITE_ERROR);
  EXPECT_EQ(Column("SELECT rowid FROM ix WHERE vector MATCH '[1, 0]' AND k = 1"), "1");
  Exec("ALTER TABLE ix RENAME TO z");
  EXPECT_EQ(Column("SELECT rowid FROM z WHERE vector MATCH '[1, 0]' AND k = 1"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_check('z')"), "ok");
}

TEST_F(TrustFiles, AMalformedPageIsSqliteCorruption) {
  Exec("PRAGMA page_size = 1024");
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=8, metric=l2)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(i, 1, 2, 3, 4, 5, 6, 7) FROM s");
  // The root page of ix_nodes, overwritten with garbage.
  const int64_t page = std::stoll(Value("SELECT rootpage FROM sqlite_schema WHERE name = 'ix_nodes'"));
  sqlite3_close(other_);
  other_ = nullptr;
  sqlite3_close(db_);
  db_ = nullptr;
  FILE* f = std::fopen(main_.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, static_cast<long>((page - 1) * 1024), SEEK_SET);
  std::vector<unsigned char> junk(1024, 0xA5);
  std::fwrite(junk.data(), 1, junk.size(), f);
  std::fclose(f);
  Open(&db_, main_.c_str());
  const int rc = Code("SELECT rowid FROM ix WHERE vector MATCH '[1, 1, 2, 3, 4, 5, 6, 7]' AND k = 3");
  EXPECT_EQ(rc & 0xff, SQLITE_CORRUPT);
  EXPECT_NE(Error("SELECT rowid FROM ix WHERE vector MATCH '[1, 1, 2, 3, 4, 5, 6, 7]' AND k = 3").find("malformed"),
            std::string::npos);
}

TEST_F(Trust, Float64BlobsGetAHint) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=4, metric=l2)");
  const double d[4] = {1, 2, 3, 4};
  std::vector<float> as_floats(8);
  std::memcpy(as_floats.data(), d, sizeof d);
  const std::string hint = " (found 32 bytes = 8 float32; is this a float64 vector? vecgraph stores float32)";
  EXPECT_EQ(Error("INSERT INTO ix(rowid, vector) VALUES (1, ?1)", {as_floats}),
            "hnsw_knn: dimension mismatch: index 'ix' has dim=4, vector of row 1 has 8" + hint);
  EXPECT_EQ(Error("SELECT rowid FROM ix WHERE vector MATCH ?1 AND k = 1", {as_floats}),
            "hnsw_knn: dimension mismatch: index 'ix' has dim=4, the MATCH query has 8" + hint);
  EXPECT_EQ(Error("SELECT vec_distance(?1, '[1, 2, 3, 4]')", {as_floats}),
            "vec_distance: dimension mismatch: left has 8, right has 4" + hint);
}

TEST_F(Trust, FailedStatementsInsideATransactionKeepEarlierInserts) {
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2, metric=l2)");
  Exec("CREATE TABLE t(x UNIQUE)");
  Exec("BEGIN");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) "
       "INSERT INTO ix(rowid, vector) SELECT i, json_array(i, 0) FROM s");
  EXPECT_NE(Error("INSERT INTO ix(rowid, vector) VALUES (101, '[1e400, 0]')"), "");
  Exec("INSERT INTO t VALUES (1)");
  EXPECT_NE(Error("INSERT INTO t VALUES (1)"), "");  // a failed statement on another table
  EXPECT_NE(Error("INSERT INTO ix(rowid, vector) VALUES (5, '[5, 0]')"), "");  // UNIQUE
  Exec("COMMIT");
  EXPECT_EQ(Value("SELECT count(*) FROM ix"), "100");
  EXPECT_EQ(Value("SELECT count(*) FROM ix WHERE vector MATCH '[0, 0]' AND k = 1000"), "100");
  EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
}

TEST_F(Trust, NaNWeightsAreStoredAsNullAndCountOne) {
  // SQLite stores a NaN REAL as NULL, so spread_activation cannot tell it from NULL (1.0).
  Exec("CREATE TABLE links(src INTEGER, dst INTEGER, weight REAL)");
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO links VALUES (1, 2, ?1)", -1, &st, nullptr), SQLITE_OK);
  sqlite3_bind_double(st, 1, std::numeric_limits<double>::quiet_NaN());
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  EXPECT_EQ(Value("SELECT typeof(weight) FROM links"), "null");
  EXPECT_EQ(Value("SELECT activation FROM spread_activation('links', 1, '{\"decay\": 0.5}') WHERE node = 2"), "0.5");
}

}  // namespace
}  // namespace vecgraph::testing
