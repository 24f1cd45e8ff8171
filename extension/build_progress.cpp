// extension/build_progress.cpp — the process-wide registry of hnsw_knn builds (build_progress.h).
#include "extension/build_progress.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

namespace vecgraph::sql {

namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  uint64_t pending = 0;
  uint64_t built_before = 0;  // rows of the finished pieces of the open build
  uint64_t built_piece = 0;   // rows of the running piece built so far
  uint64_t total = 0;
  uint64_t next_notice = kNoticeEveryRows;
  bool running = false, open = false, interrupted = false;
  Clock::time_point start{};
  double started_wall = 0;
  double seconds = 0;  // frozen when the build ends
};

struct Registry {
  std::mutex mu;
  std::map<BuildKey, Entry> entries;
};

Registry& Reg() {
  static Registry r;
  return r;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Notice(const std::string& name, uint64_t built, uint64_t total) {
  sqlite3_log(SQLITE_NOTICE, "hnsw_knn: index '%s': built %llu of %llu rows", name.c_str(),
              static_cast<unsigned long long>(built), static_cast<unsigned long long>(total));
}

}  // namespace

BuildKey MakeBuildKey(sqlite3* db, const std::string& schema, const std::string& table) {
  const char* f = sqlite3_db_filename(db, schema.c_str());
  BuildKey key;
  if (f != nullptr && f[0] != '\0') {
    key.file = f;
  } else {
    char buf[48];
    std::snprintf(buf, sizeof buf, "memory:%p/", static_cast<void*>(db));
    key.file = buf + Lower(schema);
  }
  key.table = Lower(table);
  return key;
}

std::optional<BuildSnapshot> LookupBuild(const BuildKey& key) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  auto it = r.entries.find(key);
  if (it == r.entries.end()) return std::nullopt;
  const Entry& e = it->second;
  BuildSnapshot s;
  s.running = e.running;
  s.open = e.open;
  s.pending = e.pending;
  s.built = e.built_before + e.built_piece;
  s.total = e.total;
  s.started = e.started_wall;
  s.seconds = e.open ? std::chrono::duration<double>(Clock::now() - e.start).count() : e.seconds;
  s.interrupted = e.interrupted;
  return s;
}

void SetPending(const BuildKey& key, uint64_t pending) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  if (pending == 0 && r.entries.find(key) == r.entries.end()) return;  // nothing to say
  r.entries[key].pending = pending;
}

void ForgetBuild(const BuildKey& key) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  r.entries.erase(key);
}

BuildTracker::BuildTracker(sqlite3* db, const std::string& schema, const std::string& index_name, uint64_t rows,
                           bool more_may_follow)
    : key_(MakeBuildKey(db, schema, index_name)), name_(index_name), rows_(rows), more_may_follow_(more_may_follow) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  Entry& e = r.entries[key_];
  if (!e.open) {  // a new build (else: the next piece of one)
    e.built_before = 0;
    e.total = 0;
    e.next_notice = kNoticeEveryRows;
    e.interrupted = false;
    e.start = Clock::now();
    e.started_wall = WallNow();
    e.open = true;
  }
  e.running = true;
  e.pending = 0;  // the buffer is this piece now
  e.built_piece = 0;
  e.total += rows;
  before_ = e.built_before;
  total_ = e.total;
  next_notice_ = e.next_notice;
}

BuildTracker::~BuildTracker() {
  if (!finished_) Finish(false);
}

void BuildTracker::Progress(uint64_t built_in_piece) {
  if (finished_) return;
  piece_built_ = std::min(built_in_piece, rows_);
  const uint64_t done = built();
  bool notice = false;
  if (done >= next_notice_) {
    notice = true;
    next_notice_ = (done / kNoticeEveryRows + 1) * kNoticeEveryRows;
  }
  {
    Registry& r = Reg();
    std::lock_guard lock(r.mu);
    Entry& e = r.entries[key_];
    e.built_piece = piece_built_;
    e.next_notice = next_notice_;
  }
  if (notice) Notice(name_, done, total_);  // outside the lock: the log callback may call LookupBuild
}

void BuildTracker::Finish(bool ok, bool interrupted) {
  if (finished_) return;
  const bool ends = !ok || !more_may_follow_;
  if (ok && !ends) Progress(rows_);  // a notice due at the piece's end
  if (ok) piece_built_ = rows_;
  finished_ = true;
  {
    Registry& r = Reg();
    std::lock_guard lock(r.mu);
    Entry& e = r.entries[key_];
    e.running = false;
    e.built_before += piece_built_;
    e.built_piece = 0;
    e.next_notice = next_notice_;
    if (ends) {
      e.open = false;
      e.interrupted = interrupted;
      e.seconds = std::chrono::duration<double>(Clock::now() - e.start).count();
    }
  }
  if (ok && ends && total_ > kNoticeEveryRows) Notice(name_, built(), total_);
}

}  // namespace vecgraph::sql
