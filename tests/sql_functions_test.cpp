// SQL-level tests of the vector functions and vec_topk through the C API: result rows and the
// exact error text.
#include <cmath>
#include <random>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class VecFunctions : public SqlTest {};

TEST_F(VecFunctions, VersionAndInfo) {
  EXPECT_EQ(Value("SELECT vecgraph_version()"), "0.1.0");
  EXPECT_EQ(Value("SELECT json_valid(vecgraph_info())"), "1");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_info(), '$.version')"), "0.1.0");
  std::string simd = Value("SELECT json_extract(vecgraph_info(), '$.simd')");
  EXPECT_TRUE(simd == "avx512" || simd == "avx2" || simd == "sse4.2" || simd == "sse2" || simd == "neon" ||
              simd == "scalar")
      << simd;
  EXPECT_GE(std::stoi(Value("SELECT json_extract(vecgraph_info(), '$.threads')")), 1);
  EXPECT_EQ(Value("SELECT json_type(vecgraph_info(), '$.cuda_compiled') IN ('true','false')"), "1");
  // No GPU on this machine (and CI): gpu is JSON null. With a GPU it is an object.
  std::string gpu_type = Value("SELECT json_type(vecgraph_info(), '$.gpu')");
  EXPECT_TRUE(gpu_type == "null" || gpu_type == "object") << gpu_type;
  EXPECT_EQ(Value("SELECT json_type(vecgraph_info(), '$.executor.mode')"), "text");
}

TEST_F(VecFunctions, Codecs) {
  EXPECT_EQ(Value("SELECT hex(vec_f32('[1, -2]'))"), "0000803F000000C0");
  EXPECT_EQ(Value("SELECT vec_json(vec_f32('[1.5, -2, 0.1]'))"), "[1.5,-2,0.1]");
  EXPECT_EQ(Value("SELECT vec_json(X'0000803F000000C0')"), "[1,-2]");
  EXPECT_EQ(Value("SELECT vec_dims('[1,2,3]')"), "3");
  EXPECT_EQ(Value("SELECT vec_dims(vec_f32('[1,2,3,4]'))"), "4");
  EXPECT_EQ(Value("SELECT vec_norm('[3,4]')"), "5.0");
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[3,4]'))"), "[0.6,0.8]");
  EXPECT_EQ(Value("SELECT vec_json(vec_normalize('[0,0]'))"), "[0,0]");
  EXPECT_EQ(Value("SELECT typeof(vec_f32('[1]'))"), "blob");
}

TEST_F(VecFunctions, NullInNullOut) {
  for (const char* sql : {"SELECT vec_f32(NULL)", "SELECT vec_json(NULL)", "SELECT vec_dims(NULL)",
                          "SELECT vec_norm(NULL)", "SELECT vec_normalize(NULL)", "SELECT vec_similarity(NULL, '[1]')",
                          "SELECT vec_similarity('[1]', NULL)", "SELECT vec_distance('[1]', '[1]', NULL)",
                          "SELECT vec_distance(NULL, NULL)"}) {
    EXPECT_EQ(Value(sql), "NULL") << sql;
  }
}

TEST_F(VecFunctions, SimilarityAndDistance) {
  EXPECT_EQ(Value("SELECT vec_similarity('[1,0]', '[0,1]')"), "0.0");
  EXPECT_EQ(Value("SELECT vec_similarity('[1,2]', '[2,4]')"), "1.0");
  EXPECT_EQ(Value("SELECT vec_similarity('[1,2]', '[3,4]', 'dot')"), "11.0");
  EXPECT_EQ(Value("SELECT vec_distance('[0,0]', '[3,4]')"), "5.0");
  EXPECT_EQ(Value("SELECT vec_distance('[0,0]', '[3,4]', 'l2')"), "5.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1,2]', '[3,4]', 'dot')"), "-11.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1,0]', '[-1,0]', 'cosine')"), "2.0");
  EXPECT_EQ(Value("SELECT vec_distance('[1,0]', '[0,1]', 'COSINE')"), "1.0");
  // Zero vectors: cosine similarity 0, distance 1, never NaN.
  EXPECT_EQ(Value("SELECT vec_similarity('[0,0]', '[1,1]')"), "0.0");
  EXPECT_EQ(Value("SELECT vec_distance('[0,0]', '[0,0]', 'cosine')"), "1.0");
  // BLOB and JSON mix.
  EXPECT_EQ(Value("SELECT vec_distance(vec_f32('[0,0]'), '[3,4]')"), "5.0");
}

TEST_F(VecFunctions, ErrorMessages) {
  struct Case {
    const char* sql;
    const char* message;
  } cases[] = {
      {"SELECT vec_dims(X'000000')",
       "vec_dims: argument 1 (vector): BLOB of 3 bytes is not a float32 vector: length must be a multiple of 4"},
      {"SELECT vec_dims('[1, 2')", "vec_dims: argument 1 (vector): malformed JSON vector: unexpected end of text, expected ']'"},
      {"SELECT vec_json('[1, \"x\"]')", "vec_json: argument 1 (vector): element 1 is not a JSON number: found '\"x\"]'"},
      {"SELECT vec_norm('[]')", "vec_norm: argument 1 (vector): empty vector: expected at least 1 element"},
      {"SELECT vec_f32(X'')", "vec_f32: argument 1 (vector): empty vector: expected at least 1 element"},
      {"SELECT vec_f32(X'0000C07F')", "vec_f32: argument 1 (vector): element 0 is NaN: expected a finite number"},
      {"SELECT vec_f32(X'0000807F')", "vec_f32: argument 1 (vector): element 0 is infinite: expected a finite number"},
      {"SELECT vec_similarity('[1,2,3]', '[1,2]')", "vec_similarity: dimension mismatch: left has 3, right has 2"},
      {"SELECT vec_distance('[1]', '[1]', 'manhattan')",
       "vec_distance: argument 3 (metric): unknown metric 'manhattan': expected 'cosine', 'dot' or 'l2'"},
      {"SELECT vec_similarity('[1]', '[1]', 'l2')",
       "vec_similarity: argument 3 (metric): unknown metric 'l2': expected 'cosine' or 'dot'"},
      {"SELECT vec_distance('[1]', '[1]', 3)",
       "vec_distance: argument 3 (metric): expected TEXT 'cosine', 'dot' or 'l2', found integer"},
      {"SELECT vec_dims(42)", "vec_dims: argument 1 (vector): expected a vector (float32 BLOB or JSON array TEXT), found integer"},
      {"SELECT vec_distance('[1]', 4.5)",
       "vec_distance: argument 2 (b): expected a vector (float32 BLOB or JSON array TEXT), found real"},
      {"SELECT vec_dims(zeroblob(65537 * 4))",
       "vec_dims: argument 1 (vector): vector has 65537 dimensions, more than the maximum 65536"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.sql), c.message) << c.sql;
  // The connection stays usable after errors.
  EXPECT_EQ(Value("SELECT vec_dims('[1]')"), "1");
}

// ---- vec_topk

class VecTopk : public SqlTest {
 protected:
  void Fill(int n, int dims, unsigned seed = 1, bool with_nulls = false) {
    Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB, grp INTEGER)");
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "INSERT INTO t VALUES (?, ?, ?)", -1, &st, nullptr);
    Exec("BEGIN");
    for (int i = 1; i <= n; ++i) {
      std::vector<float> v(static_cast<size_t>(dims));
      for (float& x : v) x = nd(rng);
      sqlite3_bind_int(st, 1, i * 7 % 100003);
      if (with_nulls && i % 10 == 0) sqlite3_bind_null(st, 2);
      else sqlite3_bind_blob(st, 2, v.data(), dims * 4, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 3, i % 3);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
    Exec("COMMIT");
    sqlite3_finalize(st);
    query_.resize(static_cast<size_t>(dims));
    for (float& x : query_) x = nd(rng);
  }

  // The brute-force reference with vec_distance, as "id:distance" lines.
  std::vector<Row> Reference(const std::string& metric, int k, const std::string& where = "1") {
    return Query("SELECT id, vec_distance(e, ?1, '" + metric + "') AS d FROM t WHERE e IS NOT NULL AND " + where +
                     " ORDER BY d, id LIMIT " + std::to_string(k),
                 {query_});
  }
  std::vector<Row> Topk(const std::string& metric, int k, const std::string& where = "1") {
    return Query("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each("
                 "(SELECT vec_topk(id, e, ?1, " + std::to_string(k) + ", '" + metric + "') FROM t WHERE " + where + "))",
                 {query_});
  }
  void ExpectSame(const std::vector<Row>& got, const std::vector<Row>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i][0], want[i][0]) << "rank " << i;
      double g = std::stod(got[i][1]), w = std::stod(want[i][1]);
      EXPECT_NEAR(g, w, 1e-6 * (1 + std::fabs(w))) << "rank " << i;
    }
  }
  std::vector<float> query_;
};

TEST_F(VecTopk, MatchesBruteForceForEveryMetric) {
  Fill(3000, 67);
  for (const char* m : {"cosine", "dot", "l2"}) {
    for (int k : {1, 10, 100}) ExpectSame(Topk(m, k), Reference(m, k));
  }
}

TEST_F(VecTopk, DefaultMetricIsCosine) {
  Fill(500, 8);
  EXPECT_EQ(Value("SELECT vec_topk(id, e, ?1, 5) FROM t", {query_}),
            Value("SELECT vec_topk(id, e, ?1, 5, 'cosine') FROM t", {query_}));
}

TEST_F(VecTopk, FilterFirstThenRankNeverShort) {
  Fill(5000, 16);
  ExpectSame(Topk("l2", 50, "grp = 1 AND id % 5 = 0"), Reference("l2", 50, "grp = 1 AND id % 5 = 0"));
  // A very selective filter still returns every qualifying row.
  auto few = Topk("cosine", 100, "id < 300");
  EXPECT_EQ(few.size(), Reference("cosine", 1000, "id < 300").size());
}

TEST_F(VecTopk, UnderJoinAndGroupBy) {
  Fill(2000, 12);
  Exec("CREATE TABLE keep(id INTEGER PRIMARY KEY)");
  Exec("INSERT INTO keep SELECT id FROM t WHERE id % 3 = 0");
  auto got = Query("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each("
                   "(SELECT vec_topk(t.id, t.e, ?1, 20, 'l2') FROM t JOIN keep USING (id)))",
                   {query_});
  ExpectSame(got, Reference("l2", 20, "id % 3 = 0"));
  auto groups = Query("SELECT grp, json_array_length(vec_topk(id, e, ?1, 4)) FROM t GROUP BY grp ORDER BY grp", {query_});
  ASSERT_EQ(groups.size(), 3u);
  for (const Row& r : groups) EXPECT_EQ(r[1], "4");
}

TEST_F(VecTopk, NullsEmptyAndLargeK) {
  Fill(100, 4, 5, /*with_nulls=*/true);
  EXPECT_EQ(Value("SELECT json_array_length(vec_topk(id, e, ?1, 1000)) FROM t", {query_}), "90");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, ?1, 10) FROM t WHERE 0", {query_}), "[]");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, ?1, 10) FROM t WHERE e IS NULL", {query_}), "[]");
}

TEST_F(VecTopk, TiesBySmallerId) {
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB)");
  Exec("INSERT INTO t VALUES (5, vec_f32('[1,0]')), (2, vec_f32('[1,0]')), (9, vec_f32('[0,1]')), (3, vec_f32('[1,0]'))");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, '[1,0]', 3, 'l2') FROM t"), "[[2,0],[3,0],[5,0]]");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, '[1,0]', 10, 'l2') FROM t"), "[[2,0],[3,0],[5,0],[9,1.4142135]]");
}

TEST_F(VecTopk, JsonVectorsAndCrossingBatches) {
  // Enough rows of 3 dims to cross many internal batches.
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, e TEXT)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000) "
       "INSERT INTO t SELECT i, json_array(i % 1000, (i * 7) % 1000, 1) FROM s");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, '[500, 500, 1]', 2, 'l2') FROM t"), "[[500,0],[1500,0]]");
}

TEST_F(VecTopk, Errors) {
  Fill(10, 4);
  struct Case {
    std::string sql;
    std::string message;
  } cases[] = {
      {"SELECT vec_topk(id, e, ?1, 0) FROM t", "vec_topk: argument 4 (k): expected an integer >= 1, found integer 0"},
      {"SELECT vec_topk(id, e, ?1, 'ten') FROM t", "vec_topk: argument 4 (k): expected an integer >= 1, found text 'ten'"},
      {"SELECT vec_topk(id, e, ?1, 3, 'hamming') FROM t",
       "vec_topk: argument 5 (metric): unknown metric 'hamming': expected 'cosine', 'dot' or 'l2'"},
      {"SELECT vec_topk(id, e, '[1,2,3]', 3) FROM t", "vec_topk: dimension mismatch: row id 7 has 4, query has 3"},
      {"SELECT vec_topk(id, e, NULL, 3) FROM t",
       "vec_topk: argument 3 (query): expected a vector (float32 BLOB or JSON array TEXT), found null"},
      {"SELECT vec_topk(id, e, 5, 3) FROM t",
       "vec_topk: argument 3 (query): expected a vector (float32 BLOB or JSON array TEXT), found integer"},
      {"SELECT vec_topk('a' || id, e, ?1, 3) FROM t", "vec_topk: argument 1 (id): expected INTEGER, found text"},
      {"SELECT vec_topk(id, e, json_array(id, 1, 1, 1), 3) FROM t",
       "vec_topk: argument 3 (query): must be the same for every row of a group, found a different value"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.sql, {query_}), c.message) << c.sql;
  Exec("INSERT INTO t VALUES (999999, X'0000C07F0000803F0000803F0000803F', 0)");
  EXPECT_EQ(Error("SELECT vec_topk(id, e, ?1, 3) FROM t", {query_}),
            "vec_topk: argument 2 (vector) of row id 999999: element 0 is NaN: expected a finite number");
  Exec("INSERT INTO t VALUES (1000000, X'00', 0)");
  EXPECT_EQ(Error("SELECT vec_topk(id, e, ?1, 3) FROM t WHERE id = 1000000", {query_}),
            "vec_topk: argument 2 (vector) of row id 1000000: BLOB of 1 bytes is not a float32 vector: length must be "
            "a multiple of 4");
  EXPECT_EQ(Value("SELECT vec_dims('[1]')"), "1");
}

}  // namespace
}  // namespace vecgraph::testing
