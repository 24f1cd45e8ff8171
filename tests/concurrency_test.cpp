// 8 threads on separate connections hammer the process-wide executor (vec_topk batches through
// the CPU and the simulated device, with faults injected and settings changed concurrently).
// Every result must equal the single-threaded answer. `make test` runs this under ThreadSanitizer.
// Nothing here depends on timing: the steering thread changes a setting after every few completed
// queries (not every few milliseconds), so a slow machine or TSan sees as many changes per query
// as a fast one, and every assertion is about answers and errors, never about which backend ran.
#include <atomic>
#include <random>
#include <thread>
#include <unistd.h>

#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

class Concurrency : public SqlTest {};

TEST_F(Concurrency, EightConnectionsHammerTheExecutor) {
  char path[] = "/tmp/vecgraph_concurrency_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  sqlite3* setup = nullptr;
  Open(&setup, path);
  ASSERT_EQ(sqlite3_exec(setup,
                         "CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB);"
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) "
                         "INSERT INTO t SELECT i, vec_f32(json_array(sin(i), cos(i * 0.7), (i % 97) / 97.0, "
                         "(i % 13) / 13.0)) FROM s;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  const char* kQuery = "SELECT vec_topk(id, e, '[0.3, -0.2, 0.5, 0.1]', 25, 'l2') FROM t WHERE id % 3 != 1";
  std::string expected = QueryOn(setup, kQuery)[0][0];
  ASSERT_EQ(sqlite3_exec(setup,
                         "SELECT vecgraph_config('device', 'simulated');"
                         "SELECT vecgraph_config('simulated_device', '{\"launch_us\": 1, \"gbps\": 500}');"
                         "SELECT vecgraph_config('gpu_min_batch', 1024);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);

  constexpr int kThreads = 8;
  constexpr int kIterations = 25;
  std::atomic<int> mismatches{0}, errors{0}, completed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      sqlite3* db = nullptr;
      if (sqlite3_open(path, &db) != SQLITE_OK || vecgraph_register(db) != SQLITE_OK) {
        ++errors;
        return;
      }
      for (int i = 0; i < kIterations; ++i) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, kQuery, -1, &st, nullptr) != SQLITE_OK) {
          ++errors;
          break;
        }
        if (sqlite3_step(st) == SQLITE_ROW) {
          std::string got = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
          if (got != expected) ++mismatches;
        } else {
          ++errors;
        }
        sqlite3_finalize(st);
        ++completed;
        if (t == 0 && i % 5 == 0) {
          // Read the executor's state from SQL while others run.
          sqlite3_exec(db, "SELECT * FROM vecgraph_stats; SELECT vecgraph_explain('similarity', 5000, 4);", nullptr,
                       nullptr, nullptr);
        }
      }
      sqlite3_close(db);
    });
  }
  // A steering thread flips modes and injects faults while the workers run.
  std::thread steer([&] {
    sqlite3* db = nullptr;
    Open(&db, path);
    const char* settings[] = {
        "SELECT vecgraph_config('fault_injection', '{\"op\": \"similarity\", \"error\": \"oom\", \"every\": 3}')",
        "SELECT vecgraph_config('mode', 'gpu')",
        "SELECT vecgraph_config('threads', 1)",
        "SELECT vecgraph_config('fault_injection', '{\"op\": \"any\", \"error\": \"launch\", \"every\": 2}')",
        "SELECT vecgraph_config('mode', 'auto')",
        "SELECT vecgraph_config('threads', 2)",
        "SELECT vecgraph_config('fault_injection', '')",
        "SELECT vecgraph_stats_reset()",
    };
    // One change per 3 completed queries (about 66 over the run), paced by progress, not time.
    for (int round = 0; !stop.load(); ++round) {
      if (sqlite3_exec(db, settings[round % 8], nullptr, nullptr, nullptr) != SQLITE_OK) ++errors;
      while (!stop.load() && completed.load() < 3 * (round + 1)) std::this_thread::yield();
    }
    sqlite3_close(db);
  });
  for (auto& th : threads) th.join();
  stop = true;
  steer.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  sqlite3_exec(setup,
               "SELECT vecgraph_config('mode', 'auto'); SELECT vecgraph_config('device', 'none');"
               "SELECT vecgraph_config('fault_injection', '');",
               nullptr, nullptr, nullptr);
  sqlite3_close(setup);
  unlink(path);
}

}  // namespace
}  // namespace vecgraph::testing
