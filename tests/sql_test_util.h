// Helpers for SQL-level tests through the C API (static registration via vecgraph_register).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <string>
#include <vector>

#include "extension/vecgraph.h"

namespace vecgraph::testing {

using Row = std::vector<std::string>;

class SqlTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(&db_); }
  void TearDown() override { sqlite3_close(db_); }

  static void Open(sqlite3** db, const char* path = ":memory:") {
    ASSERT_EQ(sqlite3_open(path, db), SQLITE_OK);
    ASSERT_EQ(vecgraph_register(*db), SQLITE_OK);
  }

  // Runs sql (one statement), binding `blobs` as ?1, ?2, ... ; returns rows as text ("NULL" for null).
  std::vector<Row> Query(const std::string& sql, const std::vector<std::vector<float>>& blobs = {}) {
    return QueryOn(db_, sql, blobs);
  }
  static std::vector<Row> QueryOn(sqlite3* db, const std::string& sql,
                                  const std::vector<std::vector<float>>& blobs = {}) {
    std::vector<Row> rows;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
    if (rc != SQLITE_OK) return rows;
    for (size_t i = 0; i < blobs.size(); ++i) {
      sqlite3_bind_blob(st, static_cast<int>(i + 1), blobs[i].data(), static_cast<int>(blobs[i].size() * 4),
                        SQLITE_TRANSIENT);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      Row r;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        r.push_back(sqlite3_column_type(st, c) == SQLITE_NULL ? "NULL" : reinterpret_cast<const char*>(t));
      }
      rows.push_back(r);
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return rows;
  }

  // The single value of a one-row, one-column query.
  std::string Value(const std::string& sql, const std::vector<std::vector<float>>& blobs = {}) {
    auto rows = Query(sql, blobs);
    EXPECT_EQ(rows.size(), 1u) << sql;
    if (rows.empty() || rows[0].empty()) return "<no rows>";
    return rows[0][0];
  }

  // The error message a statement fails with ("" when it succeeds).
  std::string Error(const std::string& sql, const std::vector<std::vector<float>>& blobs = {}) {
    return ErrorOn(db_, sql, blobs);
  }
  static std::string ErrorOn(sqlite3* db, const std::string& sql, const std::vector<std::vector<float>>& blobs = {}) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return sqlite3_errmsg(db);
    for (size_t i = 0; i < blobs.size(); ++i) {
      sqlite3_bind_blob(st, static_cast<int>(i + 1), blobs[i].data(), static_cast<int>(blobs[i].size() * 4),
                        SQLITE_TRANSIENT);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    std::string msg = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return msg;
  }

  // The SQLite result code a statement fails with (SQLITE_OK when it succeeds).
  int Code(const std::string& sql) { return CodeOn(db_, sql); }
  static int CodeOn(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return sqlite3_extended_errcode(db);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(db);
    sqlite3_finalize(st);
    return rc;
  }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }

  sqlite3* db_ = nullptr;
};

}  // namespace vecgraph::testing
