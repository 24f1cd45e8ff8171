// Databases written by earlier releases open and answer the same (sqlite-vec's
// tests/fixtures/legacy-*.db idea). tests/fixtures/hnsw_format1.db was written by release 0.1
// (commit 51a0a4b), storage format 1:
//   PRAGMA page_size = 1024;
//   CREATE VIRTUAL TABLE cos_ix USING hnsw_knn(dim=3, metric=cosine, m=4, ef_construction=20);
//   CREATE VIRTUAL TABLE l2_ix USING hnsw_knn(dim=3, metric=l2, m=4);
//   CREATE VIRTUAL TABLE dot_ix USING hnsw_knn(dim=3, metric=dot, ef_search=8);
//   rows 1..60: json_array(i % 7 - 3, i % 5 - 2, i % 3 + 0.5) in all three;
//   DELETE FROM cos_ix WHERE rowid % 11 = 0; DELETE FROM l2_ix WHERE rowid IN (3, 4); VACUUM;
// The expected k-NN answers below are what 0.1 answered on that file.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class Legacy : public SqlTest {
 protected:
  void SetUp() override {
    // A copy: the test writes to it.
    char path[] = "/tmp/vecgraph_legacy_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    copy_ = path;
    std::ifstream in(std::string(VECGRAPH_SOURCE_DIR) + "/tests/fixtures/hnsw_format1.db", std::ios::binary);
    ASSERT_TRUE(in.good());
    std::ofstream out(copy_, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    out.close();
    Open(&db_, copy_.c_str());
  }
  void TearDown() override {
    sqlite3_close(db_);
    unlink(copy_.c_str());
  }
  std::string Knn(const std::string& table, const std::string& q) {
    return Value("SELECT group_concat(rowid || ':' || printf('%.6f', distance), ' ') FROM (SELECT rowid, distance FROM " +
                 table + " WHERE vector MATCH '" + q + "' AND k = 5)");
  }
  std::string copy_;
};

TEST_F(Legacy, Format1OpensAndAnswersAsRelease01Did) {
  for (const char* t : {"cos_ix", "l2_ix", "dot_ix"}) EXPECT_EQ(Value(std::string("SELECT vecgraph_check('") + t + "')"), "ok");
  EXPECT_EQ(Value("SELECT count(*) FROM cos_ix"), "55");
  EXPECT_EQ(Value("SELECT count(*) FROM l2_ix"), "58");
  EXPECT_EQ(Value("SELECT count(*) FROM dot_ix"), "60");
  EXPECT_EQ(Knn("cos_ix", "[1,0,0]"), "27:0.013606 12:0.029857 6:0.062957 48:0.062957 13:0.142857");
  EXPECT_EQ(Knn("cos_ix", "[-2,1,0.5]"), "49:0.022102 28:0.033607 43:0.067993 14:0.079875 57:0.100265");
  EXPECT_EQ(Knn("l2_ix", "[1,0,0]"), "12:1.118034 18:1.118034 33:1.500000 46:1.802776 52:1.802776");
  EXPECT_EQ(Knn("l2_ix", "[-2,1,0.5]"), "43:1.000000 57:1.000000 9:1.414214 22:1.414214 28:1.414214");
  EXPECT_EQ(Knn("dot_ix", "[1,0,0]"), "6:-3.000000 13:-3.000000 20:-3.000000 27:-3.000000 34:-3.000000");
  EXPECT_EQ(Knn("dot_ix", "[-2,1,0.5]"), "14:-9.250000 49:-8.750000 28:-7.750000 29:-7.250000 7:-6.750000");
  // The cosine index returns the vectors as inserted; the stored ones are unit vectors.
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM cos_ix WHERE rowid = 1"), "[-2,-1,1.5]");
  // Still writable, in the same format.
  Exec("INSERT INTO cos_ix(rowid, vector) VALUES (100, '[1, 0, 0]')");
  Exec("DELETE FROM l2_ix WHERE rowid = 12");
  Exec("INSERT INTO dot_ix(dot_ix) VALUES ('optimize')");
  EXPECT_EQ(Value("SELECT rowid FROM cos_ix WHERE vector MATCH '[1,0,0]' AND k = 1"), "100");
  for (const char* t : {"cos_ix", "l2_ix", "dot_ix"}) EXPECT_EQ(Value(std::string("SELECT vecgraph_check('") + t + "')"), "ok");
  EXPECT_EQ(Value("SELECT value FROM cos_ix_info WHERE key = 'format'"), "1");
}

}  // namespace
}  // namespace vecgraph::testing
