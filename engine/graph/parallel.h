// engine/graph/parallel.h — fixed-chunk parallel loops on the executor's CPU arena.
//
// Graph code splits per-node and per-edge passes into a fixed number of chunks, each writing only
// its own outputs (or a per-chunk list that is concatenated in chunk order afterwards), so results
// never depend on the thread count or on scheduling. The chunks run inside the executor's private
// oneTBB arena (engine/executor/cpu_backend.h), never on the host's global TBB pool. No sqlite3
// calls happen inside (PLATFORM_NOTES.md: never call sqlite3_* from TBB workers).
#pragma once

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cstddef>

#include "engine/executor/executor.h"

namespace vecgraph::graph {

// Number of chunks of at most `per_chunk` items covering `items` (at least 1).
inline size_t ChunkCount(size_t items, size_t per_chunk) {
  per_chunk = std::max<size_t>(per_chunk, 1);
  return std::max<size_t>(1, (items + per_chunk - 1) / per_chunk);
}

// Runs fn(c) for c in [0, n_chunks), in parallel on ex's CPU arena when there is more than one
// chunk and more than one thread.
template <class Fn>
void ForChunks(exec::Executor& ex, size_t n_chunks, Fn&& fn) {
  if (n_chunks <= 1 || ex.cpu().threads() == 1) {
    for (size_t c = 0; c < n_chunks; ++c) fn(c);
    return;
  }
  ex.cpu().Execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n_chunks, 1), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t c = r.begin(); c < r.end(); ++c) fn(c);
    });
  });
}

}  // namespace vecgraph::graph
