// tests/sql_interrupt_test.cpp — long hnsw_knn builds are observable and interruptible:
// sqlite3_interrupt stops a bulk INSERT's build within milliseconds with SQLITE_INTERRUPT, SQLite
// rolls the statement back and the index reloads equal to its table; progress notices come through
// sqlite3_log; the process-wide registry (extension/build_progress.h) shows a running build to
// another thread.
//
// Its own executable: SQLITE_CONFIG_LOG must be set before sqlite3_initialize (the first
// sqlite3_open of the process), here by a static initializer, before any test opens a connection.
// No test depends on the machine's speed: interrupts are sent once the registry says a build is
// running (or from the log callback at the first progress notice), never after a sleep.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/hnsw/hnsw_config.h"
#include "extension/build_progress.h"
#include "extension/interrupt.h"
#include "tests/sql_test_util.h"

namespace vecgraph::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr bool kSlowBuild = true;  // sanitizers or no optimisation: no latency bound
#else
constexpr bool kSlowBuild = false;
#endif

using Clock = std::chrono::steady_clock;

// ---- sqlite3_log capture

std::mutex log_mu;
std::vector<std::pair<int, std::string>> log_lines;  // (code, message) of hnsw_knn's lines
std::function<void(int, const char*)> log_hook;      // called outside log_mu

void LogCallback(void*, int code, const char* msg) {
  std::function<void(int, const char*)> hook;
  {
    std::lock_guard lock(log_mu);
    if (std::string(msg).rfind("hnsw_knn:", 0) == 0) log_lines.emplace_back(code, msg);
    hook = log_hook;
  }
  if (hook) hook(code, msg);
}

const int kLogConfigured = sqlite3_config(SQLITE_CONFIG_LOG, LogCallback, nullptr);

std::string TempPath() {
  char path[] = "/tmp/vecgraph_interrupt_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  return path;
}

class Interrupt : public SqlTest {
 protected:
  void SetUp() override {
    {
      std::lock_guard lock(log_mu);
      log_lines.clear();
      log_hook = nullptr;
    }
    path_ = TempPath();
    Open(&db_, path_.c_str());
  }
  void TearDown() override {
    {
      std::lock_guard lock(log_mu);
      log_hook = nullptr;
    }
    SqlTest::TearDown();
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) unlink((path_ + suffix).c_str());
  }

  // src(id, v): n random float32 vectors of dim dims, ids 1..n.
  void FillSource(int n, int dims) {
    Exec("CREATE TABLE src(id INTEGER PRIMARY KEY, v BLOB)");
    Exec("BEGIN");
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO src VALUES (?1, ?2)", -1, &st, nullptr), SQLITE_OK);
    std::mt19937 rng(7);
    std::normal_distribution<float> g;
    std::vector<float> v(static_cast<size_t>(dims));
    for (int i = 1; i <= n; ++i) {
      for (float& x : v) x = g(rng);
      sqlite3_bind_int(st, 1, i);
      sqlite3_bind_blob(st, 2, v.data(), dims * 4, SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    Exec("COMMIT");
  }

  // Runs sql; returns (result code, message).
  std::pair<int, std::string> Run(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return {rc, sqlite3_errmsg(db_)};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    std::pair<int, std::string> out{rc == SQLITE_DONE ? SQLITE_OK : rc, rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_)};
    sqlite3_finalize(st);
    return out;
  }

  // Runs sql while another thread calls sqlite3_interrupt as soon as the registry shows the
  // index's build running with at least `min_built` rows built. Returns (rc, message) and sets
  // *latency to the time from sqlite3_interrupt to the statement's return, *batch_ms (if given) to
  // the time the build took for its last batch before the interrupt, as the registry showed it.
  std::pair<int, std::string> RunInterrupted(const std::string& sql, uint64_t min_built, double* latency_ms,
                                             double* batch_ms = nullptr) {
    const sql::BuildKey key = sql::MakeBuildKey(db_, "main", "ix");
    std::atomic<bool> done{false};
    std::atomic<bool> sent{false};
    Clock::time_point t_interrupt{};
    double batch = -1;
    std::thread stopper([&] {
      uint64_t last_built = 0;
      Clock::time_point last_change{};
      while (!done.load()) {
        auto s = sql::LookupBuild(key);
        if (s && s->running && s->built != last_built) {
          const Clock::time_point now = Clock::now();
          if (last_built != 0) batch = std::chrono::duration<double, std::milli>(now - last_change).count();
          last_built = s->built;
          last_change = now;
        }
        if (s && s->running && s->built >= min_built) {
          t_interrupt = Clock::now();
          sent.store(true);
          sqlite3_interrupt(db_);
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
    auto out = Run(sql);
    const Clock::time_point t_return = Clock::now();
    done.store(true);
    stopper.join();
    EXPECT_TRUE(sent.load()) << "the build was never seen running";
    *latency_ms = sent.load() ? std::chrono::duration<double, std::milli>(t_return - t_interrupt).count() : -1;
    if (batch_ms != nullptr) *batch_ms = batch;
    return out;
  }

  // The index equals what was committed: `rows` rows, consistent, and a k-NN query finds a row
  // itself first.
  void ExpectIndexHolds(int rows) {
    EXPECT_EQ(Value("SELECT count(*) FROM ix"), std::to_string(rows));
    EXPECT_EQ(Value("SELECT count(*) FROM ix_nodes"), std::to_string(rows));
    EXPECT_EQ(Value("SELECT vecgraph_check('ix')"), "ok");
    auto hits = Query("SELECT rowid, distance FROM ix WHERE vector MATCH (SELECT v FROM src WHERE id = 5) AND k = 3");
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0][0], "5");
    EXPECT_EQ(std::stod(hits[0][1]), 0.0);
  }

  std::vector<std::pair<int, std::string>> Logged() {
    std::lock_guard lock(log_mu);
    return log_lines;
  }

  std::string path_;
};

// True when msg is exactly "hnsw_knn: index 'ix': build interrupted after N of M rows"; sets N, M.
bool Interrupted(const std::string& msg, unsigned long long* n = nullptr, unsigned long long* m = nullptr) {
  unsigned long long a = 0, b = 0;
  if (std::sscanf(msg.c_str(), "hnsw_knn: index 'ix': build interrupted after %llu of %llu rows", &a, &b) != 2) return false;
  char again[128];
  std::snprintf(again, sizeof again, "hnsw_knn: index 'ix': build interrupted after %llu of %llu rows", a, b);
  if (msg != again) return false;
  if (n != nullptr) *n = a;
  if (m != nullptr) *m = b;
  return true;
}

TEST_F(Interrupt, LogCallbackIsConfigured) { EXPECT_EQ(kLogConfigured, SQLITE_OK); }

TEST_F(Interrupt, BulkInsertFailsAndTheIndexReloadsEqualToTheTable) {
  const int n = 100000;  // the build starts with a full buffer (65536 rows) inside the INSERT
  FillSource(n, 16);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=16)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id <= 1000");
  double latency = 0;
  auto [rc, msg] = RunInterrupted("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id > 1000",
                                  hnsw::kBuildBatchSize, &latency);
  EXPECT_EQ(rc, SQLITE_INTERRUPT) << msg;
  unsigned long long built = 0, total = 0;
  ASSERT_TRUE(Interrupted(msg, &built, &total)) << msg;
  EXPECT_GE(built, hnsw::kBuildBatchSize);
  EXPECT_LT(built, total);
  EXPECT_EQ(total, 65536u);  // the first full buffer (kMaxPendingRows), built inside the INSERT
  EXPECT_TRUE(sqlite3_get_autocommit(db_));
  std::printf("interrupt latency: %.1f ms\n", latency);

  auto s = sql::LookupBuild(sql::MakeBuildKey(db_, "main", "ix"));
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->running);
  EXPECT_FALSE(s->open);
  EXPECT_TRUE(s->interrupted);

  // SQLite rolled the statement back; the index reloads from the shadow tables.
  ExpectIndexHolds(1000);
  // And keeps working: more rows, then the same checks.
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id BETWEEN 1001 AND 1500");
  ExpectIndexHolds(1500);
}

TEST_F(Interrupt, InsideATransactionTheWholeTransactionRollsBack) {
  // SQLite's rule for an interrupted write statement inside BEGIN ... COMMIT: the transaction is
  // rolled back (with the rows it buffered before the interrupted statement).
  FillSource(80000, 16);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=16)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id <= 1000");
  Exec("BEGIN");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id BETWEEN 1001 AND 1200");
  double latency = 0;
  auto [rc, msg] = RunInterrupted("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id > 1200",
                                  hnsw::kBuildBatchSize, &latency);
  EXPECT_EQ(rc, SQLITE_INTERRUPT) << msg;
  EXPECT_TRUE(Interrupted(msg)) << msg;
  EXPECT_TRUE(sqlite3_get_autocommit(db_)) << "the transaction should have been rolled back";
  ExpectIndexHolds(1000);
}

TEST_F(Interrupt, HonouredWithin100msEvenWhenOneBatchTakesLonger) {
  // 2048 dimensions: one batch of 256 rows takes 0.1–0.3 s on two cores (printed below), so only
  // the polling inside a batch (engine/hnsw/build_control.h) can meet the bound: the interrupt is
  // sent right after a batch ends. The rows are built at the end of the statement (xSync: fewer
  // than a full buffer); the interrupt comes early in the seventh batch (~1700 nodes in the graph).
  // A thread of ours preempted by another process can miss the bound once: up to 3 tries, the
  // best counts (without the polling inside a batch every try takes a whole batch).
  const int dims = 2048, n = 2400;
  FillSource(n, dims);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=2048)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id <= 200");
  // (Under sanitizers a batch takes seconds: interrupt in the second one, the bound is not checked.)
  const uint64_t after = (kSlowBuild ? 1 : 6) * hnsw::kBuildBatchSize;
  double best = 1e9;
  for (int attempt = 0; attempt < (kSlowBuild ? 1 : 3) && best >= 100.0; ++attempt) {
    double latency = 0, batch = 0;
    auto [rc, msg] = RunInterrupted("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id > 200", after,
                                    &latency, &batch);
    EXPECT_EQ(rc, SQLITE_INTERRUPT) << msg;
    unsigned long long built = 0, total = 0;
    ASSERT_TRUE(Interrupted(msg, &built, &total)) << msg;
    EXPECT_EQ(total, static_cast<unsigned long long>(n - 200));
    ExpectIndexHolds(200);
    std::printf("interrupt latency at %d dimensions: %.1f ms (one batch: %.0f ms)\n", dims, latency, batch);
    best = std::min(best, latency);
  }
  if (kSlowBuild) GTEST_SKIP() << "latency not bounded under sanitizers (measured " << best << " ms)";
  EXPECT_LT(best, 100.0);
}

TEST_F(Interrupt, ProgressNoticesAndTheRegistry) {
  // Cheap graph parameters: 110000 rows build in about a second in Release. The INSERT builds a
  // full buffer (65536 rows) while it runs and the other 44464 at the end; one build of 110000.
  const int n = 110000;
  FillSource(n, 4);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=4, m=4, ef_construction=8)");
  const sql::BuildKey key = sql::MakeBuildKey(db_, "main", "ix");
  EXPECT_FALSE(sql::LookupBuild(key).has_value());
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src");
  // Notices at the first batch boundary past 100000 (65536 + 135 × 256) and at the end.
  const std::vector<std::pair<int, std::string>> want = {
      {SQLITE_NOTICE, "hnsw_knn: index 'ix': built 100096 of 110000 rows"},
      {SQLITE_NOTICE, "hnsw_knn: index 'ix': built 110000 of 110000 rows"}};
  EXPECT_EQ(Logged(), want);
  auto s = sql::LookupBuild(key);
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->running);
  EXPECT_FALSE(s->open);
  EXPECT_FALSE(s->interrupted);
  EXPECT_EQ(s->built, 110000u);
  EXPECT_EQ(s->total, 110000u);
  EXPECT_EQ(s->pending, 0u);
  EXPECT_GT(s->started, 1.6e9);
  EXPECT_GT(s->seconds, 0.0);
  EXPECT_EQ(Value("SELECT count(*) FROM ix"), std::to_string(n));

  // A small build logs nothing (and starts a new entry of the registry).
  {
    std::lock_guard lock(log_mu);
    log_lines.clear();
  }
  Exec("DELETE FROM ix WHERE rowid <= 10");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id <= 10");
  EXPECT_TRUE(Logged().empty());
  s = sql::LookupBuild(key);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->built, 10u);
  EXPECT_EQ(s->total, 10u);
}

TEST_F(Interrupt, InterruptFromTheLogCallbackAtTheFirstNotice) {
  // Deterministic: the interrupt comes at the first progress notice (100096 rows built), from the
  // callback that receives it, on the thread running the statement.
  const int n = 110000;
  FillSource(n, 4);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=4, m=4, ef_construction=8)");
  Exec("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id <= 100");
  sqlite3* db = db_;
  {
    std::lock_guard lock(log_mu);
    log_hook = [db](int code, const char*) {
      if (code == SQLITE_NOTICE) sqlite3_interrupt(db);
    };
  }
  auto [rc, msg] = Run("INSERT INTO ix(rowid, vector) SELECT id, v FROM src WHERE id > 100");
  EXPECT_EQ(rc, SQLITE_INTERRUPT) << msg;
  unsigned long long built = 0, total = 0;
  ASSERT_TRUE(Interrupted(msg, &built, &total)) << msg;
  EXPECT_GE(built, 100096u);
  EXPECT_LT(built, total);
  EXPECT_EQ(total, static_cast<unsigned long long>(n - 100));
  ASSERT_FALSE(Logged().empty());
  EXPECT_EQ(Logged()[0].second, "hnsw_knn: index 'ix': built 100096 of 109900 rows");
  {
    std::lock_guard lock(log_mu);
    log_hook = nullptr;
  }
  ExpectIndexHolds(100);
}

// InterruptProbe inside a running statement (a scalar function of this test): false, then true
// once sqlite3_interrupt was called, on whichever mechanism this SQLite gives (sqlite3_is_interrupted
// on 3.41+, the probe statement before).
struct ProbeSeen {
  bool before = true, after = false, one_shot = false, api = false;
};

void ProbeFunc(sqlite3_context* ctx, int, sqlite3_value**) {
  auto* seen = static_cast<ProbeSeen*>(sqlite3_user_data(ctx));
  sqlite3* db = sqlite3_context_db_handle(ctx);
  sql::InterruptProbe probe(db);
  seen->api = probe.uses_is_interrupted();
  seen->before = probe.Interrupted();
  sqlite3_interrupt(db);
  seen->after = probe.Interrupted();
  seen->one_shot = sql::ConnectionInterrupted(db);
  sqlite3_result_int(ctx, 1);
}

TEST_F(Interrupt, ProbeSeesAnInterruptDuringAStatement) {
  ProbeSeen seen;
  ASSERT_EQ(sqlite3_create_function(db_, "probe", 0, SQLITE_UTF8, &seen, ProbeFunc, nullptr, nullptr), SQLITE_OK);
  auto [rc, msg] = Run("SELECT probe()");
  EXPECT_EQ(rc, SQLITE_INTERRUPT) << msg;  // SQLite stops the statement itself after the call
  EXPECT_FALSE(seen.before);
  EXPECT_TRUE(seen.after);
  EXPECT_TRUE(seen.one_shot);
  EXPECT_EQ(seen.api, SQLITE_VERSION_NUMBER >= 3041000 && sqlite3_libversion_number() >= 3041000);
  std::printf("SQLite %s: %s\n", sqlite3_libversion(), seen.api ? "sqlite3_is_interrupted" : "probe statement");
  // Outside a statement the flag is gone with the next statement, and the probe says false.
  EXPECT_EQ(Value("SELECT 1"), "1");
  EXPECT_FALSE(sql::ConnectionInterrupted(db_));
}

TEST_F(Interrupt, AnInterruptBeforeTheStatementDoesNotStopIt) {
  // SQLite's rule: sqlite3_interrupt while nothing runs is forgotten when the next statement
  // starts, so a build in that statement runs to the end.
  FillSource(3000, 8);
  Exec("CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=8)");
  sqlite3_interrupt(db_);
  auto [rc, msg] = Run("INSERT INTO ix(rowid, vector) SELECT id, v FROM src");
  EXPECT_EQ(rc, SQLITE_OK) << msg;
  ExpectIndexHolds(3000);
}

}  // namespace
}  // namespace vecgraph::testing
