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
       "vec_distance: argument 3 (metric): expected TEXT 'cosine', 'dot', 'l2', 'hamming' or 'jaccard', found integer"},
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

// ---- typed vectors (float16, bfloat16, int8, bit)

TEST_F(VecFunctions, TypedConstructorsAndRoundTrips) {
  EXPECT_EQ(Value("SELECT hex(vec_f16('[1, -2, 0.5]'))"), "003C00C00038");
  EXPECT_EQ(Value("SELECT hex(vec_bf16('[1, -2]'))"), "803F00C0");
  EXPECT_EQ(Value("SELECT hex(vec_int8('[1, -1, 127, -128]'))"), "01FF7F80");
  EXPECT_EQ(Value("SELECT hex(vec_bit('[1,0,0,0,0,0,0,1, 0,1,0,0,0,0,0,0]'))"), "8102");  // bit i % 8 of byte i / 8
  EXPECT_EQ(Value("SELECT hex(vec_f32('[1]'))"), "0000803F");
  for (const auto& [expr, type] : std::vector<std::pair<std::string, std::string>>{
           {"vec_f16('[1]')", "float16"},      {"vec_bf16('[1]')", "bfloat16"}, {"vec_int8('[1]')", "int8"},
           {"vec_bit(X'01')", "bit"},          {"vec_f32('[1]')", "float32"},   {"X'0000803F'", "float32"},
           {"'[1, 2]'", "float32"},            {"vec_quantize_int8('[0.5]')", "int8"},
           {"vec_quantize_binary('[1,0,0,0,0,0,0,0]')", "bit"}, {"vec_normalize(vec_int8('[3, 4]'))", "float32"}}) {
    EXPECT_EQ(Value("SELECT vec_type(" + expr + ")"), type) << expr;
  }
  // An untagged BLOB given to a constructor is that type's bytes; a tagged vector is converted.
  EXPECT_EQ(Value("SELECT vec_json(vec_int8(X'FF02'))"), "[-1,2]");
  EXPECT_EQ(Value("SELECT vec_json(vec_f16(X'003C0038'))"), "[1,0.5]");
  EXPECT_EQ(Value("SELECT vec_json(vec_bit(X'05'))"), "[1,0,1,0,0,0,0,0]");
  EXPECT_EQ(Value("SELECT vec_dims(vec_bit(X'FF00'))"), "16");
  EXPECT_EQ(Value("SELECT vec_json(vec_f16(vec_int8('[3, -4]')))"), "[3,-4]");
  EXPECT_EQ(Value("SELECT hex(vec_f32(vec_f16('[1]')))"), "0000803F");
  EXPECT_EQ(Value("SELECT hex(vec_int8(vec_f32('[5, -6]')))"), "05FA");
  EXPECT_EQ(Value("SELECT vec_json(vec_f32(vec_bit(X'03')))"), "[1,1,0,0,0,0,0,0]");
  // Rounding to nearest even into the narrow float types; reading back gives the rounded value.
  EXPECT_EQ(Value("SELECT vec_json(vec_f16('[0.1, 65519, 1e-8]'))"), "[0.099975586,65504,0]");
  EXPECT_EQ(Value("SELECT vec_json(vec_bf16('[0.1, 3e38]'))"), "[0.100097656,3.0040553e+38]");
  EXPECT_EQ(Value("SELECT vec_norm(vec_int8('[3, 4]'))"), "5.0");
  // Quantizers: int8 = round(x · 127 / range) clamped to ±127 (ties to even); bit = sign.
  EXPECT_EQ(Value("SELECT hex(vec_quantize_int8('[0.5, -1, 2, 0]'))"), "40817F00");
  EXPECT_EQ(Value("SELECT hex(vec_quantize_int8('[5, -10]', 10))"), "4081");
  EXPECT_EQ(Value("SELECT hex(vec_quantize_int8('[1]', 'UNIT'))"), "7F");
  EXPECT_EQ(Value("SELECT vec_quantize_int8('[1]', NULL)"), "NULL");
  EXPECT_EQ(Value("SELECT hex(vec_quantize_binary('[1,-1,0,2,0,0,0,0]'))"), "09");
  EXPECT_EQ(Value("SELECT hex(vec_quantize_binary(vec_int8('[1,-1,0,2,0,0,0,0]')))"), "09");
  for (const char* f : {"vec_f16", "vec_bf16", "vec_int8", "vec_bit", "vec_type", "vec_quantize_int8",
                        "vec_quantize_binary"}) {
    EXPECT_EQ(Value(std::string("SELECT ") + f + "(NULL)"), "NULL") << f;
  }
  // Stored, a BLOB loses its tag: read back untagged (float32) unless its type is said.
  Exec("CREATE TABLE s(v BLOB)");
  Exec("INSERT INTO s VALUES (vec_int8('[1, 2, 3, 4]'))");
  EXPECT_EQ(Value("SELECT vec_type(v) FROM s"), "float32");
  EXPECT_EQ(Value("SELECT vec_dims(v) FROM s"), "1");
  EXPECT_EQ(Value("SELECT vec_json(vec_int8(v)) FROM s"), "[1,2,3,4]");
  EXPECT_EQ(Value("SELECT vec_distance(vec_int8(v), vec_int8('[1, 2, 3, 6]')) FROM s"), "2.0");
}

TEST_F(VecFunctions, TypedMetrics) {
  EXPECT_EQ(Value("SELECT vec_distance(vec_int8('[1, 2]'), vec_int8('[4, 6]'))"), "5.0");
  EXPECT_EQ(Value("SELECT vec_distance(vec_f16('[1, 0]'), vec_f16('[0, 1]'), 'cosine')"), "1.0");
  EXPECT_EQ(Value("SELECT vec_similarity(vec_bf16('[1, 2]'), vec_bf16('[3, 4]'), 'dot')"), "11.0");
  EXPECT_EQ(Value("SELECT vec_distance(vec_bit(X'0F'), vec_bit(X'F1'))"), "7.0");  // hamming by default
  EXPECT_EQ(Value("SELECT vec_distance(vec_bit(X'0F'), vec_bit(X'F1'), 'HAMMING')"), "7.0");
  EXPECT_EQ(Value("SELECT vec_distance(vec_bit(X'0F'), vec_bit(X'03'), 'jaccard')"), "0.5");
  EXPECT_EQ(Value("SELECT vec_similarity(vec_bit(X'0F'), vec_bit(X'03'))"), "0.5");  // jaccard
  EXPECT_EQ(Value("SELECT vec_distance(vec_bit(X'00'), vec_bit(X'00'), 'jaccard')"), "0.0");
  // Every metric of every numeric type against a float64 loop over the stored (rounded) elements.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-3, 3);
  std::uniform_int_distribution<int> ui(-128, 127);
  for (const char* type : {"vec_f16", "vec_bf16", "vec_int8", "vec_f32"}) {
    for (int dims : {1, 7, 64, 301}) {
      auto make = [&] {
        std::string j = "[";
        for (int i = 0; i < dims; ++i) {
          if (i) j += ',';
          j += std::string(type) == "vec_int8" ? std::to_string(ui(rng)) : std::to_string(u(rng));
        }
        return j + "]";
      };
      const std::string a = make(), b = make();
      auto elems = [&](const std::string& j) {
        std::string back = Value("SELECT vec_json(" + std::string(type) + "('" + j + "'))");
        std::vector<double> v;
        for (size_t p = 1; p < back.size();) {
          size_t q = back.find_first_of(",]", p);
          v.push_back(std::stod(back.substr(p, q - p)));
          p = q + 1;
        }
        return v;
      };
      const std::vector<double> x = elems(a), y = elems(b);
      ASSERT_EQ(x.size(), static_cast<size_t>(dims));
      double dot = 0, nx = 0, ny = 0, l2 = 0;
      for (int i = 0; i < dims; ++i) {
        dot += x[i] * y[i];
        nx += x[i] * x[i];
        ny += y[i] * y[i];
        l2 += (x[i] - y[i]) * (x[i] - y[i]);
      }
      const double want[3] = {std::sqrt(l2), -dot, 1 - dot / std::sqrt(nx * ny)};
      const char* metrics[3] = {"l2", "dot", "cosine"};
      for (int m = 0; m < 3; ++m) {
        const std::string sql = "SELECT vec_distance(" + std::string(type) + "('" + a + "'), " + type + "('" + b +
                                "'), '" + metrics[m] + "')";
        const double got = std::stod(Value(sql));
        EXPECT_NEAR(got, want[m], 2e-6 * (1 + std::fabs(want[m])) * std::sqrt(dims)) << type << " " << metrics[m] << " " << dims;
      }
    }
  }
}

TEST_F(VecFunctions, TypedErrors) {
  struct Case {
    const char* sql;
    const char* message;
  } cases[] = {
      {"SELECT vec_f16('[1, 70000]')", "vec_f16: argument 1 (vector): element 1 is 70000: beyond float16's range (largest ±65504)"},
      {"SELECT vec_bf16('[1e39]')",
       "vec_bf16: argument 1 (vector): element 0 is out of range: '1e39' does not fit float32 (largest magnitude "
       "3.4028235e+38)"},
      {"SELECT vec_bf16('[3.3962e38]')",
       "vec_bf16: argument 1 (vector): element 0 is 3.3962e+38: beyond bfloat16's range (largest ±3.3895314e38)"},
      {"SELECT vec_int8('[1.5]')",
       "vec_int8: argument 1 (vector): element 0 is 1.5: an int8 element must be an integer in -128..127 "
       "(vec_quantize_int8 scales and rounds)"},
      {"SELECT vec_int8('[-129]')",
       "vec_int8: argument 1 (vector): element 0 is -129: an int8 element must be an integer in -128..127 "
       "(vec_quantize_int8 scales and rounds)"},
      {"SELECT vec_bit('[1, 0]')", "vec_bit: argument 1 (vector): a bit vector's dimension must be a multiple of 8, found 2 elements"},
      {"SELECT vec_bit('[2,0,0,0,0,0,0,0]')",
       "vec_bit: argument 1 (vector): element 0 is 2: a bit element must be 0 or 1 (vec_quantize_binary takes signs)"},
      {"SELECT vec_f16(X'007C')", "vec_f16: argument 1 (vector): element 0 is infinite: expected a finite number"},
      {"SELECT vec_bf16(X'C17F')", "vec_bf16: argument 1 (vector): element 0 is NaN: expected a finite number"},
      {"SELECT vec_f16(X'00')",
       "vec_f16: argument 1 (vector): BLOB of 1 bytes is not a float16 vector: length must be a multiple of 2"},
      {"SELECT vec_int8(X'')", "vec_int8: argument 1 (vector): empty vector: expected at least 1 element"},
      {"SELECT vec_int8(vec_f16('[0.5]'))",
       "vec_int8: argument 1 (vector): converting a float16 vector to int8: element 0 is 0.5: an int8 element must be "
       "an integer in -128..127 (vec_quantize_int8 scales and rounds)"},
      {"SELECT vec_f16(vec_f32('[1e6]'))",
       "vec_f16: argument 1 (vector): converting a float32 vector to float16: element 0 is 1e+06: beyond float16's "
       "range (largest ±65504)"},
      {"SELECT vec_int8(42)", "vec_int8: argument 1 (vector): expected a vector (float32 BLOB or JSON array TEXT), found integer"},
      {"SELECT vec_distance(vec_int8('[1,2,3,4]'), X'0000803F')",
       "vec_distance: type mismatch: a is int8, b is float32 (an untagged BLOB or a JSON array is float32: say the "
       "type of a stored BLOB with vec_f16(), vec_bf16(), vec_int8() or vec_bit(), or convert one side)"},
      {"SELECT vec_similarity(vec_f16('[1,2]'), vec_bf16('[1,2]'))",
       "vec_similarity: type mismatch: a is float16, b is bfloat16 (an untagged BLOB or a JSON array is float32: say "
       "the type of a stored BLOB with vec_f16(), vec_bf16(), vec_int8() or vec_bit(), or convert one side)"},
      {"SELECT vec_distance(vec_bit(X'01'), vec_bit(X'03'), 'l2')",
       "vec_distance: argument 3 (metric): 'l2' is not a metric of bit vectors: expected 'hamming' or 'jaccard'"},
      {"SELECT vec_similarity(vec_bit(X'01'), vec_bit(X'03'), 'hamming')",
       "vec_similarity: argument 3 (metric): 'hamming' is not a metric of bit vectors: expected 'jaccard'"},
      {"SELECT vec_distance(vec_int8('[1]'), vec_int8('[2]'), 'hamming')",
       "vec_distance: argument 3 (metric): 'hamming' is a metric of bit vectors; a and b are int8 vectors"},
      {"SELECT vec_distance(vec_bit(X'01'), vec_bit(X'0300'))", "vec_distance: dimension mismatch: left has 8, right has 16"},
      {"SELECT vec_quantize_int8('[1]', 0)",
       "vec_quantize_int8: argument 2 (range): range must be a finite number > 0, found 0"},
      {"SELECT vec_quantize_int8('[1]', -1e400)",
       "vec_quantize_int8: argument 2 (range): range must be a finite number > 0, found -inf"},
      {"SELECT vec_quantize_int8('[1]', 'half')",
       "vec_quantize_int8: argument 2 (range): expected a number > 0 or 'unit', found 'half'"},
      {"SELECT vec_quantize_int8('[1]', X'00')",
       "vec_quantize_int8: argument 2 (range): expected a number > 0 or 'unit', found blob"},
      {"SELECT vec_quantize_int8(vec_bit(X'01'))",
       "vec_quantize_int8: argument 1 (vector): expected a numeric vector, found a bit vector"},
      {"SELECT vec_quantize_binary('[1, 2, 3]')",
       "vec_quantize_binary: argument 1 (vector): a bit vector's dimension must be a multiple of 8, found 3 elements"},
      {"SELECT vec_topk(1, vec_f16('[1,2]'), '[1]', 1)",
       "vec_topk: argument 2 (vector): expected a float32 vector, found float16 (vec_f32() converts it)"},
      {"SELECT vec_topk(1, '[1]', vec_int8('[1,2,3,4]'), 1)",  // a typed query reads rows as its type
       "vec_topk: argument 2 (vector) of row id 1: dimension mismatch: the row has 1, the query has 4"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.sql), c.message) << c.sql;
}

// A BLOB tagged by another extension with a subtype that is no vector type is refused wherever
// a vector is read; so is a query that changes type between the rows of a group.
TEST_F(VecFunctions, ForeignSubtypesAndChangingQueryTypesAreErrors) {
  auto tag99 = [](sqlite3_context* ctx, int, sqlite3_value** argv) {
    sqlite3_result_value(ctx, argv[0]);
    sqlite3_result_subtype(ctx, 99);
  };
  ASSERT_EQ(sqlite3_create_function_v2(db_, "tag99", 1, SQLITE_UTF8 | 0x001000000, nullptr, tag99, nullptr, nullptr,
                                       nullptr),
            SQLITE_OK);
  const std::string msg =
      "BLOB tagged with subtype 99, which is no vector type (float32 223, bit 224, int8 225, float16 226, bfloat16 227)";
  auto with = [&msg](const char* prefix) {
    std::string out(prefix);
    out.append(msg);
    return out;
  };
  EXPECT_EQ(Error("SELECT vec_dims(tag99(X'0000803F'))"), with("vec_dims: argument 1 (vector): "));
  EXPECT_EQ(Error("SELECT vec_distance(tag99(X'0000803F'), X'0000803F')"), with("vec_distance: argument 1 (a): "));
  EXPECT_EQ(Error("SELECT vec_topk(1, tag99(X'0000803F'), '[1]', 1)"), with("vec_topk: argument 2 (vector): "));
  EXPECT_EQ(Error("SELECT vec_topk(1, '[1]', tag99(X'0000803F'), 1)"), with("vec_topk: argument 3 (query): "));
  Exec("CREATE VIRTUAL TABLE h99 USING hnsw_knn(dim=1)");
  EXPECT_EQ(Error("INSERT INTO h99(rowid, vector) VALUES (1, tag99(X'0000803F'))"),
            with("hnsw_knn: column vector of row 1: "));
  // The same two bytes as an int8 query on one row and a float16 one on the next.
  EXPECT_EQ(Error("SELECT vec_topk(id, v, CASE id WHEN 1 THEN vec_int8(X'0102') ELSE vec_f16(X'0102') END, 1) "
                  "FROM (SELECT 1 AS id, X'0102' AS v UNION ALL SELECT 2, X'0102')"),
            "vec_topk: argument 3 (query): must be the same for every row of a group, found a different value");
}

// A typed value where a float32 vector is stored is refused, never misread: a float16 vector of
// 8 elements has the 16 bytes of a float32 vector of 4.
TEST_F(VecFunctions, TypedValuesAreNotMisreadByFloatColumns) {
  Exec("CREATE VIRTUAL TABLE h USING hnsw_knn(dim=4)");
  EXPECT_EQ(Error("INSERT INTO h(rowid, vector) VALUES (1, vec_f16('[1,2,3,4,5,6,7,8]'))"),
            "hnsw_knn: column vector of row 1: expected a float32 vector, found float16 (vec_f32() converts it)");
  Exec("INSERT INTO h(rowid, vector) VALUES (1, vec_f32(vec_f16('[1,2,3,4]')))");
  EXPECT_EQ(Error("SELECT rowid FROM h WHERE vector MATCH vec_bf16('[1,2,3,4,5,6,7,8]') AND k = 1"),
            "hnsw_knn: MATCH query: expected a float32 vector, found bfloat16 (vec_f32() converts it)");
  EXPECT_EQ(Value("SELECT rowid FROM h WHERE vector MATCH vec_f32(vec_int8('[1,2,3,4]')) AND k = 1"), "1");
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

// A typed query makes vec_topk typed: untagged row BLOBs are of the query's type, distances are
// vec_distance's on the same typed vectors, ties by the smaller id.
TEST_F(VecTopk, TypedQueriesRankLikeVecDistance) {
  Exec("CREATE TABLE ty(id INTEGER PRIMARY KEY, i8 BLOB, h BLOB, b BLOB, bits BLOB)");
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> ui(-128, 127);
  std::uniform_real_distribution<float> u(-2, 2);
  auto json = [&](int dims, bool ints) {
    std::string j = "[";
    for (int i = 0; i < dims; ++i) {
      if (i) j += ',';
      j += ints ? std::to_string(ui(rng)) : std::to_string(u(rng));
    }
    return j + "]";
  };
  Exec("BEGIN");
  for (int id = 1; id <= 300; ++id) {
    Exec("INSERT INTO ty VALUES (" + std::to_string(id) + ", vec_int8('" + json(37, true) + "'), vec_f16('" +
         json(37, false) + "'), vec_bf16('" + json(37, false) + "'), vec_quantize_binary('" + json(40, false) + "'))");
  }
  Exec("INSERT INTO ty VALUES (301, vec_int8('" + json(37, true) + "'), NULL, NULL, NULL)");  // NULLs skipped
  Exec("COMMIT");
  struct Form {
    const char* col;
    const char* ctor;
    std::string query;
    std::vector<const char*> metrics;
  };
  const std::vector<Form> forms = {{"i8", "vec_int8", json(37, true), {"cosine", "dot", "l2"}},
                                   {"h", "vec_f16", json(37, false), {"cosine", "dot", "l2"}},
                                   {"b", "vec_bf16", json(37, false), {"cosine", "l2"}},
                                   {"bits", "vec_bit", "", {"hamming", "jaccard"}}};
  for (const Form& f : forms) {
    const std::string q = f.query.empty() ? "vec_quantize_binary('" + json(40, false) + "')"
                                          : std::string(f.ctor) + "('" + f.query + "')";
    for (const char* m : f.metrics) {
      SCOPED_TRACE(std::string(f.col) + " " + m);
      std::vector<Row> want = Query(std::string("SELECT id, vec_distance(") + f.ctor + "(" + f.col + "), " + q +
                                    ", '" + m + "') AS d FROM ty WHERE " + f.col + " IS NOT NULL ORDER BY d, id LIMIT 7");
      // Rows as stored (untagged) and wrapped in their constructor (tagged): the same answer.
      for (const std::string& row : {std::string(f.col), std::string(f.ctor) + "(" + f.col + ")"}) {
        std::vector<Row> got = Query("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each("
                                     "(SELECT vec_topk(id, " + row + ", " + q + ", 7, '" + m + "') FROM ty))");
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i][0], want[i][0]) << "rank " << i;
          EXPECT_NEAR(std::stod(got[i][1]), std::stod(want[i][1]), 1e-6 * (1 + std::fabs(std::stod(want[i][1]))));
        }
      }
    }
  }
  EXPECT_EQ(Value("SELECT vec_topk(id, v, vec_bit(X'0F'), 2) FROM (SELECT 1 AS id, X'0E' AS v UNION ALL "
                  "SELECT 2, X'F0')"),
            "[[1,1],[2,8]]");  // hamming by default for bit queries
  // Errors name the row and both types.
  EXPECT_EQ(Error("SELECT vec_topk(id, vec_f16(i8), vec_int8('[1]'), 1) FROM ty WHERE id = 1"),
            "vec_f16: argument 1 (vector): BLOB of 37 bytes is not a float16 vector: length must be a multiple of 2");
  EXPECT_EQ(Error("SELECT vec_topk(id, vec_f16(h), vec_int8('" + json(37, true) + "'), 1) FROM ty WHERE id = 1"),
            "vec_topk: argument 2 (vector) of row id 1: expected a vector of the query's type (int8), found float16");
  EXPECT_EQ(Error("SELECT vec_topk(id, i8, vec_int8('[1, 2]'), 1) FROM ty WHERE id = 1"),
            "vec_topk: argument 2 (vector) of row id 1: dimension mismatch: the row has 37, the query has 2");
  EXPECT_EQ(Error("SELECT vec_topk(id, bits, vec_bit(X'01'), 1, 'l2') FROM ty"),
            "vec_topk: argument 5 (metric): 'l2' is not a metric of bit vectors: expected 'hamming' or 'jaccard'");
  EXPECT_EQ(Error("SELECT vec_topk(id, i8, vec_int8('[1]'), 1, 'hamming') FROM ty"),
            "vec_topk: argument 5 (metric): unknown metric 'hamming': expected 'cosine', 'dot' or 'l2'");
  EXPECT_EQ(Error("SELECT vec_topk(id, i8, vec_int8('[1]'), 1, 7) FROM ty"),
            "vec_topk: argument 5 (metric): expected TEXT 'cosine', 'dot' or 'l2', found integer");
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
