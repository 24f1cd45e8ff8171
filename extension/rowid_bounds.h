// extension/rowid_bounds.h — rowid constraints of a virtual-table query, read with SQLite's rules.
//
//   WHERE rowid = 2 / IN (1, 2) / > 2.5 / <= '7' / != 3 / IS 4 / IS NOT 5   (and their AND)
//
// One parser for every path that takes rowid constraints (the k-NN search and the plain scan of
// hnsw_knn), so both answer what SQLite answers for the same WHERE clause on a rowid table:
//   - the right-hand side gets numeric affinity first (TEXT '2' compares as 2, '2.5' as 2.5);
//   - INTEGER and REAL compare exactly by value (rowid > 2.5 is rowid >= 3; rowid = 2.0 is 2;
//     rowid < 1e19 holds for every rowid);
//   - any number is less than any TEXT, and any TEXT less than any BLOB (rowid < 'abc' holds for
//     every rowid, rowid > 'abc' for none);
//   - a comparison with NULL holds for no row (rowid IS NULL: none; rowid IS NOT NULL: all).
// The result is an inclusive range [lo, hi], optionally intersected with a set of allowed rowids
// (= and IN; several of them intersect) and minus a set of excluded ones (!= and IS NOT).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "extension/sqlite_api.h"

namespace vecgraph::sql {

class RowidBounds {
 public:
  // The operators Add understands (xBestIndex consumes exactly these).
  static bool Supported(unsigned char op);

  // Adds `rowid <op> v` (op: SQLITE_INDEX_CONSTRAINT_EQ, GT, GE, LT, LE, NE, IS, ISNOT).
  void Add(unsigned char op, sqlite3_value* v);
  // Adds `rowid IN (...)` from a value handed over with sqlite3_vtab_in (all values at once).
  // Returns the SQLite code of sqlite3_vtab_in_first/next when iterating fails.
  int AddIn(sqlite3_value* list);

  // No rowid can pass (an empty range, an empty set, a NULL comparison).
  bool empty() const;
  // No constraint at all (every rowid passes).
  bool unbounded() const;
  bool Contains(int64_t rowid) const;

  int64_t lo() const { return lo_; }
  int64_t hi() const { return hi_; }
  // The allowed rowids (ascending, unique, within [lo, hi], none excluded), when = or IN was given.
  const std::optional<std::vector<int64_t>>& points() const;
  // The excluded rowids (ascending, unique).
  const std::vector<int64_t>& excluded() const;

 private:
  void Normalize() const;
  void IntersectPoints(std::vector<int64_t> p);

  int64_t lo_ = std::numeric_limits<int64_t>::min();
  int64_t hi_ = std::numeric_limits<int64_t>::max();
  bool none_ = false;  // a constraint no rowid satisfies
  mutable std::optional<std::vector<int64_t>> points_;
  mutable std::vector<int64_t> excluded_;
  mutable bool normalized_ = true;
};

}  // namespace vecgraph::sql
