// spread_activation through the C API: the worked example's rows, every option, seed forms, the
// batched form with its query column, composition with vector search, cache invalidation (same
// connection, another connection, transactions, DDL), hostile table names, and every bad input
// with its exact message.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class SqlSpread : public SqlTest {
 protected:
  void SetUp() override {
    SqlTest::SetUp();
    Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none'), "
         "vecgraph_config('fault_injection', ''), vecgraph_stats_reset()");
    Exec("CREATE TABLE e(src INTEGER, dst INTEGER, weight REAL);"
         "INSERT INTO e VALUES (1,2,.8),(1,3,.4),(2,4,.5),(3,4,1.0),(4,1,.9),(4,5,.6)");
  }
  void TearDown() override {
    Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none'), "
         "vecgraph_config('fault_injection', '')");
    SqlTest::TearDown();
  }

  // "node|activation(6 decimals)|depth" per row.
  std::vector<std::string> Spread(const std::string& args, sqlite3* db = nullptr) {
    std::vector<std::string> out;
    for (const Row& r : QueryOn(db ? db : db_, "SELECT node, round(activation, 6), depth FROM spread_activation(" + args + ")")) {
      out.push_back(r[0] + "|" + r[1] + "|" + r[2]);
    }
    return out;
  }
  using V = std::vector<std::string>;
};

const std::vector<std::string> kWorked = {"1|1.09|0", "2|0.4|1", "3|0.2|1", "4|0.2|2", "5|0.06|3"};

TEST_F(SqlSpread, WorkedExample) {
  EXPECT_EQ(Spread("'e', '[1]', '{\"threshold\": 0.1}'"), kWorked);
  EXPECT_EQ(Spread("'e', '[1]', '{\"threshold\": 0.1, \"max_hops\": 10}'"), kWorked);
  EXPECT_EQ(Spread("'e', '[1]', '{\"threshold\": 0.05, \"max_hops\": 10}'"),
            (V{"1|1.09|0", "2|0.436|1", "3|0.218|1", "4|0.2|2", "5|0.06|3"}));
  EXPECT_EQ(Spread("'e', '[1]', '{\"threshold\": 0.1, \"normalize\": \"out\"}'"),
            (V{"1|1.075|0", "2|0.333333|1", "4|0.25|2", "3|0.166667|1", "5|0.05|3"}));
  EXPECT_EQ(Spread("'e', '[1]', '{\"threshold\": 0.1, \"directed\": 0, \"max_hops\": 2}'"),
            (V{"1|1.4025|0", "4|0.65|1", "2|0.5125|1", "3|0.425|1", "5|0.135|2"}));
  // Columns by name, the query column is NULL outside the batched form, SQL can filter/limit.
  EXPECT_EQ(Query("SELECT query, typeof(activation), typeof(depth) FROM spread_activation('e', 1) LIMIT 1"),
            (std::vector<Row>{{"NULL", "real", "integer"}}));
  EXPECT_EQ(Value("SELECT group_concat(node) FROM spread_activation('e', '[1]', '{\"threshold\": 0.1}') WHERE depth = 1"),
            "2,3");
  EXPECT_EQ(Value("SELECT count(*) FROM spread_activation('e', 1) LIMIT 2"), "5");
  EXPECT_EQ(Query("SELECT edges, seeds, options FROM spread_activation('e', 1, NULL) LIMIT 1"),
            (std::vector<Row>{{"e", "1", "NULL"}}));
}

TEST_F(SqlSpread, SeedForms) {
  const V only1 = kWorked;
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1}'"), only1);
  EXPECT_EQ(Spread("'e', '1', '{\"threshold\": 0.1}'"), only1);
  EXPECT_EQ(Spread("'e', '{\"1\": 1.0}', '{\"threshold\": 0.1}'"), only1);
  EXPECT_EQ(Spread("'e', '{\"1\": 0.25, \"1\": 0.75, \"2\": -1, \"3\": 0}', '{\"threshold\": 0.1}'"), only1);
  EXPECT_EQ(Spread("'e', '[\"1\"]', '{\"threshold\": 0.1}'"), only1);
  // Seeds absent from the graph are returned; an empty set gives no rows.
  EXPECT_EQ(Spread("'e', '{\"42\": 0.5, \"5\": 0.25}'"), (V{"42|0.5|0", "5|0.25|0"}));
  EXPECT_EQ(Spread("'e', '[]'"), V{});
  EXPECT_EQ(Spread("'e', '{}'"), V{});
  // Options given as NULL mean the defaults.
  EXPECT_EQ(Spread("'e', 1, NULL"), Spread("'e', 1"));
}

TEST_F(SqlSpread, EveryOption) {
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"decay\": 1}'"),
            (V{"1|1.72|0", "2|0.8|1", "4|0.8|2", "5|0.48|3", "3|0.4|1"}));
  EXPECT_EQ(Spread("'e', 1, '{\"max_hops\": 0}'"), (V{"1|1.0|0"}));
  EXPECT_EQ(Spread("'e', 1, '{\"max_hops\": 1, \"normalize\": \"degree\"}'"), (V{"1|1.0|0", "2|0.2|1", "3|0.1|1"}));
  EXPECT_EQ(Spread("'e', 1, '{\"max_hops\": 1, \"normalize\": \"sqrt_degree\"}'"),
            (V{"1|1.0|0", "2|0.282843|1", "3|0.141421|1"}));
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"accumulate\": \"max\"}'"),
            (V{"1|1.0|0", "2|0.4|1", "3|0.2|1", "4|0.2|2", "5|0.06|3"}));
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.05, \"max_hops\": 10, \"refractory\": \"once\"}'"), kWorked);
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.05, \"max_hops\": 10, \"refractory\": \"none\"}'"),
            (V{"1|1.09|0", "2|0.436|1", "3|0.218|1", "4|0.2|2", "5|0.06|3"}));
  EXPECT_EQ(Spread("'e', 1, '{\"max_fanout\": 1}'"), (V{"1|1.0|0"}));
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"max_fanout\": 2}'"), kWorked);
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"max_frontier\": 1}'"),
            (V{"1|1.045|0", "2|0.4|1", "3|0.2|1", "4|0.1|2", "5|0.03|3"}));
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"top_k\": 2}'"), (V{"1|1.09|0", "2|0.4|1"}));
  EXPECT_EQ(Spread("'e', 1, '{\"threshold\": 0.1, \"min_activation\": 0.25}'"), (V{"1|1.09|0", "2|0.4|1"}));
  // Column names, and weight_col null (every edge weighs 1.0).
  Exec("CREATE TABLE links(\"from\" INTEGER, \"to\" INTEGER, w REAL, note TEXT);"
       "INSERT INTO links SELECT src, dst, weight, 'x' FROM e");
  EXPECT_EQ(Spread("'links', 1, '{\"threshold\": 0.1, \"src_col\": \"from\", \"dst_col\": \"TO\", \"weight_col\": \"w\"}'"),
            kWorked);
  EXPECT_EQ(Spread("'links', 1, '{\"src_col\": \"from\", \"dst_col\": \"to\", \"weight_col\": null, \"max_hops\": 1}'"),
            (V{"1|1.0|0", "2|0.5|1", "3|0.5|1"}));
  // NULL weights count 1.0.
  Exec("CREATE TABLE nw(src, dst, weight); INSERT INTO nw VALUES (1, 2, NULL), (1, 3, 2)");
  EXPECT_EQ(Spread("'nw', 1"), (V{"1|1.0|0", "3|1.0|1", "2|0.5|1"}));
}

TEST_F(SqlSpread, BatchedSeedsHaveAQueryColumn) {
  auto rows = Query("SELECT query, node, round(activation, 6), depth FROM spread_activation('e', "
                    "'[{\"1\": 1}, {\"7\": 0.5}, [4], {}]', '{\"threshold\": 0.1}')");
  std::vector<Row> want = {{"0", "1", "1.09", "0"},  {"0", "2", "0.4", "1"},  {"0", "3", "0.2", "1"},
                           {"0", "4", "0.2", "2"},   {"0", "5", "0.06", "3"}, {"1", "7", "0.5", "0"},
                           {"2", "4", "1.045", "0"}, {"2", "1", "0.45", "1"}, {"2", "5", "0.3", "1"},
                           {"2", "2", "0.18", "2"},  {"2", "3", "0.09", "2"}};
  EXPECT_EQ(rows, want);
  // top_k applies per set; the sets equal their one-by-one runs.
  EXPECT_EQ(Value("SELECT group_concat(query || ':' || node, ' ') FROM spread_activation('e', '[[1], [4]]', "
                  "'{\"top_k\": 2}')"),
            "0:1 0:2 1:4 1:1");
  std::string batched = Value("SELECT group_concat(node || ':' || activation, ' ') FROM spread_activation('e', "
                              "'[[2], [3]]') WHERE query = 1");
  std::string single = Value("SELECT group_concat(node || ':' || activation, ' ') FROM spread_activation('e', 3)");
  EXPECT_EQ(batched, single);
  // Many sets at once (more than one group of 32).
  EXPECT_EQ(Value("WITH s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 99) "
                  "SELECT count(DISTINCT query) FROM spread_activation('e', (SELECT json_group_array(json_array(1 + i % 5)) "
                  "FROM s))"),
            "100");
}

TEST_F(SqlSpread, ComposesWithVectorSearch) {
  Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, emb BLOB);"
       "INSERT INTO docs VALUES (1, vec_f32('[1, 0, 0]')), (2, vec_f32('[0.9, 0.1, 0]')), "
       "(3, vec_f32('[0, 1, 0]')), (4, vec_f32('[0, 0, 1]')), (5, vec_f32('[0.1, 0, 1]'))");
  // Seeds from a brute-force filter: json_group_object(rowid, 1 - distance).
  const std::string seeds_sql =
      "(SELECT json_group_object(id, 1 - vec_distance(emb, '[1, 0, 0]', 'cosine')) FROM docs "
      " WHERE vec_distance(emb, '[1, 0, 0]', 'cosine') < 0.1)";
  // Rounded: SQLite 3.40 prints a REAL with 15 digits, newer versions the shortest round trip.
  EXPECT_EQ(Value("SELECT json_group_object(key, round(value, 12)) FROM json_each(" + seeds_sql + ")"),
            "{\"1\":1.0,\"2\":0.993883728981}");
  auto rows = Query("SELECT node, round(activation, 6), depth FROM spread_activation('e', " + seeds_sql +
                    ", '{\"threshold\": 0.1, \"max_hops\": 1}')");
  // 1 and 2 seeded; 1 → 2 (.4), 3 (.2); 2 → 4 (0.993884 · .25).
  EXPECT_EQ(rows, (std::vector<Row>{{"2", "1.393884", "0"}, {"1", "1.0", "0"}, {"4", "0.248471", "1"}, {"3", "0.2", "1"}}));
  // Seeds from vec_topk's JSON, through a CTE (a lateral argument).
  auto lateral = Query(
      "WITH hits AS (SELECT vec_topk(id, emb, '[1, 0, 0]', 2) AS j FROM docs), "
      "seeds AS (SELECT json_group_object(json_extract(value, '$[0]'), 1 - json_extract(value, '$[1]')) AS s "
      "          FROM hits, json_each(hits.j)) "
      "SELECT node, round(activation, 6), depth FROM seeds, spread_activation('e', seeds.s, "
      "'{\"threshold\": 0.1, \"max_hops\": 1}')");
  EXPECT_EQ(lateral, rows);
  // And a join back to the documents.
  EXPECT_EQ(Value("SELECT group_concat(d.id) FROM spread_activation('e', '[1]', '{\"max_hops\": 1}') s "
                  "JOIN docs d ON d.id = s.node WHERE s.depth = 1"),
            "2,3");
}

TEST_F(SqlSpread, CacheSeesChangesInTheSameConnection) {
  const std::string q = "'e', 1, '{\"threshold\": 0.1}'";
  EXPECT_EQ(Spread(q), kWorked);
  Exec("INSERT INTO e VALUES (5, 6, 1.0)");
  EXPECT_EQ(Spread(q), (V{"1|1.09|0", "2|0.4|1", "3|0.2|1", "4|0.2|2", "5|0.06|3"}));  // 5 has 0.06 < θ at hop 3
  Exec("UPDATE e SET weight = 2 WHERE src = 1 AND dst = 3");
  EXPECT_EQ(Spread(q), (V{"1|1.27|0", "3|1.0|1", "4|0.6|2", "2|0.4|1", "5|0.18|3"}));
  Exec("DELETE FROM e WHERE src = 4");
  EXPECT_EQ(Spread(q), (V{"1|1.0|0", "3|1.0|1", "4|0.6|2", "2|0.4|1"}));
  // Drop and re-create with other columns' contents.
  Exec("DROP TABLE e; CREATE TABLE e(src INTEGER, dst INTEGER, weight REAL); INSERT INTO e VALUES (1, 9, 1)");
  EXPECT_EQ(Spread(q), (V{"1|1.0|0", "9|0.5|1"}));
  // A temp table shadows main.e: the unqualified name now means temp.e.
  Exec("CREATE TEMP TABLE e(src, dst, weight); INSERT INTO temp.e VALUES (1, 8, 1)");
  EXPECT_EQ(Spread(q), (V{"1|1.0|0", "8|0.5|1"}));
  EXPECT_EQ(Spread("'main.e', 1"), (V{"1|1.0|0", "9|0.5|1"}));
  Exec("DROP TABLE temp.e");
  EXPECT_EQ(Spread(q), (V{"1|1.0|0", "9|0.5|1"}));
}

TEST_F(SqlSpread, CacheAndTransactions) {
  const std::string q = "'e', 1, '{\"max_hops\": 1}'";
  const V before = {"1|1.0|0", "2|0.4|1", "3|0.2|1"};
  EXPECT_EQ(Spread(q), before);
  Exec("BEGIN");
  EXPECT_EQ(Spread(q), before);  // reused inside the transaction
  Exec("INSERT INTO e VALUES (1, 7, 2)");
  const V with7 = {"1|1.0|0", "7|1.0|1", "2|0.4|1", "3|0.2|1"};
  EXPECT_EQ(Spread(q), with7);  // sees its own uncommitted row
  EXPECT_EQ(Spread(q), with7);
  Exec("ROLLBACK");
  EXPECT_EQ(Spread(q), before);  // the rolled-back row is gone
  Exec("BEGIN; INSERT INTO e VALUES (1, 7, 2); SAVEPOINT s; INSERT INTO e VALUES (1, 6, 2)");
  EXPECT_EQ(Spread(q), (V{"1|1.0|0", "6|1.0|1", "7|1.0|1", "2|0.4|1", "3|0.2|1"}));
  Exec("ROLLBACK TO s");
  EXPECT_EQ(Spread(q), with7);
  Exec("COMMIT");
  EXPECT_EQ(Spread(q), with7);
}

TEST_F(SqlSpread, CacheSeesChangesFromAnotherConnection) {
  char path[] = "/tmp/vecgraph_spread_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  for (const char* journal : {"DELETE", "WAL"}) {
    sqlite3 *a = nullptr, *b = nullptr;
    Open(&a, path);
    Open(&b, path);
    ASSERT_EQ(sqlite3_exec(a, (std::string("PRAGMA journal_mode=") + journal + "; DROP TABLE IF EXISTS g;"
                               "CREATE TABLE g(src, dst, weight); INSERT INTO g VALUES (1, 2, 1)").c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(Spread("'g', 1", a), (V{"1|1.0|0", "2|0.5|1"})) << journal;
    EXPECT_EQ(Spread("'g', 1", a), (V{"1|1.0|0", "2|0.5|1"})) << journal;  // cached
    ASSERT_EQ(sqlite3_exec(b, "INSERT INTO g VALUES (1, 3, 2)", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(Spread("'g', 1", a), (V{"1|1.0|0", "3|1.0|1", "2|0.5|1"})) << journal;
    ASSERT_EQ(sqlite3_exec(b, "UPDATE g SET weight = 4 WHERE dst = 2", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(Spread("'g', 1", a), (V{"2|2.0|1", "1|1.0|0", "3|1.0|1"})) << journal;
    ASSERT_EQ(sqlite3_exec(b, "DELETE FROM g WHERE dst = 3", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(Spread("'g', 1", a), (V{"2|2.0|1", "1|1.0|0"})) << journal;
    // Schema change in the other connection.
    ASSERT_EQ(sqlite3_exec(b, "DROP TABLE g; CREATE TABLE g(src, dst, weight); INSERT INTO g VALUES (1, 5, 1)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(Spread("'g', 1", a), (V{"1|1.0|0", "5|0.5|1"})) << journal;
    sqlite3_close(b);
    sqlite3_close(a);
  }
  std::remove(path);
  std::remove((std::string(path) + "-wal").c_str());
  std::remove((std::string(path) + "-shm").c_str());
}

TEST_F(SqlSpread, AttachedSchemasAndHostileNames) {
  Exec("ATTACH ':memory:' AS aux; CREATE TABLE aux.edges(src, dst, weight); INSERT INTO aux.edges VALUES (1, 2, 1)");
  EXPECT_EQ(Spread("'aux.edges', 1"), (V{"1|1.0|0", "2|0.5|1"}));
  EXPECT_EQ(Spread("'AUX.edges', 1"), (V{"1|1.0|0", "2|0.5|1"}));
  EXPECT_EQ(Spread("'edges', 1"), (V{"1|1.0|0", "2|0.5|1"}));  // found in aux by the search order
  // A dot that is not a schema: the whole string is the table name.
  Exec("CREATE TABLE \"my.edges\"(src, dst, weight); INSERT INTO \"my.edges\" VALUES (1, 3, 1)");
  EXPECT_EQ(Spread("'my.edges', 1"), (V{"1|1.0|0", "3|0.5|1"}));
  // 'main.x.y': schema main, table 'x.y'.
  Exec("CREATE TABLE \"x.y\"(src, dst, weight); INSERT INTO \"x.y\" VALUES (1, 4, 1)");
  EXPECT_EQ(Spread("'main.x.y', 1"), (V{"1|1.0|0", "4|0.5|1"}));
  // Quotes, semicolons, brackets, comments: quoted as identifiers, never executed.
  for (const std::string& name : {std::string("we\"ird; DROP TABLE e; --"), std::string("[br]acket"),
                                  std::string("it's"), std::string("a\"\"b"), std::string(" sp ace ")}) {
    std::string ident = "\"";
    for (char ch : name) ident += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    ident += "\"";
    Exec("CREATE TABLE " + ident + "(\"s\"\"rc\", \"d;st\", \"w]t\"); INSERT INTO " + ident + " VALUES (1, 6, 1)");
    std::string lit = "'";
    for (char ch : name) lit += ch == '\'' ? std::string("''") : std::string(1, ch);
    lit += "'";
    EXPECT_EQ(Spread(lit + ", 1, '{\"src_col\": \"s\\\"rc\", \"dst_col\": \"d;st\", \"weight_col\": \"w]t\"}'"),
              (V{"1|1.0|0", "6|0.5|1"}))
        << name;
  }
  EXPECT_EQ(Value("SELECT count(*) FROM e"), "6");  // nothing was dropped
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e\"; DROP TABLE e; --', 1)"),
            "spread_activation: argument 1 (edges): no such table or view: 'e\"; DROP TABLE e; --'");
  EXPECT_EQ(Value("SELECT count(*) FROM e"), "6");
}

TEST_F(SqlSpread, ArgumentErrors) {
  EXPECT_EQ(Error("SELECT * FROM spread_activation"), "spread_activation: argument 1 (edges) is required");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e')"), "spread_activation: argument 2 (seeds) is required");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, '{}', 4)"),
            "too many arguments on spread_activation() - max 3");
  EXPECT_EQ(Error("SELECT * FROM spread_activation(1, 1)"),
            "spread_activation: argument 1 (edges): expected a table or view name (TEXT), found integer");
  EXPECT_EQ(Error("SELECT * FROM spread_activation(NULL, 1)"),
            "spread_activation: argument 1 (edges): expected a table or view name (TEXT), found null");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('nope', 1)"),
            "spread_activation: argument 1 (edges): no such table or view: 'nope'");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('aux.nope', 1)"),
            "spread_activation: argument 1 (edges): no such table or view: 'aux.nope'");
  Exec("CREATE TABLE e2(a, b, c)");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e2', 1)"),
            "spread_activation: argument 1 (edges): table 'e2' has no column 'src' (option 'src_col')");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e2', 1, '{\"src_col\": \"a\", \"dst_col\": \"b\"}')"),
            "spread_activation: argument 1 (edges): table 'e2' has no column 'weight' (option 'weight_col')");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', NULL)"),
            "spread_activation: argument 2 (seeds): expected JSON text ([id, ...], {\"id\": activation, ...}) or an "
            "integer node id, found null");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1.5)"),
            "spread_activation: argument 2 (seeds): expected JSON text ([id, ...], {\"id\": activation, ...}) or an "
            "integer node id, found real");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', X'01')"),
            "spread_activation: argument 2 (seeds): expected JSON text ([id, ...], {\"id\": activation, ...}) or an "
            "integer node id, found blob");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', '[1, 2.5]')"),
            "spread_activation: argument 2 (seeds): element 1: expected an integer node id, found 2.5");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', '{\"a\": 1}')"),
            "spread_activation: argument 2 (seeds): key 'a': expected a string holding an integer node id");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', '{\"1\": \"x\"}')"),
            "spread_activation: argument 2 (seeds): key '1': expected a number (the activation), found 'x'");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', '[1')"),
            "spread_activation: argument 2 (seeds): malformed JSON at offset 2: unterminated array");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', '[{\"1\": 1}, 3]')"),
            "spread_activation: argument 2 (seeds): query 1: expected a seed set (a JSON array of ids or an object "
            "{\"id\": activation}) like query 0, found 3");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, 5)"),
            "spread_activation: argument 3 (options): expected a JSON object (TEXT) or NULL, found integer");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, '[1]')"),
            "spread_activation: argument 3 (options): expected a JSON object {\"option\": value, ...}, found an array");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, '{')"),
            "spread_activation: argument 3 (options): malformed JSON at offset 1: expected a string key");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, '{\"speed\": 2}')"),
            "spread_activation: argument 3 (options): unknown option 'speed': expected one of src_col, dst_col, "
            "weight_col, directed, decay, threshold, max_hops, normalize, accumulate, refractory, max_fanout, "
            "max_frontier, top_k, min_activation");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('e', 1, '{\"top_k\": 1, \"top_k\": 2}')"),
            "spread_activation: argument 3 (options): duplicate option 'top_k'");
}

TEST_F(SqlSpread, OptionValueErrors) {
  auto err = [&](const std::string& opts) { return Error("SELECT * FROM spread_activation('e', 1, '" + opts + "')"); };
  EXPECT_EQ(err("{\"decay\": 1.5}"), "spread_activation: option 'decay': expected a number in (0, 1], found 1.5");
  EXPECT_EQ(err("{\"decay\": 0}"), "spread_activation: option 'decay': expected a number in (0, 1], found 0");
  EXPECT_EQ(err("{\"threshold\": -0.1}"), "spread_activation: option 'threshold': expected a number >= 0, found -0.1");
  EXPECT_EQ(err("{\"max_hops\": 65}"), "spread_activation: option 'max_hops': expected an integer in [0, 64], found 65");
  EXPECT_EQ(err("{\"max_hops\": \"3\"}"),
            "spread_activation: option 'max_hops': expected an integer in [0, 64], found '3'");
  EXPECT_EQ(err("{\"normalize\": \"in\"}"),
            "spread_activation: option 'normalize': expected 'none', 'out', 'degree' or 'sqrt_degree', found 'in'");
  EXPECT_EQ(err("{\"accumulate\": \"avg\"}"), "spread_activation: option 'accumulate': expected 'sum' or 'max', found 'avg'");
  EXPECT_EQ(err("{\"refractory\": 1}"), "spread_activation: option 'refractory': expected 'none' or 'once', found 1");
  EXPECT_EQ(err("{\"max_fanout\": -2}"), "spread_activation: option 'max_fanout': expected an integer >= 0, found -2");
  EXPECT_EQ(err("{\"max_frontier\": 0.5}"),
            "spread_activation: option 'max_frontier': expected an integer >= 0, found 0.5");
  EXPECT_EQ(err("{\"top_k\": null}"), "spread_activation: option 'top_k': expected an integer >= 0, found null");
  EXPECT_EQ(err("{\"min_activation\": -1}"),
            "spread_activation: option 'min_activation': expected a number >= 0, found -1");
  EXPECT_EQ(err("{\"directed\": \"yes\"}"),
            "spread_activation: option 'directed': expected 0, 1, true or false, found 'yes'");
  EXPECT_EQ(err("{\"src_col\": 3}"),
            "spread_activation: option 'src_col': expected a column name (a non-empty string), found 3");
}

TEST_F(SqlSpread, EdgeTableErrors) {
  Exec("CREATE TABLE bad(src, dst, weight)");
  auto err = [&]() { return Error("SELECT * FROM spread_activation('bad', 1)"); };
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (1, 2, 1), (3, 4, -0.5)");
  EXPECT_EQ(err(), "spread_activation: edge (3, 4) has a negative weight -0.5");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (3, 4, 9e999)");
  EXPECT_EQ(err(), "spread_activation: edge (3, 4) has an infinite weight inf");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (3, 4, 1e300)");
  EXPECT_EQ(err(), "spread_activation: edge (3, 4) has weight 1e+300, beyond the float32 range the graph stores (3.4e+38)");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (1, 2, 1), (3, 4, 'heavy')");
  EXPECT_EQ(err(), "spread_activation: argument 1 (edges): row 2 of 'bad' (edge 3 -> 4): column 'weight' holds text "
                   "'heavy', expected a number (NULL counts 1.0)");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (1, 2, 1), ('a', 4, 1)");
  EXPECT_EQ(err(), "spread_activation: argument 1 (edges): row 2 of 'bad': column 'src' holds text 'a', expected an "
                   "integer node id");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (1, 2.5, 1)");
  EXPECT_EQ(err(), "spread_activation: argument 1 (edges): row 1 of 'bad': column 'dst' holds real 2.5, expected an "
                   "integer node id");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (NULL, 2, 1)");
  EXPECT_EQ(err(), "spread_activation: argument 1 (edges): row 1 of 'bad': column 'src' holds NULL, expected an "
                   "integer node id");
  Exec("DELETE FROM bad; INSERT INTO bad VALUES (1, 2, X'00')");
  EXPECT_EQ(err(), "spread_activation: argument 1 (edges): row 1 of 'bad' (edge 1 -> 2): column 'weight' holds a "
                   "blob of 1 byte, expected a number (NULL counts 1.0)");
  // A view over a broken table reports SQLite's own error.
  Exec("CREATE TABLE tmp(src, dst, weight); CREATE VIEW v AS SELECT * FROM tmp; DROP TABLE tmp");
  EXPECT_EQ(Error("SELECT * FROM spread_activation('v', 1)"),
            "spread_activation: argument 1 (edges): cannot read the columns of 'v': no such table: main.tmp");
  // An empty table is an empty graph.
  Exec("DELETE FROM bad");
  EXPECT_EQ(Spread("'bad', '[1, 2]'"), (V{"1|1.0|0", "2|1.0|0"}));
}

TEST_F(SqlSpread, ViewsAsEdgesAndDirectOnly) {
  Exec("CREATE VIEW ev AS SELECT src AS a, dst AS b, weight * 2 AS c FROM e");
  EXPECT_EQ(Spread("'ev', 1, '{\"src_col\": \"a\", \"dst_col\": \"b\", \"weight_col\": \"c\", \"max_hops\": 1}'"),
            (V{"1|1.0|0", "2|0.8|1", "3|0.4|1"}));
  // Reads the table its argument names: not allowed from a view or a trigger.
  Exec("CREATE VIEW uses AS SELECT * FROM spread_activation('e', 1)");
  EXPECT_EQ(Error("SELECT * FROM uses"), "unsafe use of virtual table \"spread_activation\"");
  Exec("CREATE TABLE log(x); CREATE TRIGGER tr AFTER INSERT ON log BEGIN "
       "SELECT count(*) FROM spread_activation('e', NEW.x); END");
  EXPECT_EQ(Error("INSERT INTO log VALUES (1)"), "unsafe use of virtual table \"spread_activation\"");
}

TEST_F(SqlSpread, FaultInjectedDeviceGivesIdenticalRows) {
  // A bigger graph so hops do real work.
  Exec("CREATE TABLE big(src INTEGER, dst INTEGER, weight REAL);"
       "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 19999) "
       "INSERT INTO big SELECT i % 2000, (i * 7919 + (i / 2000) * 37) % 2000, 0.1 + (i % 13) / 13.0 FROM s");
  const std::string q = "SELECT node, activation, depth FROM spread_activation('big', '{\"1\": 1, \"2\": 0.5}', "
                        "'{\"threshold\": 0.001, \"max_hops\": 4}')";
  Exec("SELECT vecgraph_config('mode', 'cpu')");
  auto want = Query(q);
  ASSERT_GT(want.size(), 100u);
  Exec("SELECT vecgraph_config('device', 'simulated'), vecgraph_config('mode', 'gpu'), vecgraph_stats_reset()");
  EXPECT_EQ(Query(q), want);
  EXPECT_EQ(Value("SELECT batches > 0 AND failures = 0 FROM vecgraph_stats WHERE op = 'spread' AND backend = 'simulated'"),
            "1");
  Exec("SELECT vecgraph_config('fault_injection', '{\"op\":\"spread\",\"error\":\"oom\",\"every\":1}'), "
       "vecgraph_stats_reset()");
  EXPECT_EQ(Query(q), want);
  EXPECT_EQ(Value("SELECT failures > 0 AND failures = fallbacks FROM vecgraph_stats WHERE op = 'spread' AND "
                  "backend = 'simulated'"),
            "1");
  EXPECT_EQ(Value("SELECT batches > 0 FROM vecgraph_stats WHERE op = 'spread' AND backend = 'cpu'"), "1");
}

}  // namespace
}  // namespace vecgraph::testing
