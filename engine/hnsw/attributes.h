// engine/hnsw/attributes.h — the metadata columns of an index, in memory, by internal node id,
// and the filters a k-NN search evaluates on them while it walks the graph.
//
// The SQL table `hnsw_knn(embedding float[N], category integer, lang text, ...)` stores its
// metadata columns in a shadow table (the truth) and hands every row's values to its HnswIndex
// (HnswIndex::SetAttributes), which keeps them here, one array per column indexed by NodeId, so
// that a filtered walk tests a node with one array read per term and no hash lookup.
//
// Types are strict, as in a STRICT table: an INTEGER or BOOLEAN column holds int64 or NULL, a
// REAL column double or NULL, a TEXT column text or NULL (the SQL layer converts what SQLite's
// affinity converts losslessly and rejects the rest). TEXT values are interned in a per-table
// dictionary, so `=` and `IN` on text compare 32-bit ids.
//
// Filters (AttrTerm, AND of terms) follow SQLite's comparison rules for a value of the column's
// storage class against a right-hand side of any class (the SQL layer has already applied the
// column's affinity to it):
//   - NULL < INTEGER/REAL (compared by exact value, 2^63 edges included) < TEXT (memcmp) < BLOB;
//   - a comparison with NULL on either side holds for no row (=, !=, <, ..., IN's NULL members);
//   - IS / IS NOT compare NULL as a value (x IS NULL, x IS NOT 5 holds for a NULL x).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/common/status.h"
#include "engine/hnsw/hnsw_config.h"

namespace vecgraph::hnsw {

enum class AttrType : uint8_t { kInteger = 0, kReal, kText, kBoolean };
const char* AttrTypeName(AttrType t);  // "integer", "real", "text", "boolean"

// A value with SQLite's storage classes.
struct AttrValue {
  enum class Kind : uint8_t { kNull = 0, kInteger, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double r = 0;
  std::string s;  // TEXT (UTF-8) or BLOB bytes

  static AttrValue Null() { return {}; }
  static AttrValue Int(int64_t v) {
    AttrValue a;
    a.kind = Kind::kInteger;
    a.i = v;
    return a;
  }
  static AttrValue Real(double v) {
    AttrValue a;
    a.kind = Kind::kReal;
    a.r = v;
    return a;
  }
  static AttrValue Text(std::string v) {
    AttrValue a;
    a.kind = Kind::kText;
    a.s = std::move(v);
    return a;
  }
  static AttrValue Blob(std::string v) {
    AttrValue a;
    a.kind = Kind::kBlob;
    a.s = std::move(v);
    return a;
  }
  bool is_null() const { return kind == Kind::kNull; }
};

// The int64 equal to r when r is an integer in [-2^63, 2^63): when a REAL equals an INTEGER.
bool IntegralInt64(double r, int64_t* out);

// SQLite's order of two non-NULL values (<0, 0, >0): numbers < TEXT < BLOB; numbers by exact
// value (an INTEGER and a REAL compare as the mathematical numbers they are).
int CompareValues(const AttrValue& a, const AttrValue& b);

enum class AttrOp : uint8_t { kEq = 0, kNe, kLt, kLe, kGt, kGe, kIn, kIs, kIsNot, kIsNull, kIsNotNull };

// One condition `column op value` (kIn: any of `values`; kIsNull/kIsNotNull: no value; else one).
struct AttrTerm {
  uint32_t column = 0;
  AttrOp op = AttrOp::kEq;
  std::vector<AttrValue> values;
};

class AttributeTable;

// A filter's result for every row of a table: bit i set ⇔ row i passes.
struct FilterBits {
  std::vector<uint64_t> words;
  size_t rows = 0;
  bool Test(uint32_t id) const { return ((words[id >> 6] >> (id & 63)) & 1) != 0; }
};

// An AND of terms compiled against one table: Pass(id) costs one array read per term, or one bit
// when the table had the filter's bits cached (AttributeTable::Compile). Valid while the table
// is unchanged (the index's shared lock).
class AttrFilter {
 public:
  bool Pass(uint32_t id) const { return bits_ != nullptr ? bits_->Test(id) : Eval(id); }
  // The terms themselves, never the cached bits (tests compare the two).
  bool Eval(uint32_t id) const;
  // No row can pass (e.g. `x = NULL`, `x < 2 AND x > 3`, an empty IN list).
  bool never() const { return never_; }
  bool empty() const { return terms_.empty() && !never_; }
  bool cached() const { return bits_ != nullptr; }
  // The cached bits themselves (null when not cached): their identity names this filter on this
  // table state, and users may keep data derived from them (HnswIndex's two-hop lists).
  const std::shared_ptr<const FilterBits>& shared_bits() const { return bits_; }
  // The cached bits as words over `rows` node ids (null when not cached or of another size).
  const uint64_t* candidates(size_t rows) const {
    return bits_ != nullptr && bits_->rows == rows ? bits_->words.data() : nullptr;
  }
  // Bits of rows [0, rows), column by column: words[(rows + 63) / 64].
  void Fill(size_t rows, uint64_t* words) const;
  // Equal keys pass the same rows of the same table state.
  std::string Key() const;

 private:
  friend class AttributeTable;
  enum class Kind : uint8_t { kIntRange, kIntSet, kRealRange, kRealSet, kTextIds, kTextRange, kAll, kNone };
  struct Term {
    Kind kind = Kind::kAll;
    bool negate = false;       // kIntRange/kRealRange/kTextIds/kTextRange: pass when outside
    bool null_result = false;  // what a NULL value gives
    uint32_t column = 0;
    int64_t ilo = 0, ihi = 0;  // kIntRange: inclusive
    long double rlo = 0, rhi = 0;
    bool rlo_open = false, rhi_open = false;  // kRealRange bounds exclusive
    std::vector<int64_t> iset;                 // sorted
    std::vector<long double> rset;             // sorted
    std::vector<uint32_t> ids;                 // kTextIds: sorted dictionary ids
    std::string slo, shi;                      // kTextRange
    bool has_slo = false, has_shi = false, slo_open = false, shi_open = false;
  };
  static bool TermPass(const Term& t, const AttributeTable& table, uint32_t id);
  const AttributeTable* table_ = nullptr;
  std::vector<Term> terms_;
  bool never_ = false;
  std::shared_ptr<const FilterBits> bits_;
};

class AttributeTable {
 public:
  // Limits (the SQL layer documents them): columns per table, bytes of one TEXT value.
  static constexpr size_t kMaxColumns = 64;
  static constexpr size_t kMaxTextBytes = 1u << 20;

  // Replaces the schema; every value becomes NULL.
  void SetSchema(std::vector<AttrType> types);
  const std::vector<AttrType>& schema() const { return types_; }
  size_t columns() const { return types_.size(); }
  size_t rows() const { return rows_; }

  // Grows or shrinks to n rows; new rows are NULL in every column.
  void Resize(size_t n);
  // Moves row i to remap[i] (any injective map onto [0, nn); kInvalidNode: the row goes).
  void Compact(const std::vector<NodeId>& remap, size_t nn);
  // Sets every column of row id. InvalidArgument when a value's class does not fit its column
  // (the SQL layer converts first) or a TEXT value is too long.
  Status Set(NodeId id, std::span<const AttrValue> row);
  void SetNull(NodeId id);
  AttrValue Get(NodeId id, uint32_t column) const;

  // InvalidArgument for a column out of range or a term without its value(s).
  // Filter cache (as Lucene caches filter bit sets): the second time a filter is compiled since
  // the table last changed, its bits over every row are computed and kept (the last
  // kFilterCacheEntries filters; any change to the table drops them all), so that a filter
  // repeated across queries tests one bit per row. cache = false: never use or fill the cache.
  static constexpr size_t kFilterCacheEntries = 8;
  static constexpr size_t kFilterSeenKeys = 32;
  StatusOr<AttrFilter> Compile(std::span<const AttrTerm> terms, bool cache = true) const;
  size_t cached_filters() const;

  size_t bytes() const;  // columns, dictionary and the filter cache

  AttributeTable() = default;
  AttributeTable(const AttributeTable& o) : types_(o.types_), cols_(o.cols_), rows_(o.rows_), strings_(o.strings_),
                                            string_ids_(o.string_ids_) {}
  AttributeTable& operator=(const AttributeTable& o) {
    if (this != &o) {
      types_ = o.types_;
      cols_ = o.cols_;
      rows_ = o.rows_;
      strings_ = o.strings_;
      string_ids_ = o.string_ids_;
      Changed();
    }
    return *this;
  }

 private:
  friend class AttrFilter;
  struct Column {
    AttrType type = AttrType::kInteger;
    std::vector<uint8_t> null;    // 1 = NULL
    std::vector<int64_t> ints;    // integer, boolean
    std::vector<double> reals;    // real
    std::vector<uint32_t> texts;  // text: dictionary ids
  };
  uint32_t Intern(const std::string& s);
  Status CompileTerm(const AttrTerm& t, AttrFilter::Term* out, bool* never) const;
  StatusOr<AttrFilter> CompileTerms(std::span<const AttrTerm> terms) const;
  void Changed();  // every mutation: the cached filters no longer hold

  struct CacheEntry {
    std::string key;
    std::shared_ptr<const FilterBits> bits;
  };

  std::vector<AttrType> types_;
  std::vector<Column> cols_;
  size_t rows_ = 0;
  std::vector<std::string> strings_;                     // id → text
  std::unordered_map<std::string, uint32_t> string_ids_;  // text → id
  mutable std::mutex cache_mu_;
  mutable std::deque<CacheEntry> cache_;  // most recent first
  mutable std::deque<std::string> seen_;  // keys compiled once since the last change
};

inline bool AttrFilter::TermPass(const Term& t, const AttributeTable& table, uint32_t id) {
  const AttributeTable::Column& c = table.cols_[t.column];
  if (c.null[id]) return t.null_result;
  bool in = true;
  switch (t.kind) {
    case Kind::kIntRange: {
      const int64_t v = c.ints[id];
      in = v >= t.ilo && v <= t.ihi;
      break;
    }
    case Kind::kIntSet: {
      const int64_t v = c.ints[id];
      in = std::binary_search(t.iset.begin(), t.iset.end(), v);
      break;
    }
    case Kind::kRealRange: {
      const long double v = c.reals[id];
      in = (t.rlo_open ? v > t.rlo : v >= t.rlo) && (t.rhi_open ? v < t.rhi : v <= t.rhi);
      break;
    }
    case Kind::kRealSet: {
      const long double v = c.reals[id];
      in = std::binary_search(t.rset.begin(), t.rset.end(), v);
      break;
    }
    case Kind::kTextIds: {
      const uint32_t v = c.texts[id];
      in = t.ids.size() == 1 ? t.ids[0] == v : std::binary_search(t.ids.begin(), t.ids.end(), v);
      break;
    }
    case Kind::kTextRange: {
      const std::string& v = table.strings_[c.texts[id]];
      if (t.has_slo) {
        int cmp = v.compare(t.slo);
        in = t.slo_open ? cmp > 0 : cmp >= 0;
      }
      if (in && t.has_shi) {
        int cmp = v.compare(t.shi);
        in = t.shi_open ? cmp < 0 : cmp <= 0;
      }
      break;
    }
    case Kind::kAll: in = true; break;
    case Kind::kNone: in = false; break;
  }
  return in != t.negate;
}

inline bool AttrFilter::Eval(uint32_t id) const {
  if (never_) return false;
  for (const Term& t : terms_)
    if (!TermPass(t, *table_, id)) return false;
  return true;
}

}  // namespace vecgraph::hnsw
