// Metadata columns and filtered k-NN in the engine (engine/hnsw/attributes.h,
// HnswIndex::SearchFiltered): compiled filters agree with a plain reading of SQLite's comparison
// rules, and a filtered search is never short and matches brute force over the passing rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "engine/hnsw/attributes.h"
#include "engine/hnsw/hnsw.h"

namespace vecgraph::hnsw {
namespace {

using V = AttrValue;

// The reference: SQLite's rules written out plainly.
bool RefTerm(const V& v, const AttrTerm& t) {
  auto cmp = [&](const V& r) { return CompareValues(v, r); };
  const V* r = t.values.empty() ? nullptr : &t.values[0];
  switch (t.op) {
    case AttrOp::kIsNull: return v.is_null();
    case AttrOp::kIsNotNull: return !v.is_null();
    case AttrOp::kIs: return (v.is_null() && r->is_null()) || (!v.is_null() && !r->is_null() && cmp(*r) == 0);
    case AttrOp::kIsNot: return !((v.is_null() && r->is_null()) || (!v.is_null() && !r->is_null() && cmp(*r) == 0));
    case AttrOp::kIn:
      if (v.is_null()) return false;
      for (const V& m : t.values)
        if (!m.is_null() && cmp(m) == 0) return true;
      return false;
    default: break;
  }
  if (v.is_null() || r->is_null()) return false;
  const int c = cmp(*r);
  switch (t.op) {
    case AttrOp::kEq: return c == 0;
    case AttrOp::kNe: return c != 0;
    case AttrOp::kLt: return c < 0;
    case AttrOp::kLe: return c <= 0;
    case AttrOp::kGt: return c > 0;
    case AttrOp::kGe: return c >= 0;
    default: return false;
  }
}

std::vector<V> Probes() {
  const int64_t mn = std::numeric_limits<int64_t>::min(), mx = std::numeric_limits<int64_t>::max();
  return {V::Null(),      V::Int(0),          V::Int(1),        V::Int(-1),        V::Int(2),
          V::Int(mn),     V::Int(mx),         V::Real(0.5),     V::Real(1.0),      V::Real(-1.5),
          V::Real(2.5),   V::Real(9223372036854775808.0),       V::Real(-9223372036854775808.0),
          V::Real(1e300), V::Real(-INFINITY), V::Real(INFINITY), V::Real(-0.0),    V::Text(""),
          V::Text("a"),   V::Text("b"),       V::Text("ab"),    V::Text("1"),      V::Blob(""),
          V::Blob("a")};
}

TEST(HnswFilter, CompiledTermsAgreeWithSqliteRules) {
  // One column of each type; rows hold values of that type (and NULL).
  std::vector<AttrType> types = {AttrType::kInteger, AttrType::kReal, AttrType::kText, AttrType::kBoolean};
  std::vector<std::vector<V>> rows_by_col = {
      {V::Null(), V::Int(0), V::Int(1), V::Int(-1), V::Int(2), V::Int(std::numeric_limits<int64_t>::min()),
       V::Int(std::numeric_limits<int64_t>::max()), V::Int(3)},
      {V::Null(), V::Real(0), V::Real(1), V::Real(-1.5), V::Real(2.5), V::Real(INFINITY), V::Real(-INFINITY),
       V::Real(9223372036854775807.0)},
      {V::Null(), V::Text(""), V::Text("a"), V::Text("b"), V::Text("ab"), V::Text("1"), V::Text("B"), V::Text("a")},
      {V::Null(), V::Int(0), V::Int(1), V::Int(1), V::Int(0), V::Null(), V::Int(1), V::Int(0)},
  };
  const size_t n = rows_by_col[0].size();
  AttributeTable t;
  t.SetSchema(types);
  t.Resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<V> row;
    for (size_t c = 0; c < types.size(); ++c) row.push_back(rows_by_col[c][i]);
    ASSERT_TRUE(t.Set(static_cast<NodeId>(i), row).ok());
  }
  const std::vector<V> probes = Probes();
  const AttrOp ops[] = {AttrOp::kEq, AttrOp::kNe, AttrOp::kLt, AttrOp::kLe, AttrOp::kGt,
                        AttrOp::kGe, AttrOp::kIs, AttrOp::kIsNot, AttrOp::kIsNull, AttrOp::kIsNotNull};
  size_t checked = 0;
  for (uint32_t c = 0; c < types.size(); ++c) {
    for (AttrOp op : ops) {
      for (const V& p : probes) {
        AttrTerm term{c, op, {}};
        if (op != AttrOp::kIsNull && op != AttrOp::kIsNotNull) term.values = {p};
        auto f = t.Compile(std::span<const AttrTerm>(&term, 1));
        ASSERT_TRUE(f.ok()) << f.status().message();
        for (size_t i = 0; i < n; ++i) {
          const V v = t.Get(static_cast<NodeId>(i), c);
          ASSERT_EQ(f->Pass(static_cast<NodeId>(i)), RefTerm(v, term))
              << "column " << c << " op " << int(op) << " row " << i << " probe kind " << int(p.kind) << " i=" << p.i
              << " r=" << p.r << " s=" << p.s;
          ++checked;
        }
      }
    }
    // IN lists: every pair of probes, plus one with NULL.
    for (size_t a = 0; a < probes.size(); ++a) {
      for (size_t b = a; b < probes.size(); b += 3) {
        AttrTerm term{c, AttrOp::kIn, {probes[a], probes[b], V::Null()}};
        auto f = t.Compile(std::span<const AttrTerm>(&term, 1));
        ASSERT_TRUE(f.ok());
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(f->Pass(static_cast<NodeId>(i)), RefTerm(t.Get(static_cast<NodeId>(i), c), term));
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 5000u);
  // Empty IN, contradictory ranges.
  AttrTerm empty_in{0, AttrOp::kIn, {}};
  EXPECT_TRUE(t.Compile(std::span<const AttrTerm>(&empty_in, 1))->never());
  std::vector<AttrTerm> contra = {{0, AttrOp::kLt, {V::Int(2)}}, {0, AttrOp::kGt, {V::Int(3)}}};
  auto f = t.Compile(contra);
  for (size_t i = 0; i < n; ++i) EXPECT_FALSE(f->Pass(static_cast<NodeId>(i)));
}

// The filter cache (AttributeTable::Compile): the second compile of a filter since the table
// last changed carries bits over every row; those bits equal the terms (and SQLite's rules) for
// random filters, and every kind of change to the table drops them, so a cached filter never
// answers for old values.
TEST(HnswFilter, CachedFilterBitsEqualTheTermsAndFollowEveryChange) {
  std::mt19937 rng(11);
  const std::vector<AttrType> types = {AttrType::kInteger, AttrType::kReal, AttrType::kText, AttrType::kBoolean};
  AttributeTable t;
  t.SetSchema(types);
  size_t n = 777;  // not a multiple of 64
  t.Resize(n);
  const std::vector<std::string> words = {"", "a", "b", "ab", "zz"};
  auto random_value = [&](size_t c) {
    if (rng() % 9 == 0) return V::Null();
    switch (types[c]) {
      case AttrType::kInteger: return V::Int(static_cast<int64_t>(rng() % 21) - 10);
      case AttrType::kReal: return V::Real(static_cast<double>(static_cast<int>(rng() % 41) - 20) / 4.0);
      case AttrType::kText: return V::Text(words[rng() % words.size()]);
      case AttrType::kBoolean: return V::Int(static_cast<int64_t>(rng() % 2));
    }
    return V::Null();
  };
  auto fill = [&](size_t i) {
    std::vector<V> row;
    for (size_t c = 0; c < types.size(); ++c) row.push_back(random_value(c));
    ASSERT_TRUE(t.Set(static_cast<NodeId>(i), row).ok());
  };
  for (size_t i = 0; i < n; ++i) fill(i);
  const AttrOp ops[] = {AttrOp::kEq, AttrOp::kNe, AttrOp::kLt, AttrOp::kLe, AttrOp::kGt, AttrOp::kGe,
                        AttrOp::kIs, AttrOp::kIsNot, AttrOp::kIsNull, AttrOp::kIsNotNull, AttrOp::kIn};
  auto random_terms = [&] {
    std::vector<AttrTerm> terms(1 + rng() % 3);
    for (AttrTerm& term : terms) {
      term.column = static_cast<uint32_t>(rng() % types.size());
      term.op = ops[rng() % std::size(ops)];
      if (term.op == AttrOp::kIn) {
        for (size_t m = 0, nm = rng() % 4; m < nm; ++m) term.values.push_back(random_value(term.column));
      } else if (term.op != AttrOp::kIsNull && term.op != AttrOp::kIsNotNull) {
        term.values = {rng() % 5 == 0 ? Probes()[rng() % Probes().size()] : random_value(term.column)};
      }
    }
    return terms;
  };
  auto check = [&](const std::vector<AttrTerm>& terms, const AttrFilter& f) {
    for (size_t i = 0; i < n; ++i) {
      bool ref = true;
      for (const AttrTerm& term : terms) ref = ref && RefTerm(t.Get(static_cast<NodeId>(i), term.column), term);
      ASSERT_EQ(f.Pass(static_cast<NodeId>(i)), ref) << "row " << i << (f.cached() ? " (cached bits)" : "");
      ASSERT_EQ(f.Eval(static_cast<NodeId>(i)), ref) << "row " << i;
    }
  };
  // Compiles terms twice: the first is evaluated from the columns, the second from bits.
  // (A random filter may compile to one seen before: only a fresh table says "not cached".)
  auto twice = [&](const std::vector<AttrTerm>& terms, bool fresh) {
    auto first = t.Compile(terms);
    ASSERT_TRUE(first.ok()) << first.status().message();
    if (fresh) {
      ASSERT_FALSE(first->cached());
    }
    check(terms, *first);
    auto second = t.Compile(terms);
    ASSERT_TRUE(second.ok());
    ASSERT_EQ(second->cached(), !second->never() && !second->empty()) << "first cached " << first->cached() << " terms " << terms.size() << " op " << int(terms[0].op) << " col " << terms[0].column << " nvals " << terms[0].values.size();
    check(terms, *second);
  };
  size_t cached = 0;
  for (int round = 0; round < 300; ++round) {
    const std::vector<AttrTerm> terms = random_terms();
    twice(terms, false);
    if (::testing::Test::HasFatalFailure()) return;
    cached += t.Compile(terms)->cached();
    ASSERT_LE(t.cached_filters(), AttributeTable::kFilterCacheEntries);
  }
  EXPECT_GT(cached, 150u);
  // Every change drops the cache; the filter compiled after it sees the new values.
  const std::vector<AttrTerm> terms = {{0, AttrOp::kGe, {V::Int(0)}}, {2, AttrOp::kNe, {V::Text("zz")}}};
  std::vector<std::function<void()>> changes = {
      [&] { fill(5); },
      [&] { ASSERT_TRUE(t.Set(6, std::vector<V>{V::Int(3), V::Real(1), V::Text("new word"), V::Int(1)}).ok()); },
      [&] { t.SetNull(7); },
      [&] {
        n += 100;
        t.Resize(n);
        for (size_t i = n - 100; i < n; i += 2) fill(i);
      },
      [&] {
        n -= 200;
        t.Resize(n);
      },
      [&] {
        std::vector<NodeId> remap(n, kInvalidNode);
        size_t nn = 0;
        for (size_t i = 0; i < n; ++i)
          if (i % 3 != 0) remap[i] = static_cast<NodeId>(nn++);
        t.Compact(remap, nn);
        n = nn;
      },
      [&] {
        t.SetSchema(types);  // every value NULL
        for (size_t i = 0; i < n; i += 5) fill(i);
      },
  };
  for (auto& change : changes) {
    twice(terms, false);
    ASSERT_GT(t.cached_filters(), 0u);
    change();
    ASSERT_EQ(t.cached_filters(), 0u);
    twice(terms, true);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // A copy starts without a cache and answers from its own columns.
  AttributeTable copy = t;
  EXPECT_EQ(copy.cached_filters(), 0u);
  auto f = copy.Compile(terms);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(f->Pass(static_cast<NodeId>(i)), t.Compile(terms, false)->Pass(static_cast<NodeId>(i)));
}

TEST(HnswFilter, SetRejectsValuesOfAnotherClass) {
  AttributeTable t;
  t.SetSchema({AttrType::kInteger, AttrType::kBoolean});
  t.Resize(1);
  EXPECT_FALSE(t.Set(0, std::vector<V>{V::Real(1.5), V::Null()}).ok());
  EXPECT_FALSE(t.Set(0, std::vector<V>{V::Int(1), V::Int(2)}).ok());
  EXPECT_FALSE(t.Set(0, std::vector<V>{V::Int(1)}).ok());
  EXPECT_TRUE(t.Set(0, std::vector<V>{V::Int(1), V::Int(1)}).ok());
}

std::vector<HnswHit> Brute(const std::vector<float>& data, size_t dim, const std::vector<int64_t>& rowids,
                           const std::vector<bool>& pass, const float* q, size_t k) {
  std::vector<HnswHit> all;
  for (size_t i = 0; i < rowids.size(); ++i) {
    if (!pass[i]) continue;
    double d = 0;
    for (size_t j = 0; j < dim; ++j) {
      double x = data[i * dim + j] - q[j];
      d += x * x;
    }
    all.push_back({rowids[i], static_cast<float>(std::sqrt(d))});
  }
  std::sort(all.begin(), all.end(), [](const HnswHit& a, const HnswHit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.rowid < b.rowid);
  });
  if (all.size() > k) all.resize(k);
  return all;
}

// Never short, at every selectivity from one row to all, on both strategies; recall against
// brute force over the passing rows.
TEST(HnswFilter, SearchFilteredIsNeverShortAndFindsTheNearestPassingRows) {
  const size_t n = 6000, dim = 16, k = 10;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 12;
  cfg.ef_construction = 100;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> data(n * dim);
  for (float& x : data) x = g(rng);
  std::vector<int64_t> rowids(n);
  for (size_t i = 0; i < n; ++i) rowids[i] = static_cast<int64_t>(i) * 3 + 1;
  ASSERT_TRUE((*idx)->InsertBatch(rowids, data.data()).ok());
  (*idx)->SetAttributeSchema({AttrType::kInteger, AttrType::kText});
  // bucket: i % 10000 (selectivity by range), tag: every 7th row 'x', NULL every 11th.
  std::vector<int64_t> bucket(n);
  for (size_t i = 0; i < n; ++i) {
    bucket[i] = static_cast<int64_t>((i * 7919) % 10000);
    V tag = i % 11 == 0 ? V::Null() : V::Text(i % 7 == 0 ? "x" : "y");
    ASSERT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<V>{V::Int(bucket[i]), tag}).ok());
  }
  double recall_sum = 0;
  size_t recall_n = 0;
  for (int64_t limit : {1, 2, 5, 9, 10, 11, 30, 100, 600, 1000, 3000, 6000, 10000}) {
    for (int qi = 0; qi < 5; ++qi) {
      std::vector<float> q(dim);
      for (float& x : q) x = g(rng);
      std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(limit)}}};
      std::vector<bool> pass(n);
      size_t passing = 0;
      for (size_t i = 0; i < n; ++i) passing += pass[i] = bucket[i] < limit;
      SearchStats st;
      auto hits = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}}, false, &st);
      ASSERT_TRUE(hits.ok()) << hits.status().message();
      ASSERT_EQ(hits->size(), std::min(k, passing)) << "limit " << limit;
      for (const HnswHit& h : *hits) ASSERT_LT(bucket[static_cast<size_t>((h.rowid - 1) / 3)], limit);
      auto exact = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}}, true, nullptr);
      ASSERT_TRUE(exact.ok());
      auto ref = Brute(data, dim, rowids, pass, q.data(), k);
      ASSERT_EQ(exact->size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ((*exact)[i].rowid, ref[i].rowid);
      size_t found = 0;
      for (const HnswHit& h : *hits)
        for (const HnswHit& r : ref) found += h.rowid == r.rowid;
      recall_sum += ref.empty() ? 1.0 : static_cast<double>(found) / ref.size();
      ++recall_n;
    }
  }
  EXPECT_GE(recall_sum / recall_n, 0.95);
  // NULLs and text: tag IS NULL, tag = 'x', tag != 'x' (NULL never passes !=).
  std::vector<float> q(dim, 0.1f);
  struct Case {
    AttrTerm term;
    std::function<bool(size_t)> ref;
  };
  std::vector<Case> cases = {
      {{1, AttrOp::kIsNull, {}}, [](size_t i) { return i % 11 == 0; }},
      {{1, AttrOp::kEq, {V::Text("x")}}, [](size_t i) { return i % 11 != 0 && i % 7 == 0; }},
      {{1, AttrOp::kNe, {V::Text("x")}}, [](size_t i) { return i % 11 != 0 && i % 7 != 0; }},
      {{1, AttrOp::kIsNot, {V::Text("x")}}, [](size_t i) { return i % 11 == 0 || i % 7 != 0; }},
  };
  for (const Case& c : cases) {
    std::vector<bool> pass(n);
    for (size_t i = 0; i < n; ++i) pass[i] = c.ref(i);
    auto hits = (*idx)->SearchFiltered(q, 50, 0, SearchFilter{std::span<const AttrTerm>(&c.term, 1), nullptr, {}});
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 50u);
    for (const HnswHit& h : *hits) ASSERT_TRUE(c.ref(static_cast<size_t>((h.rowid - 1) / 3)));
  }
  // Attributes follow their rows through deletes and Optimize (ids are compacted).
  for (size_t i = 0; i < n; i += 2) ASSERT_TRUE((*idx)->Delete(rowids[i]).ok());
  ASSERT_TRUE((*idx)->Optimize().ok());
  for (size_t i = 1; i < n; i += 2) {
    auto v = (*idx)->Attribute(rowids[i], 0);
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(v->i, bucket[i]);
  }
  std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(100)}}};
  auto hits = (*idx)->SearchFiltered(q, 1000, 0, SearchFilter{terms, nullptr, {}});
  ASSERT_TRUE(hits.ok());
  size_t want = 0;
  for (size_t i = 1; i < n; i += 2) want += bucket[i] < 100;
  EXPECT_EQ(hits->size(), want);
}

// n Gaussian rows (rowids 1..n, drawn from rng through g) inserted into idx, with one integer
// column bucket = (i · 7919) mod 100, so `bucket < p` passes p % of the rows, uncorrelated.
void FillBuckets(HnswIndex* idx, size_t n, size_t dim, std::mt19937& rng, std::normal_distribution<float>& g,
                 std::vector<float>* data, std::vector<int64_t>* rowids, std::vector<int64_t>* bucket) {
  data->resize(n * dim);
  for (float& x : *data) x = g(rng);
  rowids->resize(n);
  for (size_t i = 0; i < n; ++i) (*rowids)[i] = static_cast<int64_t>(i) + 1;
  ASSERT_TRUE(idx->InsertBatch(*rowids, data->data()).ok());
  idx->SetAttributeSchema({AttrType::kInteger});
  bucket->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*bucket)[i] = static_cast<int64_t>((i * 7919) % 100);
    ASSERT_TRUE(idx->SetAttributes((*rowids)[i], std::vector<V>{V::Int((*bucket)[i])}).ok());
  }
}

// The two-hop walk (HnswConfig::filter_hop_fraction): with the strategy forced to the graph,
// filters passing 5–30 % of the rows walk passing nodes only (stats.hop) and compute fewer
// distances than the walk through every node, are never short, return only passing rows and
// find the nearest ones; a repeated filter (cached bits) follows a change of a row's values.
TEST(HnswFilter, TwoHopWalkScoresOnlyPassingRowsAndIsNeverShort) {
  const size_t n = 8000, dim = 12, k = 10;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 12;
  cfg.ef_construction = 100;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  std::vector<float> data;
  std::vector<int64_t> rowids, bucket;
  ASSERT_NO_FATAL_FAILURE(FillBuckets(idx->get(), n, dim, rng, g, &data, &rowids, &bucket));
  HnswConfig graph = cfg;  // never the exact strategy
  graph.filter_exact_max_rows = 0;
  graph.filter_exact_max_fraction = 0;
  graph.filter_graph_cost_rows = 0;
  HnswConfig no_hop = graph;
  no_hop.filter_hop_fraction = 0;
  for (int64_t percent : {5, 10, 20, 30, 60}) {
    std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(percent)}}};
    std::vector<bool> pass(n);
    for (size_t i = 0; i < n; ++i) pass[i] = bucket[i] < percent;
    double recall = 0;
    uint64_t hop_distances = 0, plain_distances = 0;
    const int queries = 20;
    for (int qi = 0; qi < queries; ++qi) {
      std::vector<float> q(dim);
      for (float& x : q) x = g(rng);
      (*idx)->SetFilterThresholds(graph);
      SearchStats st;
      auto hits = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}}, false, &st);
      ASSERT_TRUE(hits.ok()) << hits.status().message();
      ASSERT_EQ(st.strategy, FilterStrategy::kGraph);
      ASSERT_EQ(st.hop, percent < 40) << percent;
      ASSERT_EQ(hits->size(), k);
      for (const HnswHit& h : *hits) ASSERT_LT(bucket[static_cast<size_t>(h.rowid - 1)], percent);
      hop_distances += st.distances;
      auto ref = Brute(data, dim, rowids, pass, q.data(), k);
      size_t found = 0;
      for (const HnswHit& h : *hits)
        for (const HnswHit& r : ref) found += h.rowid == r.rowid;
      recall += static_cast<double>(found) / static_cast<double>(ref.size());
      (*idx)->SetFilterThresholds(no_hop);
      auto plain = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}}, false, &st);
      ASSERT_TRUE(plain.ok());
      ASSERT_FALSE(st.hop);
      ASSERT_EQ(plain->size(), k);
      plain_distances += st.distances;
    }
    EXPECT_GE(recall / queries, 0.9) << percent << " %";
    if (percent <= 20) {
      EXPECT_LT(hop_distances, plain_distances) << percent << " %";
    }
  }
  // A filter used often enough to be cached follows a change of one row's value: the query is
  // row r's own vector, r does not pass, then it does (distance 0: it must come first).
  (*idx)->SetFilterThresholds(graph);
  std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(20)}}};
  size_t r = 0;
  while (bucket[r] < 20) ++r;
  std::span<const float> q(data.data() + r * dim, dim);
  for (int rep = 0; rep < 3; ++rep) {
    auto hits = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}});
    ASSERT_TRUE(hits.ok());
    for (const HnswHit& h : *hits) ASSERT_NE(h.rowid, rowids[r]);
  }
  ASSERT_TRUE((*idx)->SetAttributes(rowids[r], std::vector<V>{V::Int(0)}).ok());
  for (int rep = 0; rep < 3; ++rep) {
    auto hits = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}});
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].rowid, rowids[r]);
    EXPECT_EQ((*hits)[0].distance, 0.0f);
  }
  (*idx)->SetFilterThresholds(cfg);
  // The exact strategy through cached bits equals brute force.
  for (int rep = 0; rep < 3; ++rep) {
    auto hits = (*idx)->SearchFiltered(q, 100, 0, SearchFilter{terms, nullptr, {}}, true);
    ASSERT_TRUE(hits.ok());
    bucket[r] = 0;
    std::vector<bool> pass(n);
    for (size_t i = 0; i < n; ++i) pass[i] = bucket[i] < 20;
    auto ref = Brute(data, dim, rowids, pass, q.data(), 100);
    ASSERT_EQ(hits->size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ((*hits)[i].rowid, ref[i].rowid);
  }
}

// A cached filter's two-hop lists (materialised on its second two-hop walk) walk exactly as
// the lists computed on the way: the same query answers bit for bit the same on its first use
// (terms evaluated), second (cached bits) and later uses (bits and lists). Every mutation drops
// the lists; the next answers follow the new rows, and the lists count in the index's memory.
TEST(HnswFilter, TwoHopListsWalkExactlyAsComputedAndFollowEveryMutation) {
  const size_t n = 6000, dim = 10, k = 10;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 8;
  cfg.ef_construction = 80;
  cfg.filter_exact_max_rows = 0;  // never the exact strategy
  cfg.filter_exact_max_fraction = 0;
  cfg.filter_graph_cost_rows = 0;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::vector<float> data;
  std::vector<int64_t> rowids, bucket;
  ASSERT_NO_FATAL_FAILURE(FillBuckets(idx->get(), n, dim, rng, g, &data, &rowids, &bucket));
  std::vector<std::vector<float>> queries(12, std::vector<float>(dim));
  for (auto& q : queries)
    for (float& x : q) x = g(rng);
  // Runs every query `uses` times with the filter `bucket < percent`; checks that all uses
  // answer the same, that the answers pass, are never short and exclude deleted rows; returns
  // whether the last use read materialised lists.
  std::vector<bool> deleted(n, false);
  auto check = [&](int64_t percent, int uses, std::vector<std::vector<HnswHit>>* first) {
    std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(percent)}}};
    bool lists = false;
    first->assign(queries.size(), {});
    for (int use = 0; use < uses; ++use) {
      for (size_t qi = 0; qi < queries.size(); ++qi) {
        SearchStats st;
        auto hits = (*idx)->SearchFiltered(queries[qi], k, 0, SearchFilter{terms, nullptr, {}}, false, &st);
        EXPECT_TRUE(hits.ok());
        if (!hits.ok()) return false;
        EXPECT_TRUE(st.hop) << percent;
        EXPECT_EQ(hits->size(), k);
        for (const HnswHit& h : *hits) {
          const size_t i = static_cast<size_t>(h.rowid - 1);
          EXPECT_LT(bucket[i], percent);
          EXPECT_FALSE(deleted[i]) << h.rowid;
        }
        if (use == 0) (*first)[qi] = *hits;
        else EXPECT_EQ(*hits, (*first)[qi]) << "query " << qi << ", use " << use << ", " << percent << " %";
        lists = st.hop_lists;
      }
    }
    return lists;
  };
  std::vector<std::vector<HnswHit>> before;
  const size_t bytes0 = (*idx)->MemoryByPart().attributes;
  for (int64_t percent : {5, 15, 30}) {
    EXPECT_TRUE(check(percent, 4, &before)) << percent << " %: the lists were never materialised";
  }
  EXPECT_GT((*idx)->MemoryByPart().attributes, bytes0 + 300 * (cfg.M * 3) * sizeof(uint32_t));
  // Mutations of every kind; after each, the lists are rebuilt from the new state and still walk
  // as computed ones.
  std::vector<AttrTerm> t15 = {{0, AttrOp::kLt, {V::Int(15)}}};
  auto mutate = [&](int what) {
    switch (what) {
      case 0: {  // a passing row nearest to query 0 is deleted
        auto top = (*idx)->SearchFiltered(queries[0], 1, 0, SearchFilter{t15, nullptr, {}});
        ASSERT_TRUE(top.ok() && top->size() == 1);
        const int64_t r = (*top)[0].rowid;
        ASSERT_TRUE((*idx)->Delete(r).ok());
        deleted[static_cast<size_t>(r - 1)] = true;
        break;
      }
      case 1: {  // a new passing row at query 1 itself
        const int64_t r = static_cast<int64_t>(rowids.size()) + 1;
        ASSERT_TRUE((*idx)->Insert(r, queries[1]).ok());
        rowids.push_back(r);
        data.insert(data.end(), queries[1].begin(), queries[1].end());
        bucket.push_back(0);
        deleted.push_back(false);
        ASSERT_TRUE((*idx)->SetAttributes(r, std::vector<V>{V::Int(0)}).ok());
        break;
      }
      case 2: {  // a failing row turns passing
        size_t i = 0;
        while (bucket[i] < 15 || deleted[i]) ++i;
        bucket[i] = 1;
        ASSERT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<V>{V::Int(1)}).ok());
        break;
      }
      case 3:
        ASSERT_TRUE((*idx)->Optimize().ok());  // purges the tombstone, renumbers nodes
        break;
    }
  };
  for (int what = 0; what < 4; ++what) {
    mutate(what);
    EXPECT_TRUE(check(15, 3, &before)) << "after mutation " << what;
    if (what == 1) {
      ASSERT_FALSE(before[1].empty());
      EXPECT_EQ(before[1][0].rowid, rowids.back());
      EXPECT_EQ(before[1][0].distance, 0.0f);
    }
  }
}

// A filter correlated with the vectors (the rows far along one axis) and a query at the other
// end: the two-hop walk notices that passing rows are rare near the query, keeps scoring every
// node (stats.correlated), and still finds the nearest passing rows; an uncorrelated filter of
// the same size does not.
TEST(HnswFilter, CorrelatedFiltersKeepTheWalkThroughEveryNode) {
  const size_t n = 8000, dim = 8, k = 10;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 8;
  cfg.ef_construction = 80;
  cfg.filter_exact_max_rows = 0;
  cfg.filter_exact_max_fraction = 0;
  cfg.filter_graph_cost_rows = 0;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  std::mt19937 rng(21);
  std::normal_distribution<float> g;
  std::vector<float> data(n * dim);
  for (float& x : data) x = g(rng);
  std::vector<int64_t> rowids(n);
  for (size_t i = 0; i < n; ++i) rowids[i] = static_cast<int64_t>(i) + 1;
  ASSERT_TRUE((*idx)->InsertBatch(rowids, data.data()).ok());
  (*idx)->SetAttributeSchema({AttrType::kInteger, AttrType::kInteger});
  std::vector<bool> far(n), hashed(n);
  for (size_t i = 0; i < n; ++i) {
    far[i] = data[i * dim] > 1.3f;  // about 10 %
    hashed[i] = (i * 7919) % 10 == 3;
    ASSERT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<V>{V::Int(far[i]), V::Int(hashed[i])}).ok());
  }
  for (int column : {0, 1}) {
    std::vector<AttrTerm> terms = {{static_cast<uint32_t>(column), AttrOp::kEq, {V::Int(1)}}};
    double recall = 0;
    int correlated = 0;
    const int queries = 10;
    for (int qi = 0; qi < queries; ++qi) {
      std::vector<float> q(dim);
      for (float& x : q) x = g(rng);
      q[0] = -3.0f;  // at the far end from the `far` rows
      SearchStats st;
      auto hits = (*idx)->SearchFiltered(q, k, 0, SearchFilter{terms, nullptr, {}}, false, &st);
      ASSERT_TRUE(hits.ok());
      ASSERT_TRUE(st.hop);
      ASSERT_EQ(hits->size(), k);
      correlated += st.correlated;
      // A walk that found the filter correlated ends with twice the result list.
      EXPECT_EQ(st.walk_ef, st.correlated ? 2 * cfg.ef_search : cfg.ef_search);
      const std::vector<bool>& pass = column == 0 ? far : hashed;
      auto ref = Brute(data, dim, rowids, pass, q.data(), k);
      size_t found = 0;
      for (const HnswHit& h : *hits) {
        ASSERT_TRUE(pass[static_cast<size_t>(h.rowid - 1)]);
        for (const HnswHit& r : ref) found += h.rowid == r.rowid;
      }
      recall += static_cast<double>(found) / static_cast<double>(ref.size());
    }
    if (column == 0) EXPECT_GE(correlated, queries * 8 / 10) << "the correlated filter was not noticed";
    else EXPECT_EQ(correlated, 0) << "an uncorrelated filter was taken for a correlated one";
    EXPECT_GE(recall / queries, 0.9) << "column " << column;
  }
}

}  // namespace
}  // namespace vecgraph::hnsw

namespace vecgraph::hnsw {
namespace {

// A grouped index: one graph per group (no link crosses groups), a group search walks only its
// graph and is never short, a search of all groups merges them, and a reload (SetGroup +
// FinishGroups) answers the same.
// Node ids of a grouped index are laid out group by group (FinishGroups, Optimize, a bulk
// insert): a pure permutation, so every answer, every link and Check stay as they were.
TEST(HnswGroups, GroupLayoutChangesNoAnswer) {
  const size_t n = 3000, dim = 8, groups = 5;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 8;
  cfg.ef_construction = 64;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  (*idx)->SetGrouped();
  (*idx)->SetAttributeSchema({AttrType::kInteger});
  std::mt19937 rng(9);
  std::normal_distribution<float> g;
  std::vector<float> data(n * dim);
  for (float& x : data) x = g(rng);
  std::vector<int64_t> rowids(n);
  std::vector<uint32_t> grp(n);
  for (size_t i = 0; i < n; ++i) {
    rowids[i] = static_cast<int64_t>(i) * 5 + 2;
    grp[i] = static_cast<uint32_t>((i * 13) % groups);  // interleaved: ids not in group order
  }
  ASSERT_TRUE((*idx)->InsertBatch(rowids, data.data(), false, nullptr, grp).ok());  // below kClusterMinRows
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<V>{V::Int(i % 10)}).ok());
  struct Snapshot {
    std::vector<std::vector<HnswHit>> hits;
    std::vector<std::vector<std::vector<int64_t>>> links;
  };
  auto snapshot = [&] {
    Snapshot s;
    std::mt19937 qr(1);
    for (int qi = 0; qi < 8; ++qi) {
      std::vector<float> q(dim);
      for (float& x : q) x = g(qr);
      s.hits.push_back(*(*idx)->Search(q, 10, 0));
      for (uint32_t gq = 0; gq < groups; ++gq) {
        std::vector<AttrTerm> terms = {{0, AttrOp::kLt, {V::Int(4)}}};
        std::vector<uint32_t> only = {gq};
        s.hits.push_back(*(*idx)->SearchFiltered(q, 10, 0, SearchFilter{terms, nullptr, only}));
        s.hits.push_back(*(*idx)->SearchFiltered(q, 10, 0, SearchFilter{{}, nullptr, only}));
      }
    }
    for (int64_t r : (*idx)->Rowids()) s.links.push_back(*(*idx)->Neighbors(r));
    return s;
  };
  const Snapshot before = snapshot();
  AllowedSet old = (*idx)->MakeAllowedSet(std::vector<int64_t>(rowids.begin(), rowids.begin() + 100));
  (*idx)->FinishGroups();  // regroups the ids
  const Snapshot after = snapshot();
  ASSERT_EQ(before.hits.size(), after.hits.size());
  for (size_t i = 0; i < before.hits.size(); ++i) ASSERT_EQ(before.hits[i], after.hits[i]) << "query " << i;
  ASSERT_EQ(before.links, after.links);
  for (const std::string& p : (*idx)->Check()) ADD_FAILURE() << p;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ((*idx)->GroupOf(rowids[i]), grp[i]);
    ASSERT_EQ((*idx)->Attribute(rowids[i], 0)->i, static_cast<int64_t>(i % 10));
  }
  // Ids changed meaning: an AllowedSet made before is refused, not misread.
  EXPECT_FALSE((*idx)->Search(std::vector<float>(dim, 0.f), 5, 0, old).ok());
  // A bulk insert of interleaved groups and an Optimize after deletes regroup as well.
  const size_t m = 5000;
  std::vector<float> more(m * dim);
  for (float& x : more) x = g(rng);
  std::vector<int64_t> more_ids(m);
  std::vector<uint32_t> more_grp(m);
  for (size_t i = 0; i < m; ++i) {
    more_ids[i] = 100000 + static_cast<int64_t>(i);
    more_grp[i] = static_cast<uint32_t>((i * 7) % groups);
  }
  ASSERT_TRUE((*idx)->InsertBatch(more_ids, more.data(), false, nullptr, more_grp).ok());
  for (size_t i = 0; i < n; i += 4) ASSERT_TRUE((*idx)->Delete(rowids[i]).ok());
  for (const std::string& p : (*idx)->Check()) ADD_FAILURE() << p;
  ASSERT_TRUE((*idx)->Optimize().ok());
  for (const std::string& p : (*idx)->Check()) ADD_FAILURE() << p;
  for (size_t i = 0; i < m; ++i) ASSERT_EQ((*idx)->GroupOf(more_ids[i]), more_grp[i]);
  std::vector<float> q(dim, 0.1f);
  for (uint32_t gq = 0; gq < groups; ++gq) {
    std::vector<uint32_t> only = {gq};
    auto hits = (*idx)->SearchFiltered(q, 10, 0, SearchFilter{{}, nullptr, only});
    auto exact = (*idx)->SearchFiltered(q, 10, 0, SearchFilter{{}, nullptr, only}, true);
    ASSERT_TRUE(hits.ok() && exact.ok());
    ASSERT_EQ(hits->size(), 10u);
    size_t found = 0;
    for (const HnswHit& h : *hits)
      for (const HnswHit& e : *exact) found += e.rowid == h.rowid;
    EXPECT_GE(found, 9u) << "group " << gq;
  }
}

TEST(HnswGroups, OneGraphPerGroup) {
  const size_t n = 3000, dim = 8, groups = 7;
  HnswConfig cfg;
  cfg.dim = dim;
  cfg.metric = Metric::kL2;
  cfg.M = 8;
  cfg.ef_construction = 64;
  auto idx = HnswIndex::Create(cfg);
  ASSERT_TRUE(idx.ok());
  (*idx)->SetGrouped();
  (*idx)->SetAttributeSchema({AttrType::kInteger});
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::vector<float> data(n * dim);
  for (float& x : data) x = g(rng);
  std::vector<int64_t> rowids(n);
  std::vector<uint32_t> grp(n);
  for (size_t i = 0; i < n; ++i) {
    rowids[i] = static_cast<int64_t>(i) + 1;
    grp[i] = static_cast<uint32_t>((i * 31) % groups);
  }
  ASSERT_FALSE((*idx)->InsertBatch(rowids, data.data()).ok());  // groups are required
  ASSERT_TRUE((*idx)->InsertBatch(rowids, data.data(), false, nullptr, grp).ok());
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE((*idx)->SetAttributes(rowids[i], std::vector<V>{V::Int(grp[i])}).ok());
  for (const std::string& p : (*idx)->Check()) ADD_FAILURE() << p;
  EXPECT_EQ((*idx)->GroupCount(), groups);
  for (size_t i = 0; i < n; ++i) {
    auto nb = (*idx)->Neighbors(rowids[i]);
    ASSERT_TRUE(nb.ok());
    for (const auto& level : *nb)
      for (int64_t r : level) ASSERT_EQ(grp[static_cast<size_t>(r - 1)], grp[i]) << "link across groups";
  }
  std::vector<float> q(dim, 0.2f);
  double recall = 0;
  for (uint32_t gq = 0; gq < groups; ++gq) {
    std::vector<AttrTerm> terms = {{0, AttrOp::kEq, {V::Int(gq)}}};
    std::vector<uint32_t> only = {gq};
    auto hits = (*idx)->SearchFiltered(q, 10, 0, SearchFilter{terms, nullptr, only});
    auto exact = (*idx)->SearchFiltered(q, 10, 0, SearchFilter{terms, nullptr, only}, true);
    ASSERT_TRUE(hits.ok() && exact.ok());
    ASSERT_EQ(hits->size(), 10u);
    size_t found = 0;
    for (const HnswHit& h : *hits) {
      ASSERT_EQ(grp[static_cast<size_t>(h.rowid - 1)], gq);
      for (const HnswHit& e : *exact) found += e.rowid == h.rowid;
    }
    recall += found / 10.0;
    // k above the group's rows: all of them.
    auto all = (*idx)->SearchFiltered(q, 5000, 0, SearchFilter{terms, nullptr, only});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), static_cast<size_t>(std::count(grp.begin(), grp.end(), gq)));
  }
  EXPECT_GE(recall / groups, 0.95);
  // All groups: merged, and as good as the exact answer.
  auto merged = (*idx)->Search(q, 10, 0);
  auto exact = (*idx)->ExactSearch(q, 10);
  ASSERT_TRUE(merged.ok() && exact.ok());
  ASSERT_EQ(merged->size(), 10u);
  size_t found = 0;
  for (const HnswHit& h : *merged)
    for (const HnswHit& e : *exact) found += e.rowid == h.rowid;
  EXPECT_GE(found, 9u);
  // Moving a row to another group re-links it there; deleting a group's entry picks another.
  ASSERT_TRUE((*idx)->Upsert(1, std::span<const float>(data.data(), dim), 3).ok());
  EXPECT_EQ((*idx)->GroupOf(1), 3u);
  for (size_t i = 0; i < n; i += 3) ASSERT_TRUE((*idx)->Delete(rowids[i]).ok());
  for (const std::string& p : (*idx)->Check()) ADD_FAILURE() << p;
  // Reload: records + SetGroup + FinishGroups answer exactly as the index that wrote them.
  struct Rows : RecordSource {
    std::vector<NodeRow> rows;
    std::vector<std::vector<uint8_t>> recs;
    std::vector<std::vector<float>> vecs;
    size_t pos = 0;
    StatusOr<bool> Next(NodeRow* r) override {
      if (pos == rows.size()) return false;
      *r = rows[pos++];
      return true;
    }
  } src;
  ASSERT_TRUE((*idx)
                  ->ForEachNode([&](int64_t rowid, std::span<const float> v, std::span<const uint8_t> rec) {
                    src.recs.emplace_back(rec.begin(), rec.end());
                    src.vecs.emplace_back(v.begin(), v.end());
                    src.rows.push_back(NodeRow{rowid, {}, {}});
                    return Status::Ok();
                  })
                  .ok());
  for (size_t i = 0; i < src.rows.size(); ++i) {
    src.rows[i].record = src.recs[i];
    src.rows[i].vector = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(src.vecs[i].data()), dim * 4);
  }
  auto re = HnswIndex::Load((*idx)->Header(), src);
  ASSERT_TRUE(re.ok()) << re.status().message();
  (*re)->SetGrouped();
  for (int64_t r : (*idx)->Rowids()) ASSERT_TRUE((*re)->SetGroup(r, (*idx)->GroupOf(r)).ok());
  (*re)->FinishGroups();
  for (uint32_t gq = 0; gq < groups; ++gq) {
    std::vector<uint32_t> only = {gq};
    (*re)->SetAttributeSchema({AttrType::kInteger});
    for (int64_t r : (*idx)->Rowids()) ASSERT_TRUE((*re)->SetAttributes(r, std::vector<V>{V::Int((*idx)->GroupOf(r))}).ok());
    std::vector<AttrTerm> terms = {{0, AttrOp::kEq, {V::Int(gq)}}};
    (*idx)->SetAttributeSchema({AttrType::kInteger});
    for (int64_t r : (*idx)->Rowids()) ASSERT_TRUE((*idx)->SetAttributes(r, std::vector<V>{V::Int((*idx)->GroupOf(r))}).ok());
    auto a = (*idx)->SearchFiltered(q, 10, 0, SearchFilter{terms, nullptr, only});
    auto b = (*re)->SearchFiltered(q, 10, 0, SearchFilter{terms, nullptr, only});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
  }
}

}  // namespace
}  // namespace vecgraph::hnsw
