// 8 threads on separate connections hammer the process-wide executor (vec_topk batches through
// the CPU and the simulated device, with faults injected and settings changed concurrently);
// 4 threads share one HNSW index and run filtered searches whose filter bits and two-hop lists
// are built while the others read them. Every result must equal the single-threaded answer. `make test` runs this under ThreadSanitizer.
// Nothing here depends on timing: the steering thread changes a setting after every few completed
// queries (not every few milliseconds), so a slow machine or TSan sees as many changes per query
// as a fast one, and every assertion is about answers and errors, never about which backend ran.
#include <atomic>
#include <random>
#include <thread>
#include <unistd.h>

#include "engine/hnsw/hnsw.h"
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

// One index, 4 threads, 3 filters at two-hop selectivities, each thread in its own order: the
// filter cache and the kept two-hop lists are filled by whichever query gets there first while
// the others read them (or compute their lists on the way); every answer equals the answer of a
// single thread on a fresh copy of the index.
TEST(ConcurrencyEngine, SharedIndexFilteredSearchesBuildTheirCachesOnce) {
  using namespace vecgraph::hnsw;
  const size_t n = 4000, dim = 8, k = 10;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = vecgraph::Metric::kL2;
  cfg.M = 8;
  cfg.ef_construction = 60;
  cfg.filter_exact_max_rows = 0;
  cfg.filter_exact_max_fraction = 0;
  cfg.filter_graph_cost_rows = 0;
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::vector<float> data(n * dim);
  for (float& x : data) x = g(rng);
  std::vector<int64_t> rowids(n);
  for (size_t i = 0; i < n; ++i) rowids[i] = static_cast<int64_t>(i) + 1;
  auto make = [&] {
    auto idx = HnswIndex::Create(cfg);
    EXPECT_TRUE(idx.ok());
    EXPECT_TRUE((*idx)->InsertBatch(rowids, data.data()).ok());
    (*idx)->SetAttributeSchema({AttrType::kInteger});
    for (size_t i = 0; i < n; ++i)
      EXPECT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<AttrValue>{AttrValue::Int(static_cast<int64_t>((i * 7919) % 100))}).ok());
    return std::move(*idx);
  };
  std::vector<std::vector<float>> queries(16, std::vector<float>(dim));
  for (auto& q : queries)
    for (float& x : q) x = g(rng);
  const int64_t percents[] = {8, 15, 30};
  auto terms_for = [](int64_t p) { return std::vector<AttrTerm>{{0, AttrOp::kLt, {AttrValue::Int(p)}}}; };
  // The single-threaded answers, from a fresh index (its first use of each filter: terms).
  std::vector<std::vector<std::vector<HnswHit>>> want(3, std::vector<std::vector<HnswHit>>(queries.size()));
  {
    auto ref = make();
    for (int f = 0; f < 3; ++f) {
      auto terms = terms_for(percents[f]);
      for (size_t q = 0; q < queries.size(); ++q) {
        auto r = ref->SearchFiltered(queries[q], k, 0, SearchFilter{terms, nullptr, {}});
        ASSERT_TRUE(r.ok());
        want[f][q] = *r;
      }
    }
  }
  auto shared = make();
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 4; ++rep) {
        for (size_t j = 0; j < 3 * queries.size(); ++j) {
          const size_t f = (j + static_cast<size_t>(t)) % 3, q = (j * 5 + static_cast<size_t>(t) * 3) % queries.size();
          auto terms = terms_for(percents[f]);
          auto r = shared->SearchFiltered(queries[q], k, 0, SearchFilter{terms, nullptr, {}});
          if (!r.ok()) ++errors;
          else if (*r != want[f][q]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  SearchStats st;
  auto terms = terms_for(15);
  ASSERT_TRUE(shared->SearchFiltered(queries[0], k, 0, SearchFilter{terms, nullptr, {}}, false, &st).ok());
  EXPECT_TRUE(st.hop_lists);
}

}  // namespace
}  // namespace vecgraph::testing
