// The executor seen and steered from SQL: vecgraph_config, vecgraph_stats, vecgraph_explain,
// vecgraph_stats_reset, and a fault-injected fallback that the user sees only in the stats.
#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class SqlExecutor : public SqlTest {
 protected:
  void TearDown() override {
    // The executor is process-wide: put it back for the next test.
    Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none'), "
         "vecgraph_config('fault_injection', ''), vecgraph_config('gpu_min_batch', 65536), "
         "vecgraph_config('explore_every', 32), vecgraph_stats_reset()");
    SqlTest::TearDown();
  }
  void MakeTable() {
    Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB)");
    Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 30000) "
         "INSERT INTO t SELECT i, vec_f32(json_array(sin(i), cos(i), i % 10, 1)) FROM s");
  }
};

TEST_F(SqlExecutor, ConfigGetSet) {
  EXPECT_EQ(Value("SELECT vecgraph_config('mode')"), "auto");
  EXPECT_EQ(Value("SELECT vecgraph_config('mode', 'cpu')"), "cpu");
  EXPECT_EQ(Value("SELECT vecgraph_config('mode')"), "cpu");
  EXPECT_EQ(Value("SELECT vecgraph_config('window', 50)"), "50");
  EXPECT_EQ(Value("SELECT typeof(vecgraph_config('window'))"), "integer");
  EXPECT_EQ(Value("SELECT vecgraph_config('speedup_threshold', 2)"), "2.0");
  EXPECT_EQ(Value("SELECT vecgraph_config('simulated_device', '{\"launch_us\": 7, \"gbps\": 12.5}')"),
            "{\"launch_us\":7,\"gbps\":12.5}");
  EXPECT_EQ(Value("SELECT vecgraph_config('device', 'simulated')"), "simulated");
  Exec("SELECT vecgraph_config('window', 100), vecgraph_config('speedup_threshold', 1.5)");
}

TEST_F(SqlExecutor, ConfigErrors) {
  EXPECT_EQ(Error("SELECT vecgraph_config('colour')"),
            "vecgraph_config: unknown key 'colour': expected one of mode, device, gpu_min_batch, speedup_threshold, "
            "success_rate_threshold, window, explore_every, threads, gpu_memory_mb, simulated_device, fault_injection");
  EXPECT_EQ(Error("SELECT vecgraph_config('mode', 'fast')"),
            "vecgraph_config: invalid value 'fast' for key 'mode': expected 'auto', 'cpu' or 'gpu'");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', -3)"),
            "vecgraph_config: invalid value '-3' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('device', 'tpu')"),
            "vecgraph_config: invalid value 'tpu' for key 'device': expected 'cuda', 'simulated' or 'none'");
  EXPECT_EQ(Error("SELECT vecgraph_config('threads', NULL)"),
            "vecgraph_config: argument 2 (value) for key 'threads': expected TEXT or a number, found null");
  EXPECT_EQ(Error("SELECT vecgraph_config(1)"), "vecgraph_config: argument 1 (key): expected TEXT, found integer");
  EXPECT_EQ(Error("SELECT vecgraph_config('fault_injection', '{\"op\": \"knn\", \"error\": \"segfault\"}')"),
            "vecgraph_config: invalid value '{\"op\": \"knn\", \"error\": \"segfault\"}' for key 'fault_injection': "
            "expected \"error\" one of \"oom\", \"launch\", \"illegal_address\", \"no_device\"");
}

TEST_F(SqlExecutor, ConfigIsDirectOnly) {
  Exec("CREATE TABLE x(a)");
  Exec("CREATE VIEW v AS SELECT vecgraph_config('mode', 'cpu') AS m");
  EXPECT_EQ(Error("SELECT * FROM v"), "unsafe use of vecgraph_config()");
}

TEST_F(SqlExecutor, StatsShowBatchesAndAFallback) {
  MakeTable();
  Exec("SELECT vecgraph_stats_reset()");
  std::string expected = Value("SELECT vec_topk(id, e, '[0.1, 0.9, 3, 1]', 5, 'l2') FROM t");
  auto rows = Query("SELECT op, backend, batches, items, failures, state FROM vecgraph_stats");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"similarity", "cpu", rows[0][2], "30000", "0", "ok"}));

  // A simulated device that fails every 2nd call with out-of-memory: same answer, fallbacks in stats.
  Exec("SELECT vecgraph_config('device', 'simulated'), vecgraph_config('mode', 'gpu'), "
       "vecgraph_config('fault_injection', '{\"op\": \"similarity\", \"error\": \"oom\", \"every\": 2}')");
  Exec("SELECT vecgraph_stats_reset()");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Value("SELECT vec_topk(id, e, '[0.1, 0.9, 3, 1]', 5, 'l2') FROM t"), expected);
  auto dev = Query("SELECT batches > 0, failures > 0, failures = fallbacks, state, last_error FROM vecgraph_stats "
                   "WHERE backend = 'simulated'");
  ASSERT_EQ(dev.size(), 1u);
  EXPECT_EQ(dev[0], (Row{"1", "1", "1", "ok", "oom: injected fault: oom"}));
  EXPECT_EQ(Value("SELECT items FROM vecgraph_stats WHERE backend = 'cpu'") != "0", true);

  // A sticky error: the device is lost for the rest of the process; answers stay the same.
  Exec("SELECT vecgraph_config('fault_injection', '{\"op\": \"any\", \"error\": \"illegal_address\", \"every\": 1}')");
  EXPECT_EQ(Value("SELECT vec_topk(id, e, '[0.1, 0.9, 3, 1]', 5, 'l2') FROM t"), expected);
  EXPECT_EQ(Value("SELECT state FROM vecgraph_stats WHERE backend = 'simulated'"), "lost");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_info(), '$.executor.devices.simulated.state')"), "lost");
}

TEST_F(SqlExecutor, Explain) {
  Exec("SELECT vecgraph_config('mode', 'cpu')");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 100000, 768), '$.backend')"), "cpu");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 100000, 768), '$.reasons[0]')"),
            "mode is 'cpu'");
  Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'simulated')");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 10, 4), '$.backend')"), "cpu");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('knn', 10000000), '$.work_units')"), "10000000");
  EXPECT_EQ(Error("SELECT vecgraph_explain('sort', 10)"),
            "vecgraph_explain: argument 1 (op): unknown op 'sort': expected 'similarity', 'knn' or 'spread'");
  EXPECT_EQ(Error("SELECT vecgraph_explain('similarity', 10)"),
            "vecgraph_explain: argument 3 (dims): required for op 'similarity' (work = items x dims x 4 bytes)");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 'many')"),
            "vecgraph_explain: argument 2 (items): expected a number >= 0, found text");
}

}  // namespace
}  // namespace vecgraph::testing
