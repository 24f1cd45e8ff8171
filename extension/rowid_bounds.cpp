// extension/rowid_bounds.cpp — rowid constraints with SQLite's comparison rules (rowid_bounds.h).
#include "extension/rowid_bounds.h"

#include <algorithm>
#include <cmath>

#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr double kTwo63 = 9223372036854775808.0;  // 2^63: the first double above every int64

// d is an integer that fits int64.
bool IntegralInRange(double d) { return std::floor(d) == d && d >= -kTwo63 && d < kTwo63; }

}  // namespace

bool RowidBounds::Supported(unsigned char op) {
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
    case SQLITE_INDEX_CONSTRAINT_GT:
    case SQLITE_INDEX_CONSTRAINT_GE:
    case SQLITE_INDEX_CONSTRAINT_LT:
    case SQLITE_INDEX_CONSTRAINT_LE:
    case SQLITE_INDEX_CONSTRAINT_NE:
    case SQLITE_INDEX_CONSTRAINT_IS:
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return true;
    default: return false;
  }
}

void RowidBounds::IntersectPoints(std::vector<int64_t> p) {
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  if (points_) {
    std::vector<int64_t> both;
    std::set_intersection(points_->begin(), points_->end(), p.begin(), p.end(), std::back_inserter(both));
    p = std::move(both);
  }
  points_ = std::move(p);
  normalized_ = false;
}

void RowidBounds::Add(unsigned char op, sqlite3_value* v) {
  const bool eq = op == SQLITE_INDEX_CONSTRAINT_EQ || op == SQLITE_INDEX_CONSTRAINT_IS;
  const bool ne = op == SQLITE_INDEX_CONSTRAINT_NE || op == SQLITE_INDEX_CONSTRAINT_ISNOT;
  NumericValue n(v);
  switch (n.type()) {
    case SQLITE_NULL:
      // rowid IS NOT NULL holds for every row; every other comparison with NULL for none.
      if (op != SQLITE_INDEX_CONSTRAINT_ISNOT) none_ = true;
      return;
    case SQLITE_INTEGER: {
      const int64_t i = sqlite3_value_int64(n.value());
      if (eq) IntersectPoints({i});
      else if (ne) {
        excluded_.push_back(i);
        normalized_ = false;
      } else if (op == SQLITE_INDEX_CONSTRAINT_GT) {
        if (i == kMax) none_ = true;
        else lo_ = std::max(lo_, i + 1);
      } else if (op == SQLITE_INDEX_CONSTRAINT_GE) {
        lo_ = std::max(lo_, i);
      } else if (op == SQLITE_INDEX_CONSTRAINT_LT) {
        if (i == kMin) none_ = true;
        else hi_ = std::min(hi_, i - 1);
      } else if (op == SQLITE_INDEX_CONSTRAINT_LE) {
        hi_ = std::min(hi_, i);
      }
      return;
    }
    case SQLITE_FLOAT: {
      const double d = sqlite3_value_double(n.value());
      if (std::isnan(d)) {  // SQLite stores NaN as NULL; treat it the same way
        if (op != SQLITE_INDEX_CONSTRAINT_ISNOT) none_ = true;
        return;
      }
      if (eq) {
        if (IntegralInRange(d)) IntersectPoints({static_cast<int64_t>(d)});
        else none_ = true;
      } else if (ne) {
        if (IntegralInRange(d)) {
          excluded_.push_back(static_cast<int64_t>(d));
          normalized_ = false;
        }
      } else if (op == SQLITE_INDEX_CONSTRAINT_GT) {  // rowid > d  ⇔  rowid ≥ ⌊d⌋ + 1
        if (d >= kTwo63) none_ = true;
        else if (d >= -kTwo63) lo_ = std::max(lo_, static_cast<int64_t>(std::floor(d)) + 1);
      } else if (op == SQLITE_INDEX_CONSTRAINT_GE) {  // rowid ≥ d  ⇔  rowid ≥ ⌈d⌉
        if (d >= kTwo63) none_ = true;
        else if (d > -kTwo63) lo_ = std::max(lo_, static_cast<int64_t>(std::ceil(d)));
      } else if (op == SQLITE_INDEX_CONSTRAINT_LT) {  // rowid < d  ⇔  rowid ≤ ⌈d⌉ − 1
        if (d <= -kTwo63) none_ = true;
        else if (d < kTwo63) hi_ = std::min(hi_, static_cast<int64_t>(std::ceil(d)) - 1);
      } else if (op == SQLITE_INDEX_CONSTRAINT_LE) {  // rowid ≤ d  ⇔  rowid ≤ ⌊d⌋
        if (d < -kTwo63) none_ = true;
        else if (d < kTwo63) hi_ = std::min(hi_, static_cast<int64_t>(std::floor(d)));
      }
      return;
    }
    default:
      // TEXT that is not a number, or a BLOB: greater than every number.
      if (eq || op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_GE) none_ = true;
      return;
  }
}

int RowidBounds::AddIn(sqlite3_value* list) {
  std::vector<int64_t> p;
  sqlite3_value* x = nullptr;
  int rc = sqlite3_vtab_in_first(list, &x);
  for (; rc == SQLITE_OK && x != nullptr; rc = sqlite3_vtab_in_next(list, &x)) {
    NumericValue n(x);
    if (n.type() == SQLITE_INTEGER) {
      p.push_back(sqlite3_value_int64(n.value()));
    } else if (n.type() == SQLITE_FLOAT) {
      const double d = sqlite3_value_double(n.value());
      if (IntegralInRange(d)) p.push_back(static_cast<int64_t>(d));
    }
    // NULL, TEXT and BLOB values equal no rowid.
  }
  if (rc != SQLITE_OK && rc != SQLITE_DONE) return rc;
  IntersectPoints(std::move(p));
  return SQLITE_OK;
}

void RowidBounds::Normalize() const {
  if (normalized_) return;
  normalized_ = true;
  std::sort(excluded_.begin(), excluded_.end());
  excluded_.erase(std::unique(excluded_.begin(), excluded_.end()), excluded_.end());
  if (points_) {
    std::vector<int64_t> kept;
    kept.reserve(points_->size());
    for (int64_t r : *points_) {
      if (r >= lo_ && r <= hi_ && !std::binary_search(excluded_.begin(), excluded_.end(), r)) kept.push_back(r);
    }
    points_ = std::move(kept);
  }
}

bool RowidBounds::empty() const {
  Normalize();
  return none_ || lo_ > hi_ || (points_ && points_->empty());
}

bool RowidBounds::unbounded() const {
  Normalize();
  return !none_ && lo_ == kMin && hi_ == kMax && !points_ && excluded_.empty();
}

bool RowidBounds::Contains(int64_t rowid) const {
  Normalize();
  if (none_ || rowid < lo_ || rowid > hi_) return false;
  if (points_) return std::binary_search(points_->begin(), points_->end(), rowid);
  return !std::binary_search(excluded_.begin(), excluded_.end(), rowid);
}

const std::optional<std::vector<int64_t>>& RowidBounds::points() const {
  Normalize();
  return points_;
}

const std::vector<int64_t>& RowidBounds::excluded() const {
  Normalize();
  return excluded_;
}

}  // namespace vecgraph::sql
