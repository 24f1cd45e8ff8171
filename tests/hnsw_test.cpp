// tests/hnsw_test.cpp — the HNSW engine (engine/hnsw/): recall against brute force, exact search
// against the kernels, filtered search, determinism across thread counts and reloads, updates,
// deletes, Optimize/Check, the persistence hooks (dirty sets replayed into a simulated shadow
// table) and corrupted records of every kind.
//
// Sizes shrink under sanitizers and in unoptimised builds (kScale), so the suite stays well under
// a minute in Release on two cores and reasonable under ASan.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/executor/cpu_backend.h"
#include "engine/hnsw/hnsw.h"
#include "engine/vector/distance.h"
#include "kernels/cpu/distance.h"

namespace vecgraph::hnsw {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
constexpr size_t kScale = 8;
#else
constexpr size_t kScale = 1;
#endif

size_t Scaled(size_t n, size_t floor = 200) { return std::max(floor, n / kScale); }

// ---- data -----------------------------------------------------------------------------------

// bench/datagen.py's recipe: `clusters` Gaussian centres N(0, I/d), points = centre + noise·N(0, I/d).
// normalize: L2-normalise each point; norm_jitter: then scale by U(1 − j, 1 + j) (dot tests).
std::vector<float> Clustered(size_t n, size_t dim, uint32_t seed, bool normalize = true, size_t clusters = 100,
                             double noise = 0.5, double norm_jitter = 0.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0 / std::sqrt(static_cast<double>(dim)));
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  std::uniform_real_distribution<double> jit(1.0 - norm_jitter, 1.0 + norm_jitter);
  std::vector<double> centres(clusters * dim);
  for (double& c : centres) c = g(rng);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    size_t c = pick(rng);
    double s = 0;
    std::vector<double> p(dim);
    for (size_t j = 0; j < dim; ++j) {
      p[j] = centres[c * dim + j] + noise * g(rng);
      s += p[j] * p[j];
    }
    double scale = normalize ? 1.0 / std::sqrt(s) : 3.0;
    if (norm_jitter > 0) scale *= jit(rng);
    for (size_t j = 0; j < dim; ++j) out[i * dim + j] = static_cast<float>(p[j] * scale);
  }
  return out;
}

std::vector<int64_t> Iota(size_t n, int64_t start = 1, int64_t step = 1) {
  std::vector<int64_t> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = start + static_cast<int64_t>(i) * step;
  return r;
}

HnswConfig Config(size_t dim, Metric m = Metric::kCosine, uint32_t M = 16, uint32_t efc = 200) {
  HnswConfig c;
  c.dim = static_cast<uint32_t>(dim);
  c.metric = m;
  c.M = M;
  c.ef_construction = efc;
  return c;
}

std::unique_ptr<HnswIndex> Make(const HnswConfig& c) {
  auto r = HnswIndex::Create(c);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(*r);
}

std::unique_ptr<HnswIndex> Build(const HnswConfig& c, const std::vector<float>& data, const std::vector<int64_t>& ids,
                                 exec::CpuBackend* cpu = nullptr) {
  auto idx = Make(c);
  idx->SetCpuBackend(cpu);
  Status st = idx->InsertBatch(ids, data.data());
  EXPECT_TRUE(st.ok()) << st.message();
  idx->SetCpuBackend(nullptr);
  return idx;
}

std::span<const float> Row(const std::vector<float>& v, size_t i, size_t dim) { return {v.data() + i * dim, dim}; }

// Brute force with the batch kernels over the index's stored vectors: the reference ExactSearch
// must equal bit for bit.
std::vector<HnswHit> BruteForce(const HnswIndex& idx, std::span<const float> q, size_t k,
                                const std::function<bool(int64_t)>& pass = {}) {
  const size_t dim = idx.config().dim;
  std::vector<HnswHit> all;
  float qn = static_cast<float>(Norm(q.data(), dim));
  std::vector<float> scratch(1);
  for (int64_t r : idx.Rowids()) {
    if (pass && !pass(r)) continue;
    auto v = idx.StoredVector(r);
    float d;
    BatchDistances(kernels::Kernels(), idx.config().metric, q.data(), qn, v->data(), 1, dim, &d, scratch.data());
    all.push_back({r, d});
  }
  std::sort(all.begin(), all.end(), [](const HnswHit& a, const HnswHit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.rowid < b.rowid);
  });
  if (all.size() > k) all.resize(k);
  return all;
}

double Recall(const std::vector<HnswHit>& got, const std::vector<HnswHit>& truth) {
  if (truth.empty()) return 1.0;
  std::set<int64_t> t;
  for (const auto& h : truth) t.insert(h.rowid);
  size_t hit = 0;
  for (const auto& h : got) hit += t.count(h.rowid);
  return static_cast<double>(hit) / static_cast<double>(truth.size());
}

double MeanRecall(const HnswIndex& idx, const std::vector<float>& queries, size_t nq, size_t k, size_t ef) {
  const size_t dim = idx.config().dim;
  double sum = 0;
  for (size_t i = 0; i < nq; ++i) {
    auto got = idx.Search(Row(queries, i, dim), k, ef);
    auto exact = idx.ExactSearch(Row(queries, i, dim), k);
    EXPECT_TRUE(got.ok() && exact.ok());
    sum += Recall(*got, *exact);
  }
  return sum / static_cast<double>(nq);
}

// Every node row, sorted by rowid (what a shadow table holds).
std::vector<OwnedNodeRow> Dump(const HnswIndex& idx) {
  std::vector<OwnedNodeRow> rows;
  Status st = idx.ForEachNode([&](int64_t rowid, std::span<const float> v, std::span<const uint8_t> rec) {
    OwnedNodeRow r;
    r.rowid = rowid;
    r.vector.assign(reinterpret_cast<const uint8_t*>(v.data()), reinterpret_cast<const uint8_t*>(v.data()) + v.size_bytes());
    r.record.assign(rec.begin(), rec.end());
    rows.push_back(std::move(r));
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  std::sort(rows.begin(), rows.end(), [](const OwnedNodeRow& a, const OwnedNodeRow& b) { return a.rowid < b.rowid; });
  return rows;
}

bool SameRows(const std::vector<OwnedNodeRow>& a, const std::vector<OwnedNodeRow>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].rowid != b[i].rowid || a[i].vector != b[i].vector || a[i].record != b[i].record) return false;
  }
  return true;
}

std::unique_ptr<HnswIndex> LoadRows(const std::vector<uint8_t>& header, const std::vector<OwnedNodeRow>& rows,
                                    Status* status = nullptr) {
  auto h = HnswHeader::Decode(header);
  if (!h.ok()) {
    if (status) *status = h.status();
    return nullptr;
  }
  VectorRecordSource src(&rows);
  auto idx = HnswIndex::Load(*h, src);
  if (!idx.ok()) {
    if (status) *status = idx.status();
    return nullptr;
  }
  if (status) *status = Status::Ok();
  return std::move(*idx);
}

// A simulated shadow table: applies TakeChanges() like the SQL layer will.
struct ShadowDb {
  std::vector<uint8_t> header;
  std::map<int64_t, OwnedNodeRow> rows;
  size_t writes = 0;

  void Apply(HnswIndex& idx) {
    HnswChanges ch = idx.TakeChanges();
    EXPECT_TRUE(std::is_sorted(ch.written.begin(), ch.written.end()));
    for (int64_t r : ch.erased) EXPECT_EQ(rows.erase(r), 1u) << "erased a row never written: " << r;
    for (int64_t r : ch.written) {
      OwnedNodeRow row;
      row.rowid = r;
      auto v = idx.StoredVector(r);
      ASSERT_TRUE(v.ok());
      row.vector.resize(v->size() * 4);
      std::memcpy(row.vector.data(), v->data(), row.vector.size());
      auto rec = idx.EncodeNode(r);
      ASSERT_TRUE(rec.ok());
      row.record = *rec;
      rows[r] = std::move(row);
      ++writes;
    }
    if (ch.header) header = idx.Header().Encode();
  }
  std::vector<OwnedNodeRow> Rows() const {
    std::vector<OwnedNodeRow> out;
    for (const auto& [r, row] : rows) out.push_back(row);
    return out;
  }
};

// ---- search codes --------------------------------------------------------------------------

TEST(HnswCodesTest, EachComponentWithinHalfAStep) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.f, 1.f);
  for (size_t dim : {1, 2, 7, 128, 769}) {
    std::vector<float> x(dim);
    for (float& v : x) v = g(rng) * 0.1f + 0.3f;
    std::vector<uint8_t> code(dim);
    const CodeScale s = EncodeCodes(x.data(), dim, code.data());
    const float lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
    EXPECT_EQ(s.lo, lo);
    double sq = 0;
    for (size_t j = 0; j < dim; ++j) {
      const double xh = static_cast<double>(s.lo) + static_cast<double>(s.step) * code[j];
      EXPECT_LE(std::fabs(xh - x[j]), s.step * 0.5 + 1e-6) << "dim " << dim << " j " << j;
      sq += xh * xh;
    }
    EXPECT_NEAR(s.sq, sq, 1e-5 * sq + 1e-9);
    if (dim > 1) {  // the extremes are represented by codes 0 and 255
      EXPECT_EQ(code[std::min_element(x.begin(), x.end()) - x.begin()], 0);
      EXPECT_EQ(code[std::max_element(x.begin(), x.end()) - x.begin()], 255);
      EXPECT_NEAR(s.step * 255.0, static_cast<double>(hi) - lo, 1e-6);
    }
  }
}

// The same graph walked over the codes and over the float vectors: both reach the recall, both
// report exact distances; Check() sees the codes only where they are kept.
TEST(HnswCodesTest, CodedAndFloatWalksOnTheSameGraph) {
  for (Metric m : {Metric::kCosine, Metric::kL2, Metric::kDot}) {
    const size_t dim = 64, n = Scaled(4000), nq = 30;
    auto data = Clustered(n + nq, dim, 77, m != Metric::kL2);
    std::vector<float> base(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n * dim));
    std::vector<float> queries(data.begin() + static_cast<std::ptrdiff_t>(n * dim), data.end());
    HnswConfig coded = Config(dim, m), plain = coded;
    plain.search_codes_max_dim = 0;
    auto a = Build(coded, base, Iota(n));
    auto b = Build(plain, base, Iota(n));
    EXPECT_TRUE(a->Check().empty());
    EXPECT_TRUE(b->Check().empty());
    EXPECT_GT(a->MemoryBytes(), b->MemoryBytes() + n * dim);
    const double ra = MeanRecall(*a, queries, nq, 10, 64), rb = MeanRecall(*b, queries, nq, 10, 64);
    EXPECT_GE(ra, m == Metric::kDot ? 0.85 : 0.95) << MetricName(m);
    EXPECT_GE(rb, m == Metric::kDot ? 0.85 : 0.95) << MetricName(m);
    for (size_t i = 0; i < 5; ++i) {
      auto ga = *a->Search(Row(queries, i, dim), 10, 64);
      auto gb = *b->Search(Row(queries, i, dim), 10, 64);
      auto ex = *a->ExactSearch(Row(queries, i, dim), n);
      std::map<int64_t, float> d;
      for (const auto& h : ex) d[h.rowid] = h.distance;
      for (const auto& h : ga) EXPECT_EQ(h.distance, d[h.rowid]);
      for (const auto& h : gb) EXPECT_EQ(h.distance, d[h.rowid]);
    }
  }
}

TEST(HnswCodesTest, ConstantAndExtremeVectors) {
  std::vector<uint8_t> code(4, 7);
  const float c[4] = {2.5f, 2.5f, 2.5f, 2.5f};
  CodeScale s = EncodeCodes(c, 4, code.data());
  EXPECT_EQ(s.step, 0.f);
  EXPECT_EQ(s.lo, 2.5f);
  EXPECT_EQ(code, std::vector<uint8_t>(4, 0));
  EXPECT_FLOAT_EQ(s.sq, 25.f);
  // The widest finite range still gives finite scales and codes in range.
  const float big = std::numeric_limits<float>::max();
  const float e[4] = {-big, big, 0.f, big / 2};
  s = EncodeCodes(e, 4, code.data());
  EXPECT_TRUE(std::isfinite(s.step));
  EXPECT_EQ(code[0], 0);
  EXPECT_EQ(code[1], 255);
  EXPECT_EQ(code[2], 128);
}

// The walk's query codes: round(q / scale) with scale = max |q| / 127, halves away from zero.
TEST(HnswCodesTest, QuantizeQuery) {
  std::vector<int8_t> code(6, 99);
  const float q[6] = {-127.0f, 127.0f, 63.5f, 0.0f, -2.5f, 0.49f};  // scale 1: the codes are q rounded
  EXPECT_EQ(QuantizeQuery(q, 6, code.data()), 1.0f);
  EXPECT_EQ(code, (std::vector<int8_t>{-127, 127, 64, 0, -3, 0}));
  const float r[2] = {-2.0f, 1.0f};
  std::vector<int8_t> c2(2);
  EXPECT_FLOAT_EQ(QuantizeQuery(r, 2, c2.data()), 2.0f / 127.0f);
  EXPECT_EQ(c2, (std::vector<int8_t>{-127, 64}));  // 63.5 → 64
  const float zero[3] = {0.0f, -0.0f, 0.0f};
  std::vector<int8_t> z(3, 5);
  EXPECT_EQ(QuantizeQuery(zero, 3, z.data()), 0.0f);
  EXPECT_EQ(z, std::vector<int8_t>(3, 0));
  const float big = std::numeric_limits<float>::max();
  const float e[3] = {-big, big, big / 4};
  std::vector<int8_t> c3(3);
  EXPECT_TRUE(std::isfinite(QuantizeQuery(e, 3, c3.data())));
  EXPECT_EQ(c3, (std::vector<int8_t>{-127, 127, 32}));
}

// ---- configuration ---------------------------------------------------------------------------

TEST(HnswConfigTest, ValidateRanges) {
  HnswConfig c = Config(128);
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.MaxLinks0(), 32u);
  auto bad = [](HnswConfig x) { return x.Validate().code() == StatusCode::kInvalidArgument; };
  HnswConfig x = c;
  x.dim = 0;
  EXPECT_TRUE(bad(x));
  x.dim = 16001;
  EXPECT_TRUE(bad(x));
  x = c;
  x.M = 1;
  EXPECT_TRUE(bad(x));
  x.M = 129;
  EXPECT_TRUE(bad(x));
  x = c;
  x.ef_construction = 0;
  EXPECT_TRUE(bad(x));
  x = c;
  x.ef_search = 0;
  EXPECT_TRUE(bad(x));
  x = c;
  x.filter_exact_max_fraction = 2;
  EXPECT_TRUE(bad(x));
  x = c;
  x.dim = 16000;
  x.M = 128;
  EXPECT_TRUE(x.Validate().ok());
  EXPECT_NE(c.Validate().ok() ? std::string() : c.Validate().message(), "x");
  x = c;
  x.M = 1;
  EXPECT_NE(x.Validate().message().find("M must be between 2 and 128, found 1"), std::string::npos);
  EXPECT_FALSE(HnswIndex::Create(x).ok());
}

TEST(HnswConfigTest, LevelDrawIsAHashWithTheRightDistribution) {
  size_t n = 200000, at_least_1 = 0, at_least_2 = 0;
  for (size_t i = 0; i < n; ++i) {
    int l = HnswIndex::LevelFor(static_cast<int64_t>(i), 100, 16);
    EXPECT_EQ(l, HnswIndex::LevelFor(static_cast<int64_t>(i), 100, 16));
    at_least_1 += l >= 1;
    at_least_2 += l >= 2;
  }
  EXPECT_NEAR(static_cast<double>(at_least_1) / n, 1.0 / 16, 0.003);
  EXPECT_NEAR(static_cast<double>(at_least_2) / n, 1.0 / 256, 0.001);
  // Another seed gives other levels; M = 2 allows high levels but never above kMaxLevel.
  size_t differ = 0;
  for (int64_t i = 0; i < 1000; ++i) differ += HnswIndex::LevelFor(i, 100, 16) != HnswIndex::LevelFor(i, 7, 16);
  EXPECT_GT(differ, 20u);
  for (int64_t i = -1000; i < 1000; ++i) EXPECT_LE(HnswIndex::LevelFor(i, 1, 2), kMaxLevel);
}

// ---- recall and exactness --------------------------------------------------------------------

struct RecallCase {
  size_t n;
  size_t dim;
  Metric metric;
  double min_recall;  // recall@10 at ef 64
};

class HnswRecallTest : public ::testing::TestWithParam<RecallCase> {};

TEST_P(HnswRecallTest, SearchMatchesBruteForce) {
  const RecallCase rc = GetParam();
  const size_t n = Scaled(rc.n), nq = 40, k = 10;
  const bool dot = rc.metric == Metric::kDot;
  // l2: unnormalised; dot: normalised-ish (norms 0.8..1.2) — recall on raw MIPS is weaker.
  auto data = Clustered(n + nq, rc.dim, 1234 + static_cast<uint32_t>(rc.dim), rc.metric != Metric::kL2,
                        100, 0.5, dot ? 0.2 : 0.0);
  std::vector<float> base(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n * rc.dim));
  std::vector<float> queries(data.begin() + static_cast<std::ptrdiff_t>(n * rc.dim), data.end());
  auto idx = Build(Config(rc.dim, rc.metric), base, Iota(n));
  EXPECT_EQ(idx->size(), n);
  EXPECT_TRUE(idx->Check().empty());
  double r = MeanRecall(*idx, queries, nq, k, 64);
  EXPECT_GE(r, rc.min_recall) << "n=" << n << " dim=" << rc.dim << " metric=" << MetricName(rc.metric);
  // Graph results are sorted, and their distances are exactly the exact search's for that row.
  for (size_t i = 0; i < 5; ++i) {
    auto got = *idx->Search(Row(queries, i, rc.dim), k, 64);
    auto all = *idx->ExactSearch(Row(queries, i, rc.dim), n);
    std::map<int64_t, float> d;
    for (const auto& h : all) d[h.rowid] = h.distance;
    ASSERT_EQ(got.size(), k);
    for (size_t j = 0; j < got.size(); ++j) {
      EXPECT_EQ(got[j].distance, d[got[j].rowid]);
      if (j > 0) {
        EXPECT_TRUE(got[j - 1].distance < got[j].distance ||
                    (got[j - 1].distance == got[j].distance && got[j - 1].rowid < got[j].rowid));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, HnswRecallTest,
    ::testing::Values(RecallCase{1000, 3, Metric::kCosine, 0.95}, RecallCase{1000, 3, Metric::kL2, 0.95},
                      RecallCase{1000, 3, Metric::kDot, 0.85}, RecallCase{1000, 17, Metric::kCosine, 0.95},
                      RecallCase{1000, 17, Metric::kL2, 0.95}, RecallCase{1000, 17, Metric::kDot, 0.85},
                      RecallCase{1000, 128, Metric::kCosine, 0.95}, RecallCase{1000, 128, Metric::kL2, 0.95},
                      RecallCase{1000, 128, Metric::kDot, 0.85}, RecallCase{10000, 17, Metric::kCosine, 0.95},
                      RecallCase{10000, 128, Metric::kL2, 0.95}, RecallCase{10000, 3, Metric::kDot, 0.85},
                      RecallCase{50000, 17, Metric::kCosine, 0.93},
                      // above search_codes_max_dim: the walk reads the float vectors
                      RecallCase{2000, 300, Metric::kCosine, 0.95}, RecallCase{2000, 300, Metric::kL2, 0.95}),
    [](const ::testing::TestParamInfo<RecallCase>& i) {
      return StrFormat("n%zu_d%zu_%s", i.param.n, i.param.dim, MetricName(i.param.metric));
    });

TEST(HnswExactTest, ExactSearchEqualsBruteForceBitForBit) {
  for (Metric m : {Metric::kCosine, Metric::kL2, Metric::kDot}) {
    const size_t dim = 17, n = Scaled(3000);
    auto data = Clustered(n, dim, 7, m != Metric::kL2);
    // Duplicates (ties broken by rowid) and, for cosine, zero vectors (distance 1).
    for (size_t i = 0; i < 20; ++i) std::copy_n(&data[i * dim], dim, &data[(n - 1 - i) * dim]);
    if (m == Metric::kCosine) std::fill_n(&data[5 * dim], dim, 0.0f);
    auto idx = Build(Config(dim, m), data, Iota(n, 1000, 3));
    auto queries = Clustered(20, dim, 8, m != Metric::kL2);
    for (size_t i = 0; i < 20; ++i) {
      auto q = Row(i == 0 ? data : queries, i, dim);
      for (size_t k : {size_t{1}, size_t{10}, size_t{100}, n + 5}) {
        auto exact = idx->ExactSearch(q, k);
        ASSERT_TRUE(exact.ok());
        auto ref = BruteForce(*idx, q, k);
        ASSERT_EQ(exact->size(), ref.size());
        for (size_t j = 0; j < ref.size(); ++j) {
          EXPECT_EQ((*exact)[j].rowid, ref[j].rowid) << MetricName(m) << " k=" << k << " j=" << j;
          EXPECT_EQ((*exact)[j].distance, ref[j].distance);
        }
      }
    }
    if (m == Metric::kCosine) {
      auto r = *idx->ExactSearch(Row(queries, 0, dim), n);
      for (const auto& h : r)
        if (h.rowid == 1000 + 5 * 3) {
          EXPECT_EQ(h.distance, 1.0f);
        }
    }
  }
}

TEST(HnswExactTest, DistancesMeanWhatVecDistanceMeans) {
  const size_t dim = 4;
  for (Metric m : {Metric::kCosine, Metric::kL2, Metric::kDot}) {
    auto idx = Make(Config(dim, m));
    std::vector<float> a = {1, 0, 0, 0}, b = {0, 2, 0, 0}, c = {0, 0, 0, 0}, d = {3, 4, 0, 0};
    ASSERT_TRUE(idx->Insert(1, a).ok());
    ASSERT_TRUE(idx->Insert(2, b).ok());
    ASSERT_TRUE(idx->Insert(3, c).ok());
    ASSERT_TRUE(idx->Insert(4, d).ok());
    std::vector<float> q = {2, 0, 0, 0};
    auto r = *idx->Search(q, 4, 10);
    ASSERT_EQ(r.size(), 4u);
    std::map<int64_t, float> got;
    for (const auto& h : r) got[h.rowid] = h.distance;
    for (int64_t row = 1; row <= 4; ++row) {
      const std::vector<float>& v = row == 1 ? a : row == 2 ? b : row == 3 ? c : d;
      EXPECT_NEAR(got[row], PairDistance(m, q.data(), v.data(), dim), 1e-6) << MetricName(m) << " row " << row;
    }
    if (m == Metric::kCosine) {
      EXPECT_EQ(got[3], 1.0f);  // zero vector
    }
    if (m == Metric::kL2) {
      EXPECT_NEAR(got[4], std::sqrt(1.0f + 16.0f), 1e-6);  // not squared
    }
    if (m == Metric::kDot) {
      EXPECT_EQ(got[4], -6.0f);
    }
    // A zero cosine query: every distance is 1, ties by rowid.
    if (m == Metric::kCosine) {
      SearchStats st;
      auto z = *idx->Search(c, 2, 10, &st);
      ASSERT_EQ(z.size(), 2u);
      EXPECT_EQ(z[0].rowid, 1);
      EXPECT_EQ(z[1].rowid, 2);
      EXPECT_EQ(z[0].distance, 1.0f);
      EXPECT_TRUE(st.exact);
    }
  }
}

TEST(HnswExactTest, HugeFiniteValuesDoNotBreakSearch) {
  const size_t dim = 8;
  for (Metric m : {Metric::kL2, Metric::kDot, Metric::kCosine}) {
    auto idx = Make(Config(dim, m, 4, 20));
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-3e37f, 3e37f);
    std::vector<float> v(dim);
    for (int64_t r = 0; r < 200; ++r) {
      for (float& x : v) x = u(rng);
      ASSERT_TRUE(idx->Insert(r, v).ok());
    }
    auto res = idx->Search(v, 10, 32);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->size(), 10u);
    // −a·b of such vectors exceeds the float range (±inf, as vec_distance's float result would);
    // never NaN.
    for (const auto& h : *res) {
      EXPECT_FALSE(std::isnan(h.distance)) << MetricName(m);
      if (m != Metric::kDot) {
        EXPECT_TRUE(std::isfinite(h.distance)) << MetricName(m);
      }
    }
    EXPECT_TRUE(idx->Check().empty());
  }
}

// ---- filtered search -------------------------------------------------------------------------

TEST(HnswFilterTest, KResultsWheneverKPassAndRecall) {
  const size_t dim = 32, n = Scaled(20000, 2000), nq = 20, k = 10;
  auto data = Clustered(n + nq, dim, 11);
  std::vector<float> base(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n * dim));
  std::vector<float> queries(data.begin() + static_cast<std::ptrdiff_t>(n * dim), data.end());
  auto idx = Build(Config(dim), base, Iota(n, 0));
  for (double sel : {0.001, 0.01, 0.1, 0.5, 1.0}) {
    std::vector<int64_t> allowed_rows;
    std::mt19937 rng(static_cast<uint32_t>(sel * 1e6));
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<uint8_t> pass(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (u(rng) < sel) {
        pass[i] = 1;
        allowed_rows.push_back(static_cast<int64_t>(i));
      }
    }
    allowed_rows.push_back(-5);  // unknown rowids are ignored
    AllowedSet allowed = idx->MakeAllowedSet(allowed_rows);
    ASSERT_EQ(allowed.count(), allowed_rows.size() - 1);
    RowidFilter filter = [&](int64_t r) { return r >= 0 && static_cast<size_t>(r) < n && pass[r]; };
    double rec_set = 0, rec_fn = 0;
    for (size_t i = 0; i < nq; ++i) {
      auto q = Row(queries, i, dim);
      auto exact = *idx->ExactSearch(q, k, allowed);
      auto exact_fn = *idx->ExactSearch(q, k, filter);
      ASSERT_EQ(exact, exact_fn);
      ASSERT_EQ(exact, BruteForce(*idx, q, k, filter));
      ASSERT_EQ(exact.size(), std::min(k, allowed.count()));
      auto g = *idx->Search(q, k, 64, allowed);
      auto gf = *idx->Search(q, k, 64, filter);
      EXPECT_EQ(g.size(), exact.size()) << "selectivity " << sel;
      EXPECT_EQ(gf.size(), exact.size()) << "selectivity " << sel;
      for (const auto& h : g) EXPECT_TRUE(pass[static_cast<size_t>(h.rowid)]);
      for (const auto& h : gf) EXPECT_TRUE(pass[static_cast<size_t>(h.rowid)]);
      rec_set += Recall(g, exact);
      rec_fn += Recall(gf, exact);
    }
    EXPECT_GE(rec_set / nq, 0.9) << "selectivity " << sel;
    EXPECT_GE(rec_fn / nq, 0.9) << "selectivity " << sel;
  }
  // Strategy helper (thresholds from the config; the index size matters through selectivity).
  {
    HnswConfig sc = Config(4);
    sc.filter_exact_max_rows = 100;
    sc.filter_exact_max_fraction = 0.05;
    sc.filter_graph_cost_rows = 1100;
    auto small = Make(sc);
    auto pts = Clustered(4000, 4, 12);
    ASSERT_TRUE(small->InsertBatch(Iota(4000), pts.data()).ok());
    EXPECT_TRUE(small->ExactWhenSelective(0));
    EXPECT_TRUE(small->ExactWhenSelective(100));   // rows
    EXPECT_TRUE(small->ExactWhenSelective(200));   // fraction: 5% of 4000
    EXPECT_TRUE(small->ExactWhenSelective(1200));  // cost model: 1200·0.3^0.9 ≈ 407 ≤ 1100
    EXPECT_FALSE(small->ExactWhenSelective(4000)); // everything passes: 4000 > 1100
    EXPECT_EQ(small->ChooseFilterStrategy(4000), FilterStrategy::kGraph);
    EXPECT_EQ(small->ChooseFilterStrategy(150), FilterStrategy::kExact);
  }
  // An empty set: no results; a stale set (ids renumbered by Optimize): an error.
  AllowedSet none = idx->MakeAllowedSet({});
  EXPECT_TRUE(idx->Search(Row(queries, 0, dim), k, 64, none)->empty());
  AllowedSet some = idx->MakeAllowedSet(Iota(100, 0));
  ASSERT_TRUE(idx->Delete(3).ok());
  ASSERT_TRUE(idx->Optimize().ok());
  auto stale = idx->Search(Row(queries, 0, dim), k, 64, some);
  EXPECT_EQ(stale.status().code(), StatusCode::kInvalidArgument);
}

// ---- batch and determinism -------------------------------------------------------------------

TEST(HnswBatchTest, SearchBatchEqualsOneByOne) {
  const size_t dim = 24, n = Scaled(5000), nq = 64;
  auto data = Clustered(n, dim, 21);
  auto queries = Clustered(nq, dim, 22);
  auto idx = Build(Config(dim), data, Iota(n));
  exec::CpuBackend two(2);
  idx->SetCpuBackend(&two);
  auto batch = idx->SearchBatch(queries.data(), nq, 10, 40);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), nq);
  for (size_t i = 0; i < nq; ++i) EXPECT_EQ((*batch)[i], *idx->Search(Row(queries, i, dim), 10, 40));
  std::vector<float> bad(dim, 0.0f);
  bad[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(idx->SearchBatch(bad.data(), 1, 10).status().code(), StatusCode::kInvalidArgument);
  idx->SetCpuBackend(nullptr);
}

TEST(HnswDeterminismTest, SameGraphOnOneTwoAndThreeThreads) {
  const size_t dim = 16, n = Scaled(3 * kBuildBatchSize + 77, 3 * kBuildBatchSize + 77);
  auto data = Clustered(n, dim, 31);
  std::vector<int64_t> ids(n);
  std::mt19937_64 rng(5);
  for (auto& r : ids) r = static_cast<int64_t>(rng() >> 20);  // arbitrary rowid order
  exec::CpuBackend one(1), two(2), three(3);
  auto a = Build(Config(dim, Metric::kCosine, 8, 64), data, ids, &one);
  auto b = Build(Config(dim, Metric::kCosine, 8, 64), data, ids, &two);
  auto c = Build(Config(dim, Metric::kCosine, 8, 64), data, ids, &three);
  auto da = Dump(*a);
  EXPECT_TRUE(SameRows(da, Dump(*b)));
  EXPECT_TRUE(SameRows(da, Dump(*c)));
  EXPECT_EQ(a->Header().Encode(), b->Header().Encode());
  // Single inserts: deterministic too (a different graph from the bulk one, by design).
  auto s1 = Make(Config(dim, Metric::kCosine, 8, 64));
  auto s2 = Make(Config(dim, Metric::kCosine, 8, 64));
  s1->SetCpuBackend(&one);
  s2->SetCpuBackend(&two);
  const size_t singles = 500;
  for (size_t i = 0; i < singles; ++i) {
    ASSERT_TRUE(s1->Insert(ids[i], Row(data, i, dim)).ok());
    ASSERT_TRUE(s2->Insert(ids[i], Row(data, i, dim)).ok());
  }
  EXPECT_TRUE(SameRows(Dump(*s1), Dump(*s2)));
  {  // Insert(row) is exactly InsertBatch of one row.
    auto s3 = Make(Config(dim, Metric::kCosine, 8, 64));
    for (size_t i = 0; i < singles; ++i) ASSERT_TRUE(s3->InsertBatch({&ids[i], 1}, &data[i * dim]).ok());
    EXPECT_TRUE(SameRows(Dump(*s1), Dump(*s3)));
  }
  // Mixed workload with deletes, upserts (some to duplicate vectors: distance ties), a bulk
  // insert and Optimize on both.
  for (auto* x : {s1.get(), s2.get()}) {
    for (size_t i = 0; i < singles; i += 7) ASSERT_TRUE(x->Delete(ids[i]).ok());
    for (size_t i = 1; i < singles; i += 11) ASSERT_TRUE(x->Upsert(ids[i], Row(data, (i + 300) % n, dim)).ok());
    ASSERT_TRUE(x->InsertBatch({ids.data() + singles, n - singles}, data.data() + singles * dim).ok());
    ASSERT_TRUE(x->Optimize().ok());
  }
  EXPECT_TRUE(SameRows(Dump(*s1), Dump(*s2)));
  s1->SetCpuBackend(nullptr);
  s2->SetCpuBackend(nullptr);
}

TEST(HnswDeterminismTest, ReloadedIndexEvolvesIdentically) {
  // A replica that reloaded from its shadow rows must keep building the same graph as one that
  // kept its index in memory (ties are broken by rowid, never by internal id).
  const size_t dim = 12, n = Scaled(1500, 600);
  auto data = Clustered(2 * n, dim, 41);
  // Duplicated vectors make distance ties common.
  for (size_t i = 0; i < 2 * n; i += 5) std::copy_n(&data[0], dim, &data[i * dim]);
  std::vector<int64_t> ids = Iota(2 * n, 1);
  std::reverse(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));  // reload order ≠ insert order
  auto live = Build(Config(dim, Metric::kL2, 6, 40), std::vector<float>(data.begin(), data.begin() + n * dim),
                    std::vector<int64_t>(ids.begin(), ids.begin() + n));
  for (size_t i = 0; i < n; i += 9) ASSERT_TRUE(live->Delete(ids[i]).ok());
  auto rows = Dump(*live);
  std::reverse(rows.begin(), rows.end());
  auto reloaded = LoadRows(live->Header().Encode(), rows);
  ASSERT_NE(reloaded, nullptr);
  EXPECT_TRUE(SameRows(Dump(*live), Dump(*reloaded)));
  for (auto* x : {live.get(), reloaded.get()}) {
    for (size_t i = n; i < 2 * n; ++i) ASSERT_TRUE(x->Insert(ids[i], Row(data, i, dim)).ok());
    for (size_t i = 1; i < n; i += 13) {
      if (x->Contains(ids[i])) {
        ASSERT_TRUE(x->Delete(ids[i]).ok());
      }
    }
    ASSERT_TRUE(x->Upsert(ids[2], Row(data, 3, dim)).ok());
    ASSERT_TRUE(x->Optimize().ok());
  }
  EXPECT_TRUE(SameRows(Dump(*live), Dump(*reloaded)));
  auto q = Row(data, 17, dim);
  EXPECT_EQ(*live->Search(q, 10, 30), *reloaded->Search(q, 10, 30));
}

// ---- build control (engine/hnsw/build_control.h) ------------------------------------------------

TEST(HnswBuildControlTest, ProgressIsCountedAndTheGraphIsUnchanged) {
  // With a control the calling thread polls between the items it runs inside a batch: the graph
  // must be the one built without a control, and `cancelled` runs on the calling thread only.
  const size_t dim = 48, n = Scaled(4 * kBuildBatchSize + 50, 2 * kBuildBatchSize + 50);
  auto data = Clustered(n, dim, 77);
  auto ids = Iota(n, 10, 3);
  exec::CpuBackend two(2);
  auto plain = Build(Config(dim, Metric::kCosine, 8, 64), data, ids, &two);
  auto idx = Make(Config(dim, Metric::kCosine, 8, 64));
  idx->SetCpuBackend(&two);
  BuildControl ctl;
  const std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  std::vector<uint64_t> seen;
  ctl.cancelled = [&] {
    if (std::this_thread::get_id() != caller) other_thread = true;
    seen.push_back(ctl.built.load());
    return false;
  };
  Status st = idx->InsertBatch(ids, data.data(), false, &ctl);
  ASSERT_TRUE(st.ok()) << st.message();
  idx->SetCpuBackend(nullptr);
  EXPECT_FALSE(other_thread);
  EXPECT_EQ(ctl.built.load(), n);
  EXPECT_EQ(ctl.total.load(), n);
  // Polled before the first batch and after every batch but the last (and inside batches, by time).
  EXPECT_GE(seen.size(), (n + kBuildBatchSize - 1) / kBuildBatchSize);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (uint64_t b : seen) EXPECT_EQ(b % kBuildBatchSize, 0u) << b;  // whole batches only
  EXPECT_TRUE(SameRows(Dump(*plain), Dump(*idx)));
  EXPECT_TRUE(idx->Check().empty());
}

TEST(HnswBuildControlTest, CancelReturnsCancelledAndAReloadedIndexBuildsOn) {
  const size_t dim = 16, base = 300, n = Scaled(3 * kBuildBatchSize + 10, 3 * kBuildBatchSize + 10);
  auto data = Clustered(base + n, dim, 78);
  auto ids = Iota(base + n, 1);
  const HnswConfig cfg = Config(dim, Metric::kL2, 8, 64);
  const std::vector<float> head(data.begin(), data.begin() + base * dim);
  const std::vector<int64_t> head_ids(ids.begin(), ids.begin() + base);
  auto idx = Build(cfg, head, head_ids);
  (void)idx->TakeChanges();
  const std::vector<uint8_t> persisted_header = idx->Header().Encode();
  const auto persisted = Dump(*idx);  // what the shadow tables would hold

  BuildControl ctl;
  int calls = 0;
  ctl.cancelled = [&] { return ++calls == 4; };
  Status st = idx->InsertBatch({ids.data() + base, n}, data.data() + base * dim, false, &ctl);
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_NE(st.message().find("cancelled after"), std::string::npos) << st.message();
  EXPECT_EQ(ctl.total.load(), n);
  EXPECT_LT(ctl.built.load(), n);
  EXPECT_EQ(calls, 4);  // nothing is called after the cancel

  // The caller drops the cancelled index and reloads the persisted state: it then builds exactly
  // what an index that never saw the cancelled call builds.
  auto reloaded = LoadRows(persisted_header, persisted);
  ASSERT_NE(reloaded, nullptr);
  ASSERT_TRUE(reloaded->InsertBatch({ids.data() + base, n}, data.data() + base * dim).ok());
  auto reference = Build(cfg, head, head_ids);
  ASSERT_TRUE(reference->InsertBatch({ids.data() + base, n}, data.data() + base * dim).ok());
  EXPECT_TRUE(SameRows(Dump(*reference), Dump(*reloaded)));
  // Reset() of the cancelled index is safe too, and it builds again from empty.
  idx->Reset();
  ASSERT_TRUE(idx->InsertBatch(ids, data.data()).ok());
  EXPECT_EQ(idx->size(), base + n);
  EXPECT_TRUE(idx->Check().empty());
}

TEST(HnswBuildControlTest, CancelInsideTheFirstBatch) {
  // One batch: polled once before it, and inside it once kPollInterval has passed since (the
  // first poll takes that long here), so the cancel stops the batch in the middle with nothing
  // counted as built.
  const size_t dim = 8;
  auto data = Clustered(kBuildBatchSize, dim, 79);
  auto ids = Iota(kBuildBatchSize, 1);
  for (int threads : {1, 2}) {
    exec::CpuBackend cpu(threads);
    auto idx = Make(Config(dim));
    idx->SetCpuBackend(&cpu);
    ASSERT_TRUE(idx->Insert(1000, Row(data, 0, dim)).ok());  // a graph to search
    BuildControl ctl;
    int calls = 0;
    ctl.cancelled = [&] {
      if (++calls == 1) std::this_thread::sleep_for(BuildControl::kPollInterval + std::chrono::milliseconds(1));
      return calls == 2;
    };
    Status st = idx->InsertBatch(ids, data.data(), false, &ctl);
    idx->SetCpuBackend(nullptr);
    EXPECT_EQ(calls, 2) << threads;
    EXPECT_EQ(st.code(), StatusCode::kCancelled) << threads;
    EXPECT_EQ(ctl.built.load(), 0u) << threads;
    EXPECT_EQ(st.message(), StrFormat("hnsw: insert cancelled after 0 of %zu rows", kBuildBatchSize));
  }
  // Without `cancelled`, a control only counts.
  auto idx = Make(Config(dim));
  BuildControl counting;
  ASSERT_TRUE(idx->InsertBatch(ids, data.data(), false, &counting).ok());
  EXPECT_EQ(counting.built.load(), kBuildBatchSize);
}

// ---- updates ---------------------------------------------------------------------------------

TEST(HnswUpdateTest, InsertErrorsChangeNothing) {
  const size_t dim = 8;
  auto idx = Make(Config(dim));
  auto data = Clustered(50, dim, 51);
  ASSERT_TRUE(idx->InsertBatch(Iota(40), data.data()).ok());
  (void)idx->TakeChanges();
  auto before = Dump(*idx);
  EXPECT_EQ(idx->Insert(5, Row(data, 45, dim)).code(), StatusCode::kInvalidArgument);  // exists
  std::vector<float> short_vec(dim - 1, 1.0f);
  EXPECT_EQ(idx->Insert(100, short_vec).code(), StatusCode::kInvalidArgument);
  std::vector<float> nan_vec(dim, 1.0f);
  nan_vec[2] = std::nanf("");
  Status st = idx->Insert(100, nan_vec);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("rowid 100"), std::string::npos) << st.message();
  std::vector<int64_t> dup = {200, 201, 200};
  EXPECT_EQ(idx->InsertBatch(dup, data.data()).code(), StatusCode::kInvalidArgument);
  std::vector<int64_t> one_exists = {300, 7};
  EXPECT_EQ(idx->InsertBatch(one_exists, data.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(idx->Delete(999).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(SameRows(before, Dump(*idx)));
  EXPECT_FALSE(idx->HasChanges());
  EXPECT_EQ(idx->Search(short_vec, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(idx->Search(nan_vec, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(idx->ExactSearch(nan_vec, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(idx->Search(Row(data, 0, dim), 0)->empty());
}

TEST(HnswUpdateTest, UpsertMovesTheVector) {
  const size_t dim = 16, n = Scaled(2000, 500);
  auto data = Clustered(n, dim, 61);
  auto idx = Build(Config(dim), data, Iota(n));
  (void)idx->TakeChanges();
  auto far = Clustered(1, dim, 999, true, 1);
  ASSERT_TRUE(idx->Upsert(10, Row(far, 0, dim)).ok());
  auto r = *idx->Search(Row(far, 0, dim), 1, 32);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rowid, 10);
  EXPECT_NEAR(r[0].distance, 0.0f, 1e-6);
  auto old = *idx->Search(Row(data, 9, dim), 20, 64);  // the old position no longer matches row 10
  for (const auto& h : old)
    if (h.rowid == 10) {
      EXPECT_GT(h.distance, 1e-3);
    }
  EXPECT_TRUE(idx->Check().empty());
  HnswChanges ch = idx->TakeChanges();
  EXPECT_TRUE(std::binary_search(ch.written.begin(), ch.written.end(), 10));
  EXPECT_LT(ch.written.size(), n / 4);
  // The same vector again: nothing changes.
  ASSERT_TRUE(idx->Upsert(10, Row(far, 0, dim)).ok());
  EXPECT_TRUE(idx->TakeChanges().written.empty());
  // Upsert of an unknown rowid inserts it.
  ASSERT_TRUE(idx->Upsert(n + 100, Row(data, 3, dim)).ok());
  EXPECT_TRUE(idx->Contains(n + 100));
  EXPECT_EQ(idx->size(), n + 1);
  EXPECT_GE(MeanRecall(*idx, data, 20, 10, 64), 0.95);
}

TEST(HnswUpdateTest, DeleteRepairAndReinsert) {
  const size_t dim = 20, n = Scaled(4000, 800);
  auto data = Clustered(n, dim, 71);
  auto idx = Build(Config(dim), data, Iota(n));
  (void)idx->TakeChanges();
  ASSERT_TRUE(idx->Delete(1).ok());
  HnswChanges ch = idx->TakeChanges();
  EXPECT_TRUE(std::binary_search(ch.written.begin(), ch.written.end(), 1));  // its tombstone record
  EXPECT_LT(ch.written.size(), n / 4);                                       // not the whole index
  std::set<int64_t> deleted = {1};
  for (int64_t r = 2; r <= static_cast<int64_t>(n); r += 2) {
    ASSERT_TRUE(idx->Delete(r).ok());
    deleted.insert(r);
  }
  EXPECT_EQ(idx->size(), n - deleted.size());
  EXPECT_EQ(idx->tombstones(), deleted.size());
  EXPECT_TRUE(idx->NeedsOptimize());
  EXPECT_TRUE(idx->Check().empty());
  EXPECT_FALSE(idx->Check({.allow_tombstone_links = false}).empty());
  for (size_t i = 0; i < 30; ++i) {
    auto r = *idx->Search(Row(data, i, dim), 10, 64);
    EXPECT_EQ(r.size(), 10u);
    for (const auto& h : r) EXPECT_EQ(deleted.count(h.rowid), 0u);
    auto e = *idx->ExactSearch(Row(data, i, dim), 10);
    for (const auto& h : e) EXPECT_EQ(deleted.count(h.rowid), 0u);
  }
  EXPECT_GE(MeanRecall(*idx, data, 30, 10, 64), 0.9);
  EXPECT_EQ(idx->Delete(2).code(), StatusCode::kInvalidArgument);  // already deleted
  // Reinsert a deleted rowid (revives the slot) with a new vector.
  ASSERT_TRUE(idx->Insert(2, Row(data, 2, dim)).ok());  // the vector of rowid 3
  EXPECT_TRUE(idx->Contains(2));
  auto r = *idx->Search(Row(data, 2, dim), 2, 32);
  std::set<int64_t> top2 = {r[0].rowid, r[1].rowid};
  EXPECT_TRUE(top2.count(2) && top2.count(3));
  EXPECT_TRUE(idx->Check().empty());
}

TEST(HnswUpdateTest, DeleteEntryPointRepeatedly) {
  const size_t dim = 8, n = Scaled(1500, 400);
  auto data = Clustered(n, dim, 81);
  auto idx = Build(Config(dim, Metric::kL2, 4, 50), data, Iota(n));
  for (int round = 0; round < 25; ++round) {
    HnswHeader h = idx->Header();
    int64_t entry = h.entry_rowid;
    EXPECT_EQ(idx->LevelOf(entry), static_cast<int>(h.max_level));
    ASSERT_TRUE(idx->Delete(entry).ok());
    HnswHeader h2 = idx->Header();
    EXPECT_NE(h2.entry_rowid, entry);
    EXPECT_TRUE(idx->Contains(h2.entry_rowid));
    auto problems = idx->Check();
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(idx->Search(Row(data, static_cast<size_t>(round), dim), 5, 20)->size(), 5u);
  }
}

TEST(HnswUpdateTest, DeleteEverythingThenReuse) {
  const size_t dim = 6, n = 300;
  auto data = Clustered(n, dim, 91);
  auto idx = Build(Config(dim), data, Iota(n));
  ShadowDb db;
  db.header = idx->Header().Encode();
  db.Apply(*idx);
  EXPECT_EQ(db.rows.size(), n);
  for (int64_t r = 1; r <= static_cast<int64_t>(n); ++r) ASSERT_TRUE(idx->Delete(r).ok());
  EXPECT_EQ(idx->size(), 0u);
  EXPECT_EQ(idx->node_count(), 0u);  // the last delete purges every tombstone
  db.Apply(*idx);
  EXPECT_TRUE(db.rows.empty());
  EXPECT_TRUE(idx->Search(Row(data, 0, dim), 5)->empty());
  EXPECT_TRUE(idx->ExactSearch(Row(data, 0, dim), 5)->empty());
  EXPECT_TRUE(idx->Check({.allow_tombstone_links = false}).empty());
  auto empty = LoadRows(db.header, db.Rows());
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->size(), 0u);
  ASSERT_TRUE(idx->InsertBatch(Iota(50, 1000), data.data()).ok());
  EXPECT_EQ(idx->Search(Row(data, 0, dim), 5)->size(), 5u);
  EXPECT_TRUE(idx->Check().empty());
}

TEST(HnswUpdateTest, OptimizePurgesAndCheckIsClean) {
  const size_t dim = 16, n = Scaled(5000, 1000);
  auto data = Clustered(n, dim, 101);
  auto idx = Build(Config(dim), data, Iota(n));
  ShadowDb db;
  db.header = idx->Header().Encode();
  db.Apply(*idx);
  std::mt19937 rng(3);
  std::set<int64_t> deleted;
  while (deleted.size() < n * 3 / 10) {
    int64_t r = 1 + static_cast<int64_t>(rng() % n);
    if (deleted.insert(r).second) {
      ASSERT_TRUE(idx->Delete(r).ok());
    }
  }
  db.Apply(*idx);
  auto res = idx->Optimize();
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->purged.size(), deleted.size());
  EXPECT_TRUE(std::equal(res->purged.begin(), res->purged.end(), deleted.begin(), deleted.end()));
  EXPECT_EQ(idx->tombstones(), 0u);
  EXPECT_EQ(idx->node_count(), n - deleted.size());
  auto problems = idx->Check({.allow_tombstone_links = false, .check_reachability = true});
  EXPECT_TRUE(problems.empty()) << problems.front();
  HnswChanges ch = idx->TakeChanges();
  EXPECT_EQ(ch.erased, res->purged);
  EXPECT_EQ(ch.written, res->changed);
  db.Apply(*idx);  // nothing left to apply
  // The shadow table now matches the index exactly, having written only changed rows.
  for (const int64_t r : ch.erased) db.rows.erase(r);
  for (const int64_t r : ch.written) {
    auto rec = idx->EncodeNode(r);
    db.rows[r].record = *rec;
  }
  db.header = idx->Header().Encode();
  EXPECT_TRUE(SameRows(Dump(*idx), db.Rows()));
  EXPECT_GE(MeanRecall(*idx, data, 30, 10, 64), 0.95);
  // Optimize on a clean index changes nothing.
  auto again = idx->Optimize();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->changed.empty());
  EXPECT_TRUE(again->purged.empty());
}

// ---- persistence hooks -----------------------------------------------------------------------

TEST(HnswPersistenceTest, RoundTripAndDirtySetsReplay) {
  const size_t dim = 10, n = Scaled(3000, 600);
  auto data = Clustered(2 * n, dim, 111);
  auto idx = Make(Config(dim, Metric::kCosine, 8, 60));
  ShadowDb db;
  db.header = idx->Header().Encode();
  std::mt19937 rng(9);
  std::set<int64_t> present;
  size_t next = 0;
  for (int step = 0; step < 40; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 4 || present.size() < 20) {  // bulk insert
      size_t m = 1 + rng() % 120;
      std::vector<int64_t> ids;
      for (size_t i = 0; i < m && next < 2 * n; ++i, ++next) ids.push_back(static_cast<int64_t>(next * 7 + 3));
      if (ids.empty()) continue;
      ASSERT_TRUE(idx->InsertBatch(ids, data.data() + (next - ids.size()) * dim).ok());
      present.insert(ids.begin(), ids.end());
    } else if (op < 6) {  // single inserts
      for (int i = 0; i < 5 && next < 2 * n; ++i, ++next) {
        ASSERT_TRUE(idx->Insert(static_cast<int64_t>(next * 7 + 3), Row(data, next, dim)).ok());
        present.insert(static_cast<int64_t>(next * 7 + 3));
      }
    } else if (op < 8) {  // deletes
      for (int i = 0; i < 10 && !present.empty(); ++i) {
        auto it = present.begin();
        std::advance(it, static_cast<long>(rng() % present.size()));
        ASSERT_TRUE(idx->Delete(*it).ok());
        present.erase(it);
      }
    } else if (op < 9) {  // upserts
      for (int i = 0; i < 5 && !present.empty(); ++i) {
        auto it = present.begin();
        std::advance(it, static_cast<long>(rng() % present.size()));
        ASSERT_TRUE(idx->Upsert(*it, Row(data, rng() % (2 * n), dim)).ok());
      }
    } else {
      ASSERT_TRUE(idx->Optimize().ok());
    }
    db.Apply(*idx);
    if (step % 8 == 7) {
      auto reloaded = LoadRows(db.header, db.Rows());
      ASSERT_NE(reloaded, nullptr);
      EXPECT_TRUE(SameRows(Dump(*idx), Dump(*reloaded))) << "step " << step;
      EXPECT_EQ(reloaded->Header().Encode(), idx->Header().Encode());
      EXPECT_TRUE(reloaded->Check().empty());
    }
  }
  EXPECT_EQ(idx->size(), present.size());
  // Writes are incremental: far fewer than rewriting every row on every step.
  EXPECT_LT(db.writes, 40 * present.size() / 4);
  // Reload in place (another connection changed the file).
  auto other = LoadRows(db.header, db.Rows());
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Insert(-1, Row(data, 0, dim)).ok());
  ShadowDb db2 = db;
  db2.Apply(*other);
  auto rows2 = db2.Rows();
  VectorRecordSource src(&rows2);
  ASSERT_TRUE(idx->Reload(*HnswHeader::Decode(db2.header), src).ok());
  EXPECT_TRUE(idx->Contains(-1));
  EXPECT_FALSE(idx->HasChanges());
  EXPECT_TRUE(SameRows(Dump(*idx), Dump(*other)));
  idx->Reset();
  EXPECT_EQ(idx->size(), 0u);
  EXPECT_FALSE(idx->HasChanges());
}

// ---- corruption ------------------------------------------------------------------------------

class HnswCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const size_t dim = 4;
    auto data = Clustered(300, dim, 121);
    idx_ = Build(Config(dim, Metric::kCosine, 2, 20), data, Iota(300, 10));  // M=2: many levels
    header_ = idx_->Header().Encode();
    rows_ = Dump(*idx_);
    ASSERT_TRUE(idx_->Delete(50).ok());
    tomb_header_ = idx_->Header().Encode();
    tomb_rows_ = Dump(*idx_);
    for (size_t i = 0; i < rows_.size(); ++i) {
      if (idx_->LevelOf(rows_[i].rowid) >= 2 && high_ == SIZE_MAX) high_ = i;
      if (idx_->LevelOf(rows_[i].rowid) == 0 && low_ == SIZE_MAX) low_ = i;
    }
    ASSERT_NE(high_, SIZE_MAX);
    ASSERT_NE(low_, SIZE_MAX);
  }
  // Loads rows_ after `mutate`; expects Corruption whose message contains `want`.
  void ExpectCorrupt(const std::function<void(std::vector<uint8_t>*, std::vector<OwnedNodeRow>*)>& mutate,
                     const std::string& want) {
    std::vector<uint8_t> h = header_;
    std::vector<OwnedNodeRow> rows = rows_;
    mutate(&h, &rows);
    Status st;
    auto idx = LoadRows(h, rows, &st);
    EXPECT_EQ(idx, nullptr);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.message();
    EXPECT_NE(st.message().find(want), std::string::npos) << "message: " << st.message() << "\nwanted: " << want;
  }
  static void PutI64(std::vector<uint8_t>* b, size_t at, int64_t v) { std::memcpy(b->data() + at, &v, 8); }
  static void PutU16(std::vector<uint8_t>* b, size_t at, uint16_t v) { std::memcpy(b->data() + at, &v, 2); }
  static void PutU32(std::vector<uint8_t>* b, size_t at, uint32_t v) { std::memcpy(b->data() + at, &v, 4); }
  std::string Named(size_t i) const { return "node " + std::to_string(rows_[i].rowid); }

  std::unique_ptr<HnswIndex> idx_;
  std::vector<uint8_t> header_, tomb_header_;
  std::vector<OwnedNodeRow> rows_, tomb_rows_;
  size_t high_ = SIZE_MAX, low_ = SIZE_MAX;
};

TEST_F(HnswCorruptionTest, ValidRowsLoad) {
  Status st;
  EXPECT_NE(LoadRows(header_, rows_, &st), nullptr) << st.message();
  auto t = LoadRows(tomb_header_, tomb_rows_, &st);
  ASSERT_NE(t, nullptr) << st.message();
  EXPECT_EQ(t->tombstones(), 1u);
  EXPECT_FALSE(t->Contains(50));
}

TEST_F(HnswCorruptionTest, RecordDamage) {
  size_t i = low_;
  std::string who = Named(i);
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record.pop_back(); }, who + ": record truncated");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record.resize(5); }, who + ": record truncated");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record.clear(); }, who + ": record truncated");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record.push_back(0); }, who + ": record has 1 trailing bytes");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record[0] = 9; }, who + ": record version 9");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record[1] = 0x80; }, who + ": record has unknown flags");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record[3] = 1; }, who + ": record reserved byte");
  ExpectCorrupt([&](auto*, auto* r) { PutI64(&(*r)[i].record, 4, 123456); }, who + ": record names rowid 123456");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record[2] = 200; }, who + ": level 200 exceeds the maximum");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].record[2] = 1; }, who + ": record truncated");
  // A level that parses but is not the rowid's drawn level.
  ExpectCorrupt(
      [&](auto*, auto* r) {
        auto& rec = (*r)[i].record;
        rec[2] = 1;
        rec.push_back(0);
        rec.push_back(0);  // an empty level-1 list
      },
      who + ": level 1 differs from the level drawn");
  // Count over capacity (level 0 holds 2·M = 4).
  ExpectCorrupt([&](auto*, auto* r) { PutU16(&(*r)[i].record, 12, 5); }, who + ": level 0 has 5 links, at most 4");
  ExpectCorrupt([&](auto*, auto* r) { PutU16(&(*r)[i].record, 12, 0xFFFF); }, who + ": level 0 has 65535 links");
  // Count claims more links than bytes.
  ExpectCorrupt(
      [&](auto*, auto* r) {
        uint16_t c;
        std::memcpy(&c, (*r)[i].record.data() + 12, 2);
        if (c < 4) PutU16(&(*r)[i].record, 12, static_cast<uint16_t>(c + 1));
        else for (int cut = 0; cut < 3; ++cut) (*r)[i].record.pop_back();
      },
      who + ": record truncated");
}

TEST_F(HnswCorruptionTest, BadLinks) {
  size_t i = high_;
  std::string who = Named(i);
  ExpectCorrupt([&](auto*, auto* r) { PutI64(&(*r)[i].record, 14, 999999); },
                who + ": level 0 links to rowid 999999, which is not in the index");
  ExpectCorrupt([&](auto*, auto* r) { PutI64(&(*r)[i].record, 14, (*r)[i].rowid); }, who + ": level 0 links to itself");
  ExpectCorrupt(
      [&](auto*, auto* r) {
        int64_t first;
        std::memcpy(&first, (*r)[i].record.data() + 14, 8);
        PutI64(&(*r)[i].record, 22, first);
      },
      who + ": level 0 links twice");
  // A level-1 link to a level-0 node.
  ExpectCorrupt(
      [&](auto*, auto* r) {
        auto& rec = (*r)[i].record;
        uint16_t c0;
        std::memcpy(&c0, rec.data() + 12, 2);
        size_t l1 = 14 + 8u * c0;  // level-1 count
        uint16_t c1;
        std::memcpy(&c1, rec.data() + l1, 2);
        ASSERT_GT(c1, 0);
        PutI64(&rec, l1 + 2, (*r)[low_].rowid);
      },
      "whose level is only 0");
}

TEST_F(HnswCorruptionTest, BadVectors) {
  size_t i = low_;
  std::string who = Named(i);
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].vector.pop_back(); }, who + ": vector has 15 bytes, expected 16");
  ExpectCorrupt([&](auto*, auto* r) { (*r)[i].vector.clear(); }, who + ": vector has 0 bytes");
  ExpectCorrupt(
      [&](auto*, auto* r) {
        float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy((*r)[i].vector.data() + 4, &nan, 4);
      },
      who + ": vector");
  ExpectCorrupt(
      [&](auto*, auto* r) {
        float inf = std::numeric_limits<float>::infinity();
        std::memcpy((*r)[i].vector.data(), &inf, 4);
      },
      who + ": vector");
  ExpectCorrupt(
      [&](auto*, auto* r) {
        float two = 2.0f;
        std::memcpy((*r)[i].vector.data(), &two, 4);
      },
      who + ": stored cosine vector is not unit length");
}

TEST_F(HnswCorruptionTest, SetLevelDamage) {
  ExpectCorrupt([&](auto*, auto* r) { r->push_back((*r)[3]); }, "more node records than the header's count");
  ExpectCorrupt(
      [&](auto* h, auto* r) {
        r->push_back((*r)[3]);
        PutU32(h, 48, static_cast<uint32_t>(r->size()));
        PutU32(h, 56, static_cast<uint32_t>(r->size()));
      },
      "duplicate node record for rowid " + std::to_string(rows_[3].rowid));
  ExpectCorrupt([&](auto*, auto* r) { r->pop_back(); }, "header counts 300 nodes, found 299 records");
  ExpectCorrupt(
      [&](auto* h, auto*) {
        PutU32(h, 56, 299);
      },
      "header counts 299 live nodes, found 300");
  ExpectCorrupt([&](auto* h, auto*) { PutI64(h, 32, 777777); }, "entry point rowid 777777 is not in the index");
  ExpectCorrupt([&](auto* h, auto*) { PutI64(h, 32, rows_[low_].rowid); }, "has level 0, the header says");
  ExpectCorrupt([&](auto* h, auto*) { PutU32(h, 40, 0); }, "exceeds the header's max level 0");
  // The entry point marked deleted.
  ExpectCorrupt(
      [&](auto* h, auto* r) {
        int64_t e;
        std::memcpy(&e, h->data() + 32, 8);
        for (auto& row : *r)
          if (row.rowid == e) row.record[1] = kNodeFlagDeleted;
        PutU32(h, 56, 299);
      },
      "is deleted");
  // A node deleted although the header counts it live.
  ExpectCorrupt([&](auto*, auto* r) { (*r)[low_].record[1] = kNodeFlagDeleted; }, "live nodes, found 299");
}

TEST_F(HnswCorruptionTest, HeaderDamage) {
  auto decode = [&](const std::function<void(std::vector<uint8_t>*)>& f, const std::string& want) {
    std::vector<uint8_t> h = header_;
    f(&h);
    auto d = HnswHeader::Decode(h);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption);
    EXPECT_NE(d.status().message().find(want), std::string::npos) << d.status().message();
  };
  decode([](auto* h) { h->pop_back(); }, "header has 63 bytes, expected 64");
  decode([](auto* h) { (*h)[0] ^= 1; }, "bad magic");
  decode([](auto* h) { PutU32(h, 4, 2); }, "format version 2 is not supported");
  decode([](auto* h) { PutU32(h, 8, 0); }, "dim must be between");
  decode([](auto* h) { PutU32(h, 8, 100000); }, "dim must be between");
  decode([](auto* h) { (*h)[12] = 7; }, "unknown metric 7");
  decode([](auto* h) { (*h)[13] = 0x10; }, "unknown flags");
  decode([](auto* h) { PutU16(h, 14, 1); }, "M must be between");
  decode([](auto* h) { PutU32(h, 16, 0); }, "ef_construction");
  decode([](auto* h) { PutU32(h, 40, 64); }, "max level 64");
  decode([](auto* h) { (*h)[47] = 0x30; }, "rescore must be between 0 and 1024, found 12288");  // found by fuzz_hnsw_records
  decode([](auto* h) { (*h)[45] = 1; }, "reserved field (offset 45) is not zero");
  decode([](auto* h) { (*h)[44] = 3; }, "unknown quantizer 3");
  decode([](auto* h) { PutU32(h, 56, 1000); }, "1000 live nodes but only 300 records");
  // A mismatched dim in an otherwise valid header: every vector has the wrong length.
  ExpectCorrupt([&](auto* h, auto*) { PutU32(h, 8, 5); }, "vector has 16 bytes, expected 20");
  // A forged count must not make Load allocate for it.
  {
    HnswHeader big = *HnswHeader::Decode(header_);
    big.dim = kMaxDim;
    big.node_count = 4000000000ull;
    big.live_count = 0;
    std::vector<OwnedNodeRow> none;
    VectorRecordSource src(&none);
    auto r = HnswIndex::Load(big, src);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("found 0 records"), std::string::npos) << r.status().message();
  }
  // A source that fails aborts the load with its own status.
  struct Failing : RecordSource {
    StatusOr<bool> Next(NodeRow*) override { return Status::Internal("disk on fire"); }
  } failing;
  auto bad = HnswIndex::Load(*HnswHeader::Decode(header_), failing);
  EXPECT_EQ(bad.status().message(), "disk on fire");
}

TEST_F(HnswCorruptionTest, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(77);
  size_t loaded = 0, corrupt = 0;
  for (int iter = 0; iter < static_cast<int>(Scaled(600, 150)); ++iter) {
    std::vector<OwnedNodeRow> rows = tomb_rows_;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      auto& row = rows[rng() % rows.size()];
      auto& bytes = (rng() % 4 == 0) ? row.vector : row.record;
      if (bytes.empty()) continue;
      int mode = static_cast<int>(rng() % 5);
      if (mode == 0) bytes.resize(rng() % bytes.size());
      else if (mode == 1) bytes.push_back(static_cast<uint8_t>(rng()));
      else bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    Status st;
    auto idx = LoadRows(tomb_header_, rows, &st);
    if (idx == nullptr) {
      EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.message();
      ++corrupt;
      continue;
    }
    ++loaded;  // a flip that kept everything consistent: the index must still be usable
    std::vector<float> q = {0.5f, -0.5f, 0.5f, 0.5f};
    auto r = idx->Search(q, 5, 16);
    EXPECT_TRUE(r.ok());
    (void)idx->Check();
    ASSERT_TRUE(idx->Insert(1 << 30, q).ok());
  }
  EXPECT_GT(corrupt, 0u);
}

// ---- diagnostics -----------------------------------------------------------------------------

TEST(HnswDiagnosticsTest, MemoryCountersAndNeighbors) {
  const size_t dim = 32, n = 2000;
  auto data = Clustered(n, dim, 131);
  auto idx = Build(Config(dim), data, Iota(n));
  EXPECT_GE(idx->MemoryBytes(), n * dim * sizeof(float) + n * 32 * sizeof(uint32_t));
  EXPECT_LE(idx->MemoryBytes(), 2 * (n * dim * sizeof(float) + n * 32 * sizeof(uint32_t)) + (1 << 20));
  (void)idx->Search(Row(data, 0, dim), 10);
  HnswCounters c = idx->Counters();
  EXPECT_EQ(c.inserts, n);
  EXPECT_GE(c.searches, 1u);
  EXPECT_GT(c.search_distances, 0u);
  auto nb = idx->Neighbors(5);
  ASSERT_TRUE(nb.ok());
  ASSERT_EQ(nb->size(), static_cast<size_t>(idx->LevelOf(5)) + 1);
  EXPECT_FALSE((*nb)[0].empty());
  EXPECT_LE((*nb)[0].size(), 32u);
  EXPECT_FALSE(idx->Neighbors(-9).ok());
  EXPECT_EQ(idx->LevelOf(-9), -1);
  EXPECT_EQ(idx->Rowids().size(), n);
  ASSERT_TRUE(idx->SetEfSearch(100).ok());
  EXPECT_EQ(idx->Header().ef_search, 100u);
  EXPECT_FALSE(idx->SetEfSearch(0).ok());
}

}  // namespace
}  // namespace vecgraph::hnsw
