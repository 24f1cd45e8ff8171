// extension/build_progress.h — the hnsw_knn builds of this process: what is buffered, what a
// running build has done, and its progress notices (sqlite3_log). Readable from any connection of
// the process (vecgraph_index_info on another connection shows a build while it runs).
//
//   BuildKey key = MakeBuildKey(db, "main", "ix");   // the same index seen from any connection
//   std::optional<BuildSnapshot> s = LookupBuild(key);
//   if (s && s->running) printf("built %llu of %llu rows, %.1f s\n", s->built, s->total, s->seconds);
//
// What "a build" is. INSERTs into hnsw_knn are buffered and built in pieces: whenever
// kMaxPendingRows (65536) rows are buffered, and the rest at the next flush point (end of the
// statement's transaction, next read, next write statement's savepoint). A run of such pieces is
// one build here: a piece of kMaxPendingRows rows (more follow) continues into the next piece, a
// smaller one (or a failure) ends it. So the counters of a 1M-row INSERT ... SELECT go up to 1M:
// `total` counts the rows handed to the build so far (it grows by 65536 per piece while the INSERT
// reads more), `built` those linked into the graph.
//
// Notices: sqlite3_log(SQLITE_NOTICE, "hnsw_knn: index 'ix': built N of M rows") the first time
// `built` reaches each multiple of kNoticeEveryRows (100000), and once at the end of a build of more
// than kNoticeEveryRows rows (N = M). Logged on the thread running the statement, from inside it.
//
// Threads: every function may be called from any thread (one process-wide mutex); BuildTracker's
// methods from the thread running the build's statement (they call sqlite3_log).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "extension/sqlite_api.h"

namespace vecgraph::sql {

// Rows between two progress notices.
inline constexpr uint64_t kNoticeEveryRows = 100000;

// Which index: its database file (sqlite3_db_filename of its schema) and its table name in lower
// case, so every connection to the file finds the same entry whatever it named the schema (main,
// an ATTACH name). A database without a file (":memory:", temp, an empty name) belongs to one
// connection: `file` is then "memory:<connection address>/<schema, lower case>".
struct BuildKey {
  std::string file;
  std::string table;
  bool operator<(const BuildKey& o) const { return file != o.file ? file < o.file : table < o.table; }
  bool operator==(const BuildKey& o) const { return file == o.file && table == o.table; }
};
BuildKey MakeBuildKey(sqlite3* db, const std::string& schema, const std::string& table);

// A copy of an index's entry.
struct BuildSnapshot {
  bool running = false;    // a piece of a build is running now (InsertBatch or writing its rows)
  bool open = false;       // a build is under way: running, or between two pieces of one
  uint64_t pending = 0;    // rows buffered by INSERTs and not built yet (SetPending)
  uint64_t built = 0;      // rows of the current (or last) build linked into the graph
  uint64_t total = 0;      // rows handed to the current (or last) build so far
  double started = 0;      // when the current (or last) build started, seconds since the Unix epoch; 0: never
  double seconds = 0;      // how long it has run (until it ended, for the last one)
  bool interrupted = false;  // the last build ended by sqlite3_interrupt
};

// nullopt when no build or SetPending ever touched the index in this process.
std::optional<BuildSnapshot> LookupBuild(const BuildKey& key);
// The rows buffered for the index and not built yet (HnswUpdate after buffering a row; 0 after
// a flush or rollback).
void SetPending(const BuildKey& key, uint64_t pending);
// Drops the entry (DROP TABLE, or a rename: the old name's).
void ForgetBuild(const BuildKey& key);

// One piece of a build (one Flush), from InsertBatch to the rows written. Progress() as the engine
// reports it; Finish() at the end: notices and the registry; the destructor finishes a piece that
// was not finished as a failure.
class BuildTracker {
 public:
  // `index_name` as messages show it (vt->name); `rows`: the piece's rows; `more_may_follow`: the
  // piece is a full buffer (kMaxPendingRows), so the INSERT may go on and the build with it.
  BuildTracker(sqlite3* db, const std::string& schema, const std::string& index_name, uint64_t rows,
               bool more_may_follow);
  ~BuildTracker();
  BuildTracker(const BuildTracker&) = delete;
  BuildTracker& operator=(const BuildTracker&) = delete;

  // `built_in_piece`: rows of this piece built so far. Cheap unless a notice is due (then logs).
  void Progress(uint64_t built_in_piece);
  // ok: the piece is built and written. interrupted: it stopped on sqlite3_interrupt.
  void Finish(bool ok, bool interrupted = false);

  // Of the whole build (earlier pieces included): rows built so far, rows handed to it so far.
  uint64_t built() const { return before_ + piece_built_; }
  uint64_t total() const { return total_; }

 private:
  BuildKey key_;
  std::string name_;
  uint64_t rows_, before_ = 0, total_ = 0, piece_built_ = 0, next_notice_ = kNoticeEveryRows;
  bool more_may_follow_, finished_ = false;
};

}  // namespace vecgraph::sql
