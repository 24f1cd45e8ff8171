// extension/executor_functions.cpp — seeing and steering the hybrid executor from SQL.
//
//   vecgraph_config(key)            → the current value            (SQLITE_DIRECTONLY)
//   vecgraph_config(key, value)     → sets it, returns the new value (SQLITE_DIRECTONLY)
//   SELECT * FROM vecgraph_stats    → op, backend, batches, items, failures, fallbacks, mean_us,
//                                     p95_us, us_per_item, state, last_error
//   vecgraph_stats_reset()          → clears the counters           (SQLITE_DIRECTONLY)
//   vecgraph_explain(op, items [, dims]) → JSON: which backend a batch would take now, and why
//
// Values of vecgraph_config reach the engine as text (Executor::SetConfig parses and range-checks
// them): TEXT as is (every byte, so "4\0x" is not "4"), INTEGER in decimal, REAL as SQLite's own
// text when that reads back as the same double ("2.7", "4.0", "1.0e+15"), else as the shortest
// text that does (SQLite prints 15 digits: 2^53 − 1 would lose its last ones), "Inf"/"-Inf" for
// infinities. NULL and BLOB are errors. vecgraph_explain's items and dims are integral numbers,
// read as every integer argument is (ReadIntegral: INTEGER, REAL without a fraction, since
// JavaScript drivers bind every number as REAL, or numeric TEXT).
//
// vecgraph_stats is an eponymous-only virtual table (like pragma_* tables): xBestIndex accepts
// no constraint (every plan is a full scan of a snapshot taken in xFilter).
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor/executor.h"
#include "extension/functions.h"
#include "extension/sql_util.h"
#include "extension/vtab_util.h"

namespace vecgraph::sql {
namespace {

void ResultConfig(sqlite3_context* ctx, const exec::ConfigValue& v) {
  switch (v.type) {
    case exec::ConfigValue::Type::kInt: sqlite3_result_int64(ctx, v.i); break;
    case exec::ConfigValue::Type::kReal: sqlite3_result_double(ctx, v.d); break;
    case exec::ConfigValue::Type::kText: ResultText(ctx, v.s); break;
  }
}

// The text a REAL value is parsed from (see the file header).
std::string RealText(sqlite3_value* v) {
  const double d = sqlite3_value_double(v);
  if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(v));
  std::string sqlite_text = text ? text : "";
  if (!sqlite_text.empty() && std::strtod(sqlite_text.c_str(), nullptr) == d) return sqlite_text;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

void ConfigFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  VG_SQL_TRY
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    ResultError(ctx, StrFormat("vecgraph_config: argument 1 (key): expected TEXT, found %s", TypeName(argv[0])));
    return;
  }
  std::string key(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  exec::Executor& ex = exec::Executor::Global();
  if (argc == 1) {
    auto v = ex.GetConfig(key);
    if (!v.ok()) return ResultError(ctx, v.status().WithPrefix("vecgraph_config: "));
    return ResultConfig(ctx, *v);
  }
  int t = sqlite3_value_type(argv[1]);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) {
    ResultError(ctx, StrFormat("vecgraph_config: argument 2 (value) for key '%s': expected TEXT or a number, found %s",
                               key.c_str(), TypeName(argv[1])));
    return;
  }
  std::string value;
  if (t == SQLITE_FLOAT) {
    value = RealText(argv[1]);
  } else {
    const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
    if (text != nullptr) value.assign(text, static_cast<size_t>(sqlite3_value_bytes(argv[1])));
  }
  auto v = ex.SetConfig(key, value);
  if (!v.ok()) return ResultError(ctx, v.status().WithPrefix("vecgraph_config: "));
  ResultConfig(ctx, *v);
  VG_SQL_CATCH(ctx)
}

void StatsResetFunc(sqlite3_context* ctx, int, sqlite3_value**) {
  VG_SQL_TRY
  exec::Executor::Global().ResetStats();
  sqlite3_result_int(ctx, 1);
  VG_SQL_CATCH(ctx)
}

void ExplainFunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  VG_SQL_TRY
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    ResultError(ctx, StrFormat("vecgraph_explain: argument 1 (op): expected TEXT 'similarity', 'knn' or 'spread', found %s",
                               TypeName(argv[0])));
    return;
  }
  std::string op_name(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])));
  exec::Op op;
  if (op_name == "similarity") op = exec::Op::kSimilarity;
  else if (op_name == "knn") op = exec::Op::kKnn;
  else if (op_name == "spread") op = exec::Op::kSpread;
  else {
    ResultError(ctx, StrFormat("vecgraph_explain: argument 1 (op): unknown op '%s': expected 'similarity', 'knn' or 'spread'",
                               op_name.substr(0, 64).c_str()));
    return;
  }
  // Integral numbers (ReadIntegral: INTEGER, a REAL without a fraction, numeric TEXT).
  auto count_arg = [&](int i, const char* name, int64_t lo, int64_t hi, double* out) {
    int64_t x = 0;
    Status st = ReadIntegral(argv[i], lo, hi, &x);
    if (!st.ok()) {
      ResultError(ctx, StrFormat("vecgraph_explain: argument %d (%s): %s", i + 1, name, st.message().c_str()));
      return false;
    }
    *out = static_cast<double>(x);
    return true;
  };
  double items = 0;
  std::optional<double> dims;
  if (!count_arg(1, "items", 0, 1000000000000000, &items)) return;
  if (argc > 2) {
    double d = 0;
    if (!count_arg(2, "dims", 1, static_cast<int64_t>(kMaxDims), &d)) return;
    dims = d;
  }
  ResultText(ctx, exec::Executor::Global().Explain(op, items, dims));
  VG_SQL_CATCH(ctx)
}

// ---- vecgraph_stats (eponymous-only virtual table)

enum StatsColumn { kOp, kBackend, kBatches, kItems, kFailures, kFallbacks, kMeanUs, kP95Us, kUsPerItem, kState, kLastError };

using StatsCursor = RowsCursor<exec::StatRow>;  // rows: the snapshot of xFilter

int StatsConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char** pz_err) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(op TEXT, backend TEXT, batches INTEGER, items INTEGER, failures INTEGER, "
                                "fallbacks INTEGER, mean_us REAL, p95_us REAL, us_per_item REAL, state TEXT, "
                                "last_error TEXT)");
  if (rc != SQLITE_OK) return rc;
  auto* vtab = static_cast<sqlite3_vtab*>(sqlite3_malloc(sizeof(sqlite3_vtab)));
  if (vtab == nullptr) return SQLITE_NOMEM;
  *vtab = sqlite3_vtab{};
  *out = vtab;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  return SQLITE_OK;
}

int StatsDisconnect(sqlite3_vtab* vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

int StatsBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 10;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

int StatsFilter(sqlite3_vtab_cursor* cur, int, const char*, int, sqlite3_value**) {
  auto* c = reinterpret_cast<StatsCursor*>(cur);
  try {
    c->rows = exec::Executor::Global().Stats();
  } catch (...) {
    return SQLITE_NOMEM;
  }
  c->pos = 0;
  return SQLITE_OK;
}

int StatsColumnFn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<StatsCursor*>(cur);
  const exec::StatRow& r = c->rows[c->pos];
  switch (col) {
    case kOp: sqlite3_result_text(ctx, exec::OpName(r.op), -1, SQLITE_STATIC); break;
    case kBackend: sqlite3_result_text(ctx, exec::BackendName(r.backend), -1, SQLITE_STATIC); break;
    case kBatches: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.batches)); break;
    case kItems: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.items)); break;
    case kFailures: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.failures)); break;
    case kFallbacks: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.fallbacks)); break;
    case kMeanUs: sqlite3_result_double(ctx, r.mean_us); break;
    case kP95Us: sqlite3_result_double(ctx, r.p95_us); break;
    case kUsPerItem: sqlite3_result_double(ctx, r.us_per_item); break;
    case kState: sqlite3_result_text(ctx, exec::DeviceStateName(r.state), -1, SQLITE_STATIC); break;
    case kLastError:
      if (r.last_error.empty()) sqlite3_result_null(ctx);
      else ResultText(ctx, r.last_error);
      break;
  }
  return SQLITE_OK;
}

constexpr sqlite3_module kStatsModule = EponymousModule({
    .xConnect = StatsConnect,
    .xBestIndex = StatsBestIndex,
    .xDisconnect = StatsDisconnect,
    .xOpen = CursorOpen<StatsCursor>,
    .xClose = CursorClose<StatsCursor>,
    .xFilter = StatsFilter,
    .xNext = RowsNext<StatsCursor>,
    .xEof = RowsEof<StatsCursor>,
    .xColumn = StatsColumnFn,
    .xRowid = RowsRowid<StatsCursor>,
});

}  // namespace

int RegisterExecutorFunctions(sqlite3* db) {
  const int direct = SQLITE_UTF8 | SQLITE_DIRECTONLY;
  int rc = SQLITE_OK;
  rc = rc ? rc : sqlite3_create_function_v2(db, "vecgraph_config", 1, direct, nullptr, ConfigFunc, nullptr, nullptr, nullptr);
  rc = rc ? rc : sqlite3_create_function_v2(db, "vecgraph_config", 2, direct, nullptr, ConfigFunc, nullptr, nullptr, nullptr);
  rc = rc ? rc : sqlite3_create_function_v2(db, "vecgraph_stats_reset", 0, direct, nullptr, StatsResetFunc, nullptr, nullptr, nullptr);
  rc = rc ? rc : sqlite3_create_function_v2(db, "vecgraph_explain", 2, SQLITE_UTF8, nullptr, ExplainFunc, nullptr, nullptr, nullptr);
  rc = rc ? rc : sqlite3_create_function_v2(db, "vecgraph_explain", 3, SQLITE_UTF8, nullptr, ExplainFunc, nullptr, nullptr, nullptr);
  rc = rc ? rc : sqlite3_create_module_v2(db, "vecgraph_stats", &kStatsModule, nullptr, nullptr);
  return rc;
}

}  // namespace vecgraph::sql
