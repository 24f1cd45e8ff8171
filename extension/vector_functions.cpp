// extension/vector_functions.cpp — scalar vector functions.
//
//   vecgraph_version()                 → TEXT '0.1.0'
//   vecgraph_info()                    → JSON {version, simd, threads, cuda_compiled, gpu, executor}
//   vec_f32(v) vec_f16(v) vec_bf16(v)  → BLOB of that element type, tagged (sql_util.h: subtypes)
//   vec_int8(v) vec_bit(v)
//   vec_quantize_int8(v [, range])     → int8: round(x · 127 / range) clamped to ±127; range > 0 | 'unit' (1)
//   vec_quantize_binary(v)             → bit: element i = (v[i] > 0)
//   vec_type(v)                        → TEXT 'float32' | 'float16' | 'bfloat16' | 'int8' | 'bit'
//   vec_json(v)                        → TEXT JSON array (any type; bit elements 0/1)
//   vec_dims(v)                        → INTEGER
//   vec_norm(v)                        → REAL (L2 norm)
//   vec_normalize(v)                   → float32 BLOB unit vector (a zero vector stays zero)
//   vec_similarity(a, b [, metric])    → REAL; 'cosine' (default) | 'dot'; bit: 'jaccard'
//   vec_distance(a, b [, metric])      → REAL; 'l2' (default) | 'cosine' (1 − cos) | 'dot' (−a·b);
//                                        bit: 'hamming' (default) | 'jaccard'
//
// How it works: arguments are decoded by sql::DecodeTypedValue (the one recognition rule: tagged
// BLOBs are of their type, untagged BLOBs and JSON are float32 unless a constructor names the
// type; float32 BLOBs borrowed, JSON parsed); numeric types are computed in float32 on their exact
// float32 values by the dispatched SIMD kernels (engine/vector/distance.h). NULL in → NULL out.
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

// Reads argument i as a typed vector (untagged BLOBs and JSON as `untagged`). NULL → kNull.
ReadResult ReadTyped(sqlite3_context* ctx, const char* fn, int i, const char* name, sqlite3_value* arg,
                     ElemType untagged, TypedVector* out) {
  if (sqlite3_value_type(arg) == SQLITE_NULL) return ReadResult::kNull;
  Status st = DecodeTypedValue(arg, untagged, out);
  if (st.ok()) return ReadResult::kOk;
  ResultError(ctx, st.WithPrefix(StrFormat("%s: argument %d (%s): ", fn, i + 1, name)));
  return ReadResult::kError;
}

// Unary vector functions share the decode step: any element type, as float32 elements.
template <typename F>
void Unary(sqlite3_context* ctx, const char* fn, sqlite3_value* arg, F&& body) {
  VG_SQL_TRY
  TypedVector tv;
  ReadResult r = ReadTyped(ctx, fn, 0, "vector", arg, ElemType::kFloat32, &tv);
  if (r == ReadResult::kNull) {
    sqlite3_result_null(ctx);
    return;
  }
  if (r == ReadResult::kError) return;
  VectorBuf scratch;
  body(tv, AsFloats(tv, &scratch));
  VG_SQL_CATCH(ctx)
}

// vec_f32 / vec_f16 / vec_bf16 / vec_int8 / vec_bit: an untagged BLOB is taken as bytes of the
// named type (checked), JSON as its elements, a tagged vector of another type is converted
// (exactly or with an error: out of range, not an integer, not 0/1).
void Construct(sqlite3_context* ctx, sqlite3_value* arg, ElemType t, const char* fn) {
  VG_SQL_TRY
  TypedVector tv;
  ReadResult r = ReadTyped(ctx, fn, 0, "vector", arg, t, &tv);
  if (r == ReadResult::kNull) {
    sqlite3_result_null(ctx);
    return;
  }
  if (r == ReadResult::kError) return;
  if (tv.type == t) {
    ResultTyped(ctx, t, tv.data, tv.bytes);
    return;
  }
  VectorBuf scratch;
  std::vector<uint8_t> out;
  Status st = EncodeElems(t, AsFloats(tv, &scratch), &out);
  if (!st.ok()) {
    ResultError(ctx, st.WithPrefix(StrFormat("%s: argument 1 (vector): converting a %s vector to %s: ", fn,
                                             ElemTypeName(tv.type), ElemTypeName(t))));
    return;
  }
  ResultTyped(ctx, t, out.data(), out.size());
  VG_SQL_CATCH(ctx)
}

void F32Func(sqlite3_context* ctx, int, sqlite3_value** argv) { Construct(ctx, argv[0], ElemType::kFloat32, "vec_f32"); }
void F16Func(sqlite3_context* ctx, int, sqlite3_value** argv) { Construct(ctx, argv[0], ElemType::kFloat16, "vec_f16"); }
void BF16Func(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Construct(ctx, argv[0], ElemType::kBFloat16, "vec_bf16");
}
void Int8Func(sqlite3_context* ctx, int, sqlite3_value** argv) { Construct(ctx, argv[0], ElemType::kInt8, "vec_int8"); }
void BitFunc(sqlite3_context* ctx, int, sqlite3_value** argv) { Construct(ctx, argv[0], ElemType::kBit, "vec_bit"); }

void TypeFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_type", argv[0], [&](const TypedVector& tv, std::span<const float>) {
    sqlite3_result_text(ctx, ElemTypeName(tv.type), -1, SQLITE_STATIC);
  });
}

void JsonFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_json", argv[0],
        [&](const TypedVector&, std::span<const float> v) { ResultText(ctx, EncodeJson(v)); });
}

void DimsFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_dims", argv[0], [&](const TypedVector& tv, std::span<const float>) {
    sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(tv.dims));
  });
}

void NormFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_norm", argv[0], [&](const TypedVector&, std::span<const float> v) {
    sqlite3_result_double(ctx, Norm(v.data(), v.size()));
  });
}

void NormalizeFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  Unary(ctx, "vec_normalize", argv[0], [&](const TypedVector&, std::span<const float> v) {
    std::vector<float> out(v.size());
    UnitVector(v.data(), v.size(), out.data());  // what a cosine hnsw_knn index stores
    ResultTyped(ctx, ElemType::kFloat32, reinterpret_cast<const uint8_t*>(out.data()), out.size() * sizeof(float));
  });
}

// vec_quantize_int8(v [, range]): range a number > 0 or 'unit' (= 1, the default).
void QuantizeInt8Func(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  constexpr const char* kFn = "vec_quantize_int8";
  Unary(ctx, kFn, argv[0], [&](const TypedVector& tv, std::span<const float> v) {
    double range = 1.0;
    if (argc > 1) {
      sqlite3_value* a = argv[1];
      const int t = sqlite3_value_type(a);
      if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
      }
      if (t == SQLITE_TEXT) {
        const char* p = reinterpret_cast<const char*>(sqlite3_value_text(a));
        if (p == nullptr || sqlite3_stricmp(p, "unit") != 0) {
          ResultError(ctx, StrFormat("%s: argument 2 (range): expected a number > 0 or 'unit', found '%.64s'", kFn,
                                     p ? p : ""));
          return;
        }
      } else if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        range = sqlite3_value_double(a);
      } else {
        ResultError(ctx, StrFormat("%s: argument 2 (range): expected a number > 0 or 'unit', found %s", kFn,
                                   TypeName(a)));
        return;
      }
    }
    if (tv.type == ElemType::kBit) {
      ResultError(ctx, StrFormat("%s: argument 1 (vector): expected a numeric vector, found a bit vector", kFn));
      return;
    }
    std::vector<uint8_t> out;
    Status st = QuantizeInt8(v, range, &out);
    if (!st.ok()) {
      ResultError(ctx, st.WithPrefix(StrFormat("%s: argument %d (%s): ", kFn,
                                               st.message().rfind("range", 0) == 0 ? 2 : 1,
                                               st.message().rfind("range", 0) == 0 ? "range" : "vector")));
      return;
    }
    ResultTyped(ctx, ElemType::kInt8, out.data(), out.size());
  });
}

void QuantizeBinaryFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  constexpr const char* kFn = "vec_quantize_binary";
  Unary(ctx, kFn, argv[0], [&](const TypedVector& tv, std::span<const float> v) {
    if (tv.type == ElemType::kBit) {
      ResultError(ctx, StrFormat("%s: argument 1 (vector): expected a numeric vector, found a bit vector", kFn));
      return;
    }
    std::vector<uint8_t> out;
    Status st = QuantizeBinary(v, &out);
    if (!st.ok()) {
      ResultError(ctx, st.WithPrefix(StrFormat("%s: argument 1 (vector): ", kFn)));
      return;
    }
    ResultTyped(ctx, ElemType::kBit, out.data(), out.size());
  });
}

// vec_similarity / vec_distance: (a, b [, metric]). Both vectors of one element type; numeric
// types take 'cosine' | 'dot' (| 'l2' for distances) computed in float32 on the exact float32
// values of the elements; bit vectors take 'hamming' (distances; the default) | 'jaccard'.
void Binary(sqlite3_context* ctx, int argc, sqlite3_value** argv, const char* fn, bool similarity) {
  VG_SQL_TRY
  TypedVector a, b;
  ReadResult ra = ReadTyped(ctx, fn, 0, "a", argv[0], ElemType::kFloat32, &a);
  if (ra == ReadResult::kError) return;
  ReadResult rb = ReadTyped(ctx, fn, 1, "b", argv[1], ElemType::kFloat32, &b);
  if (rb == ReadResult::kError) return;
  std::string metric_name;
  bool metric_null = false;
  if (argc > 2) {
    const int t = sqlite3_value_type(argv[2]);
    if (t == SQLITE_NULL) {
      metric_null = true;
    } else if (t != SQLITE_TEXT) {
      ResultError(ctx, StrFormat("%s: argument 3 (metric): expected TEXT %s, found %s", fn,
                                 similarity ? "'cosine', 'dot' or 'jaccard'" : "'cosine', 'dot', 'l2', 'hamming' or 'jaccard'",
                                 TypeName(argv[2])));
      return;
    } else {
      const char* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[2]));
      metric_name.assign(p ? p : "", static_cast<size_t>(sqlite3_value_bytes(argv[2])));
    }
  }
  if (ra == ReadResult::kNull || rb == ReadResult::kNull || metric_null) {
    sqlite3_result_null(ctx);
    return;
  }
  if (a.type != b.type) {
    ResultError(ctx, StrFormat("%s: type mismatch: a is %s, b is %s (an untagged BLOB or a JSON "
                               "array is float32: say the type of a stored BLOB with vec_f16(), vec_bf16(), "
                               "vec_int8() or vec_bit(), or convert one side)",
                               fn, ElemTypeName(a.type), ElemTypeName(b.type)));
    return;
  }
  if (a.dims != b.dims) {
    std::string hint;
    if (a.type == ElemType::kFloat32) {
      if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) hint = Float64Hint(sqlite3_value_bytes(argv[0]), b.dims);
      if (hint.empty() && sqlite3_value_type(argv[1]) == SQLITE_BLOB)
        hint = Float64Hint(sqlite3_value_bytes(argv[1]), a.dims);
    }
    ResultError(ctx, StrFormat("%s: dimension mismatch: left has %zu, right has %zu%s", fn, a.dims, b.dims,
                               hint.c_str()));
    return;
  }
  auto is = [&](const char* s) { return sqlite3_stricmp(metric_name.c_str(), s) == 0; };
  if (a.type == ElemType::kBit) {
    const bool jaccard = metric_name.empty() ? similarity : is("jaccard");
    const bool hamming = !similarity && (metric_name.empty() || is("hamming"));
    if (!jaccard && !hamming) {
      ResultError(ctx, StrFormat("%s: argument 3 (metric): '%.64s' is not a metric of bit vectors: expected %s", fn,
                                 metric_name.c_str(), similarity ? "'jaccard'" : "'hamming' or 'jaccard'"));
      return;
    }
    if (jaccard) {
      const double d = JaccardDistance(a.data, b.data, a.bytes);
      sqlite3_result_double(ctx, similarity ? 1.0 - d : d);
    } else {
      sqlite3_result_double(ctx, static_cast<double>(HammingDistance(a.data, b.data, a.bytes)));
    }
    return;
  }
  Metric metric = similarity ? Metric::kCosine : Metric::kL2;
  if (!metric_name.empty()) {
    if (is("hamming") || is("jaccard")) {
      ResultError(ctx, StrFormat("%s: argument 3 (metric): '%s' is a metric of bit vectors; a and b are %s vectors", fn,
                                 metric_name.c_str(), ElemTypeName(a.type)));
      return;
    }
    auto m = ParseMetric(metric_name, /*allow_l2=*/!similarity);
    if (!m.ok()) {
      ResultError(ctx, m.status().WithPrefix(StrFormat("%s: argument 3 (metric): ", fn)));
      return;
    }
    metric = *m;
  }
  if (a.type == ElemType::kInt8) {  // exact in integers, rounded once
    const auto* ia = reinterpret_cast<const int8_t*>(a.data);
    const auto* ib = reinterpret_cast<const int8_t*>(b.data);
    sqlite3_result_double(ctx, similarity ? PairSimilarityI8(metric, ia, ib, a.dims)
                                          : PairDistanceI8(metric, ia, ib, a.dims));
    return;
  }
  VectorBuf sa, sb;
  std::span<const float> fa = AsFloats(a, &sa), fb = AsFloats(b, &sb);
  // The float32 value vec_topk ranks by and hnsw_knn reports (engine/vector/distance.h).
  float r = similarity ? PairSimilarity(metric, fa.data(), fb.data(), fa.size())
                       : PairDistance(metric, fa.data(), fb.data(), fa.size());
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
  const int reads = pure | kReadsSubtype, tags = reads | kSetsSubtype;
  struct Fn {
    const char* name;
    int nargs;
    int flags;
    void (*func)(sqlite3_context*, int, sqlite3_value**);
  };
  const Fn fns[] = {
      {"vecgraph_version", 0, pure, VersionFunc},
      {"vecgraph_info", 0, SQLITE_UTF8, InfoFunc},
      {"vec_f32", 1, tags, F32Func},
      {"vec_f16", 1, tags, F16Func},
      {"vec_bf16", 1, tags, BF16Func},
      {"vec_int8", 1, tags, Int8Func},
      {"vec_bit", 1, tags, BitFunc},
      {"vec_quantize_int8", 1, tags, QuantizeInt8Func},
      {"vec_quantize_int8", 2, tags, QuantizeInt8Func},
      {"vec_quantize_binary", 1, tags, QuantizeBinaryFunc},
      {"vec_type", 1, reads, TypeFunc},
      {"vec_json", 1, reads, JsonFunc},
      {"vec_dims", 1, reads, DimsFunc},
      {"vec_norm", 1, reads, NormFunc},
      {"vec_normalize", 1, tags, NormalizeFunc},
      {"vec_similarity", 2, reads, SimilarityFunc},
      {"vec_similarity", 3, reads, SimilarityFunc},
      {"vec_distance", 2, reads, DistanceFunc},
      {"vec_distance", 3, reads, DistanceFunc},
  };
  for (const Fn& f : fns) {
    int rc = sqlite3_create_function_v2(db, f.name, f.nargs, f.flags, nullptr, f.func, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace vecgraph::sql
