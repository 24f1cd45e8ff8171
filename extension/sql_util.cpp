#include "extension/sql_util.h"

#include <cstring>

namespace vecgraph::sql {

int StatusToSqlite(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return SQLITE_OK;
    case StatusCode::kInvalidArgument: return SQLITE_ERROR;
    case StatusCode::kCorruption: return SQLITE_CORRUPT;
    case StatusCode::kResourceExhausted: return SQLITE_NOMEM;
    case StatusCode::kUnavailable: return SQLITE_ERROR;
    case StatusCode::kInternal: return SQLITE_INTERNAL;
  }
  return SQLITE_ERROR;
}

const char* TypeName(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: return "integer";
    case SQLITE_FLOAT: return "real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "blob";
    default: return "null";
  }
}

void ResultError(sqlite3_context* ctx, const std::string& message) {
  sqlite3_result_error(ctx, message.c_str(), static_cast<int>(message.size()));
}

void ResultError(sqlite3_context* ctx, const Status& s) {
  if (s.code() == StatusCode::kResourceExhausted && s.message().empty()) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  ResultError(ctx, s.message());
  int code = StatusToSqlite(s);
  if (code != SQLITE_ERROR) sqlite3_result_error_code(ctx, code);
}

Status DecodeVectorValue(sqlite3_value* v, VectorBuf* out) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_BLOB:
      return DecodeBlob(sqlite3_value_blob(v), static_cast<size_t>(sqlite3_value_bytes(v)), out);
    case SQLITE_TEXT: {
      const char* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
      if (p == nullptr) return Status::ResourceExhausted("");
      return DecodeJson(std::string_view(p, static_cast<size_t>(sqlite3_value_bytes(v))), out);
    }
    default:
      return Status::InvalidArgument(
          StrFormat("expected a vector (float32 BLOB or JSON array TEXT), found %s", TypeName(v)));
  }
}

ReadResult ReadVector(sqlite3_context* ctx, const char* fn, int arg_index, const char* arg_name, sqlite3_value* v,
                      VectorBuf* out) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return ReadResult::kNull;
  Status st = DecodeVectorValue(v, out);
  if (st.ok()) return ReadResult::kOk;
  if (st.code() == StatusCode::kResourceExhausted) {
    sqlite3_result_error_nomem(ctx);
    return ReadResult::kError;
  }
  ResultError(ctx, st.WithPrefix(StrFormat("%s: argument %d (%s): ", fn, arg_index + 1, arg_name)));
  return ReadResult::kError;
}

ReadResult ReadMetric(sqlite3_context* ctx, const char* fn, int arg_index, sqlite3_value* v, bool allow_l2,
                      Metric* out) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return ReadResult::kNull;
  if (t != SQLITE_TEXT) {
    ResultError(ctx, StrFormat("%s: argument %d (metric): expected TEXT %s, found %s", fn, arg_index + 1,
                               allow_l2 ? "'cosine', 'dot' or 'l2'" : "'cosine' or 'dot'", TypeName(v)));
    return ReadResult::kError;
  }
  const char* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
  auto m = ParseMetric(std::string_view(p ? p : "", static_cast<size_t>(sqlite3_value_bytes(v))), allow_l2);
  if (!m.ok()) {
    ResultError(ctx, m.status().WithPrefix(StrFormat("%s: argument %d (metric): ", fn, arg_index + 1)));
    return ReadResult::kError;
  }
  *out = *m;
  return ReadResult::kOk;
}

void ResultText(sqlite3_context* ctx, const std::string& s) {
  sqlite3_result_text(ctx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void ResultVector(sqlite3_context* ctx, std::span<const float> v) {
  sqlite3_result_blob(ctx, v.data(), static_cast<int>(v.size() * sizeof(float)), SQLITE_TRANSIENT);
}

char* SqliteStrdup(const std::string& s) {
  char* p = static_cast<char*>(sqlite3_malloc64(s.size() + 1));
  if (p) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

void VtabError(sqlite3_vtab* vtab, const std::string& message) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = SqliteStrdup(message);
}

}  // namespace vecgraph::sql
