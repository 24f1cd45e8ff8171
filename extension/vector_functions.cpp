// extension/vector_functions.cpp — scalar vector functions.
//
//   vecgraph_version()                 → TEXT '0.1.0'
//   vecgraph_info()                    → JSON {version, simd, threads, cuda_compiled, gpu, executor}
//   vec_f32(v)                         → BLOB float32 LE
//   vec_json(v)                        → TEXT JSON array
//   vec_dims(v)                        → INTEGER
//   vec_norm(v)                        → REAL (L2 norm)
//   vec_normalize(v)                   → BLOB unit vector (a zero vector stays zero)
//   vec_similarity(a, b [, metric])    → REAL; 'cosine' (default) | 'dot'
//   vec_distance(a, b [, metric])      → REAL; 'l2' (default) | 'cosine' (1 − cos) | 'dot' (−a·b)
//
// How it works: arguments are decoded by sql::ReadVector (BLOBs are borrowed, JSON parsed), then
// the dispatched SIMD kernels compute in float32 (engine/vector/distance.h). NULL in → NULL out.
// All pure functions are SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS.
#include <cmath>
#include <string>
#include <vector>

#include "engine/executor/executor.h"
#include "engine/vector/distance.h"
#include "extension/functions.h"
#include "extension/sql_util.h"
#include "extension/vecgraph.h"
#include "kernels/cpu/distance.h"

namespace vecgraph::sql {
namespace {

using sql::ReadResult;

void VersionFunc(sqlite3_context* ctx, int, sqlite3_value**) {
  sqlite3_result_text(ctx, VECGRAPH_VERSION, -1, SQLITE_STATIC);
}

void InfoFunc(sqlite3_context* ctx, int, sqlite3_value**) {
  VG_SQL_TRY
  exec::Executor& ex = exec::Executor::Global();
  std::string out = "{\"version\":\"" VECGRAPH_VERSION "\",\"simd\":\"";
  out += kernels::IsaName(kernels::Kernels().isa);
  out += "\",\"threads\":" + std::to_string(ex.cpu().threads());
  out += ",\"cuda_compiled\":";
  out += cuda::Compiled() ? "true" : "false";
  out += ",\"gpu\":" + ex.GpuJson();
  out += ",\"executor\":" + ex.InfoJson() + "}";
  ResultText(ctx, out);
  VG_SQL_CATCH(ctx)
}

// Unary vector functions share the decode step.
template <typename F>
void Unary(sqlite3_context* ctx, const char* fn, sqlite3_value* arg, F&& body) {
  VG_SQL_TRY
  VectorBuf v;
  ReadResult r = ReadVector(ctx, fn, 0, "vector", arg, &v);
  if (r == ReadResult::kNull) {
    sqlite3_result_null(ctx);
    return;
  }
  if (r == ReadResult::kError) return;
  body(v.view());
  VG_SQL_CATCH(ctx)
}

void F32Func(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_f32", argv[0], [&](std::span<const float> v) { ResultVector(ctx, v); });
}

void JsonFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_json", argv[0], [&](std::span<const float> v) { ResultText(ctx, EncodeJson(v)); });
}

void DimsFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_dims", argv[0],
        [&](std::span<const float> v) { sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(v.size())); });
}

void NormFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_norm", argv[0], [&](std::span<const float> v) { sqlite3_result_double(ctx, Norm(v.data(), v.size())); });
}

void NormalizeFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_normalize", argv[0], [&](std::span<const float> v) {
    std::vector<float> out(v.size());
    UnitVector(v.data(), v.size(), out.data());  // what a cosine hnsw_knn index stores
    ResultVector(ctx, out);
  });
}

// vec_similarity / vec_distance: (a, b [, metric]).
void Binary(sqlite3_context* ctx, int argc, sqlite3_value** argv, const char* fn, bool similarity) {
  VG_SQL_TRY
  Metric metric = similarity ? Metric::kCosine : Metric::kL2;
  VectorBuf a, b;
  ReadResult ra = ReadVector(ctx, fn, 0, "a", argv[0], &a);
  if (ra == ReadResult::kError) return;
  ReadResult rb = ReadVector(ctx, fn, 1, "b", argv[1], &b);
  if (rb == ReadResult::kError) return;
  ReadResult rm = ReadResult::kOk;
  if (argc > 2) {
    rm = ReadMetric(ctx, fn, 2, argv[2], /*allow_l2=*/!similarity, &metric);
    if (rm == ReadResult::kError) return;
  }
  if (ra == ReadResult::kNull || rb == ReadResult::kNull || rm == ReadResult::kNull) {
    sqlite3_result_null(ctx);
    return;
  }
  if (a.dims() != b.dims()) {
    std::string hint;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) hint = Float64Hint(sqlite3_value_bytes(argv[0]), b.dims());
    if (hint.empty() && sqlite3_value_type(argv[1]) == SQLITE_BLOB) hint = Float64Hint(sqlite3_value_bytes(argv[1]), a.dims());
    ResultError(ctx, StrFormat("%s: dimension mismatch: left has %zu, right has %zu%s", fn, a.dims(), b.dims(),
                               hint.c_str()));
    return;
  }
  // The float32 value vec_topk ranks by and hnsw_knn reports (engine/vector/distance.h).
  float r = similarity ? PairSimilarity(metric, a.data(), b.data(), a.dims())
                       : PairDistance(metric, a.data(), b.data(), a.dims());
  sqlite3_result_double(ctx, r);
  VG_SQL_CATCH(ctx)
}

void SimilarityFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  Binary(ctx, argc, argv, "vec_similarity", true);
}
void DistanceFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  Binary(ctx, argc, argv, "vec_distance", false);
}

}  // namespace

int RegisterVectorFunctions(sqlite3* db) {
  const int pure = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Fn {
    const char* name;
    int nargs;
    int flags;
    void (*func)(sqlite3_context*, int, sqlite3_value**);
  };
  const Fn fns[] = {
      {"vecgraph_version", 0, pure, VersionFunc},
      {"vecgraph_info", 0, SQLITE_UTF8, InfoFunc},
      {"vec_f32", 1, pure, F32Func},
      {"vec_json", 1, pure, JsonFunc},
      {"vec_dims", 1, pure, DimsFunc},
      {"vec_norm", 1, pure, NormFunc},
      {"vec_normalize", 1, pure, NormalizeFunc},
      {"vec_similarity", 2, pure, SimilarityFunc},
      {"vec_similarity", 3, pure, SimilarityFunc},
      {"vec_distance", 2, pure, DistanceFunc},
      {"vec_distance", 3, pure, DistanceFunc},
  };
  for (const Fn& f : fns) {
    int rc = sqlite3_create_function_v2(db, f.name, f.nargs, f.flags, nullptr, f.func, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace vecgraph::sql
