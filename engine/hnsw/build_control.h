// engine/hnsw/build_control.h — how the caller of HnswIndex::InsertBatch observes a long build and
// cancels it (the SQL layer: sqlite3_interrupt on the connection; progress for sqlite3_log and
// vecgraph_index_info). Pure C++: no SQLite here.
//
//   hnsw::BuildControl ctl;
//   ctl.cancelled = [&] { return TimeIsUp() || UserPressedCtrlC(); };   // cheap; rate-limit inside
//   Status st = index->InsertBatch(rowids, vecs, /*upsert=*/false, &ctl);
//   if (st.code() == StatusCode::kCancelled) { /* drop `index`, reload it from storage */ }
//
// How it works: InsertBatch builds in batches of kBuildBatchSize rows (hnsw_build.cpp). After
// each batch it adds the batch to `built` and calls `cancelled()`. Inside a batch the parallel
// search step runs in rounds of members sized to take about kPollInterval each; between rounds
// the calling thread calls `cancelled()` again, so a request is seen within about kPollInterval
// of build work however large the vectors are. `cancelled` is only ever called on the thread that
// called InsertBatch (never on a TBB worker), so it may use that thread's resources (an SQLite
// connection, for instance); it may also read `built`/`total` to report progress.
//
// State after a cancelled InsertBatch (Status code kCancelled): the index is NOT a consistent
// prefix of the call (the cancelled batch is half-linked). Drop it (or Reset() / Reload() it from
// storage) before any other use; destroying it is always safe. A call that returns Ok was never
// cancelled, whatever `cancelled()` said after its last batch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace vecgraph::hnsw {

struct BuildControl {
  // How often (of build work) InsertBatch calls `cancelled` at the latest, give or take one
  // member's search (one row: ~0.1 ms at 16 dimensions, a few ms at 1536).
  static constexpr std::chrono::milliseconds kPollInterval{5};

  // Called on the calling thread at least every kPollInterval of work (often more often: the
  // caller rate-limits if the check costs anything). true: stop, InsertBatch returns kCancelled.
  // Empty: never cancelled (progress is still counted).
  std::function<bool()> cancelled;

  // Rows of the call that are linked into the graph so far (updated after each batch) and the
  // rows the call builds (set when the call starts: its rows minus identical upserts are not
  // known up front, so this is rowids.size()). Readable from any thread while the call runs.
  std::atomic<uint64_t> built{0};
  std::atomic<uint64_t> total{0};
};

}  // namespace vecgraph::hnsw
