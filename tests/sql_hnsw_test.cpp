// hnsw_knn through SQL: the contract, transactions, persistence, other connections and
// processes, crashes, filtered and batched search, bad input and corrupted shadow tables.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

std::string TempPath() {
  char path[] = "/tmp/vecgraph_hnsw_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  return path;
}

std::vector<float> RandomVec(std::mt19937& rng, int dims) {
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(dims));
  for (float& x : v) x = nd(rng);
  return v;
}

class Hnsw : public SqlTest {
 protected:
  // vecgraph_check's text, or the error it fails with (a table whose header is unreadable does
  // not even connect).
  static std::string CheckText(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, "SELECT vecgraph_check('idx')", -1, &st, nullptr) != SQLITE_OK) return sqlite3_errmsg(db);
    if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    else out = sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return out;
  }
  // docs(id, emb, grp) with n random vectors; idx over it.
  void Fill(int n, int dims, const std::string& metric = "cosine", const std::string& extra = "") {
    dims_ = dims;
    Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, emb BLOB, grp INTEGER)");
    std::mt19937 rng(5);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "INSERT INTO docs VALUES (?, ?, ?)", -1, &st, nullptr);
    Exec("BEGIN");
    for (int i = 1; i <= n; ++i) {
      auto v = RandomVec(rng, dims);
      sqlite3_bind_int(st, 1, i);
      sqlite3_bind_blob(st, 2, v.data(), dims * 4, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 3, i % 1000);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
    Exec("COMMIT");
    sqlite3_finalize(st);
    Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=" + std::to_string(dims) + ", metric=" + metric + extra + ")");
    Exec("INSERT INTO idx(rowid, vector) SELECT id, emb FROM docs");
  }
  std::vector<std::string> Ids(const std::vector<Row>& rows) {
    std::vector<std::string> ids;
    for (const Row& r : rows) ids.push_back(r[0]);
    return ids;
  }
  std::vector<Row> Knn(const std::vector<float>& q, int k, const std::string& extra = "") {
    return Query("SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = " + std::to_string(k) + extra, {q});
  }
  std::vector<Row> Brute(const std::vector<float>& q, int k, const std::string& metric, const std::string& where = "1") {
    return Query("SELECT id, vec_distance(emb, ?1, '" + metric + "') AS d FROM docs WHERE " + where +
                     " ORDER BY d, id LIMIT " + std::to_string(k),
                 {q});
  }
  double Recall(const std::vector<Row>& got, const std::vector<Row>& want) {
    std::set<std::string> w;
    for (const Row& r : want) w.insert(r[0]);
    size_t hit = 0;
    for (const Row& r : got) hit += w.count(r[0]);
    return want.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(want.size());
  }
  // Every distance of a k-NN answer is the exact one (a coded walk's best nodes are re-scored from
  // the float vectors): bit for bit what the exact scan reports for the same row; ascending.
  void ExpectExactDistances(const std::vector<float>& q, const std::vector<Row>& got) {
    std::map<std::string, std::string> exact_d;
    for (const Row& r : Knn(q, 1 << 20, " AND exact = 1")) exact_d[r[0]] = r[1];
    for (size_t j = 0; j < got.size(); ++j) {
      EXPECT_EQ(got[j][1], exact_d[got[j][0]]) << got[j][0];
      if (j > 0) {
        EXPECT_LE(std::stod(got[j - 1][1]), std::stod(got[j][1]));
      }
    }
  }
  int dims_ = 0;
};

TEST_F(Hnsw, BehavesLikeATable) {
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=3)");
  Exec("INSERT INTO idx(rowid, vector) VALUES (1, '[1, 2, 3]'), (7, vec_f32('[0.5, 0, -1]'))");
  Exec("INSERT INTO idx(vector) VALUES ('[3, 2, 1]')");
  EXPECT_EQ(Value("SELECT last_insert_rowid()"), "8");
  EXPECT_EQ(Value("SELECT count(*) FROM idx"), "3");
  // The vector as inserted (cosine stores unit vectors internally, but shows the original).
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM idx WHERE rowid = 1"), "[1,2,3]");
  EXPECT_EQ(Query("SELECT rowid FROM idx WHERE rowid > 1 ORDER BY rowid"), (std::vector<Row>{{"7"}, {"8"}}));
  EXPECT_EQ(Value("SELECT group_concat(rowid) FROM idx"), "1,7,8");
  EXPECT_EQ(Query("SELECT name FROM sqlite_schema WHERE name LIKE 'idx%' ORDER BY name"),
            (std::vector<Row>{{"idx"}, {"idx_info"}, {"idx_nodes"}}));
}

TEST_F(Hnsw, ExactEqualsBruteForceAndRecallIsHigh) {
  for (const char* metric : {"cosine", "l2", "dot"}) {
    SCOPED_TRACE(metric);
    sqlite3_close(db_);
    Open(&db_);
    Fill(2000, 24, metric);
    std::mt19937 rng(9);
    double recall = 0;
    for (int i = 0; i < 20; ++i) {
      auto q = RandomVec(rng, 24);
      auto exact = Knn(q, 10, " AND exact = 1");
      auto brute = Brute(q, 10, metric);
      ASSERT_EQ(Ids(exact), Ids(brute));
      for (size_t j = 0; j < exact.size(); ++j) EXPECT_NEAR(std::stod(exact[j][1]), std::stod(brute[j][1]), 1e-5);
      recall += Recall(Knn(q, 10, " AND ef = 100"), brute);
    }
    EXPECT_GE(recall / 20, std::string(metric) == "dot" ? 0.85 : 0.95);
  }
}

// quantizer=int8 makes the walks read the 8-bit search codes at any dimension (the default only
// up to 256), quantizer=none never; the choice is in the header, and distances stay exact.
TEST_F(Hnsw, QuantizerChoosesWhatTheWalkReads) {
  Fill(1500, 300, "cosine", ", quantizer=int8");
  auto info = [&](const char* path) {
    return Value(std::string("SELECT json_extract(vecgraph_index_info('idx'), '") + path + "')");
  };
  EXPECT_EQ(info("$.vector.quantizer"), "int8");
  EXPECT_GE(std::stoll(info("$.memory_bytes.codes")), 1500LL * 300);
  EXPECT_EQ(Value("SELECT hex(substr(value, 45, 4)) FROM idx_info WHERE key = 'header'"), "02000000");
  std::mt19937 rng(11);
  double recall = 0;
  for (int i = 0; i < 10; ++i) {
    auto q = RandomVec(rng, 300);
    auto got = Knn(q, 10, " AND ef = 100");
    auto brute = Brute(q, 10, "cosine");
    recall += Recall(got, brute);
    ExpectExactDistances(q, got);
  }
  EXPECT_GE(recall / 10, 0.9);
  // Every connection uses the stored choice.
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('idx'), '$.vector.quantizer')"), "int8");
  Exec("DROP TABLE idx");
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=300)");
  EXPECT_EQ(info("$.vector.quantizer"), "none");  // the default above 256 dimensions
  Exec("DROP TABLE idx");
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=8, quantizer = 'NONE')");
  Exec("INSERT INTO idx(rowid, vector) SELECT id, vec_f32(json_array(id, 1, 2, 3, 4, 5, 6, 7)) FROM docs WHERE id <= 50");
  EXPECT_EQ(info("$.vector.quantizer"), "none");
  EXPECT_EQ(info("$.memory_bytes.codes"), "0");
  EXPECT_EQ(Value("SELECT hex(substr(value, 45, 1)) FROM idx_info WHERE key = 'header'"), "01");
  Exec("DROP TABLE idx");
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=8)");
  EXPECT_EQ(info("$.vector.quantizer"), "int8");  // the default up to 256 dimensions
  Exec("DROP TABLE idx");
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(e float[300] distance_metric=l2 quantizer=int8, tag integer)");
  EXPECT_EQ(info("$.vector.quantizer"), "int8");
  EXPECT_EQ(Error("CREATE VIRTUAL TABLE bad USING hnsw_knn(dim=8, quantizer=bit)"),
            "hnsw_knn: option 'quantizer': expected none or int8, found 'bit'");
  // A header with an unknown quantizer is corrupt, not guessed at.
  std::string header = Value("SELECT hex(value) FROM idx_info WHERE key = 'header'");
  header.replace(88, 2, "07");  // byte 44
  Exec("UPDATE idx_info SET value = X'" + header + "' WHERE key = 'header'");
  EXPECT_NE(Value("SELECT vecgraph_check('idx')").find("unknown quantizer 7"), std::string::npos);
}

// rescore=R re-scores only the walk's R·k best nodes by code distance: the answer is the best k
// of those, with exact distances; R·k at least the walk's list changes nothing.
TEST_F(Hnsw, RescoreKeepsDistancesExact) {
  Fill(1500, 300, "cosine", ", quantizer=int8, rescore=1");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('idx'), '$.vector.rescore')"), "1");
  EXPECT_EQ(Value("SELECT hex(substr(value, 45, 4)) FROM idx_info WHERE key = 'header'"), "02000100");
  Exec("CREATE VIRTUAL TABLE all_rows USING hnsw_knn(dim=300, metric=cosine, quantizer=int8)");
  Exec("CREATE VIRTUAL TABLE wide USING hnsw_knn(dim=300, metric=cosine, quantizer=int8, rescore=20)");
  Exec("INSERT INTO all_rows(rowid, vector) SELECT id, emb FROM docs");
  Exec("INSERT INTO wide(rowid, vector) SELECT id, emb FROM docs");
  EXPECT_EQ(Value("SELECT json_type(vecgraph_index_info('all_rows'), '$.vector.rescore')"), "null");
  std::mt19937 rng(13);
  double recall = 0;
  for (int i = 0; i < 10; ++i) {
    auto q = RandomVec(rng, 300);
    auto got = Knn(q, 10, " AND ef = 100");
    ASSERT_EQ(got.size(), 10u);
    ExpectExactDistances(q, got);
    recall += Recall(got, Brute(q, 10, "cosine"));
    // 20 · 10 ≥ ef 100: every node of the walk is re-scored, as without the option.
    const std::string sql = " WHERE vector MATCH ?1 AND k = 10 AND ef = 100";
    EXPECT_EQ(Query("SELECT rowid, distance FROM wide" + sql, {q}), Query("SELECT rowid, distance FROM all_rows" + sql, {q}));
  }
  EXPECT_GE(recall / 10, 0.8);
}

TEST_F(Hnsw, ResultsAreOrderedByDistance) {
  Fill(500, 8, "l2");
  std::mt19937 rng(2);
  auto rows = Knn(RandomVec(rng, 8), 25);
  ASSERT_EQ(rows.size(), 25u);
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_LE(std::stod(rows[i - 1][1]), std::stod(rows[i][1]));
  auto ordered = Query("SELECT rowid FROM idx WHERE vector MATCH ?1 AND k = 5 ORDER BY distance", {RandomVec(rng, 8)});
  EXPECT_EQ(ordered.size(), 5u);
}

TEST_F(Hnsw, FilteredSearchNeverShort) {
  Fill(5000, 16, "cosine");
  std::mt19937 rng(4);
  // grp = i % 1000: "grp < s" keeps s/1000 of the rows.
  for (int s : {1, 5, 10, 100, 500, 1000}) {
    SCOPED_TRACE(s);
    auto q = RandomVec(rng, 16);
    std::string where = "grp < " + std::to_string(s);
    auto got = Knn(q, 10, " AND rowid IN (SELECT id FROM docs WHERE " + where + ")");
    auto want = Brute(q, 10, "cosine", where);
    EXPECT_EQ(got.size(), want.size());
    EXPECT_GE(Recall(got, want), 0.9);
  }
  // Rowid ranges.
  auto q = RandomVec(rng, 16);
  auto got = Knn(q, 10, " AND rowid BETWEEN 100 AND 140");
  EXPECT_EQ(Ids(got), Ids(Brute(q, 10, "cosine", "id BETWEEN 100 AND 140")));
  EXPECT_TRUE(Knn(q, 10, " AND rowid IN (SELECT id FROM docs WHERE 0)").empty());
}

TEST_F(Hnsw, UpsertUpdateDelete) {
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=2, metric=l2)");
  Exec("INSERT INTO idx(rowid, vector) VALUES (1, '[0, 0]'), (2, '[10, 10]'), (3, '[20, 20]')");
  EXPECT_EQ(Error("INSERT INTO idx(rowid, vector) VALUES (1, '[5, 5]')"), "UNIQUE constraint failed: idx.rowid");
  Exec("INSERT OR REPLACE INTO idx(rowid, vector) VALUES (1, '[19, 19]')");
  EXPECT_EQ(Value("SELECT rowid FROM idx WHERE vector MATCH '[19, 19]' AND k = 1"), "1");
  Exec("INSERT OR IGNORE INTO idx(rowid, vector) VALUES (1, '[0, 0]')");
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM idx WHERE rowid = 1"), "[19,19]");
  Exec("UPDATE idx SET vector = '[0, 1]' WHERE rowid = 2");
  EXPECT_EQ(Value("SELECT rowid FROM idx WHERE vector MATCH '[0, 0]' AND k = 1"), "2");
  Exec("UPDATE idx SET rowid = 20 WHERE rowid = 2");
  EXPECT_EQ(Value("SELECT rowid FROM idx WHERE vector MATCH '[0, 0]' AND k = 1"), "20");
  Exec("DELETE FROM idx WHERE rowid = 20");
  EXPECT_EQ(Value("SELECT count(*) FROM idx"), "2");
  EXPECT_EQ(Value("SELECT group_concat(rowid) FROM (SELECT rowid FROM idx WHERE vector MATCH '[0, 0]' AND k = 5)"), "1,3");
  EXPECT_EQ(Value("SELECT vecgraph_check('idx')"), "ok");
  Exec("INSERT INTO idx(idx) VALUES ('optimize')");
  EXPECT_EQ(Value("SELECT vecgraph_check('idx')"), "ok");
  EXPECT_EQ(Value("SELECT count(*) FROM idx_nodes"), "2");
}

TEST_F(Hnsw, RollbackAndSavepoints) {
  Fill(300, 8, "l2");
  std::mt19937 rng(1);
  auto q = RandomVec(rng, 8);
  auto before = Knn(q, 5);
  // Writes are visible inside the transaction, gone after ROLLBACK.
  Exec("BEGIN");
  Query("INSERT INTO idx(rowid, vector) VALUES (9001, ?1)", {q});
  EXPECT_EQ(Knn(q, 1)[0][0], "9001");
  Exec("SAVEPOINT s1");
  Exec("DELETE FROM idx WHERE rowid = 9001");
  EXPECT_NE(Knn(q, 1)[0][0], "9001");
  Exec("ROLLBACK TO s1");
  EXPECT_EQ(Knn(q, 1)[0][0], "9001");
  Exec("RELEASE s1");
  Exec("ROLLBACK");
  EXPECT_EQ(Knn(q, 5), before);
  EXPECT_EQ(Value("SELECT vecgraph_check('idx')"), "ok");
  // A failing statement rolls back its own partial work.
  EXPECT_NE(Error("INSERT INTO idx(rowid, vector) SELECT id + 100000, CASE WHEN id = 250 THEN '[1]' ELSE emb END FROM docs"),
            "");
  EXPECT_EQ(Value("SELECT count(*) FROM idx"), "300");
  EXPECT_EQ(Knn(q, 5), before);
}

TEST_F(Hnsw, PersistsAndIsDeterministic) {
  std::string a = TempPath(), b = TempPath();
  for (const std::string& path : {a, b}) {
    sqlite3* db = nullptr;
    Open(&db, path.c_str());
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=4, metric=l2, m=6, ef_construction=50);"
                           "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 3000) "
                           "INSERT INTO idx(rowid, vector) SELECT i, json_array(sin(i), cos(i * 1.3), sin(i * 0.7), i % 10) FROM s;"
                           "INSERT INTO idx(rowid, vector) VALUES (5000, '[0, 0, 0, 0]');"
                           "DELETE FROM idx WHERE rowid % 7 = 0;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  sqlite3 *da = nullptr, *dbb = nullptr;
  Open(&da, a.c_str());
  Open(&dbb, b.c_str());
  // Same statements → same index, byte for byte (statement-replicated SQLite stays consistent).
  EXPECT_EQ(QueryOn(da, "SELECT rowid, hex(record) FROM idx_nodes"), QueryOn(dbb, "SELECT rowid, hex(record) FROM idx_nodes"));
  // Reopened from disk: still consistent and searchable.
  EXPECT_EQ(QueryOn(da, "SELECT vecgraph_check('idx')")[0][0], "ok");
  EXPECT_EQ(QueryOn(da, "SELECT rowid FROM idx WHERE vector MATCH '[0, 0, 0, 0]' AND k = 1")[0][0], "5000");
  EXPECT_EQ(QueryOn(da, "SELECT count(*) FROM idx")[0][0], std::to_string(3001 - 3000 / 7));
  sqlite3_close(da);
  sqlite3_close(dbb);
  unlink(a.c_str());
  unlink(b.c_str());
}

TEST_F(Hnsw, TwoConnectionsAndTwoProcesses) {
  std::string path = TempPath();
  sqlite3 *a = nullptr, *b = nullptr;
  Open(&a, path.c_str());
  Open(&b, path.c_str());
  ASSERT_EQ(sqlite3_exec(a, "CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=2, metric=l2);"
                            "INSERT INTO idx(rowid, vector) VALUES (1, '[0, 0]');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(QueryOn(b, "SELECT rowid FROM idx WHERE vector MATCH '[9, 9]' AND k = 1")[0][0], "1");
  ASSERT_EQ(sqlite3_exec(a, "INSERT INTO idx(rowid, vector) VALUES (2, '[9, 9]')", nullptr, nullptr, nullptr), SQLITE_OK);
  // b's cached index is stale: data_version tells it to reload.
  EXPECT_EQ(QueryOn(b, "SELECT rowid FROM idx WHERE vector MATCH '[9, 9]' AND k = 1")[0][0], "2");
  // Another process.
  pid_t pid = fork();
  if (pid == 0) {
    sqlite3* c = nullptr;
    if (sqlite3_open(path.c_str(), &c) != SQLITE_OK || vecgraph_register(c) != SQLITE_OK) _exit(1);
    int rc = sqlite3_exec(c, "INSERT INTO idx(rowid, vector) VALUES (3, '[5, 5]')", nullptr, nullptr, nullptr);
    sqlite3_close(c);
    _exit(rc == SQLITE_OK ? 0 : 2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(QueryOn(b, "SELECT rowid FROM idx WHERE vector MATCH '[5, 5]' AND k = 1")[0][0], "3");
  EXPECT_EQ(QueryOn(a, "SELECT rowid FROM idx WHERE vector MATCH '[5, 5]' AND k = 1")[0][0], "3");
  sqlite3_close(a);
  sqlite3_close(b);
  unlink(path.c_str());
}

TEST_F(Hnsw, SurvivesKillNineMidTransaction) {
  std::string path = TempPath();
  sqlite3* a = nullptr;
  Open(&a, path.c_str());
  ASSERT_EQ(sqlite3_exec(a, "CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=3);"
                            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) "
                            "INSERT INTO idx(rowid, vector) SELECT i, json_array(i, i % 7, 1) FROM s;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(a);
  pid_t pid = fork();
  if (pid == 0) {
    sqlite3* c = nullptr;
    sqlite3_open(path.c_str(), &c);
    vecgraph_register(c);
    sqlite3_exec(c,
                 "BEGIN; WITH RECURSIVE s(i) AS (SELECT 501 UNION ALL SELECT i + 1 FROM s WHERE i < 3000) "
                 "INSERT INTO idx(rowid, vector) SELECT i, json_array(i, i % 5, 2) FROM s;"
                 "SELECT count(*) FROM idx WHERE vector MATCH '[1, 1, 1]' AND k = 3;"  // forces the shadow writes
                 "DELETE FROM idx WHERE rowid < 100;",
                 nullptr, nullptr, nullptr);
    raise(SIGKILL);  // never commits
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  Open(&a, path.c_str());
  EXPECT_EQ(QueryOn(a, "SELECT vecgraph_check('idx')")[0][0], "ok");
  EXPECT_EQ(QueryOn(a, "SELECT count(*) FROM idx")[0][0], "500");
  EXPECT_EQ(QueryOn(a, "SELECT rowid FROM idx WHERE vector MATCH '[7, 0, 1]' AND k = 1")[0][0], "7");
  sqlite3_close(a);
  unlink(path.c_str());
}

TEST_F(Hnsw, BatchEqualsOneByOne) {
  // The graph path on every machine: with a GPU, device 'cuda' (a CUDA build's default) could take
  // the batch and answer exactly, depending on measured speed.
  Exec("SELECT vecgraph_config('device', 'none')");
  Fill(1500, 12, "cosine");
  Exec("CREATE TABLE queries(id INTEGER PRIMARY KEY, embedding BLOB)");
  Exec("INSERT INTO queries SELECT id * 10, emb FROM docs WHERE id <= 40");
  Exec("INSERT INTO queries VALUES (999, NULL)");
  auto batch = Query("SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch('idx', 'queries', 'embedding', 7)");
  std::vector<Row> single;
  for (const Row& q : Query("SELECT id, embedding FROM queries WHERE embedding IS NOT NULL ORDER BY id")) {
    auto rows = Query("SELECT " + q[0] + ", rowid, distance, row_number() OVER () FROM idx WHERE vector MATCH "
                      "(SELECT embedding FROM queries WHERE id = " + q[0] + ") AND k = 7");
    single.insert(single.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(batch, single);
  EXPECT_EQ(batch.size(), 40u * 7);
}

TEST_F(Hnsw, BatchOnADeviceIsExactAndFallsBackToTheGraph) {
  Fill(800, 8, "l2");
  Exec("CREATE TABLE queries(id INTEGER PRIMARY KEY, embedding BLOB)");
  Exec("INSERT INTO queries SELECT id, emb FROM docs WHERE id <= 30");
  const std::string batch = "SELECT query_id, rowid, rank FROM hnsw_knn_batch('idx', 'queries', 'embedding', 5)";
  Exec("SELECT vecgraph_config('device', 'none')");  // the graph's answer, on any machine
  auto cpu = Query(batch);
  // The simulated device answers with the exact top-k (what a GPU does over resident vectors).
  Exec("SELECT vecgraph_config('device', 'simulated'), vecgraph_config('mode', 'gpu')");
  auto device = Query(batch);
  std::vector<Row> exact;
  for (int q = 1; q <= 30; ++q) {
    auto rows = Query("SELECT " + std::to_string(q) + ", rowid, row_number() OVER () FROM idx WHERE vector MATCH "
                      "(SELECT embedding FROM queries WHERE id = " + std::to_string(q) + ") AND k = 5 AND exact = 1");
    exact.insert(exact.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(device, exact);
  EXPECT_EQ(Value("SELECT batches > 0 FROM vecgraph_stats WHERE op = 'knn' AND backend = 'simulated'"), "1");
  // Every injected failure falls back to the CPU: the same rows as the CPU alone.
  for (const char* error : {"oom", "launch", "no_device", "illegal_address"}) {
    Exec(std::string("SELECT vecgraph_config('fault_injection', '{\"op\": \"knn\", \"error\": \"") + error +
         "\", \"every\": 1}')");
    EXPECT_EQ(Query(batch), cpu) << error;
    Exec("SELECT vecgraph_config('fault_injection', '')");
  }
  Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none'), vecgraph_stats_reset()");
}

TEST_F(Hnsw, BadInput) {
  struct Case {
    std::string sql, message;
  } create_cases[] = {
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(metric=l2)", "hnsw_knn: option 'dim' is required (e.g. dim=768)"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=0)", "hnsw_knn: option 'dim': expected an integer between 1 and 16000, found '0'"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=16001)",
       "hnsw_knn: option 'dim': expected an integer between 1 and 16000, found '16001'"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=4, m=1)", "hnsw_knn: option 'm': expected an integer between 2 and 128, found '1'"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=4, metric=hamming)",
       "hnsw_knn: option 'metric': unknown metric 'hamming': expected 'cosine', 'dot' or 'l2'"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=4, colour=red)",
       "hnsw_knn: unknown option 'colour' (expected dim, metric, m, ef_construction, ef_search, quantizer, rescore)"},
      {"CREATE VIRTUAL TABLE a USING hnsw_knn(dim=4, ef_search=abc)",
       "hnsw_knn: option 'ef_search': expected an integer between 1 and 65536, found 'abc'"},
  };
  for (const Case& c : create_cases) EXPECT_EQ(Error(c.sql), c.message) << c.sql;
  Exec("CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=3, metric=l2)");
  Exec("INSERT INTO idx(rowid, vector) VALUES (1, '[1, 2, 3]')");
  Case cases[] = {
      {"SELECT rowid FROM idx WHERE vector MATCH '[1, 2]' AND k = 3",
       "hnsw_knn: dimension mismatch: index 'idx' has dim=3, the MATCH query has 2"},
      {"SELECT rowid FROM idx WHERE vector MATCH '[1, 2, 3]' AND k = 0", "hnsw_knn: k: expected an integer >= 1, found integer 0"},
      {"SELECT rowid FROM idx WHERE vector MATCH '[1, 2, 3]' AND k = 'x'", "hnsw_knn: k: expected an integer >= 1, found text 'x'"},
      {"SELECT rowid FROM idx WHERE vector MATCH '[1, 2, 3]' AND k = 2 AND ef = 0",
       "hnsw_knn: ef: expected an integer between 1 and 65536, found integer 0"},
      {"SELECT rowid FROM idx WHERE vector MATCH 7 AND k = 2",
       "hnsw_knn: MATCH query: expected a vector (float32 BLOB or JSON array TEXT), found integer"},
      {"INSERT INTO idx(rowid, vector) VALUES (2, '[1, 2]')",
       "hnsw_knn: dimension mismatch: index 'idx' has dim=3, vector of row 2 has 2"},
      {"INSERT INTO idx(rowid, vector) VALUES (2, X'0000C07F0000803F0000803F')",
       "hnsw_knn: column vector of row 2: element 0 is NaN: expected a finite number"},
      {"INSERT INTO idx(rowid, vector) VALUES (2, NULL)", "hnsw_knn: column vector must not be NULL"},
      {"INSERT INTO idx(rowid, vector, k) VALUES (2, '[1, 2, 3]', 5)",
       "hnsw_knn: column k cannot be written (it is a query parameter)"},
      {"INSERT INTO idx(idx) VALUES ('vacuum')", "hnsw_knn: unknown command 'vacuum' (expected 'optimize' or 'ef_search=N')"},
      {"SELECT vecgraph_check('docs')", "vecgraph_check: argument 1 (index): 'docs' is not an hnsw_knn table"},
      {"SELECT * FROM hnsw_knn_batch('idx', 'nope', 'e', 3)",
       "hnsw_knn_batch: argument 2 (query_table): no such table: 'nope'"},
      {"SELECT * FROM hnsw_knn_batch('idx', 'idx', 'vector', 0)",
       "hnsw_knn_batch: argument 4 (k): expected an integer >= 1, found integer 0"},
  };
  Exec("CREATE TABLE docs(a)");
  for (const Case& c : cases) EXPECT_EQ(Error(c.sql), c.message) << c.sql;
  EXPECT_EQ(Value("SELECT count(*) FROM idx"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_check('idx')"), "ok");
}

TEST_F(Hnsw, HostileTableNames) {
  Exec("CREATE VIRTUAL TABLE \"we\"\"ird; DROP TABLE x\" USING hnsw_knn(dim=2)");
  Exec("INSERT INTO \"we\"\"ird; DROP TABLE x\"(rowid, vector) VALUES (1, '[1, 0]')");
  EXPECT_EQ(Value("SELECT rowid FROM \"we\"\"ird; DROP TABLE x\" WHERE vector MATCH '[1, 0]' AND k = 1"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_check('we\"ird; DROP TABLE x')"), "ok");
  Exec("CREATE TABLE \"q'uery\"(id INTEGER PRIMARY KEY, \"e]\" BLOB)");
  Exec("INSERT INTO \"q'uery\" VALUES (1, '[0, 1]')");
  EXPECT_EQ(Value("SELECT count(*) FROM hnsw_knn_batch('we\"ird; DROP TABLE x', 'q''uery', 'e]', 1)"), "1");
  Exec("ALTER TABLE \"we\"\"ird; DROP TABLE x\" RENAME TO tame");
  EXPECT_EQ(Value("SELECT rowid FROM tame WHERE vector MATCH '[1, 0]' AND k = 1"), "1");
  Exec("DROP TABLE tame");
  EXPECT_EQ(Value("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'tame%'"), "0");
}

TEST_F(Hnsw, CorruptedShadowTablesGiveErrorsNotCrashes) {
  std::string path = TempPath();
  {
    sqlite3* db = nullptr;
    Open(&db, path.c_str());
    ASSERT_EQ(sqlite3_exec(db, "CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=4, m=4);"
                               "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) "
                               "INSERT INTO idx(rowid, vector) SELECT i, json_array(i, -i, i % 3, 1) FROM s;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  // Each corruption, on a fresh connection: a clear error (or a description from vecgraph_check).
  const char* corruptions[] = {
      "UPDATE idx_nodes SET record = substr(record, 1, 5) WHERE rowid = 10",
      "UPDATE idx_nodes SET record = X'' WHERE rowid = 11",
      "UPDATE idx_nodes SET vector = X'00000000' WHERE rowid = 12",
      "UPDATE idx_nodes SET vector = X'0000C07F0000C07F0000C07F0000C07F' WHERE rowid = 13",
      "UPDATE idx_info SET value = X'00' WHERE key = 'header'",
      "DELETE FROM idx_info WHERE key = 'header'",
      "UPDATE idx_nodes SET record = zeroblob(length(record)) WHERE rowid = 14",
      "UPDATE idx_nodes SET record = randomblob(length(record)) WHERE rowid = 15",
      "DELETE FROM idx_nodes WHERE rowid = 16",
      "UPDATE idx_nodes SET rowid = 100000 WHERE rowid = 17",
      "UPDATE idx_info SET value = 99 WHERE key = 'format'",
  };
  for (const char* corruption : corruptions) {
    SCOPED_TRACE(corruption);
    std::string copy = path + ".c";
    {
      sqlite3 *src = nullptr, *dst = nullptr;
      sqlite3_open(path.c_str(), &src);
      sqlite3_open(copy.c_str(), &dst);
      sqlite3_backup* bk = sqlite3_backup_init(dst, "main", src, "main");
      sqlite3_backup_step(bk, -1);
      sqlite3_backup_finish(bk);
      sqlite3_exec(dst, "PRAGMA writable_schema = 0", nullptr, nullptr, nullptr);
      sqlite3_close(src);
      // Shadow tables are read-only to ordinary SQL only in defensive mode; edit them directly.
      ASSERT_EQ(sqlite3_exec(dst, corruption, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(dst);
      sqlite3_close(dst);
    }
    sqlite3* db = nullptr;
    Open(&db, copy.c_str());
    std::string err = ErrorOn(db, "SELECT rowid FROM idx WHERE vector MATCH '[1, 1, 1, 1]' AND k = 5");
    std::string described = CheckText(db);
    // Either the search fails with a clear message, or vecgraph_check names the problem.
    EXPECT_TRUE(!err.empty() || described != "ok") << "error: " << err << " check: " << described;
    if (!err.empty()) {
      EXPECT_NE(err.find("hnsw_knn"), std::string::npos) << err;
    }
    sqlite3_close(db);
    unlink(copy.c_str());
  }
  unlink(path.c_str());
}

TEST_F(Hnsw, FuzzedRecordsNeverCrash) {
  std::string path = TempPath();
  sqlite3* db = nullptr;
  Open(&db, path.c_str());
  ASSERT_EQ(sqlite3_exec(db, "CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=2, m=3);"
                             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60) "
                             "INSERT INTO idx(rowid, vector) SELECT i, json_array(i, i % 4) FROM s;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  std::mt19937 rng(123);
  for (int round = 0; round < 60; ++round) {
    sqlite3* c = nullptr;
    Open(&c, path.c_str());
    // Flip a few random bytes of a random record (inside a transaction we roll back).
    sqlite3_exec(c, "BEGIN", nullptr, nullptr, nullptr);
    int victim = 1 + static_cast<int>(rng() % 60);
    auto rec = QueryOn(c, "SELECT hex(record) FROM idx_nodes WHERE rowid = " + std::to_string(victim));
    if (!rec.empty()) {
      std::string hex = rec[0][0];
      for (int f = 0; f < 3; ++f) {
        size_t pos = rng() % hex.size();
        hex[pos] = "0123456789ABCDEF"[rng() % 16];
      }
      sqlite3_exec(c, ("UPDATE idx_nodes SET record = X'" + hex + "' WHERE rowid = " + std::to_string(victim)).c_str(),
                   nullptr, nullptr, nullptr);
    }
    // Force a reload in this connection: any outcome but a crash is acceptable.
    (void)ErrorOn(c, "SELECT rowid FROM idx WHERE vector MATCH '[3, 1]' AND k = 4");
    (void)CheckText(c);
    sqlite3_exec(c, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(c);
  }
  unlink(path.c_str());
}

}  // namespace
}  // namespace vecgraph::testing
