// Databases written by earlier releases open and answer the same (sqlite-vec's
// tests/fixtures/legacy-*.db idea), and the storage format of new tables.
//
// tests/fixtures/hnsw_format1.db was written by release 0.1 (commit 51a0a4b), storage format 1:
//   PRAGMA page_size = 1024;
//   CREATE VIRTUAL TABLE cos_ix USING hnsw_knn(dim=3, metric=cosine, m=4, ef_construction=20);
//   CREATE VIRTUAL TABLE l2_ix USING hnsw_knn(dim=3, metric=l2, m=4);
//   CREATE VIRTUAL TABLE dot_ix USING hnsw_knn(dim=3, metric=dot, ef_search=8);
//   rows 1..60: json_array(i % 7 - 3, i % 5 - 2, i % 3 + 0.5) in all three;
//   DELETE FROM cos_ix WHERE rowid % 11 = 0; DELETE FROM l2_ix WHERE rowid IN (3, 4); VACUUM;
// tests/fixtures/hnsw_format2.db was written by commit f6a6c2b (declared columns, storage format
// 2: a cosine index stores the unit vector and, in column original, the vector as inserted):
//   PRAGMA page_size = 1024;
//   CREATE VIRTUAL TABLE notes USING hnsw_knn(embedding float[3] distance_metric=cosine, topic text,
//     year integer, user_id integer partition key, +title text, m=4, ef_construction=20);
//   CREATE VIRTUAL TABLE places USING hnsw_knn(pos float[3], score real, m=4);
//   rows 1..60 of notes: (i, json_array(i % 7 - 3, i % 5 - 2, i % 3 + 0.5),
//     CASE i % 3 WHEN 0 THEN 'tea' WHEN 1 THEN 'coffee' ELSE 'water' END, 2000 + i % 11, 1 + i % 2,
//     'note ' || i); rows 1..60 of places: (i, the same vector, i / 4.0);
//   DELETE FROM notes WHERE rowid % 11 = 0; DELETE FROM places WHERE rowid IN (3, 4); VACUUM;
// The expected k-NN answers below are what the release that wrote each file answered on it.
#include <unistd.h>

#include <cstdio>
#include <cstring>
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
    std::ifstream in(std::string(VECGRAPH_SOURCE_DIR) + "/tests/fixtures/" + Fixture(), std::ios::binary);
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
  virtual const char* Fixture() const { return "hnsw_format1.db"; }
  std::string Knn(const std::string& table, const std::string& q, const std::string& column = "vector",
                  const std::string& where = "") {
    return Value("SELECT group_concat(rowid || ':' || printf('%.6f', distance), ' ') FROM (SELECT rowid, distance FROM " +
                 table + " WHERE " + column + " MATCH '" + q + "' AND k = 5" + where + ")");
  }
  std::string copy_;
};

class Legacy2 : public Legacy {
 protected:
  const char* Fixture() const override { return "hnsw_format2.db"; }
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
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('cos_ix'), '$.format')"), "1");
  // Format 1 keeps writing the vector as inserted beside the unit vector when they differ.
  EXPECT_EQ(Value("SELECT coalesce(original, 'none') FROM cos_ix_nodes WHERE rowid = 100"), "none");  // unit already
  Exec("INSERT INTO cos_ix(rowid, vector) VALUES (101, '[3, 0, 4]')");
  EXPECT_EQ(Value("SELECT vec_json(original) || ' ' || vec_json(vector) FROM cos_ix_nodes WHERE rowid = 101"),
            "[3,0,4] [0.6,0,0.8]");
  EXPECT_EQ(Value("SELECT vec_json(vector) FROM cos_ix WHERE rowid = 101"), "[3,0,4]");
}

// Format 1 and 2 keep the vector as inserted in column original: vecgraph_check and every read
// check it (garbage there is an error, never an answer).
TEST_F(Legacy, Format1ChecksTheOriginalColumn) {
  struct Case {
    const char* garbage;
    const char* problem;
  } cases[] = {
      {"'text'", "row 1: column original is text 'text', expected a blob of 12 bytes"},
      {"7", "row 1: column original is integer 7, expected a blob of 12 bytes"},
      {"X'0000C07F0000803F0000803F'", "row 1: column original: element 0 is NaN: expected a finite number"},
      {"X'000000'", "row 1: column original is a blob of 3 bytes, expected a blob of 12 bytes"},
      {"vec_f32('[4, 3, 1]')", "row 1: column original does not match the stored vector (its cosine form differs)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.garbage);
    // In a transaction rolled back at the end: after SQLITE_CORRUPT, SQLite allows no more writes
    // in the transaction (SQLITE_CorruptRdOnly), so only a ROLLBACK ends it.
    Exec("BEGIN");
    Exec(std::string("UPDATE cos_ix_nodes SET original = ") + c.garbage + " WHERE rowid = 1");
    EXPECT_EQ(Value("SELECT vecgraph_check('cos_ix')"), c.problem);
    if (std::strncmp(c.garbage, "vec_f32", 7) != 0) {
      EXPECT_EQ(Error("SELECT vector FROM cos_ix WHERE rowid = 1"), std::string("hnsw_knn: index 'cos_ix': ") + c.problem);
      EXPECT_EQ(Code("SELECT vector FROM cos_ix"), SQLITE_CORRUPT_VTAB);
      EXPECT_EQ(Code("SELECT vector FROM cos_ix WHERE vector MATCH '[-2, -1, 1.5]' AND k = 1"), SQLITE_CORRUPT_VTAB);
    }
    Exec("ROLLBACK");
  }
  EXPECT_EQ(Value("SELECT vecgraph_check('cos_ix')"), "ok");
}

TEST_F(Legacy2, Format2OpensAndAnswersAsItsReleaseDid) {
  for (const char* t : {"notes", "places"}) EXPECT_EQ(Value(std::string("SELECT vecgraph_check('") + t + "')"), "ok");
  EXPECT_EQ(Value("SELECT count(*) FROM notes"), "55");
  EXPECT_EQ(Value("SELECT count(*) FROM places"), "58");
  EXPECT_EQ(Knn("notes", "[1,0,0]", "embedding"), "27:0.013606 12:0.029857 6:0.062957 48:0.062957 13:0.142857");
  EXPECT_EQ(Knn("notes", "[-2,1,0.5]", "embedding", " AND topic = 'tea' AND year >= 2003"),
            "42:0.103130 9:0.190476 21:0.284322 36:0.380952 3:0.512050");
  EXPECT_EQ(Knn("notes", "[1,0,0]", "embedding", " AND user_id = 2"),
            "27:0.013606 13:0.142857 41:0.255792 19:0.375305 47:0.375305");
  EXPECT_EQ(Knn("places", "[1,0,0]", "pos"), "12:1.118034 18:1.118034 33:1.500000 46:1.802776 52:1.802776");
  EXPECT_EQ(Knn("places", "[-2,1,0.5]", "pos", " AND score > 5"),
            "43:1.000000 57:1.000000 22:1.414214 28:1.414214 42:1.414214");
  EXPECT_EQ(Value("SELECT vec_json(embedding) || '|' || topic || '|' || year || '|' || user_id || '|' || title FROM notes "
                  "WHERE rowid = 1"),
            "[-2,-1,1.5]|coffee|2001|2|note 1");
  EXPECT_EQ(Value("SELECT count(*) FROM notes_nodes WHERE original IS NOT NULL"), "60");
  // Still writable, in the same format (the vector as inserted in original).
  Exec("INSERT INTO notes(rowid, embedding, topic, year, user_id, title) VALUES (100, '[0, 3, 4]', 'tea', 2010, 1, 'x')");
  Exec("UPDATE notes SET embedding = '[0, 6, 8]' WHERE rowid = 2");
  Exec("DELETE FROM places WHERE rowid = 12");
  Exec("INSERT INTO places(places) VALUES ('optimize')");
  EXPECT_EQ(Value("SELECT vec_json(original) FROM notes_nodes WHERE rowid = 100"), "[0,3,4]");
  EXPECT_EQ(Value("SELECT vec_json(embedding) FROM notes WHERE rowid = 2"), "[0,6,8]");
  EXPECT_EQ(Value("SELECT group_concat(rowid) FROM notes WHERE embedding MATCH '[0,3,4]' AND k = 2 AND user_id = 1"),
            "2,100");
  for (const char* t : {"notes", "places"}) EXPECT_EQ(Value(std::string("SELECT vecgraph_check('") + t + "')"), "ok");
  EXPECT_EQ(Value("SELECT value FROM notes_info WHERE key = 'format'"), "2");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('notes'), '$.format')"), "2");
}

// Tables created now (formats 3 and 4) keep each vector once, as inserted: a cosine index derives
// its unit vectors when it loads, bit for bit those the insert computed.
TEST_F(Legacy, NewTablesStoreEachVectorOnce) {
  Exec("CREATE VIRTUAL TABLE c3 USING hnsw_knn(dim=3, metric=cosine, m=4)");
  Exec("CREATE VIRTUAL TABLE c4 USING hnsw_knn(e float[3] distance_metric=cosine, tag integer, +note text, m=4)");
  Exec("CREATE TABLE src(id INTEGER PRIMARY KEY, v BLOB)");
  Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300) "
       "INSERT INTO src SELECT i, vec_f32(json_array((i * 37 % 101) - 50.5, (i * 11 % 13) * 1e-3, (i % 7) * 1e5)) FROM s");
  Exec("INSERT INTO src VALUES (301, vec_f32('[0, 0, 0]'))");  // a zero vector stays zero
  Exec("INSERT INTO c3(rowid, vector) SELECT id, v FROM src");
  Exec("INSERT INTO c4(rowid, e, tag, note) SELECT id, v, id % 3, 'n' || id FROM src");
  EXPECT_EQ(Value("SELECT value FROM c3_info WHERE key = 'format'"), "3");
  EXPECT_EQ(Value("SELECT value FROM c4_info WHERE key = 'format'"), "4");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_index_info('c4'), '$.format')"), "4");
  // On disk: the vector as inserted, once.
  EXPECT_EQ(Value("SELECT count(*) FROM c3_nodes JOIN src ON src.id = c3_nodes.rowid WHERE vector = v AND original IS NULL"),
            "301");
  EXPECT_EQ(Value("SELECT count(*) FROM c4_nodes JOIN src ON src.id = c4_nodes.rowid WHERE vector = v AND original IS NULL"),
            "301");
  // What SELECT returns: the vector as inserted, bit for bit (scan, rowid lookup and k-NN).
  EXPECT_EQ(Value("SELECT count(*) FROM c3 JOIN src ON src.id = c3.rowid WHERE c3.vector = src.v"), "301");
  EXPECT_EQ(Value("SELECT count(*) FROM c4 JOIN src ON src.id = c4.rowid WHERE c4.e = src.v"), "301");
  EXPECT_EQ(Value("SELECT hex(e) = (SELECT hex(v) FROM src WHERE id = 7) FROM c4 WHERE e MATCH (SELECT v FROM src WHERE id = 7) "
                  "AND k = 1"),
            "1");
  // Answers before and after a reload (another connection) are identical to the last bit.
  auto answers = [&] {
    std::string out;
    for (int q : {3, 50, 171, 301}) {
      const std::string query = "(SELECT v FROM src WHERE id = " + std::to_string(q) + ")";
      out += Value("SELECT group_concat(rowid || ':' || printf('%!.17g', distance), ' ') FROM (SELECT rowid, distance FROM c3 "
                   "WHERE vector MATCH " + query + " AND k = 8)") + "\n";
      out += Value("SELECT group_concat(rowid || ':' || printf('%!.17g', distance), ' ') FROM (SELECT rowid, distance FROM c4 "
                   "WHERE e MATCH " + query + " AND k = 8 AND tag = 1)") + "\n";
      out += Value("SELECT group_concat(rowid || ':' || printf('%!.17g', distance), ' ') FROM (SELECT rowid, distance FROM c3 "
                   "WHERE vector MATCH " + query + " AND k = 8 AND exact = 1)") + "\n";
    }
    return out;
  };
  const std::string before = answers();
  sqlite3_close(db_);
  Open(&db_, copy_.c_str());
  EXPECT_EQ(answers(), before);
  for (const char* t : {"c3", "c4"}) EXPECT_EQ(Value(std::string("SELECT vecgraph_check('") + t + "')"), "ok");
  // The index searches unit vectors: the distance of a row to itself is 0 (to float precision).
  EXPECT_EQ(Value("SELECT distance < 1e-6 FROM c3 WHERE vector MATCH (SELECT v FROM src WHERE id = 9) AND k = 1"), "1");
  // Each vector once: the node rows hold 4·dim bytes of vector per row, nothing else of size.
  EXPECT_EQ(Value("SELECT sum(length(vector)), sum(coalesce(length(original), 0)) FROM c3_nodes"), "3612");
  // A format row set back to 1 is not misread: the vectors are not unit length.
  Exec("BEGIN");
  Exec("UPDATE c3_info SET value = 1 WHERE key = 'format'");
  const std::string bad = Value("SELECT vecgraph_check('c3')");
  EXPECT_NE(bad.find("stored cosine vector is not unit length"), std::string::npos) << bad;
  Exec("ROLLBACK");
  Exec("BEGIN");
  Exec("UPDATE c4_info SET value = 5 WHERE key = 'format'");
  EXPECT_EQ(Value("SELECT vecgraph_check('c4')"),
            "hnsw_knn: index 'c4': c4_info: storage format is integer 5, expected format 2 or 4 for a table with declared "
            "columns");
  Exec("ROLLBACK");
  // Updates and deletes keep the single copy.
  Exec("UPDATE c3 SET vector = '[1, 2, 2]' WHERE rowid = 5");
  Exec("DELETE FROM c3 WHERE rowid = 6");
  Exec("INSERT INTO c3(c3) VALUES ('optimize')");
  EXPECT_EQ(Value("SELECT vec_json(vector) || ' ' || coalesce(original, 'null') FROM c3_nodes WHERE rowid = 5"), "[1,2,2] null");
  EXPECT_EQ(Value("SELECT count(*) FROM c3_nodes WHERE original IS NOT NULL"), "0");
  EXPECT_EQ(Value("SELECT vecgraph_check('c3')"), "ok");
}

}  // namespace
}  // namespace vecgraph::testing
