// extension/interrupt.cpp — InterruptProbe (how it works: interrupt.h).
#include "extension/interrupt.h"

namespace vecgraph::sql {

namespace {

// sqlite3_is_interrupted is SQLite 3.41.0's. Through a loadable extension's API table the entry
// exists only when the headers know it (compiled against 3.41+) and the library has it (3.41+);
// reading it from an older library's table would read past its end.
constexpr int kIsInterruptedVersion = 3041000;

bool HaveIsInterrupted() {
#if SQLITE_VERSION_NUMBER >= 3041000
  return sqlite3_libversion_number() >= kIsInterruptedVersion;
#else
  return false;
#endif
}

}  // namespace

InterruptProbe::InterruptProbe(sqlite3* db) : db_(db), use_api_(HaveIsInterrupted()) {}

InterruptProbe::~InterruptProbe() { sqlite3_finalize(st_); }

bool InterruptProbe::Interrupted() {
  if (seen_) return true;
#if SQLITE_VERSION_NUMBER >= 3041000
  if (use_api_) return seen_ = sqlite3_is_interrupted(db_) != 0;
#endif
  if (st_ == nullptr) {
    int rc = sqlite3_prepare_v3(db_, "SELECT 1", -1, 0, &st_, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st_);
      st_ = nullptr;
      // Preparing checks the flag as well (the parser stops on it).
      return seen_ = (rc & 0xff) == SQLITE_INTERRUPT;
    }
  }
  const int rc = sqlite3_step(st_);
  sqlite3_reset(st_);
  return seen_ = rc == SQLITE_INTERRUPT;
}

bool ConnectionInterrupted(sqlite3* db) {
  InterruptProbe probe(db);
  return probe.Interrupted();
}

}  // namespace vecgraph::sql
