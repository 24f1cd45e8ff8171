// engine/graph/csr.cpp — building the CSR/CSC graph (csr.h explains the layout and the order).
#include "engine/graph/csr.h"

#include <oneapi/tbb/parallel_sort.h>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "engine/executor/executor.h"
#include "engine/graph/parallel.h"

namespace vecgraph::graph {
namespace {

std::atomic<uint64_t> g_next_uid{1};

// Use a direct id → index table (4 bytes per id in the range) when the id range is at most
// kDirectRangeFactor × the number of endpoints, or below kMinDirectRange, and never above
// kMaxDirectRange; otherwise sort the endpoints.
constexpr uint64_t kDirectRangeFactor = 1;
constexpr uint64_t kMinDirectRange = uint64_t{1} << 20;
constexpr uint64_t kMaxDirectRange = uint64_t{1} << 30;
// Parallel parts split work into chunks of about this many items.
constexpr size_t kChunkItems = size_t{1} << 16;
// At most this many histograms in a counting sort (memory: chunks × n × 8 bytes).
constexpr size_t kMaxSortChunks = 8;

size_t ChunksFor(size_t items) { return std::max<size_t>(1, (items + kChunkItems - 1) / kChunkItems); }

std::string FormatEdge(int64_t s, int64_t d) {
  return StrFormat("edge (%lld, %lld)", static_cast<long long>(s), static_cast<long long>(d));
}

// Shortest text that round-trips, for messages ("-0.5", not "-0.50000000000000000"); to_chars is
// independent of the host application's locale, which snprintf and strtod are not.
std::string Num(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Status CheckWeight(int64_t s, int64_t d, double w) {
  if (std::isnan(w)) return Status::InvalidArgument(FormatEdge(s, d) + " has a NaN weight");
  if (std::isinf(w)) return Status::InvalidArgument(FormatEdge(s, d) + (w > 0 ? " has an infinite weight inf" : " has an infinite weight -inf"));
  if (w < 0) return Status::InvalidArgument(FormatEdge(s, d) + " has a negative weight " + Num(w));
  if (w > FLT_MAX) {
    return Status::InvalidArgument(FormatEdge(s, d) + " has weight " + Num(w) +
                                   ", beyond the float32 range the graph stores (3.4e+38)");
  }
  return Status::Ok();
}

// A stable counting sort of items, given in chunks of consecutive positions: bounds[c]..bounds[c+1]
// is chunk c. key(i) < n_keys. Fills offsets (n_keys + 1) and calls emit(c, i, pos) once per item
// with its chunk and sorted position, in ascending i within a chunk; equal keys keep their order.
template <class KeyFn, class EmitFn>
void StableCountingSort(exec::Executor& ex, const std::vector<size_t>& bounds, size_t n_keys, KeyFn key,
                        std::vector<uint64_t>* offsets, EmitFn emit) {
  const size_t chunks = bounds.size() - 1;
  std::vector<std::vector<uint64_t>> hist(chunks);
  ForChunks(ex, chunks, [&](size_t c) {
    hist[c].assign(n_keys, 0);
    uint64_t* h = hist[c].data();
    for (size_t i = bounds[c]; i < bounds[c + 1]; ++i) ++h[key(i)];
  });
  offsets->assign(n_keys + 1, 0);
  uint64_t* off = offsets->data();
  // Turn histograms into start cursors: key-major, chunk-minor (stable across chunks).
  uint64_t pos = 0;
  for (size_t k = 0; k < n_keys; ++k) {
    off[k] = pos;
    for (size_t c = 0; c < chunks; ++c) {
      uint64_t count = hist[c][k];
      hist[c][k] = pos;
      pos += count;
    }
  }
  off[n_keys] = pos;
  ForChunks(ex, chunks, [&](size_t c) {
    uint64_t* cur = hist[c].data();
    for (size_t i = bounds[c]; i < bounds[c + 1]; ++i) emit(c, i, cur[key(i)]++);
  });
}

// Equal chunks of [0, m), at most kMaxSortChunks, at least kChunkItems × 4 items each (histograms
// cost n per chunk, so few chunks for sparse graphs).
std::vector<size_t> SortChunks(exec::Executor& ex, size_t m, size_t n_keys) {
  size_t chunks = std::min<size_t>(kMaxSortChunks, static_cast<size_t>(std::max(1, ex.cpu().threads())));
  chunks = std::min(chunks, std::max<size_t>(1, m / (4 * kChunkItems)));
  if (n_keys > 0) chunks = std::min(chunks, std::max<size_t>(1, m / n_keys));  // histogram ≤ edges
  std::vector<size_t> b(chunks + 1);
  for (size_t c = 0; c <= chunks; ++c) b[c] = m * c / chunks;
  return b;
}

}  // namespace

int64_t Graph::Find(int64_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return -1;
  return it - ids_.begin();
}

size_t Graph::MemoryBytes() const {
  return ids_.size() * sizeof(int64_t) + (out_off_.size() + in_off_.size()) * sizeof(uint64_t) +
         (out_dst_.size() + in_src_.size()) * sizeof(uint32_t) + (out_w_.size() + in_w_.size()) * sizeof(float) +
         out_wsum_.size() * sizeof(double);
}

std::unique_ptr<Graph::Scratch> Graph::TakeScratch() const {
  std::lock_guard<std::mutex> lock(scratch_mu_);
  if (scratch_.empty()) return nullptr;
  std::unique_ptr<Scratch> s = std::move(scratch_.back());
  scratch_.pop_back();
  return s;
}

void Graph::GiveScratch(std::unique_ptr<Scratch> s) const {
  if (s == nullptr || s->Bytes() > kMaxPooledScratchBytes) return;
  std::lock_guard<std::mutex> lock(scratch_mu_);
  if (scratch_.size() < kMaxPooledScratch) scratch_.push_back(std::move(s));
}

StatusOr<std::shared_ptr<const Graph>> Graph::Build(std::span<const int64_t> src, std::span<const int64_t> dst,
                                                   std::span<const double> weight, bool directed,
                                                   exec::Executor* ex_in) {
  exec::Executor& ex = ex_in != nullptr ? *ex_in : exec::Executor::Global();
  const size_t rows = src.size();
  if (dst.size() != rows || weight.size() != rows) {
    return Status::InvalidArgument(StrFormat("edge arrays differ in length: %zu sources, %zu destinations, %zu weights",
                                             rows, dst.size(), weight.size()));
  }
  // 1. Validate weights (the first bad edge in row order is reported).
  for (size_t i = 0; i < rows; ++i) {
    const double w = weight[i];
    if (!(w >= 0) || w > FLT_MAX) return CheckWeight(src[i], dst[i], w);
  }

  std::shared_ptr<Graph> g(new Graph());
  g->directed_ = directed;
  g->uid_ = g_next_uid.fetch_add(1);

  // 2. Node ids → dense indices.
  std::vector<uint32_t> s32(rows), d32(rows);
  if (rows > 0) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (size_t i = 0; i < rows; ++i) {
      lo = std::min({lo, src[i], dst[i]});
      hi = std::max({hi, src[i], dst[i]});
    }
    const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // hi - lo, no overflow
    const uint64_t endpoints = 2 * static_cast<uint64_t>(rows);
    const size_t chunks = ChunksFor(rows);
    if (range < kMaxDirectRange && range < std::max(kMinDirectRange, kDirectRangeFactor * endpoints)) {
      std::vector<uint32_t> table(range + 1, 0);
      for (size_t i = 0; i < rows; ++i) {
        table[static_cast<uint64_t>(src[i]) - static_cast<uint64_t>(lo)] = 1;
        table[static_cast<uint64_t>(dst[i]) - static_cast<uint64_t>(lo)] = 1;
      }
      uint64_t n = 0;
      for (uint64_t r = 0; r <= range; ++r) {
        if (table[r] != 0) {
          table[r] = static_cast<uint32_t>(++n);  // index + 1
          g->ids_.push_back(static_cast<int64_t>(static_cast<uint64_t>(lo) + r));
        }
      }
      ForChunks(ex, chunks, [&](size_t c) {
        for (size_t i = c * kChunkItems, e = std::min(rows, (c + 1) * kChunkItems); i < e; ++i) {
          s32[i] = table[static_cast<uint64_t>(src[i]) - static_cast<uint64_t>(lo)] - 1;
          d32[i] = table[static_cast<uint64_t>(dst[i]) - static_cast<uint64_t>(lo)] - 1;
        }
      });
    } else {
      std::vector<int64_t> all;
      all.reserve(endpoints);
      all.insert(all.end(), src.begin(), src.end());
      all.insert(all.end(), dst.begin(), dst.end());
      if (ex.cpu().threads() > 1) {
        ex.cpu().Execute([&] { tbb::parallel_sort(all.begin(), all.end()); });
      } else {
        std::sort(all.begin(), all.end());
      }
      all.erase(std::unique(all.begin(), all.end()), all.end());
      if (all.size() >= std::numeric_limits<uint32_t>::max()) {
        return Status::InvalidArgument(
            StrFormat("the graph has %zu distinct nodes; at most 4294967294 are supported", all.size()));
      }
      g->ids_ = std::move(all);
      const std::vector<int64_t>& ids = g->ids_;
      ForChunks(ex, chunks, [&](size_t c) {
        for (size_t i = c * kChunkItems, e = std::min(rows, (c + 1) * kChunkItems); i < e; ++i) {
          s32[i] = static_cast<uint32_t>(std::lower_bound(ids.begin(), ids.end(), src[i]) - ids.begin());
          d32[i] = static_cast<uint32_t>(std::lower_bound(ids.begin(), ids.end(), dst[i]) - ids.begin());
        }
      });
    }
  }
  const size_t n = g->ids_.size();

  // 3. Directed edge list (undirected: the reverse right after each non-loop row).
  std::vector<float> wf;
  if (!directed) {
    size_t extra = 0;
    for (size_t i = 0; i < rows; ++i) extra += s32[i] != d32[i];
    std::vector<uint32_t> s2(rows + extra), d2(rows + extra);
    wf.resize(rows + extra);
    size_t k = 0;
    for (size_t i = 0; i < rows; ++i) {
      const float w = static_cast<float>(weight[i]);
      s2[k] = s32[i];
      d2[k] = d32[i];
      wf[k++] = w;
      if (s32[i] != d32[i]) {
        s2[k] = d32[i];
        d2[k] = s32[i];
        wf[k++] = w;
      }
    }
    s32.swap(s2);
    d32.swap(d2);
  } else {
    wf.resize(rows);
    for (size_t i = 0; i < rows; ++i) wf[i] = static_cast<float>(weight[i]);
  }
  const size_t m = s32.size();

  // 4. CSR: stable counting sort by source.
  g->out_dst_.resize(m);
  g->out_w_.resize(m);
  {
    std::vector<size_t> bounds = SortChunks(ex, m, n);
    uint32_t* od = g->out_dst_.data();
    float* ow = g->out_w_.data();
    StableCountingSort(
        ex, bounds, n, [&](size_t i) { return s32[i]; }, &g->out_off_,
        [&](size_t, size_t i, uint64_t pos) {
          od[pos] = d32[i];
          ow[pos] = wf[i];
        });
  }
  std::vector<uint32_t>().swap(s32);
  std::vector<uint32_t>().swap(d32);
  std::vector<float>().swap(wf);

  // 5. CSC: stable counting sort of CSR positions by destination. Chunks are ranges of source
  //    nodes (so the source of a position is known), balanced by edges.
  g->in_src_.resize(m);
  g->in_w_.resize(m);
  {
    std::vector<size_t> pos_bounds = SortChunks(ex, m, n);
    // Snap each bound to a node boundary: chunk c = sources [node_b[c], node_b[c+1]).
    std::vector<size_t> node_b(pos_bounds.size());
    const uint64_t* off = g->out_off_.data();
    for (size_t c = 0; c < pos_bounds.size(); ++c) {
      node_b[c] = static_cast<size_t>(std::upper_bound(off, off + n + 1, pos_bounds[c]) - off) - 1;
    }
    node_b.front() = 0;
    node_b.back() = n;
    std::vector<size_t> b(node_b.size());
    for (size_t c = 0; c < node_b.size(); ++c) b[c] = off[node_b[c]];
    const uint32_t* od = g->out_dst_.data();
    const float* ow = g->out_w_.data();
    uint32_t* is = g->in_src_.data();
    float* iw = g->in_w_.data();
    // Positions arrive in ascending order within a chunk: each chunk walks its own source cursor.
    std::vector<size_t> chunk_node(node_b.begin(), node_b.end() - 1);
    StableCountingSort(
        ex, b, n, [&](size_t p) { return od[p]; }, &g->in_off_,
        [&](size_t c, size_t p, uint64_t pos) {
          size_t& u = chunk_node[c];
          while (off[u + 1] <= p) ++u;
          is[pos] = static_cast<uint32_t>(u);
          iw[pos] = ow[p];
        });
  }

  // 6. Out-weight sums (normalize 'out').
  g->out_wsum_.assign(n, 0.0);
  ForChunks(ex, ChunksFor(n), [&](size_t c) {
    const uint64_t* off = g->out_off_.data();
    const float* ow = g->out_w_.data();
    for (size_t u = c * kChunkItems, e = std::min(n, (c + 1) * kChunkItems); u < e; ++u) {
      double s = 0;
      for (uint64_t p = off[u]; p < off[u + 1]; ++p) s += static_cast<double>(ow[p]);
      g->out_wsum_[u] = s;
    }
  });
  if (n == 0) {
    g->out_off_.assign(1, 0);
    g->in_off_.assign(1, 0);
  }
  return std::shared_ptr<const Graph>(std::move(g));
}

}  // namespace vecgraph::graph
