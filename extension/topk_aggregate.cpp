// extension/topk_aggregate.cpp — exact batched top-k as an aggregate.
//
//   SELECT vec_topk(id, vector, query, k [, metric]) FROM t WHERE ...
//     → TEXT '[[id, distance], ...]', best first (ascending distance, ties by smaller id).
//
// metric: 'cosine' (default) | 'dot' | 'l2'; distances mean what vec_distance means.
// It runs after WHERE / JOIN (filter first, then rank), so it is never short: every qualifying
// row is ranked. NULL vectors are skipped; no rows → '[]'; k larger than the row count → all rows.
// query, k and metric are read from the first row; each must be the same on every row of a group
// (compared by value, an error otherwise).
//
// How it works: rows are processed in windows of kBatchBytes of vectors. At the start of each
// window the hybrid executor plans where that batch runs (op 'similarity'):
//   - CPU: each row streams straight from SQLite's buffer into the SIMD kernel (no copy, the
//     data is hot in L1) and into a running top-k heap; the window's measured kernel time (sampled
//     on every 16th row) is reported back so the CPU cost model keeps learning;
//   - device (or a CPU/device split): rows are gathered into a batch buffer and the batch runs
//     where the plan says, with the executor's CPU fallback on a device failure.
// Both paths compute each distance with the same kernels (engine/vector/distance.h), so results
// do not depend on the path. Elements are validated lazily: a NaN/inf element makes its distance
// non-finite, and only then is the row scanned for the error. xFinal renders JSON.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/vector/codec.h"
#include "engine/vector/distance.h"
#include "extension/functions.h"
#include "extension/sql_util.h"
#include "kernels/cpu/topk.h"

namespace vecgraph::sql {
namespace {

constexpr const char* kFn = "vec_topk";
// Rows per batch = kBatchBytes / (dims × 4), at least kMinBatchRows (chosen by bench/sql_topk_bench.py).
constexpr size_t kBatchBytes = 512 * 1024;
constexpr size_t kMinBatchRows = 64;

// One argument's value as the first row of a group gave it.
struct ArgSnapshot {
  int type = SQLITE_NULL;
  unsigned subtype = 0;  // a typed query's tag: the same bytes tagged as another type differ
  int64_t i = 0;
  double d = 0;
  std::string bytes;
  static ArgSnapshot Of(sqlite3_value* v);
  bool Same(sqlite3_value* v) const;
};

struct TopkState {
  bool started = false;
  bool failed = false;
  Metric metric = Metric::kCosine;
  size_t k = 0;
  size_t dims = 0;
  std::vector<float> query;
  float query_norm = 0;
  // query, k and metric as first seen: each must stay the same on every row of the group.
  ArgSnapshot first_args[3];

  const kernels::KernelTable* kt = nullptr;
  size_t batch_rows = 0;
  bool planned = false;    // a window is open
  exec::BatchPlan plan;    // where the current window runs
  size_t n = 0;            // rows in the current window
  // CPU streaming: sampled kernel time.
  int64_t sampled_ns = 0;
  size_t sampled_rows = 0;
  // Device (or split) windows: the gathered batch.
  std::vector<float> rows;
  std::vector<int64_t> ids;
  std::vector<float> dists;
  kernels::TopK topk;
  // A typed query (float16, bfloat16, int8, bit): every row is of its type and is scored on the
  // CPU by the typed kernels as it arrives (TypedRow); no executor windows.
  bool typed = false;
  ElemType elem = ElemType::kFloat32;
  std::vector<uint8_t> qbytes;  // the query's bytes (int8 / bit)
  bool jaccard = false;         // bit: 'jaccard' instead of 'hamming'
  VectorBuf row_f32;            // float16 / bfloat16 rows as float32
  std::vector<uint16_t> row_u16;
};

// The aggregate context holds a pointer to the C++ state.
TopkState* GetState(sqlite3_context* ctx, bool create) {
  auto** slot = static_cast<TopkState**>(sqlite3_aggregate_context(ctx, create ? sizeof(TopkState*) : 0));
  if (slot == nullptr) return nullptr;
  if (*slot == nullptr && create) *slot = new TopkState();
  return *slot;
}

ArgSnapshot ArgSnapshot::Of(sqlite3_value* v) {
  ArgSnapshot a;
  a.type = sqlite3_value_type(v);
  a.subtype = a.type == SQLITE_BLOB ? sqlite3_value_subtype(v) : 0;
  if (a.type == SQLITE_INTEGER) a.i = sqlite3_value_int64(v);
  if (a.type == SQLITE_FLOAT) a.d = sqlite3_value_double(v);
  if (a.type == SQLITE_TEXT || a.type == SQLITE_BLOB) {
    const void* p = a.type == SQLITE_BLOB ? sqlite3_value_blob(v) : static_cast<const void*>(sqlite3_value_text(v));
    a.bytes.assign(static_cast<const char*>(p), p ? static_cast<size_t>(sqlite3_value_bytes(v)) : 0);
  }
  return a;
}

// Always compares the bytes: SQLite reuses a value's buffer from row to row, so an equal pointer
// says nothing.
bool ArgSnapshot::Same(sqlite3_value* v) const {
  int t = sqlite3_value_type(v);
  if (t != type) return false;
  if (t == SQLITE_BLOB && sqlite3_value_subtype(v) != subtype) return false;
  switch (t) {
    case SQLITE_INTEGER: return sqlite3_value_int64(v) == i;
    case SQLITE_FLOAT: return sqlite3_value_double(v) == d;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const void* p = t == SQLITE_BLOB ? sqlite3_value_blob(v) : static_cast<const void*>(sqlite3_value_text(v));
      size_t n = static_cast<size_t>(sqlite3_value_bytes(v));
      return n == bytes.size() && (n == 0 || std::memcmp(p, bytes.data(), n) == 0);
    }
    default: return true;
  }
}

constexpr size_t kSampleEvery = 16;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Folds a computed distance into the heap. A non-finite distance is a row holding NaN or
// infinity (an error naming the row), or a finite row whose distance is beyond float32's range:
// that ±infinity is its distance (engine/vector/distance.h: the value vec_distance returns), so it
// ranks first (−inf) or last (+inf).
bool Offer(sqlite3_context* ctx, TopkState* s, const float* row, int64_t id, float d) {
  if (!std::isfinite(d)) {
    Status st = CheckFinite({row, s->dims});
    if (!st.ok()) {
      ResultError(ctx, StrFormat("vec_topk: argument 2 (vector) of row id %lld: %s", static_cast<long long>(id),
                                 st.message().c_str()));
      s->failed = true;
      return false;
    }
  }
  if (d <= s->topk.bound()) s->topk.Push(d, id);
  return true;
}

// Closes the current window: reports the CPU time of a streamed window, or runs a gathered one.
bool CloseWindow(sqlite3_context* ctx, TopkState* s) {
  if (!s->planned) return true;
  s->planned = false;
  size_t n = s->n;
  s->n = 0;
  if (n == 0) return true;
  double work = static_cast<double>(n) * static_cast<double>(s->dims) * sizeof(float);
  exec::Executor& ex = exec::Executor::Global();
  if (s->plan.target == exec::Target::kCpu) {
    double us = s->sampled_rows ? static_cast<double>(s->sampled_ns) / 1e3 * static_cast<double>(n) /
                                      static_cast<double>(s->sampled_rows)
                                : 0.0;
    s->sampled_ns = 0;
    s->sampled_rows = 0;
    ex.RecordCpu(exec::Op::kSimilarity, n, work, us);
    return true;
  }
  exec::DistanceTask task;
  task.metric = s->metric;
  task.queries = s->query.data();
  task.query_norms = &s->query_norm;
  task.n_queries = 1;
  task.rows = s->rows.data();
  task.n_rows = n;
  task.dims = s->dims;
  task.out = s->dists.data();
  exec::BatchPlan plan = s->plan;
  plan.work = work;
  exec::RunReport report;
  ex.Execute(plan, n, [&task](exec::Backend& b, size_t lo, size_t hi) { return b.Distances(task, lo, hi); }, &report);
  const bool device_rows = report.target != exec::Target::kCpu;
  for (size_t r = 0; r < n; ++r) {
    const float* row = s->rows.data() + r * s->dims;
    float d = s->dists[r];
    // A device computes float32 parts only: the rows it reports non-finite, or at exactly the
    // cosine zero-vector rule (a tiny vector's norm underflows to 0 there), get the CPU's value,
    // which recomputes in double what float32 loses (one rule on every backend).
    if (device_rows && (!std::isfinite(d) || (s->metric == Metric::kCosine && d == 1.0f))) {
      d = RowDistance(*s->kt, s->metric, s->query.data(), s->query_norm, row, s->dims);
    }
    if (!Offer(ctx, s, row, s->ids[r], d)) return false;
  }
  return true;
}

// Takes one row (a validated-length float vector).
bool AddRow(sqlite3_context* ctx, TopkState* s, const float* row, int64_t id) {
  if (!s->planned) {
    s->plan = exec::Executor::Global().Plan(
        exec::Op::kSimilarity, static_cast<double>(s->batch_rows) * static_cast<double>(s->dims) * sizeof(float));
    s->planned = true;
    if (s->plan.target != exec::Target::kCpu && s->rows.empty()) {
      s->rows.resize(s->batch_rows * s->dims);
      s->ids.resize(s->batch_rows);
      s->dists.resize(s->batch_rows);
    }
  }
  if (s->plan.target == exec::Target::kCpu) {
    float d;
    if (s->n % kSampleEvery == 0) {
      int64_t t0 = NowNs();
      d = RowDistance(*s->kt, s->metric, s->query.data(), s->query_norm, row, s->dims);
      s->sampled_ns += NowNs() - t0;
      ++s->sampled_rows;
    } else {
      d = RowDistance(*s->kt, s->metric, s->query.data(), s->query_norm, row, s->dims);
    }
    if (!Offer(ctx, s, row, id, d)) return false;
  } else {
    std::memcpy(s->rows.data() + s->n * s->dims, row, s->dims * sizeof(float));
    s->ids[s->n] = id;
  }
  if (++s->n == s->batch_rows) return CloseWindow(ctx, s);
  return true;
}

// The typed form: vec_topk(id, vector, vec_int8(:q) | vec_f16(:q) | … , k [, metric]). Rows are of
// the query's type: tagged with it, or untagged BLOBs (a stored column) read as that type — the
// query names the type, as a constructor does (docs/reference.md, Vector types); a row tagged
// with another type is an error. Metrics: cosine (default), dot, l2 for the numeric types;
// hamming (default) or jaccard for bit. Distances are vec_distance's on the same two vectors.
bool StartTyped(sqlite3_context* ctx, TopkState* s, int argc, sqlite3_value** argv) {
  TypedVector q;
  Status st = DecodeTypedValue(argv[2], ElemType::kFloat32, &q);
  if (!st.ok()) {
    ResultError(ctx, st.WithPrefix("vec_topk: argument 3 (query): "));
    return false;
  }
  s->elem = q.type;
  s->dims = q.dims;
  std::string metric;
  if (argc > 4) {
    if (sqlite3_value_type(argv[4]) != SQLITE_TEXT) {
      ResultError(ctx, StrFormat("vec_topk: argument 5 (metric): expected TEXT %s, found %s",
                                 q.type == ElemType::kBit ? "'hamming' or 'jaccard'" : "'cosine', 'dot' or 'l2'",
                                 TypeName(argv[4])));
      return false;
    }
    const char* m = reinterpret_cast<const char*>(sqlite3_value_text(argv[4]));
    if (m == nullptr) {
      sqlite3_result_error_nomem(ctx);
      return false;
    }
    metric = m;
  }
  if (q.type == ElemType::kBit) {
    s->jaccard = sqlite3_stricmp(metric.c_str(), "jaccard") == 0;
    if (!metric.empty() && !s->jaccard && sqlite3_stricmp(metric.c_str(), "hamming") != 0) {
      ResultError(ctx, StrFormat("vec_topk: argument 5 (metric): '%.64s' is not a metric of bit vectors: expected "
                                 "'hamming' or 'jaccard'",
                                 metric.c_str()));
      return false;
    }
  } else if (!metric.empty()) {
    auto m = ParseMetric(metric, true);
    if (!m.ok()) {
      ResultError(ctx, m.status().WithPrefix("vec_topk: argument 5 (metric): "));
      return false;
    }
    s->metric = *m;
  }
  s->qbytes.assign(q.data, q.data + q.bytes);
  VectorBuf scratch;
  std::span<const float> qf = AsFloats(q, &scratch);
  s->query.assign(qf.begin(), qf.end());
  s->query_norm = static_cast<float>(Norm(s->query.data(), s->dims));
  for (int a = 2; a < std::min(argc, 5); ++a) s->first_args[a - 2] = ArgSnapshot::Of(argv[a]);
  s->kt = &kernels::Kernels();
  s->topk = kernels::TopK(s->k);
  s->typed = true;
  s->started = true;
  return true;
}

// Reports a bad row of a typed vec_topk.
void TypedRowError(sqlite3_context* ctx, TopkState* s, int64_t id, const Status& st) {
  ResultError(ctx, st.WithPrefix(StrFormat("vec_topk: argument 2 (vector) of row id %lld: ", static_cast<long long>(id))));
  s->failed = true;
}

// The distance of a typed row's dims elements at p (the query's type) to the query. float16 /
// bfloat16 rows are converted by the kernels; a NaN or infinity pattern shows as a non-finite
// distance, which the caller then checks.
float TypedDistance(TopkState* s, const uint8_t* p) {
  switch (s->elem) {
    case ElemType::kInt8:
      return PairDistanceI8(s->metric, reinterpret_cast<const int8_t*>(s->qbytes.data()),
                            reinterpret_cast<const int8_t*>(p), s->dims);
    case ElemType::kBit: {
      const size_t nb = s->dims / 8;
      return s->jaccard ? static_cast<float>(JaccardDistance(s->qbytes.data(), p, nb))
                        : static_cast<float>(s->kt->hamming(s->qbytes.data(), p, nb));
    }
    default: {
      s->row_u16.resize(s->dims);
      std::memcpy(s->row_u16.data(), p, s->dims * 2);
      float* f = s->row_f32.Own(s->dims);
      (s->elem == ElemType::kFloat16 ? s->kt->f16_to_f32 : s->kt->bf16_to_f32)(s->row_u16.data(), s->dims, f);
      return RowDistance(*s->kt, s->metric, s->query.data(), s->query_norm, f, s->dims);
    }
  }
}

// One row of a typed vec_topk. An untagged (or same-type) BLOB of the right length takes the
// fast path: scored in place, its elements checked only when the distance is not finite, as
// float32 rows are; anything else goes through DecodeTypedValue for the checks and the message.
bool TypedRow(sqlite3_context* ctx, TopkState* s, sqlite3_value* v, int64_t id) {
  const unsigned sub = sqlite3_value_type(v) == SQLITE_BLOB ? sqlite3_value_subtype(v) : ~0u;
  const uint8_t* p = nullptr;
  TypedVector r;
  if ((sub == 0 || sub == SubtypeOf(s->elem)) &&
      static_cast<size_t>(sqlite3_value_bytes(v)) == ElemBytes(s->elem, s->dims)) {
    p = static_cast<const uint8_t*>(sqlite3_value_blob(v));
    if (p == nullptr) {
      sqlite3_result_error_nomem(ctx);
      s->failed = true;
      return false;
    }
  } else {
    Status st = DecodeTypedValue(v, s->elem, &r);
    if (st.ok() && r.type != s->elem) {
      st = Status::InvalidArgument(StrFormat("expected a vector of the query's type (%s), found %s",
                                             ElemTypeName(s->elem), ElemTypeName(r.type)));
    }
    if (st.ok() && r.dims != s->dims) {
      st = Status::InvalidArgument(StrFormat("dimension mismatch: the row has %zu, the query has %zu", r.dims, s->dims));
    }
    if (!st.ok()) {
      TypedRowError(ctx, s, id, st);
      return false;
    }
    p = r.data;
  }
  const float d = TypedDistance(s, p);
  if (!std::isfinite(d) && (s->elem == ElemType::kFloat16 || s->elem == ElemType::kBFloat16)) {
    std::vector<float> tmp(s->dims);
    Status st = DecodeElems(s->elem, p, s->dims, tmp.data());
    if (!st.ok()) {
      TypedRowError(ctx, s, id, st);
      return false;
    }
  }
  if (d <= s->topk.bound()) s->topk.Push(d, id);
  return true;
}

bool Start(sqlite3_context* ctx, TopkState* s, int argc, sqlite3_value** argv) {
  // k: an integer >= 1 (an integral REAL too: JS drivers bind numbers as REAL)
  int64_t k = 0;
  Status kst = ReadIntegral(argv[3], 1, INT64_MAX, &k);
  if (!kst.ok()) {
    ResultError(ctx, kst.WithPrefix("vec_topk: argument 4 (k): "));
    return false;
  }
  s->k = static_cast<size_t>(k);
  // A tagged query of another type than float32 makes the aggregate typed (see TypedRow).
  if (sqlite3_value_type(argv[2]) == SQLITE_BLOB && sqlite3_value_subtype(argv[2]) != 0 &&
      sqlite3_value_subtype(argv[2]) != kSubtypeFloat32)
    return StartTyped(ctx, s, argc, argv);
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
  s->query_norm = static_cast<float>(Norm(s->query.data(), s->dims));  // as vec_distance computes |q|
  for (int a = 2; a < std::min(argc, 5); ++a) s->first_args[a - 2] = ArgSnapshot::Of(argv[a]);
  s->batch_rows = std::max(kMinBatchRows, kBatchBytes / (s->dims * sizeof(float)));
  s->kt = &kernels::Kernels();
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
  } else {
    static const char* const names[3] = {"query", "k", "metric"};
    for (int a = 2; a < std::min(argc, 5); ++a) {
      if (s->first_args[a - 2].Same(argv[a])) continue;
      ResultError(ctx, StrFormat("vec_topk: argument %d (%s): must be the same for every row of a group, found a "
                                 "different value",
                                 a + 1, names[a - 2]));
      s->failed = true;
      return;
    }
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
  if (s->typed) {
    TypedRow(ctx, s, v, id);
    return;
  }
  // vector: a BLOB of the right length goes straight to AddRow (validated lazily, see Offer);
  // one tagged as another element type is refused (a float16 vector of 2n elements has the
  // length of n floats).
  if (t == SQLITE_BLOB && sqlite3_value_subtype(v) != 0 && sqlite3_value_subtype(v) != kSubtypeFloat32) {
    VectorBuf tmp;
    Status st = DecodeVectorValue(v, &tmp);
    ResultError(ctx, st.WithPrefix("vec_topk: argument 2 (vector): "));
    s->failed = true;
    return;
  }
  if (t == SQLITE_BLOB) {
    size_t bytes = static_cast<size_t>(sqlite3_value_bytes(v));
    const void* p = sqlite3_value_blob(v);
    if (bytes != s->dims * sizeof(float)) {
      VectorBuf tmp;
      Status st = DecodeBlob(p, bytes, &tmp);
      if (st.ok()) {
        st = Status::InvalidArgument(StrFormat("dimension mismatch: row id %lld has %zu, query has %zu%s",
                                               static_cast<long long>(id), tmp.dims(), s->dims,
                                               Float64Hint(bytes, s->dims).c_str()));
        ResultError(ctx, st.WithPrefix("vec_topk: "));
      } else {
        ResultError(ctx, st.WithPrefix(StrFormat("vec_topk: argument 2 (vector) of row id %lld: ",
                                                 static_cast<long long>(id))));
      }
      s->failed = true;
      return;
    }
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) == 0) {
      AddRow(ctx, s, static_cast<const float*>(p), id);
    } else {
      VectorBuf tmp;
      float* dst = tmp.Own(s->dims);
      std::memcpy(dst, p, bytes);
      AddRow(ctx, s, dst, id);
    }
    return;
  }
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
  AddRow(ctx, s, tmp.data(), id);
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
  if (!s->typed && !CloseWindow(ctx, s)) return;
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
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS | kReadsSubtype;  // typed vectors are refused, never misread
  for (int nargs : {4, 5}) {
    int rc = sqlite3_create_function_v2(db, "vec_topk", nargs, flags, nullptr, nullptr, TopkStep, TopkFinal, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace vecgraph::sql
