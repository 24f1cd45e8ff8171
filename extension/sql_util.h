// extension/sql_util.h — argument parsing and error reporting shared by every SQL function.
//
// One way to report per boundary: scalar and aggregate functions call ResultError (which sets
// sqlite3_result_error with the right code); virtual tables use VtabError. No C++ exception ever
// crosses into SQLite: callback bodies are wrapped in VG_SQL_TRY / VG_SQL_CATCH(ctx).
// Messages read like SQLite's: "vec_dims: argument 1 (vector): expected ..., found ...".
#pragma once

#include <new>
#include <stdexcept>
#include <string>

#include "engine/common/status.h"
#include "engine/vector/codec.h"
#include "extension/sqlite_api.h"

namespace vecgraph::sql {

int StatusToSqlite(const Status& s);

// "integer", "real", "text", "blob", "null".
const char* TypeName(sqlite3_value* v);

void ResultError(sqlite3_context* ctx, const Status& s);
void ResultError(sqlite3_context* ctx, const std::string& message);

enum class ReadResult { kOk, kNull, kError };

// Decodes a float32 BLOB or JSON TEXT value (anything else, NULL included, is an error naming the
// type found). The message has no function prefix; callers add theirs.
Status DecodeVectorValue(sqlite3_value* v, VectorBuf* out);

// Reads a vector argument: a float32 BLOB or JSON TEXT. NULL → kNull (nothing reported). On a bad
// value reports "fn: argument N (name): ..." through ctx and returns kError.
ReadResult ReadVector(sqlite3_context* ctx, const char* fn, int arg_index, const char* arg_name, sqlite3_value* v,
                      VectorBuf* out);

// Reads an optional metric argument (TEXT). NULL → kNull.
ReadResult ReadMetric(sqlite3_context* ctx, const char* fn, int arg_index, sqlite3_value* v, bool allow_l2,
                      Metric* out);

// Sets the result to a copy of the string / float vector.
void ResultText(sqlite3_context* ctx, const std::string& s);
void ResultVector(sqlite3_context* ctx, std::span<const float> v);

// Copies a message into sqlite3_malloc'd memory for zErrMsg / *pzErr.
char* SqliteStrdup(const std::string& s);

// Sets a virtual table's error message (frees the previous one).
void VtabError(sqlite3_vtab* vtab, const std::string& message);

}  // namespace vecgraph::sql

#define VG_SQL_TRY try {
#define VG_SQL_CATCH(ctx)                                            \
  }                                                                  \
  catch (const std::bad_alloc&) {                                    \
    sqlite3_result_error_nomem(ctx);                                 \
  }                                                                  \
  catch (const std::exception& e) {                                  \
    ::vecgraph::sql::ResultError(ctx, std::string("vecgraph: internal error: ") + e.what()); \
  }
