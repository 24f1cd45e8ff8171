// extension/topk_aggregate.cpp — exact batched top-k as an aggregate.
//
//   SELECT vec_topk(id, vector, query, k [, metric]) FROM t WHERE ...
//     → TEXT '[[id, distance], ...]', best first (ascending distance, ties by smaller id).
//
// metric: 'cosine' (default) | 'dot' | 'l2'; distances mean what vec_distance means.
// It runs after WHERE / JOIN (filter first, then rank), so it is never short: every qualifying
// row is ranked. NULL vectors are skipped; no rows → '[]'; k larger than the row count → all rows.
// query, k and metric are read from the first row; the query must be the same on every row of a
// group (an error otherwise).
//
// How it works: xStep copies each row's vector into a batch buffer (kBatchBytes of floats); a full
// batch goes to the hybrid executor (op 'similarity'), which computes its distances on the CPU
// kernels or a device, and the distances update a running top-k heap. With more than one thread
// the batch computes in the background while SQLite gathers the next one (double buffering), so
// the math hides behind row reading. xFinal flushes the last batch and renders JSON. Elements are
// validated lazily: a NaN/inf element makes its distance non-finite, and only then is the row
// scanned for the error.
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/vector/codec.h"
#include "extension/functions.h"
#include "extension/sql_util.h"
#include "kernels/cpu/topk.h"

namespace vecgraph::sql {
namespace {

constexpr const char* kFn = "vec_topk";
// Rows per batch = kBatchBytes / (dims × 4), at least kMinBatchRows (chosen by bench/sql_topk_bench.py).
constexpr size_t kBatchBytes = 512 * 1024;
constexpr size_t kMinBatchRows = 64;

// One batch of gathered rows and, once computed, their distances.
struct Batch {
  std::vector<float> rows;
  std::vector<int64_t> ids;
  std::vector<float> dists;
  size_t n = 0;
};

struct TopkState {
  ~TopkState() { job.reset(); }  // joins a batch still computing (its buffers live here)

  bool started = false;
  bool failed = false;
  Metric metric = Metric::kCosine;
  size_t k = 0;
  size_t dims = 0;
  std::vector<float> query;
  float query_norm = 0;
  // The query argument as first seen, to check it stays the same.
  int query_type = 0;
  std::string query_bytes;
  const void* query_ptr = nullptr;

  size_t batch_rows = 0;
  // Double buffering: SQLite fills batches[current] while batches[1 - current] may be computing
  // on the executor's threads (job), when there is more than one thread.
  Batch batches[2];
  int current = 0;
  std::unique_ptr<exec::CpuBackend::Job> job;
  kernels::TopK topk;

  Batch& filling() { return batches[current]; }
};

// The aggregate context holds a pointer to the C++ state.
TopkState* GetState(sqlite3_context* ctx, bool create) {
  auto** slot = static_cast<TopkState**>(sqlite3_aggregate_context(ctx, create ? sizeof(TopkState*) : 0));
  if (slot == nullptr) return nullptr;
  if (*slot == nullptr && create) *slot = new TopkState();
  return *slot;
}

bool SameQuery(TopkState* s, sqlite3_value* v) {
  int t = sqlite3_value_type(v);
  if (t != s->query_type) return false;
  const void* p = t == SQLITE_BLOB ? sqlite3_value_blob(v) : static_cast<const void*>(sqlite3_value_text(v));
  size_t n = static_cast<size_t>(sqlite3_value_bytes(v));
  if (n != s->query_bytes.size()) return false;
  if (p == s->query_ptr) return true;
  return n == 0 || std::memcmp(p, s->query_bytes.data(), n) == 0;
}

void Compute(const TopkState* s, Batch* b) {
  exec::DistanceTask task;
  task.metric = s->metric;
  task.queries = s->query.data();
  task.query_norms = &s->query_norm;
  task.n_queries = 1;
  task.rows = b->rows.data();
  task.n_rows = b->n;
  task.dims = s->dims;
  task.out = b->dists.data();
  exec::Executor::Global().Distances(task);
}

// Folds a computed batch into the heap. Vector elements are validated here, lazily: a NaN/inf
// element makes its distance non-finite, and only then is the row scanned.
bool Fold(sqlite3_context* ctx, TopkState* s, Batch* b) {
  for (size_t r = 0; r < b->n; ++r) {
    float d = b->dists[r];
    if (!std::isfinite(d)) {
      Status st = CheckFinite({b->rows.data() + r * s->dims, s->dims});
      if (!st.ok()) {
        ResultError(ctx, StrFormat("vec_topk: argument 2 (vector) of row id %lld: %s",
                                   static_cast<long long>(b->ids[r]), st.message().c_str()));
        s->failed = true;
        return false;
      }
      b->dists[r] = std::isnan(d) ? INFINITY : d;  // float overflow on huge finite input ranks last
    }
  }
  s->topk.PushBatch(b->dists.data(), b->ids.data(), b->n);
  b->n = 0;
  return true;
}

// Waits for the batch computing in the background (if any) and folds it.
bool Drain(sqlite3_context* ctx, TopkState* s) {
  if (!s->job) return true;
  s->job->Join();
  s->job.reset();
  return Fold(ctx, s, &s->batches[1 - s->current]);
}

// Hands the filled batch to the executor: in the background when the CPU backend has threads to
// spare (SQLite keeps gathering the next batch meanwhile), else right here.
bool Flush(sqlite3_context* ctx, TopkState* s) {
  if (!Drain(ctx, s)) return false;
  Batch* b = &s->filling();
  if (b->n == 0) return true;
  s->job = exec::Executor::Global().cpu().Spawn([s, b] { Compute(s, b); });
  if (!s->job) {
    Compute(s, b);
    return Fold(ctx, s, b);
  }
  s->current = 1 - s->current;
  return true;
}

bool Start(sqlite3_context* ctx, TopkState* s, int argc, sqlite3_value** argv) {
  // k
  sqlite3_value* kv = argv[3];
  if (sqlite3_value_type(kv) != SQLITE_INTEGER) {
    ResultError(ctx, StrFormat("vec_topk: argument 4 (k): expected an INTEGER >= 1, found %s", TypeName(kv)));
    return false;
  }
  sqlite3_int64 k = sqlite3_value_int64(kv);
  if (k < 1) {
    ResultError(ctx, StrFormat("vec_topk: argument 4 (k): expected an INTEGER >= 1, found %lld", static_cast<long long>(k)));
    return false;
  }
  s->k = static_cast<size_t>(k);
  // metric
  if (argc > 4) {
    ReadResult rm = ReadMetric(ctx, kFn, 4, argv[4], true, &s->metric);
    if (rm == ReadResult::kError) return false;
    if (rm == ReadResult::kNull) {
      ResultError(ctx, "vec_topk: argument 5 (metric): expected TEXT 'cosine', 'dot' or 'l2', found null");
      return false;
    }
  }
  // query
  VectorBuf q;
  ReadResult rq = ReadVector(ctx, kFn, 2, "query", argv[2], &q);
  if (rq == ReadResult::kError) return false;
  if (rq == ReadResult::kNull) {
    ResultError(ctx, "vec_topk: argument 3 (query): expected a vector (float32 BLOB or JSON array TEXT), found null");
    return false;
  }
  s->query.assign(q.view().begin(), q.view().end());
  s->dims = s->query.size();
  double qn = 0;
  for (float x : s->query) qn += static_cast<double>(x) * x;
  s->query_norm = static_cast<float>(std::sqrt(qn));
  s->query_type = sqlite3_value_type(argv[2]);
  const void* p = s->query_type == SQLITE_BLOB ? sqlite3_value_blob(argv[2])
                                               : static_cast<const void*>(sqlite3_value_text(argv[2]));
  s->query_bytes.assign(static_cast<const char*>(p), static_cast<size_t>(sqlite3_value_bytes(argv[2])));
  s->query_ptr = p;
  s->batch_rows = std::max(kMinBatchRows, kBatchBytes / (s->dims * sizeof(float)));
  for (Batch& b : s->batches) {
    b.rows.resize(s->batch_rows * s->dims);
    b.ids.resize(s->batch_rows);
    b.dists.resize(s->batch_rows);
  }
  s->topk = kernels::TopK(s->k);
  s->started = true;
  return true;
}

void TopkStep(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  VG_SQL_TRY
  TopkState* s = GetState(ctx, true);
  if (s == nullptr) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->failed) return;
  if (!s->started) {
    if (!Start(ctx, s, argc, argv)) {
      s->failed = true;
      return;
    }
  } else if (!SameQuery(s, argv[2])) {
    ResultError(ctx, "vec_topk: argument 3 (query): must be the same for every row of a group, found a different value");
    s->failed = true;
    return;
  }
  sqlite3_value* v = argv[1];
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return;  // rows without a vector are skipped
  // id
  if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER) {
    ResultError(ctx, StrFormat("vec_topk: argument 1 (id): expected INTEGER, found %s", TypeName(argv[0])));
    s->failed = true;
    return;
  }
  int64_t id = sqlite3_value_int64(argv[0]);
  // vector: BLOBs are copied straight into the batch and validated lazily (see Flush).
  Batch& batch = s->filling();
  float* dst = batch.rows.data() + batch.n * s->dims;
  if (t == SQLITE_BLOB) {
    size_t bytes = static_cast<size_t>(sqlite3_value_bytes(v));
    if (bytes != s->dims * sizeof(float)) {
      VectorBuf tmp;
      Status st = DecodeBlob(sqlite3_value_blob(v), bytes, &tmp);
      if (st.ok()) {
        st = Status::InvalidArgument(StrFormat("dimension mismatch: row id %lld has %zu, query has %zu",
                                               static_cast<long long>(id), tmp.dims(), s->dims));
        ResultError(ctx, st.WithPrefix("vec_topk: "));
      } else {
        ResultError(ctx, st.WithPrefix(StrFormat("vec_topk: argument 2 (vector) of row id %lld: ",
                                                 static_cast<long long>(id))));
      }
      s->failed = true;
      return;
    }
    std::memcpy(dst, sqlite3_value_blob(v), bytes);
  } else {
    VectorBuf tmp;
    ReadResult r = ReadVector(ctx, kFn, 1, "vector", v, &tmp);
    if (r == ReadResult::kError) {
      s->failed = true;
      return;
    }
    if (tmp.dims() != s->dims) {
      ResultError(ctx, StrFormat("vec_topk: dimension mismatch: row id %lld has %zu, query has %zu",
                                 static_cast<long long>(id), tmp.dims(), s->dims));
      s->failed = true;
      return;
    }
    std::memcpy(dst, tmp.data(), s->dims * sizeof(float));
  }
  batch.ids[batch.n++] = id;
  if (batch.n == s->batch_rows && !Flush(ctx, s)) return;
  VG_SQL_CATCH(ctx)
}

void TopkFinal(sqlite3_context* ctx) {
  TopkState* s = GetState(ctx, false);
  std::unique_ptr<TopkState> owned(s);  // freed whatever happens
  VG_SQL_TRY
  if (s == nullptr || !s->started) {
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  if (s->failed) return;  // the error was already reported by xStep
  if (!Flush(ctx, s) || !Drain(ctx, s)) return;
  std::string out = "[";
  bool first = true;
  char buf[32];
  for (const kernels::Neighbor& n : s->topk.Sorted()) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('[');
    int len = std::snprintf(buf, sizeof buf, "%lld,", static_cast<long long>(n.id));
    out.append(buf, static_cast<size_t>(len));
    if (std::isfinite(n.distance)) {
      auto r = std::to_chars(buf, buf + sizeof buf, n.distance);
      out.append(buf, r.ptr);
    } else {
      AppendJsonNumber(&out, n.distance);
    }
    out.push_back(']');
  }
  out.push_back(']');
  ResultText(ctx, out);
  VG_SQL_CATCH(ctx)
}

}  // namespace

int RegisterTopkAggregate(sqlite3* db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  for (int nargs : {4, 5}) {
    int rc = sqlite3_create_function_v2(db, "vec_topk", nargs, flags, nullptr, nullptr, TopkStep, TopkFinal, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace vecgraph::sql
