// tests/fuzz/fuzz_sql_run.h — how fuzz_sql runs a statement: a value of any storage class, a
// statement's outcome and rows, and Run(), which prepares, binds, steps and checks that SQLite
// never reports SQLITE_INTERNAL or SQLITE_CORRUPT (nobody writes the shadow tables, so either is a
// vecgraph bug). Shared by fuzz_sql.cpp (the 0.1 table `ix`) and fuzz_sql_columns.h (the
// declared-column table `t` against its mirror). One translation unit includes it.
#pragma once

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_check.h"

namespace fuzz_sql {

struct Val {
  enum Type { kInt, kReal, kText, kBlob, kNull } type = kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;  // text or blob bytes
  static Val Int(int64_t v) { Val x; x.type = kInt; x.i = v; return x; }
  static Val Real(double v) { Val x; x.type = kReal; x.d = v; return x; }
  static Val Text(std::string v) { Val x; x.type = kText; x.s = std::move(v); return x; }
  static Val Blob(std::string v) { Val x; x.type = kBlob; x.s = std::move(v); return x; }
  static Val Null() { return Val(); }
};

struct Result {
  int rc = SQLITE_OK;
  std::string error;
  std::vector<std::vector<Val>> rows;
  bool ok() const { return rc == SQLITE_DONE; }
};

inline bool IsFatal(int rc) { return (rc & 0xff) == SQLITE_INTERNAL || (rc & 0xff) == SQLITE_CORRUPT; }

// A value as the trace and the messages show it (text unescaped).
inline std::string Show(const Val& v) {
  switch (v.type) {
    case Val::kInt: return std::to_string(v.i);
    case Val::kReal: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", v.d);
      return buf;
    }
    case Val::kText: return "'" + v.s + "'";
    case Val::kBlob: {
      std::string h = "x'";
      static const char* kHex = "0123456789abcdef";
      for (unsigned char c : v.s) {
        h += kHex[c >> 4];
        h += kHex[c & 15];
      }
      return h + "'";
    }
    case Val::kNull: return "NULL";
  }
  return "?";
}

// v as an SQL literal of the same storage class: what a reproducer pastes into the shell.
inline std::string SqlLiteral(const Val& v) {
  switch (v.type) {
    case Val::kInt:
      return v.i == INT64_MIN ? std::string("(-9223372036854775807 - 1)") : std::to_string(v.i);
    case Val::kReal: {
      if (v.d != v.d) return "NULL";  // SQLite binds a NaN as NULL
      if (v.d == HUGE_VAL) return "1e999";
      if (v.d == -HUGE_VAL) return "-1e999";
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", v.d);
      std::string s = buf;
      if (s.find_first_of(".en") == std::string::npos) s += ".0";  // stays a REAL
      return s;
    }
    case Val::kText: {
      bool plain = true;
      for (unsigned char c : v.s) plain = plain && c != 0 && c < 0x80;
      if (!plain) {  // NUL bytes or non-ASCII: the bytes, as TEXT
        Val b = Val::Blob(v.s);
        return "CAST(" + Show(b) + " AS TEXT)";
      }
      std::string s = "'";
      for (char c : v.s) s += c == '\'' ? std::string("''") : std::string(1, c);
      return s + "'";
    }
    case Val::kBlob: return Show(v);
    case Val::kNull: return "NULL";
  }
  return "NULL";
}

// The statement with its parameters written in, for a finding's message (every `?` of the
// statements the targets build is a parameter; none appears inside a string literal).
inline std::string Inline(const std::string& sql, const std::vector<Val>& params) {
  std::string out;
  size_t k = 0;
  for (char c : sql) {
    if (c == '?' && k < params.size()) {
      std::string lit = SqlLiteral(params[k++]);
      if (!out.empty() && (out.back() == '-' || out.back() == '+') && lit[0] == '-') lit = "(" + lit + ")";  // not --
      out += lit;
    } else {
      out += c;
    }
  }
  return out;
}

// VECGRAPH_FUZZ_TRACE=1: print every statement (parameters written in, so the trace runs in the
// sqlite3 shell after `.load build/release/vecgraph`) and its outcome, to read a crash input:
// `VECGRAPH_FUZZ_TRACE=1 build/fuzz/tests/fuzz/fuzz_sql crash-...`.
inline bool Tracing() {
  static const bool on = std::getenv("VECGRAPH_FUZZ_TRACE") != nullptr;
  return on;
}

inline void Trace(const std::string& sql, const std::vector<Val>& params, int rc, const std::string& error,
                  size_t rows) {
  if (!Tracing()) return;
  std::fprintf(stderr, "%s;  -- %s%s%s, %zu rows\n", Inline(sql, params).c_str(), sqlite3_errstr(rc),
               error.empty() ? "" : ": ", error.c_str(), rows);
}

inline Result Run(sqlite3* db, const std::string& sql, const std::vector<Val>& params = {}) {
  Result r;
  sqlite3_stmt* st = nullptr;
  r.rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (r.rc != SQLITE_OK) {
    r.error = sqlite3_errmsg(db);
    Trace(sql, params, r.rc, r.error, 0);
    FUZZ_CHECK(!IsFatal(r.rc), "prepare gave %s: %s\n  sql: %s", sqlite3_errstr(r.rc), r.error.c_str(),
               Inline(sql, params).c_str());
    return r;
  }
  for (size_t k = 0; k < params.size(); ++k) {
    const Val& v = params[k];
    int n = static_cast<int>(k + 1);
    switch (v.type) {
      case Val::kInt: sqlite3_bind_int64(st, n, v.i); break;
      case Val::kReal: sqlite3_bind_double(st, n, v.d); break;
      case Val::kText: sqlite3_bind_text(st, n, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
      case Val::kBlob: sqlite3_bind_blob(st, n, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
      case Val::kNull: sqlite3_bind_null(st, n); break;
    }
  }
  while ((r.rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<Val> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER: row.push_back(Val::Int(sqlite3_column_int64(st, c))); break;
        case SQLITE_FLOAT: row.push_back(Val::Real(sqlite3_column_double(st, c))); break;
        case SQLITE_TEXT:
          row.push_back(Val::Text(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                                              static_cast<size_t>(sqlite3_column_bytes(st, c)))));
          break;
        case SQLITE_BLOB: {
          const void* p = sqlite3_column_blob(st, c);
          row.push_back(Val::Blob(std::string(static_cast<const char*>(p), p ? sqlite3_column_bytes(st, c) : 0)));
          break;
        }
        default: row.push_back(Val::Null()); break;
      }
    }
    r.rows.push_back(std::move(row));
    if (r.rows.size() > 100000) break;
  }
  if (r.rc != SQLITE_DONE && r.rc != SQLITE_ROW) r.error = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  Trace(sql, params, r.rc, r.error, r.rows.size());
  FUZZ_CHECK(!IsFatal(r.rc), "step gave %s: %s\n  sql: %s", sqlite3_errstr(r.rc), r.error.c_str(),
             Inline(sql, params).c_str());
  return r;
}

}  // namespace fuzz_sql
