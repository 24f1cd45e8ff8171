// engine/hnsw/attributes.cpp — metadata columns by node id and their compiled filters
// (attributes.h has the rules).
#include "engine/hnsw/attributes.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace vecgraph::hnsw {
namespace {

using Kind = AttrValue::Kind;
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr double kTwo63 = 9223372036854775808.0;

// Storage-class rank in SQLite's order: numbers < TEXT < BLOB.
int ClassRank(Kind k) { return k == Kind::kInteger || k == Kind::kReal ? 1 : k == Kind::kText ? 2 : 3; }

long double AsLong(const AttrValue& v) {
  return v.kind == Kind::kInteger ? static_cast<long double>(v.i) : static_cast<long double>(v.r);
}

// The int64 rows a numeric comparison `x op v` accepts, as [lo, hi]; false when none.
bool IntRange(AttrOp op, const AttrValue& v, int64_t* lo, int64_t* hi) {
  *lo = kI64Min;
  *hi = kI64Max;
  if (v.kind == Kind::kInteger) {
    const int64_t x = v.i;
    switch (op) {
      case AttrOp::kEq: *lo = *hi = x; return true;
      case AttrOp::kLt:
        if (x == kI64Min) return false;
        *hi = x - 1;
        return true;
      case AttrOp::kLe: *hi = x; return true;
      case AttrOp::kGt:
        if (x == kI64Max) return false;
        *lo = x + 1;
        return true;
      case AttrOp::kGe: *lo = x; return true;
      default: return false;
    }
  }
  const double r = v.r;  // REAL (never NaN: SQLite stores NaN as NULL)
  const bool below = r < -kTwo63, above = r >= kTwo63;
  switch (op) {
    case AttrOp::kEq:
      if (!IntegralInt64(r, lo)) return false;
      *hi = *lo;
      return true;
    case AttrOp::kLt:
    case AttrOp::kLe: {
      if (above) return true;
      if (below) return false;
      const double c = op == AttrOp::kLt ? std::ceil(r) : std::floor(r);
      int64_t h = static_cast<int64_t>(c);
      if (op == AttrOp::kLt) {
        if (h == kI64Min) return false;
        h -= 1;
      }
      *hi = h;
      return true;
    }
    case AttrOp::kGt:
    case AttrOp::kGe: {
      if (below) return true;
      if (above) return false;
      const double f = op == AttrOp::kGt ? std::floor(r) : std::ceil(r);
      int64_t l = static_cast<int64_t>(f);
      if (op == AttrOp::kGt) {
        if (l == kI64Max) return false;
        l += 1;
      }
      *lo = l;
      return true;
    }
    default: return false;
  }
}

}  // namespace

bool IntegralInt64(double r, int64_t* out) {
  if (!(r >= -kTwo63 && r < kTwo63) || std::floor(r) != r) return false;
  *out = static_cast<int64_t>(r);
  return true;
}

const char* AttrTypeName(AttrType t) {
  switch (t) {
    case AttrType::kInteger: return "integer";
    case AttrType::kReal: return "real";
    case AttrType::kText: return "text";
    case AttrType::kBoolean: return "boolean";
  }
  return "?";
}

int CompareValues(const AttrValue& a, const AttrValue& b) {
  const int ra = ClassRank(a.kind), rb = ClassRank(b.kind);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 1) {
    if (a.kind == Kind::kInteger && b.kind == Kind::kInteger) return a.i < b.i ? -1 : a.i > b.i;
    const long double x = AsLong(a), y = AsLong(b);  // exact for int64 and double
    return x < y ? -1 : x > y;
  }
  int c = a.s.compare(b.s);
  return c < 0 ? -1 : c > 0;
}

void AttributeTable::Changed() {
  std::lock_guard lock(cache_mu_);
  cache_.clear();
  seen_.clear();
}

void AttributeTable::SetSchema(std::vector<AttrType> types) {
  Changed();
  types_ = std::move(types);
  cols_.assign(types_.size(), Column{});
  for (size_t c = 0; c < types_.size(); ++c) cols_[c].type = types_[c];
  strings_.clear();
  string_ids_.clear();
  const size_t n = rows_;
  rows_ = 0;
  Resize(n);
}

void AttributeTable::Resize(size_t n) {
  Changed();
  for (Column& c : cols_) {
    c.null.resize(n, 1);
    switch (c.type) {
      case AttrType::kInteger:
      case AttrType::kBoolean: c.ints.resize(n, 0); break;
      case AttrType::kReal: c.reals.resize(n, 0); break;
      case AttrType::kText: c.texts.resize(n, 0); break;
    }
  }
  rows_ = n;
}

void AttributeTable::Compact(const std::vector<NodeId>& remap, size_t nn) {
  Changed();
  for (Column& c : cols_) {
    Column out;
    out.type = c.type;
    out.null.assign(nn, 1);
    if (!c.ints.empty()) out.ints.assign(nn, 0);
    if (!c.reals.empty()) out.reals.assign(nn, 0);
    if (!c.texts.empty()) out.texts.assign(nn, 0);
    for (size_t i = 0; i < rows_ && i < remap.size(); ++i) {
      const NodeId to = remap[i];
      if (to == kInvalidNode || to >= nn) continue;
      out.null[to] = c.null[i];
      if (!c.ints.empty()) out.ints[to] = c.ints[i];
      if (!c.reals.empty()) out.reals[to] = c.reals[i];
      if (!c.texts.empty()) out.texts[to] = c.texts[i];
    }
    c = std::move(out);
  }
  rows_ = nn;
}

uint32_t AttributeTable::Intern(const std::string& s) {
  auto it = string_ids_.find(s);
  if (it != string_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(strings_.size());
  strings_.push_back(s);
  string_ids_.emplace(s, id);
  return id;
}

Status AttributeTable::Set(NodeId id, std::span<const AttrValue> row) {
  if (id >= rows_) return Status::Internal("hnsw: attributes: node id out of range");
  if (row.size() != cols_.size()) {
    return Status::InvalidArgument(StrFormat("hnsw: attributes: %zu values for %zu columns", row.size(), cols_.size()));
  }
  for (size_t c = 0; c < cols_.size(); ++c) {
    const AttrValue& v = row[c];
    if (v.is_null()) continue;
    const AttrType t = cols_[c].type;
    const bool ok = ((t == AttrType::kInteger || t == AttrType::kBoolean) && v.kind == Kind::kInteger) ||
                    (t == AttrType::kReal && v.kind == Kind::kReal) || (t == AttrType::kText && v.kind == Kind::kText);
    if (!ok) {
      return Status::InvalidArgument(StrFormat("hnsw: attributes: column %zu is %s, the value is not", c, AttrTypeName(t)));
    }
    if (t == AttrType::kBoolean && v.i != 0 && v.i != 1) {
      return Status::InvalidArgument(StrFormat("hnsw: attributes: column %zu is boolean, the value is %lld", c,
                                               static_cast<long long>(v.i)));
    }
    if (t == AttrType::kText && v.s.size() > kMaxTextBytes) {
      return Status::InvalidArgument(StrFormat("hnsw: attributes: column %zu: text of %zu bytes (at most %zu)", c,
                                               v.s.size(), kMaxTextBytes));
    }
  }
  Changed();
  for (size_t c = 0; c < cols_.size(); ++c) {
    Column& col = cols_[c];
    const AttrValue& v = row[c];
    col.null[id] = v.is_null() ? 1 : 0;
    if (v.is_null()) continue;
    switch (col.type) {
      case AttrType::kInteger:
      case AttrType::kBoolean: col.ints[id] = v.i; break;
      case AttrType::kReal: col.reals[id] = v.r; break;
      case AttrType::kText: col.texts[id] = Intern(v.s); break;
    }
  }
  return Status::Ok();
}

void AttributeTable::SetNull(NodeId id) {
  if (id >= rows_) return;
  Changed();
  for (Column& c : cols_) c.null[id] = 1;
}

AttrValue AttributeTable::Get(NodeId id, uint32_t column) const {
  if (id >= rows_ || column >= cols_.size()) return AttrValue::Null();
  const Column& c = cols_[column];
  if (c.null[id]) return AttrValue::Null();
  switch (c.type) {
    case AttrType::kInteger:
    case AttrType::kBoolean: return AttrValue::Int(c.ints[id]);
    case AttrType::kReal: return AttrValue::Real(c.reals[id]);
    case AttrType::kText: return AttrValue::Text(strings_[c.texts[id]]);
  }
  return AttrValue::Null();
}

size_t AttributeTable::bytes() const {
  size_t b = 0;
  for (const Column& c : cols_) {
    b += c.null.capacity() + c.ints.capacity() * sizeof(int64_t) + c.reals.capacity() * sizeof(double) +
         c.texts.capacity() * sizeof(uint32_t);
  }
  for (const std::string& s : strings_) b += sizeof(std::string) + s.capacity() + 48;  // + the map's node
  std::lock_guard lock(cache_mu_);
  for (const CacheEntry& e : cache_) b += e.key.capacity() + e.bits->words.capacity() * sizeof(uint64_t);
  return b;
}

size_t AttributeTable::cached_filters() const {
  std::lock_guard lock(cache_mu_);
  return cache_.size();
}

namespace {
template <typename T>
void Put(std::string* k, const T& v) {
  static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "no padding bytes in a key");
  k->append(reinterpret_cast<const char*>(&v), sizeof v);
}
// A long double by value (its in-memory form has padding bytes): sign, class, exponent and the
// 64-bit mantissa of frexp (exact for x87 extended precision and for double).
void PutReal(std::string* k, long double v) {
  const bool neg = std::signbit(v);
  Put(k, neg);
  if (std::isinf(v)) {
    Put(k, uint8_t{2});
    return;
  }
  Put(k, static_cast<uint8_t>(v == 0 ? 0 : 1));
  if (v == 0) return;
  int e = 0;
  const long double m = std::frexp(std::fabs(v), &e);  // [0.5, 1)
  Put(k, e);
  Put(k, static_cast<uint64_t>(std::ldexp(m, 64) - 0.5L * std::ldexp(1.0L, 64)));
}
}  // namespace

std::string AttrFilter::Key() const {
  std::string k;
  Put(&k, never_);
  for (const Term& t : terms_) {
    Put(&k, t.kind);
    Put(&k, t.negate);
    Put(&k, t.null_result);
    Put(&k, t.column);
    Put(&k, t.ilo);
    Put(&k, t.ihi);
    PutReal(&k, t.rlo);
    PutReal(&k, t.rhi);
    Put(&k, t.rlo_open);
    Put(&k, t.rhi_open);
    Put(&k, t.has_slo);
    Put(&k, t.has_shi);
    Put(&k, t.slo_open);
    Put(&k, t.shi_open);
    Put(&k, t.iset.size());
    for (int64_t v : t.iset) Put(&k, v);
    Put(&k, t.rset.size());
    for (long double v : t.rset) PutReal(&k, v);
    Put(&k, t.ids.size());
    for (uint32_t v : t.ids) Put(&k, v);
    Put(&k, t.slo.size());
    k += t.slo;
    Put(&k, t.shi.size());
    k += t.shi;
  }
  return k;
}

void AttrFilter::Fill(size_t rows, uint64_t* words) const {
  const size_t nw = (rows + 63) / 64;
  if (never_) {
    std::fill(words, words + nw, uint64_t{0});
    return;
  }
  std::fill(words, words + nw, ~uint64_t{0});
  if (rows % 64 != 0) words[nw - 1] = (uint64_t{1} << (rows % 64)) - 1;
  for (const Term& t : terms_) {
    const AttributeTable::Column& c = table_->cols_[t.column];
    // One term over one column at a time: sequential reads, the term's kind decided once.
    // in(i): whether row i passes this term (its NULL rule included).
    auto each = [&](auto&& in) {
      for (size_t w = 0; w < nw; ++w) {
        if (words[w] == 0) continue;
        const size_t b = w * 64, e = std::min(rows, b + 64);
        uint64_t m = 0;
        for (size_t i = b; i < e; ++i) m |= static_cast<uint64_t>(in(i)) << (i - b);
        words[w] &= m;
      }
    };
    const uint8_t* null = c.null.data();
    if (t.kind == Kind::kIntRange) {
      const int64_t lo = t.ilo, hi = t.ihi;
      const int64_t* v = c.ints.data();
      each([&](size_t i) { return null[i] ? t.null_result : (v[i] >= lo && v[i] <= hi) != t.negate; });
    } else if (t.kind == Kind::kTextIds && t.ids.size() == 1) {
      const uint32_t id = t.ids[0];
      const uint32_t* v = c.texts.data();
      each([&](size_t i) { return null[i] ? t.null_result : (v[i] == id) != t.negate; });
    } else {
      each([&](size_t i) { return TermPass(t, *table_, static_cast<uint32_t>(i)); });
    }
  }
}

Status AttributeTable::CompileTerm(const AttrTerm& t, AttrFilter::Term* out, bool* never) const {
  using TK = AttrFilter::Kind;
  out->column = t.column;
  const AttrType type = cols_[t.column].type;
  const bool text_col = type == AttrType::kText, real_col = type == AttrType::kReal;
  const int col_rank = text_col ? 2 : 1;
  AttrOp op = t.op;
  const AttrValue* v = t.values.empty() ? nullptr : &t.values[0];
  // IS / IS NOT: NULL compares as a value.
  if (op == AttrOp::kIs) {
    if (v->is_null()) {
      op = AttrOp::kIsNull;
    } else {
      op = AttrOp::kEq;
    }
  } else if (op == AttrOp::kIsNot) {
    if (v->is_null()) {
      op = AttrOp::kIsNotNull;
    } else {
      // NULL IS NOT 5 holds; otherwise it is !=.
      out->null_result = true;
      op = AttrOp::kNe;
    }
  }
  if (op == AttrOp::kIsNull) {
    out->kind = TK::kNone;
    out->null_result = true;
    return Status::Ok();
  }
  if (op == AttrOp::kIsNotNull) {
    out->kind = TK::kAll;
    out->null_result = false;
    return Status::Ok();
  }
  auto set_const = [&](bool all) {
    out->kind = all ? TK::kAll : TK::kNone;
    out->negate = false;
    if (!all && !out->null_result) *never = true;
  };
  if (op == AttrOp::kIn) {
    std::vector<int64_t> iset;
    std::vector<long double> rset;
    std::vector<uint32_t> ids;
    for (const AttrValue& m : t.values) {
      if (m.is_null() || ClassRank(m.kind) != col_rank) continue;  // NULL or another class: never equal
      if (text_col) {
        auto it = string_ids_.find(m.s);
        if (it != string_ids_.end()) ids.push_back(it->second);
      } else if (real_col) {
        rset.push_back(AsLong(m));
      } else {
        int64_t lo, hi;
        if (IntRange(AttrOp::kEq, m, &lo, &hi)) iset.push_back(lo);
      }
    }
    std::sort(iset.begin(), iset.end());
    std::sort(rset.begin(), rset.end());
    std::sort(ids.begin(), ids.end());
    if (iset.empty() && rset.empty() && ids.empty()) {
      set_const(false);
      return Status::Ok();
    }
    out->kind = text_col ? TK::kTextIds : real_col ? TK::kRealSet : TK::kIntSet;
    out->iset = std::move(iset);
    out->rset = std::move(rset);
    out->ids = std::move(ids);
    return Status::Ok();
  }
  // =, !=, <, <=, >, >= against one value.
  if (v->is_null()) {  // x op NULL is NULL: no row
    out->null_result = false;
    set_const(false);
    return Status::Ok();
  }
  const int vr = ClassRank(v->kind);
  if (vr != col_rank) {
    // Different storage classes: the order of the classes decides for every non-NULL row.
    const bool col_less = col_rank < vr;
    bool all = false;
    switch (op) {
      case AttrOp::kEq: all = false; break;
      case AttrOp::kNe: all = true; break;
      case AttrOp::kLt:
      case AttrOp::kLe: all = col_less; break;
      case AttrOp::kGt:
      case AttrOp::kGe: all = !col_less; break;
      default: break;
    }
    set_const(all);
    return Status::Ok();
  }
  const bool negate = op == AttrOp::kNe;
  const AttrOp cmp = negate ? AttrOp::kEq : op;
  out->negate = negate;
  if (text_col) {
    if (cmp == AttrOp::kEq) {
      auto it = string_ids_.find(v->s);
      if (it == string_ids_.end()) {
        set_const(negate);  // no row has it: = matches none, != every non-NULL row
        return Status::Ok();
      }
      out->kind = TK::kTextIds;
      out->ids = {it->second};
      return Status::Ok();
    }
    out->kind = TK::kTextRange;
    if (cmp == AttrOp::kLt || cmp == AttrOp::kLe) {
      out->has_shi = true;
      out->shi = v->s;
      out->shi_open = cmp == AttrOp::kLt;
    } else {
      out->has_slo = true;
      out->slo = v->s;
      out->slo_open = cmp == AttrOp::kGt;
    }
    return Status::Ok();
  }
  if (real_col) {
    const long double x = AsLong(*v);
    const long double inf = std::numeric_limits<long double>::infinity();
    out->kind = TK::kRealRange;
    out->rlo = -inf;
    out->rhi = inf;
    switch (cmp) {
      case AttrOp::kEq: out->rlo = out->rhi = x; break;
      case AttrOp::kLt: out->rhi = x, out->rhi_open = true; break;
      case AttrOp::kLe: out->rhi = x; break;
      case AttrOp::kGt: out->rlo = x, out->rlo_open = true; break;
      case AttrOp::kGe: out->rlo = x; break;
      default: break;
    }
    return Status::Ok();
  }
  int64_t lo, hi;
  if (!IntRange(cmp, *v, &lo, &hi)) {
    set_const(negate);
    return Status::Ok();
  }
  out->kind = TK::kIntRange;
  out->ilo = lo;
  out->ihi = hi;
  return Status::Ok();
}

StatusOr<AttrFilter> AttributeTable::Compile(std::span<const AttrTerm> terms, bool cache) const {
  auto f = CompileTerms(terms);
  if (!f.ok() || !cache || f->never_ || f->terms_.empty() || rows_ == 0) return f;
  std::string key = f->Key();
  {
    std::lock_guard lock(cache_mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->key != key) continue;
      f->bits_ = it->bits;
      if (it != cache_.begin()) {
        CacheEntry e = std::move(*it);
        cache_.erase(it);
        cache_.push_front(std::move(e));
      }
      return f;
    }
    auto seen = std::find(seen_.begin(), seen_.end(), key);
    if (seen == seen_.end()) {
      seen_.push_front(std::move(key));
      if (seen_.size() > kFilterSeenKeys) seen_.pop_back();
      return f;
    }
    seen_.erase(seen);
  }
  // Second use: compute the bits outside the lock (other compiles go on), then keep them.
  auto bits = std::make_shared<FilterBits>();
  bits->rows = rows_;
  bits->words.resize((rows_ + 63) / 64);
  f->Fill(rows_, bits->words.data());
  std::lock_guard lock(cache_mu_);
  cache_.push_front({std::move(key), bits});
  if (cache_.size() > kFilterCacheEntries) cache_.pop_back();
  f->bits_ = std::move(bits);
  return f;
}

StatusOr<AttrFilter> AttributeTable::CompileTerms(std::span<const AttrTerm> terms) const {
  AttrFilter f;
  f.table_ = this;
  for (const AttrTerm& t : terms) {
    if (t.column >= cols_.size()) {
      return Status::InvalidArgument(StrFormat("hnsw: filter: column %u out of range (%zu columns)", t.column, cols_.size()));
    }
    const bool needs_value = t.op != AttrOp::kIsNull && t.op != AttrOp::kIsNotNull && t.op != AttrOp::kIn;
    if (needs_value && t.values.size() != 1) return Status::InvalidArgument("hnsw: filter: a comparison takes one value");
    AttrFilter::Term term;
    bool never = false;
    VG_RETURN_IF_ERROR(CompileTerm(t, &term, &never));
    if (never) {
      f.never_ = true;
      f.terms_.clear();
      return f;
    }
    if (term.kind == AttrFilter::Kind::kAll && !term.negate && term.null_result) continue;  // holds for every row
    f.terms_.push_back(std::move(term));
  }
  return f;
}

}  // namespace vecgraph::hnsw
