// The executor seen and steered from SQL: vecgraph_config, vecgraph_stats, vecgraph_explain,
// vecgraph_stats_reset, and a fault-injected fallback that the user sees only in the stats.
#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class SqlExecutor : public SqlTest {
 protected:
  // The default device is 'cuda' in a CUDA build: on a machine with a GPU the first big batch
  // would go there. Every test starts from device 'none' and says what it wants.
  void SetUp() override {
    SqlTest::SetUp();
    Exec("SELECT vecgraph_config('mode', 'auto'), vecgraph_config('device', 'none'), "
         "vecgraph_config('fault_injection', ''), vecgraph_stats_reset()");
  }
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
}

// The contract says dims is optional; for 'similarity' it was an error. Omitted, it is 1.
TEST_F(SqlExecutor, ExplainDimsDefaultsToOne) {
  Exec("SELECT vecgraph_config('mode', 'cpu')");
  // (predicted_us depends on what ran before in this process: left out)
  EXPECT_EQ(Value("SELECT json_remove(vecgraph_explain('similarity', 10), '$.predicted_us')"),
            "{\"op\":\"similarity\",\"items\":10,\"dims\":1,\"work_units\":40,\"backend\":\"cpu\","
            "\"reasons\":[\"dims not given: assumed 1 (work = items x 1 x 4 bytes)\",\"mode is 'cpu'\"]}");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 10, 768), '$.dims')"), "768");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 10, 768), '$.work_units')"), "30720");
}

// JavaScript drivers bind every number as REAL: 3.0 is 3. Anything else that is not an integral
// number in range is an error naming the argument, what it expects and what it found (the
// wording of every integer argument: sql_util's ReadIntegral).
TEST_F(SqlExecutor, ExplainArguments) {
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', 1000.0, 3.0), '$.work_units')"), "12000");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('knn', 0), '$.work_units')"), "0");
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('knn', -0.0), '$.items')"), "0");
  const std::string items = "vecgraph_explain: argument 2 (items): expected an integer between 0 and 1000000000000000, found ";
  const std::string dims = "vecgraph_explain: argument 3 (dims): expected an integer between 1 and 65536, found ";
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 'many')"), items + "text 'many'");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', '2.5')"), items + "text '2.5'");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 2.5)"), items + "real 2.5");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', -1)"), items + "integer -1");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 1e400)"), items + "real Inf");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', -1e400)"), items + "real -Inf");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 1e16)"), items + "real 1e+16");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', 0.0 / 0.0)"), items + "NULL");  // SQLite's NaN is NULL
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', NULL)"), items + "NULL");
  EXPECT_EQ(Error("SELECT vecgraph_explain('knn', X'00')"), items + "a blob of 1 byte");
  EXPECT_EQ(Error("SELECT vecgraph_explain('similarity', 10, 0)"), dims + "integer 0");
  EXPECT_EQ(Error("SELECT vecgraph_explain('similarity', 10, 65537)"), dims + "integer 65537");
  EXPECT_EQ(Error("SELECT vecgraph_explain('similarity', 10, 7.5)"), dims + "real 7.5");
  EXPECT_EQ(Error("SELECT vecgraph_explain('similarity', 10, NULL)"), dims + "NULL");
  // Numeric TEXT reads as SQLite's affinity reads it, as for every integer argument (vec_topk's k).
  EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('similarity', '10', '768'), '$.work_units')"), "30720");
  EXPECT_EQ(Error("SELECT vecgraph_explain(NULL, 10)"),
            "vecgraph_explain: argument 1 (op): expected TEXT 'similarity', 'knn' or 'spread', found null");
}

// Before: with device 'cuda' (the default of a CUDA build) explain said "not probed yet: the first
// eligible batch probes it" until a batch had run, then "unavailable". It probes itself now.
TEST_F(SqlExecutor, ExplainIsTheSameBeforeAndAfterABatch) {
  MakeTable();
  const bool cuda = Value("SELECT json_extract(vecgraph_info(), '$.cuda_compiled')") == "1";
  Exec(std::string("SELECT vecgraph_config('device', '") + (cuda ? "cuda" : "simulated") + "')");
  const char* kExplain[] = {"SELECT vecgraph_explain('knn', 10)", "SELECT vecgraph_explain('knn', 10000000)",
                            "SELECT vecgraph_explain('spread', 1000000)"};
  std::vector<std::string> before;
  for (const char* q : kExplain) before.push_back(Value(q));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(Value(kExplain[i]), before[i]);
  for (const std::string& e : before) EXPECT_EQ(e.find("probed"), std::string::npos) << e;
  Value("SELECT vec_topk(id, e, '[0.1, 0.9, 3, 1]', 5, 'l2') FROM t");  // 480 KB: an eligible batch
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(Value(kExplain[i]), before[i]);
  if (cuda && Value("SELECT json_extract(vecgraph_info(), '$.gpu')") == "NULL") {
    EXPECT_EQ(Value("SELECT json_extract(vecgraph_explain('knn', 10000000), '$.reasons[0]')"),
              "the device is unavailable (no driver or no device)");
  }
}

// What a careful user might type, or a driver bind, for each integer and real key.
TEST_F(SqlExecutor, ConfigHostileValues) {
  const std::string p = "vecgraph_config: invalid value ";
  EXPECT_EQ(Error("SELECT vecgraph_config('threads', 2.7)"),
            p + "'2.7' for key 'threads': expected an integer between 1 and 256");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', 1e400)"),
            p + "'Inf' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('explore_every', -1e400)"),
            p + "'-Inf' for key 'explore_every': expected an integer between 0 and 1099511627776 (0 disables exploration)");
  EXPECT_EQ(Error("SELECT vecgraph_config('gpu_min_batch', '1e400')"),
            p + "'1e400' for key 'gpu_min_batch': expected an integer between 0 and 1125899906842624 (work units)");
  EXPECT_EQ(Error("SELECT vecgraph_config('gpu_memory_mb', ' 4')"),
            p + "' 4' for key 'gpu_memory_mb': expected an integer between 0 and 1073741824 (MiB)");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', '4 ')"),
            p + "'4 ' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', '0x10')"),
            p + "'0x10' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', 9223372036854775807)"),
            p + "'9223372036854775807' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('window', CAST('4' || char(0) || '0' AS TEXT))"),
            p + "'4\\00' for key 'window': expected an integer between 1 and 100000");
  EXPECT_EQ(Error("SELECT vecgraph_config('speedup_threshold', 9223372036854775807)"),
            p + "'9223372036854775807' for key 'speedup_threshold': expected a number > 0 and at most 1000000");
  EXPECT_EQ(Error("SELECT vecgraph_config('speedup_threshold', '0x10')"),
            p + "'0x10' for key 'speedup_threshold': expected a number > 0 and at most 1000000");
  EXPECT_EQ(Error("SELECT vecgraph_config('success_rate_threshold', '1e-400')"),
            p + "'1e-400' for key 'success_rate_threshold': expected a number between 0 and 1");
  EXPECT_EQ(Error("SELECT vecgraph_config('success_rate_threshold', 'NaN')"),
            p + "'NaN' for key 'success_rate_threshold': expected a number between 0 and 1");
  for (const char* v : {"NULL", "0.0 / 0.0"}) {
    EXPECT_EQ(Error(std::string("SELECT vecgraph_config('speedup_threshold', ") + v + ")"),
              "vecgraph_config: argument 2 (value) for key 'speedup_threshold': expected TEXT or a number, found null");
  }
  EXPECT_EQ(Error("SELECT vecgraph_config('window', X'34')"),
            "vecgraph_config: argument 2 (value) for key 'window': expected TEXT or a number, found blob");
  // Accepted exactly: integral REALs (4.0), exponents, -0; a REAL beyond SQLite's 15 printed
  // digits keeps all of them (2^50 − 1 used to become ...620).
  EXPECT_EQ(Value("SELECT vecgraph_config('window', 50.0)"), "50");
  EXPECT_EQ(Value("SELECT vecgraph_config('window', 1e3)"), "1000");
  EXPECT_EQ(Value("SELECT vecgraph_config('window', '+7')"), "7");
  EXPECT_EQ(Value("SELECT vecgraph_config('explore_every', '-0')"), "0");
  EXPECT_EQ(Value("SELECT vecgraph_config('explore_every', -0.0)"), "0");
  EXPECT_EQ(Value("SELECT vecgraph_config('gpu_min_batch', 1125899906842623.0)"), "1125899906842623");
  EXPECT_EQ(Value("SELECT vecgraph_config('gpu_min_batch', 1e15)"), "1000000000000000");
  EXPECT_EQ(Value("SELECT vecgraph_config('speedup_threshold', 2.7)"), "2.7");
  EXPECT_EQ(Value("SELECT vecgraph_config('speedup_threshold', '.5')"), "0.5");
  EXPECT_EQ(Value("SELECT vecgraph_config('success_rate_threshold', 1)"), "1.0");
  // threads above what oneTBB runs here is capped, and the value in effect is returned.
  EXPECT_EQ(Value("SELECT vecgraph_config('threads', 256) = json_extract(vecgraph_info(), '$.threads')"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_config('threads') BETWEEN 1 AND 256"), "1");
  EXPECT_EQ(Value("SELECT vecgraph_config('threads', 1.0)"), "1");
  Exec("SELECT vecgraph_config('window', 100), vecgraph_config('speedup_threshold', 1.5), "
       "vecgraph_config('success_rate_threshold', 0.95), vecgraph_config('threads', 256)");
}

}  // namespace
}  // namespace vecgraph::testing
