// engine/common/status.h — Status and StatusOr<T>: how engine code reports errors.
//
// Engine code never throws across its API for expected failures; it returns a [[nodiscard]]
// Status (RocksDB / abseil style). The extension layer maps codes to SQLite result codes in one
// place (extension/sql_util.h: StatusToSqlite).
#pragma once

#include <cstdarg>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace vecgraph {

enum class StatusCode : unsigned char {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (SQLITE_ERROR)
  kCorruption,         // persisted state is inconsistent (SQLITE_CORRUPT)
  kResourceExhausted,  // out of memory, host or device (SQLITE_NOMEM / fallback)
  kUnavailable,        // a device is absent or unusable (fallback to CPU)
  kInternal,           // an invariant failed (SQLITE_INTERNAL)
  kCancelled,          // the caller asked to stop (hnsw BuildControl; SQLITE_INTERRUPT)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The storage layer's own result code when the error came from it (the SQLite result code of
  // a failed shadow-table statement: SQLITE_BUSY, SQLITE_CORRUPT, ...), else 0. Kept through
  // WithPrefix so the caller sees SQLite's code, not a generic one.
  int detail() const { return detail_; }
  Status WithDetail(int detail) const {
    Status s = *this;
    s.detail_ = detail;
    return s;
  }

  // Prefix the message ("vec_dims: " + message).
  Status WithPrefix(const std::string& prefix) const {
    if (ok()) return *this;
    Status s(code_, prefix + message_);
    s.detail_ = detail_;
    return s;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int detail_ = 0;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}           // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}   // NOLINT: implicit by design
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// printf-style formatting into std::string (messages).
[[gnu::format(printf, 1, 2)]] inline std::string StrFormat(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<size_t>(n));
    std::vsnprintf(out.data(), out.size() + 1, fmt, ap2);
  }
  va_end(ap2);
  return out;
}

#define VG_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::vecgraph::Status _st = (expr);      \
    if (!_st.ok()) return _st;            \
  } while (0)

}  // namespace vecgraph
