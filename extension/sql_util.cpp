#include "extension/sql_util.h"


#include <cmath>
#include <cstring>

namespace vecgraph::sql {

int StatusToSqlite(const Status& s) {
  if (!s.ok() && s.detail() != 0) return s.detail();
  switch (s.code()) {
    case StatusCode::kOk: return SQLITE_OK;
    case StatusCode::kInvalidArgument: return SQLITE_ERROR;
    case StatusCode::kCorruption: return SQLITE_CORRUPT_VTAB;  // SQLite's code for corrupt shadow tables
    case StatusCode::kResourceExhausted: return SQLITE_NOMEM;
    case StatusCode::kUnavailable: return SQLITE_ERROR;
    case StatusCode::kInternal: return SQLITE_INTERNAL;
    case StatusCode::kCancelled: return SQLITE_INTERRUPT;
  }
  return SQLITE_ERROR;
}

Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  int ext = sqlite3_extended_errcode(db);
  if ((ext & 0xff) != (rc & 0xff)) ext = rc;  // the connection's last error is another call's
  std::string msg = what + ": " + (ext == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  StatusCode code = StatusCode::kInvalidArgument;
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = StatusCode::kCorruption; break;
    case SQLITE_NOMEM: code = StatusCode::kResourceExhausted; break;
    default: break;
  }
  return Status(code, msg).WithDetail(ext);
}

std::string DescribeValue(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: return StrFormat("integer %lld", static_cast<long long>(sqlite3_value_int64(v)));
    case SQLITE_FLOAT: {
      const double d = sqlite3_value_double(v);
      if (std::isinf(d)) return d > 0 ? "real Inf" : "real -Inf";  // as SQLite prints them
      std::string s = "real ";
      AppendJsonNumber(&s, d);
      return s;
    }
    case SQLITE_TEXT: {
      const char* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
      return "text " + QuotedName(t ? std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(v))) : "");
    }
    case SQLITE_BLOB: {
      const int n = sqlite3_value_bytes(v);
      return StrFormat("a blob of %d byte%s", n, n == 1 ? "" : "s");
    }
    default: return "NULL";
  }
}

std::string QuotedName(std::string_view s) {
  std::string out = "'";
  out.append(s.substr(0, 80));
  out.append(s.size() > 80 ? "...'" : "'");
  return out;
}

NumericValue::NumericValue(sqlite3_value* v) : v_(v), type_(sqlite3_value_type(v)) {
  if (type_ != SQLITE_TEXT) return;
  owned_ = sqlite3_value_dup(v);
  if (owned_ == nullptr) throw std::bad_alloc();
  v_ = owned_;
  type_ = sqlite3_value_numeric_type(owned_);
}

NumericValue::~NumericValue() { sqlite3_value_free(owned_); }

Status ReadIntegral(sqlite3_value* v, int64_t lo, int64_t hi, int64_t* out) {
  NumericValue n(v);
  bool ok = false;
  int64_t x = 0;
  if (n.type() == SQLITE_INTEGER) {
    x = sqlite3_value_int64(n.value());
    ok = true;
  } else if (n.type() == SQLITE_FLOAT) {
    double d = sqlite3_value_double(n.value());
    // Exactly integral and inside int64 (2^63 itself is not).
    if (std::floor(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      x = static_cast<int64_t>(d);
      ok = true;
    }
  }
  if (ok && x >= lo && x <= hi) {
    *out = x;
    return Status::Ok();
  }
  std::string range = lo == INT64_MIN && hi == INT64_MAX ? std::string("an integer")
                      : hi == INT64_MAX ? StrFormat("an integer >= %lld", static_cast<long long>(lo))
                                      : StrFormat("an integer between %lld and %lld", static_cast<long long>(lo),
                                                  static_cast<long long>(hi));
  return Status::InvalidArgument(StrFormat("expected %s, found %s", range.c_str(), DescribeValue(v).c_str()));
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

unsigned SubtypeOf(ElemType t) {
  switch (t) {
    case ElemType::kFloat32: return kSubtypeFloat32;
    case ElemType::kBit: return kSubtypeBit;
    case ElemType::kInt8: return kSubtypeInt8;
    case ElemType::kFloat16: return kSubtypeFloat16;
    case ElemType::kBFloat16: return kSubtypeBFloat16;
  }
  return 0;
}

namespace {

// The element type a BLOB's subtype tags it with; untagged (0) → `untagged`.
StatusOr<ElemType> TypeOfBlob(sqlite3_value* v, ElemType untagged) {
  switch (sqlite3_value_subtype(v)) {
    case 0: return untagged;
    case kSubtypeFloat32: return ElemType::kFloat32;
    case kSubtypeBit: return ElemType::kBit;
    case kSubtypeInt8: return ElemType::kInt8;
    case kSubtypeFloat16: return ElemType::kFloat16;
    case kSubtypeBFloat16: return ElemType::kBFloat16;
    default:
      return Status::InvalidArgument(StrFormat(
          "BLOB tagged with subtype %u, which is no vector type (float32 223, bit 224, int8 225, float16 226, "
          "bfloat16 227)",
          sqlite3_value_subtype(v)));
  }
}

}  // namespace

Status DecodeTypedValue(sqlite3_value* v, ElemType untagged, TypedVector* out) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_BLOB: {
      StatusOr<ElemType> ty = TypeOfBlob(v, untagged);
      if (!ty.ok()) return ty.status();
      const ElemType t = *ty;
      const size_t n = static_cast<size_t>(sqlite3_value_bytes(v));
      StatusOr<size_t> d = DimsOfBytes(t, n);
      if (!d.ok()) return d.status();
      const size_t dims = *d;
      const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(v));
      if (p == nullptr) return Status::ResourceExhausted("");
      out->type = t;
      out->dims = dims;
      out->data = p;
      out->bytes = n;
      out->owned.clear();
      if (t == ElemType::kFloat32) return DecodeBlob(p, n, &out->f32);  // checks every element is finite
      if (t == ElemType::kFloat16 || t == ElemType::kBFloat16)  // kept as float32; checks every element
        return DecodeElems(t, p, dims, out->f32.Own(dims));
      return Status::Ok();
    }
    case SQLITE_TEXT: {
      VectorBuf f;
      const char* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
      if (p == nullptr) return Status::ResourceExhausted("");
      VG_RETURN_IF_ERROR(DecodeJson(std::string_view(p, static_cast<size_t>(sqlite3_value_bytes(v))), &f));
      VG_RETURN_IF_ERROR(EncodeElems(untagged, f.view(), &out->owned));
      out->type = untagged;
      out->dims = f.dims();
      out->data = out->owned.data();
      out->bytes = out->owned.size();
      if (untagged == ElemType::kFloat32) out->f32.Borrow(reinterpret_cast<const float*>(out->owned.data()), f.dims());
      return Status::Ok();
    }
    default:
      return Status::InvalidArgument(
          StrFormat("expected a vector (float32 BLOB or JSON array TEXT), found %s", TypeName(v)));
  }
}

std::span<const float> AsFloats(const TypedVector& v, VectorBuf* scratch) {
  if (v.type == ElemType::kFloat32 || v.type == ElemType::kFloat16 || v.type == ElemType::kBFloat16)
    return v.f32.view();  // decoded by DecodeTypedValue
  (void)DecodeElems(v.type, v.data, v.dims, scratch->Own(v.dims));  // int8 / bit: cannot fail
  return scratch->view();
}

void ResultTyped(sqlite3_context* ctx, ElemType t, const uint8_t* bytes, size_t n_bytes) {
  sqlite3_result_blob(ctx, bytes, static_cast<int>(n_bytes), SQLITE_TRANSIENT);
  sqlite3_result_subtype(ctx, SubtypeOf(t));
}

Status DecodeVectorValue(sqlite3_value* v, VectorBuf* out) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_BLOB:
      if (sqlite3_value_subtype(v) != 0 && sqlite3_value_subtype(v) != kSubtypeFloat32) {
        StatusOr<ElemType> t = TypeOfBlob(v, ElemType::kFloat32);
        if (!t.ok()) return t.status();
        return Status::InvalidArgument(
            StrFormat("expected a float32 vector, found %s (vec_f32() converts it)", ElemTypeName(*t)));
      }
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

int DeferredPlanError(sqlite3_index_info* info, int plan_error, const std::string& message) {
  info->idxNum = plan_error;
  info->idxStr = sqlite3_mprintf("%s", message.c_str());
  if (info->idxStr == nullptr) return SQLITE_NOMEM;
  info->needToFreeIdxStr = 1;
  info->estimatedCost = 1e300;
  info->estimatedRows = INT64_MAX;
  return SQLITE_OK;
}

void VtabError(sqlite3_vtab* vtab, const std::string& message) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = SqliteStrdup(message);
}

bool TableRef::HasColumn(std::string_view name) const {
  for (const std::string& c : columns) {
    if (c.size() == name.size() && sqlite3_strnicmp(c.data(), name.data(), static_cast<int>(name.size())) == 0) {
      return true;
    }
  }
  return false;
}

StatusOr<std::vector<std::string>> ListSchemas(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_database_list ORDER BY seq", -1, &st, nullptr);
  std::vector<std::string> out = {"temp"};
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char* n = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (n != nullptr && sqlite3_stricmp(n, "temp") != 0) out.emplace_back(n);
    }
  }
  Status err = rc == SQLITE_DONE ? Status::Ok() : SqliteError(db, rc, "listing the attached databases");
  sqlite3_finalize(st);
  if (!err.ok()) return err;
  return out;
}

namespace {

// The columns of schema.table; empty when there is no such table or view.
Status Columns(sqlite3* db, const std::string& schema, const std::string& table, const std::string& what,
               std::vector<std::string>* cols) {
  cols->clear();
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_xinfo(?1, ?2)", -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, schema.data(), static_cast<int>(schema.size()), SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char* n = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      cols->emplace_back(n ? n : "");
    }
  }
  Status err = rc == SQLITE_DONE ? Status::Ok()
                                 : SqliteError(db, rc, what + ": cannot read the columns of " + QuotedName(table));
  sqlite3_finalize(st);
  return err;
}

}  // namespace

StatusOr<std::optional<TableRef>> ResolveTable(sqlite3* db, std::string_view spec, const std::string& what) {
  auto schemas = ListSchemas(db);
  if (!schemas.ok()) return schemas.status().WithPrefix(what + ": ");
  TableRef ref;
  size_t dot = spec.find('.');
  if (dot != std::string_view::npos) {
    std::string prefix(spec.substr(0, dot));
    for (const std::string& s : *schemas) {
      if (sqlite3_stricmp(s.c_str(), prefix.c_str()) != 0) continue;
      ref.schema = s;
      ref.table = std::string(spec.substr(dot + 1));
      VG_RETURN_IF_ERROR(Columns(db, ref.schema, ref.table, what, &ref.columns));
      if (ref.columns.empty()) return std::optional<TableRef>();
      return std::optional<TableRef>(std::move(ref));
    }
  }
  ref.table = std::string(spec);
  for (const std::string& s : *schemas) {
    VG_RETURN_IF_ERROR(Columns(db, s, ref.table, what, &ref.columns));
    if (!ref.columns.empty()) {
      ref.schema = s;
      return std::optional<TableRef>(std::move(ref));
    }
  }
  return std::optional<TableRef>();
}

}  // namespace vecgraph::sql
