// extension/interrupt.h — has sqlite3_interrupt() been called on a connection while one of its
// statements runs? For long work that runs inside a statement without stepping SQLite's virtual
// machine (an hnsw_knn build in xUpdate / xSync / xFilter), which SQLite cannot stop by itself.
//
//   InterruptProbe probe(db);          // once per long job, on the thread running the statement
//   while (work_left) { DoSomeWork(); if (probe.Interrupted()) return SQLITE_INTERRUPT; }
//
// How it works. sqlite3_interrupt(db) sets a flag on the connection; SQLite clears it only when a
// statement starts (sqlite3_step, sqlite3_prepare) while no other statement of the connection is
// running. So while the user's statement runs (it does: we are inside one of its callbacks) the
// flag stays set until that statement ends, and:
//   - SQLite 3.41 and later: sqlite3_is_interrupted(db) reads it (an atomic load). Used when both
//     the headers we were compiled against and the library we run in are 3.41+.
//   - Otherwise (SQLite 3.38–3.40, or this build's 3.40 headers loaded into a newer SQLite, whose
//     API table we cannot see past): step a tiny statement, "SELECT 1", prepared once per probe.
//     sqlite3_step checks the flag before the first instruction and returns SQLITE_INTERRUPT while
//     it is set (checked on 3.40.1 and 3.54.1: about 0.1–0.15 µs per probe). The statement reads no
//     table, takes no lock and starts no transaction, and an interrupted read-only statement rolls
//     nothing back. An authorizer that refuses it, or a failed prepare, means "not interrupted".
//     Side effects an application can see: a tracer (sqlite3_trace_v2) sees "SELECT 1" every
//     ~10 ms of a build, and SQLite's error log gets one "statement aborts at 0: interrupted;
//     [SELECT 1]" line when the probe sees the interrupt (a probe stops probing after that).
// Either way the answer is only meaningful while a statement of db is running; outside one the
// probe says false (sqlite3_step clears the flag first) and sqlite3_is_interrupted may say true.
//
// Threads: call Interrupted() only on the thread that runs db's statement (never on TBB workers:
// PLATFORM_NOTES.md). Construction prepares nothing; the destructor finalizes the statement, so a
// probe must not outlive the callback it was made in (sqlite3_close refuses unfinalized ones).
#pragma once

#include "extension/sqlite_api.h"

namespace vecgraph::sql {

class InterruptProbe {
 public:
  explicit InterruptProbe(sqlite3* db);
  ~InterruptProbe();
  InterruptProbe(const InterruptProbe&) = delete;
  InterruptProbe& operator=(const InterruptProbe&) = delete;

  // True once sqlite3_interrupt(db) has been called during the running statement (and from then
  // on, until that statement ends).
  bool Interrupted();
  // Which mechanism this probe uses (tests and diagnostics): sqlite3_is_interrupted or the probe
  // statement.
  bool uses_is_interrupted() const { return use_api_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  bool use_api_ = false;
  bool seen_ = false;  // once interrupted, stays interrupted (no more probing)
};

// One-shot form: InterruptProbe(db).Interrupted() (prepares and finalizes a statement on the
// fallback path: prefer a probe object when polling).
bool ConnectionInterrupted(sqlite3* db);

}  // namespace vecgraph::sql
