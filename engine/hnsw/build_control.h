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
// each batch it adds the batch to `built` and calls `cancelled()`. Inside a batch, the calling
// thread works on the batch's parallel steps like the TBB workers, and between two of the items it
// runs (one row's search, one neighbour list's update) it calls `cancelled()` again once
// kPollInterval has passed since the previous call; a true answer stops every thread before its
// next item. So a request is seen within about kPollInterval of build work however large the
// vectors are, and the control adds no barrier (the graph is the one built without it).
// `cancelled` is only ever called on the thread that called InsertBatch (never on a TBB worker),
// so it may use that thread's resources (an SQLite connection, for instance); it may also read
// `built`/`total` to report progress. (When another thread's parallel work holds the arena so that
// this thread cannot join it, the polls inside that batch are skipped: the next comes after it.)
//
// State after a cancelled InsertBatch (Status code kCancelled): the index is NOT a consistent
// prefix of the call (the cancelled batch is half-linked). Drop it (or Reset() / Reload() it from
// storage) before any other use; destroying it is always safe. There is no poll after the last
// batch: a call that gets there returns Ok.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace vecgraph::hnsw {

struct BuildControl {
  // How often InsertBatch calls `cancelled` inside a batch, give or take one item (one row's
  // search: ~0.1 ms at 16 dimensions, a few ms at 1536 on a large graph).
  static constexpr std::chrono::milliseconds kPollInterval{5};

  // Called on the calling thread after every batch but the last and about every kPollInterval
  // inside one (the caller rate-limits further if its check costs anything). true: stop,
  // InsertBatch returns kCancelled. Empty: never cancelled (progress is still counted).
  std::function<bool()> cancelled;
  // When InsertBatch last called `cancelled` (set by InsertBatch, on the calling thread).
  std::chrono::steady_clock::time_point last_poll{};

  // Rows of the call done so far (linked into the graph, or skipped as identical upserts; updated
  // after each batch) and rows of the call (rowids.size(), set when it starts). Readable from any
  // thread while the call runs.
  std::atomic<uint64_t> built{0};
  std::atomic<uint64_t> total{0};
};

}  // namespace vecgraph::hnsw
