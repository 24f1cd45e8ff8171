// tests/cuda_test.cpp — the CUDA bridge (engine/executor/cuda_bridge.h) and its residency cache.
//
//   ResidencyTracker.*  LRU bookkeeping (engine/executor/residency.h); pure C++, runs everywhere.
//   CudaNoDevice.*      without a driver or device (or without CUDA compiled in) every bridge call
//                       reports kNoDevice with a message and nothing crashes; skipped on a GPU.
//   CudaGpu.*           GPU against CPU on random shapes; skipped (GTEST_SKIP) when Probe fails.
//                       Distances within 1e-5 relative + 1e-5 absolute of the CPU kernels (for dot
//                       products the relative part is taken of Σ|q_i·r_i|, the scale of float
//                       rounding); k-NN ids equal to the CPU reference except at near-ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/executor/cuda_bridge.h"
#include "engine/executor/residency.h"
#include "engine/vector/distance.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/topk.h"

namespace vecgraph {
namespace {

using cuda::MatrixKey;
using exec::DeviceError;
using exec::ResidencyTracker;

using KeyList = std::vector<std::pair<uint64_t, uint64_t>>;  // (object, version), comparable and printable

KeyList L(const std::vector<MatrixKey>& keys) {
  KeyList out;
  for (const MatrixKey& k : keys) out.emplace_back(k.object, k.version);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ResidencyTracker

TEST(ResidencyTracker, LookupCountsHitsAndMisses) {
  ResidencyTracker t(100);
  EXPECT_FALSE(t.Lookup({1, 1}));
  auto a = t.Admit({1, 1}, 40);
  EXPECT_TRUE(a.fits);
  EXPECT_TRUE(a.evict.empty());
  EXPECT_TRUE(t.Lookup({1, 1}));
  EXPECT_FALSE(t.Lookup({1, 2}));  // another version is a miss
  EXPECT_FALSE(t.Lookup({2, 1}));
  auto c = t.counters();
  EXPECT_EQ(c.hits, 1u);
  EXPECT_EQ(c.misses, 3u);
  EXPECT_EQ(c.evictions, 0u);
  EXPECT_EQ(c.bytes_resident, 40u);
  EXPECT_EQ(c.entries, 1u);
}

TEST(ResidencyTracker, EvictsLeastRecentlyUsedFirst) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({1, 0}, 30).fits);
  ASSERT_TRUE(t.Admit({2, 0}, 30).fits);
  ASSERT_TRUE(t.Admit({3, 0}, 30).fits);
  EXPECT_TRUE(t.Lookup({1, 0}));  // order now 1, 3, 2 (most recent first)
  EXPECT_EQ(L(t.Keys()), (KeyList{{1, 0}, {3, 0}, {2, 0}}));
  auto a = t.Admit({4, 0}, 20);  // needs 10 more: evict 2
  EXPECT_TRUE(a.fits);
  EXPECT_EQ(L(a.evict), (KeyList{{2, 0}}));
  EXPECT_EQ(t.bytes_resident(), 80u);
  auto b = t.Admit({5, 0}, 90);  // needs everything but 10: evict 3, 1, 4 in LRU order
  EXPECT_TRUE(b.fits);
  EXPECT_EQ(L(b.evict), (KeyList{{3, 0}, {1, 0}, {4, 0}}));
  EXPECT_EQ(L(t.Keys()), (KeyList{{5, 0}}));
  EXPECT_EQ(t.bytes_resident(), 90u);
  EXPECT_EQ(t.counters().evictions, 4u);
}

TEST(ResidencyTracker, DoesNotFitLeavesEverythingAlone) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({1, 0}, 60).fits);
  auto a = t.Admit({2, 0}, 101);
  EXPECT_FALSE(a.fits);
  EXPECT_TRUE(a.evict.empty());
  EXPECT_TRUE(t.Contains({1, 0}));
  EXPECT_FALSE(t.Contains({2, 0}));
  EXPECT_EQ(t.bytes_resident(), 60u);
  EXPECT_TRUE(t.Admit({3, 0}, 100).fits);  // exactly the budget fits (after evicting 1)
  EXPECT_EQ(t.bytes_resident(), 100u);
}

TEST(ResidencyTracker, NewerVersionEvictsOldVersion) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({7, 1}, 30).fits);
  ASSERT_TRUE(t.Admit({8, 1}, 30).fits);
  auto a = t.Admit({7, 2}, 30);
  EXPECT_TRUE(a.fits);
  EXPECT_EQ(L(a.evict), (KeyList{{7, 1}}));
  EXPECT_FALSE(t.Lookup({7, 1}));
  EXPECT_TRUE(t.Lookup({7, 2}));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.bytes_resident(), 60u);
  // A new version too large for the budget still hands back the stale one.
  auto b = t.Admit({7, 3}, 500);
  EXPECT_FALSE(b.fits);
  EXPECT_EQ(L(b.evict), (KeyList{{7, 2}}));
  EXPECT_EQ(L(t.Keys()), (KeyList{{8, 1}}));
  EXPECT_EQ(t.bytes_resident(), 30u);
}

TEST(ResidencyTracker, ReadmitSameKeyRefreshesAndResizes) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({1, 0}, 30).fits);
  ASSERT_TRUE(t.Admit({2, 0}, 30).fits);
  auto a = t.Admit({1, 0}, 30);
  EXPECT_TRUE(a.fits);
  EXPECT_TRUE(a.evict.empty());
  EXPECT_EQ(L(t.Keys()), (KeyList{{1, 0}, {2, 0}}));
  auto b = t.Admit({1, 0}, 80);  // grows: 2 must go, 1 stays
  EXPECT_TRUE(b.fits);
  EXPECT_EQ(L(b.evict), (KeyList{{2, 0}}));
  EXPECT_EQ(t.bytes_resident(), 80u);
  auto c = t.Admit({1, 0}, 101);  // no longer fits at all
  EXPECT_FALSE(c.fits);
  EXPECT_EQ(L(c.evict), (KeyList{{1, 0}}));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.bytes_resident(), 0u);
}

TEST(ResidencyTracker, SetBudgetEvictsToFit) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({1, 0}, 30).fits);
  ASSERT_TRUE(t.Admit({2, 0}, 30).fits);
  ASSERT_TRUE(t.Admit({3, 0}, 30).fits);
  EXPECT_TRUE(t.SetBudget(200).empty());
  EXPECT_EQ(L(t.SetBudget(45)), (KeyList{{1, 0}, {2, 0}}));
  EXPECT_EQ(t.budget(), 45u);
  EXPECT_EQ(L(t.Keys()), (KeyList{{3, 0}}));
  EXPECT_EQ(L(t.SetBudget(0)), (KeyList{{3, 0}}));
  EXPECT_EQ(t.bytes_resident(), 0u);
  EXPECT_FALSE(t.Admit({4, 0}, 1).fits);
  EXPECT_TRUE(t.Admit({4, 0}, 0).fits);  // an empty matrix fits any budget
}

TEST(ResidencyTracker, RemoveAndClear) {
  ResidencyTracker t(100);
  ASSERT_TRUE(t.Admit({1, 0}, 10).fits);
  ASSERT_TRUE(t.Admit({2, 0}, 20).fits);
  EXPECT_FALSE(t.Remove({1, 5}));  // wrong version
  EXPECT_TRUE(t.Remove({1, 0}));
  EXPECT_FALSE(t.Remove({1, 0}));
  EXPECT_EQ(t.bytes_resident(), 20u);
  ASSERT_TRUE(t.Admit({3, 0}, 30).fits);
  EXPECT_EQ(L(t.Clear()), (KeyList{{3, 0}, {2, 0}}));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.bytes_resident(), 0u);
  EXPECT_EQ(t.counters().evictions, 0u);  // Remove and Clear are not evictions
  EXPECT_TRUE(t.Admit({2, 0}, 100).fits);
}

TEST(ResidencyTracker, RandomOperationsKeepTheBudget) {
  std::mt19937 rng(7);
  ResidencyTracker t(1000);
  std::vector<uint64_t> version(16, 0);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t obj = rng() % 16;
    switch (rng() % 6) {
      case 0: version[obj]++; [[fallthrough]];
      case 1:
      case 2: {
        const MatrixKey key{obj, version[obj]};
        if (!t.Lookup(key)) {
          auto a = t.Admit(key, rng() % 1200);
          for (const MatrixKey& e : a.evict) EXPECT_FALSE(t.Contains(e));
          EXPECT_EQ(a.fits, t.Contains(key));
        }
        break;
      }
      case 3: (void)t.Remove({obj, version[obj]}); break;
      case 4: (void)t.SetBudget(500 + rng() % 1000); break;
      default: break;
    }
    ASSERT_LE(t.bytes_resident(), t.budget());
    std::vector<MatrixKey> keys = t.Keys();
    for (size_t a = 0; a < keys.size(); ++a) {
      for (size_t b = a + 1; b < keys.size(); ++b) ASSERT_NE(keys[a].object, keys[b].object);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Without a GPU (this is the path every build machine without a driver takes).

bool HaveGpu() {
  cuda::GpuInfo info;
  exec::DeviceFailure f;
  return cuda::Probe(&info, &f);
}

TEST(CudaNoDevice, EveryCallReportsNoDevice) {
  if (HaveGpu()) GTEST_SKIP() << "a GPU is present";
  cuda::GpuInfo info;
  exec::DeviceFailure f;
  EXPECT_FALSE(cuda::Probe(&info, &f));
  EXPECT_EQ(f.error, DeviceError::kNoDevice);
  EXPECT_FALSE(f.message.empty());
  exec::DeviceFailure again;
  EXPECT_FALSE(cuda::Probe(nullptr, &again));  // cached, null info allowed
  EXPECT_EQ(again.error, f.error);
  EXPECT_EQ(again.message, f.message);
  EXPECT_FALSE(cuda::Probe(nullptr, nullptr));

  std::vector<float> rows(4 * 3, 1.0f), q(3, 1.0f), out(4, -7.0f);
  float qn = std::sqrt(3.0f);
  exec::DistanceTask t;
  t.metric = Metric::kCosine;
  t.queries = q.data();
  t.query_norms = &qn;
  t.n_queries = 1;
  t.rows = rows.data();
  t.n_rows = 4;
  t.dims = 3;
  t.out = out.data();
  exec::DeviceFailure d = cuda::Distances(t, 0, 4);
  EXPECT_EQ(d.error, DeviceError::kNoDevice);
  EXPECT_FALSE(d.message.empty());
  EXPECT_EQ(out, std::vector<float>(4, -7.0f));  // untouched

  std::vector<int64_t> ids(2, 5);
  std::vector<float> dist(2, 5.0f);
  exec::DeviceFailure k = cuda::KnnResident({1, 1}, rows.data(), 4, 3, Metric::kL2, q.data(), 1, 2, ids.data(),
                                            dist.data());
  EXPECT_EQ(k.error, DeviceError::kNoDevice);
  EXPECT_FALSE(k.message.empty());
  EXPECT_EQ(ids, std::vector<int64_t>(2, 5));

  cuda::SetMemoryBudget(size_t{1} << 20);
  cuda::ReleaseBuffers();
  cuda::CacheStats s = cuda::GetCacheStats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes_resident, 0u);
}

// ---------------------------------------------------------------------------------------------
// GPU against CPU

class CudaGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    exec::DeviceFailure f;
    if (!cuda::Probe(&info_, &f)) GTEST_SKIP() << "no usable GPU: " << f.message;
    saved_budget_ = cuda::GetCacheStats().budget;
    cuda::SetMemoryBudget(size_t{1} << 30);
  }
  void TearDown() override {
    if (saved_budget_ != kUnset) cuda::SetMemoryBudget(saved_budget_);
  }

  static constexpr size_t kUnset = ~size_t{0};
  cuda::GpuInfo info_;
  size_t saved_budget_ = kUnset;
};

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::vector<float> QueryNorms(const std::vector<float>& q, size_t nq, size_t dims) {
  std::vector<float> n(nq);
  for (size_t i = 0; i < nq; ++i) n[i] = static_cast<float>(Norm(q.data() + i * dims, dims));
  return n;
}

// CPU reference: out[q * n_rows + r].
std::vector<float> CpuDistances(Metric m, const std::vector<float>& q, const std::vector<float>& qn, size_t nq,
                                const std::vector<float>& rows, size_t n_rows, size_t dims) {
  std::vector<float> out(nq * n_rows), scratch(n_rows);
  for (size_t i = 0; i < nq; ++i) {
    BatchDistances(kernels::Kernels(), m, q.data() + i * dims, qn[i], rows.data(), n_rows, dims,
                   out.data() + i * n_rows, scratch.data());
  }
  return out;
}

double Tolerance(Metric m, const float* q, const float* r, size_t dims, double ref) {
  double scale = std::fabs(ref);
  if (m == Metric::kDot) {
    double s = 0;
    for (size_t i = 0; i < dims; ++i) s += std::fabs(static_cast<double>(q[i]) * r[i]);
    scale = std::max(scale, s);
  }
  return 1e-5 * scale + 1e-5;
}

const char* Name(Metric m) { return MetricName(m); }

void CheckDistances(Metric m, size_t n_rows, size_t dims, size_t nq, size_t begin, size_t end, std::mt19937& rng) {
  SCOPED_TRACE(std::string(Name(m)) + " rows=" + std::to_string(n_rows) + " dims=" + std::to_string(dims) +
               " queries=" + std::to_string(nq) + " range=[" + std::to_string(begin) + "," + std::to_string(end) + ")");
  std::vector<float> rows = Random(n_rows * dims, rng), q = Random(nq * dims, rng);
  if (n_rows > 2) std::fill(rows.begin() + dims, rows.begin() + 2 * dims, 0.0f);  // a zero row
  std::vector<float> qn = QueryNorms(q, nq, dims);
  std::vector<float> ref = CpuDistances(m, q, qn, nq, rows, n_rows, dims);
  const float kUntouched = -12345.0f;
  std::vector<float> out(nq * n_rows, kUntouched);
  exec::DistanceTask t;
  t.metric = m;
  t.queries = q.data();
  t.query_norms = qn.data();
  t.n_queries = nq;
  t.rows = rows.data();
  t.n_rows = n_rows;
  t.dims = dims;
  t.out = out.data();
  exec::DeviceFailure f = cuda::Distances(t, begin, end);
  ASSERT_TRUE(f.ok()) << f.message;
  int bad = 0;
  for (size_t i = 0; i < nq; ++i) {
    for (size_t r = 0; r < n_rows; ++r) {
      const float got = out[i * n_rows + r];
      if (r < begin || r >= end) {
        ASSERT_EQ(got, kUntouched) << "wrote outside the range at query " << i << " row " << r;
        continue;
      }
      const double want = ref[i * n_rows + r];
      const double tol = Tolerance(m, q.data() + i * dims, rows.data() + r * dims, dims, want);
      if (!(std::fabs(got - want) <= tol) && ++bad <= 5) {
        ADD_FAILURE() << "query " << i << " row " << r << ": gpu " << got << " cpu " << want << " tol " << tol;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_F(CudaGpu, DistancesMatchCpuOnRandomShapes) {
  std::mt19937 rng(42);
  const std::vector<size_t> dims_list = {1, 2, 3, 5, 7, 8, 16, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255,
                                         384, 511, 768, 1023, 1100};
  const Metric metrics[] = {Metric::kCosine, Metric::kDot, Metric::kL2};
  std::uniform_int_distribution<size_t> rows_d(1, 5000), q_d(1, 8);
  for (size_t dims : dims_list) {
    for (Metric m : metrics) {
      CheckDistances(m, rows_d(rng), dims, q_d(rng), 0, 0, rng);  // begin == end: no-op
      const size_t n = rows_d(rng);
      CheckDistances(m, n, dims, q_d(rng), 0, n, rng);
    }
  }
}

TEST_F(CudaGpu, DistancesSubrangeAndEdgeShapes) {
  std::mt19937 rng(5);
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    CheckDistances(m, 1, 1, 1, 0, 1, rng);
    CheckDistances(m, 2000, 37, 3, 123, 1789, rng);
    CheckDistances(m, 5000, 1100, 8, 4999, 5000, rng);
    CheckDistances(m, 300, 96, 40, 10, 290, rng);    // many queries: tiled kernel
    CheckDistances(m, 1000, 1, 17, 0, 1000, rng);    // tiled, one dimension
    CheckDistances(m, 20000, 300, 2, 0, 20000, rng); // several staging chunks
  }
}

TEST_F(CudaGpu, DistancesWithoutQueryNormsMatchCpuWithZeroNorm) {
  std::mt19937 rng(9);
  const size_t n = 100, dims = 20;
  std::vector<float> rows = Random(n * dims, rng), q = Random(dims, rng), out(n), ref(n), scratch(n);
  BatchDistances(kernels::Kernels(), Metric::kCosine, q.data(), 0.0f, rows.data(), n, dims, ref.data(), scratch.data());
  exec::DistanceTask t;
  t.metric = Metric::kCosine;
  t.queries = q.data();
  t.n_queries = 1;
  t.rows = rows.data();
  t.n_rows = n;
  t.dims = dims;
  t.out = out.data();
  ASSERT_TRUE(cuda::Distances(t, 0, n).ok());
  for (size_t r = 0; r < n; ++r) EXPECT_FLOAT_EQ(out[r], ref[r]);
}

// Compares one query's GPU k-NN with the CPU reference.
void CheckKnnQuery(Metric m, const float* q, const std::vector<float>& rows, size_t n_rows, size_t dims, size_t k,
                   const int64_t* ids, const float* dist) {
  std::vector<float> d(n_rows), scratch(n_rows);
  BatchDistances(kernels::Kernels(), m, q, static_cast<float>(Norm(q, dims)), rows.data(), n_rows, dims, d.data(),
                 scratch.data());
  std::vector<kernels::Neighbor> want = kernels::SortTopKReference(d.data(), nullptr, n_rows, k);
  int bad = 0;
  for (size_t j = 0; j < k; ++j) {
    if (j >= n_rows) {
      EXPECT_EQ(ids[j], -1) << "padding at " << j;
      EXPECT_TRUE(std::isinf(dist[j]) && dist[j] > 0) << "padding distance at " << j;
      continue;
    }
    ASSERT_GE(ids[j], 0);
    ASSERT_LT(ids[j], static_cast<int64_t>(n_rows));
    const double tol = Tolerance(m, q, rows.data() + ids[j] * dims, dims, want[j].distance);
    // The reported distance is the GPU's distance of the reported row.
    if (!(std::fabs(dist[j] - d[ids[j]]) <= tol) && ++bad <= 5) {
      ADD_FAILURE() << "rank " << j << " id " << ids[j] << ": gpu distance " << dist[j] << " cpu " << d[ids[j]];
    }
    // Same id, or a near-tie with the reference at this rank.
    if (ids[j] != want[j].id && !(std::fabs(d[ids[j]] - want[j].distance) <= 2 * tol) && ++bad <= 5) {
      ADD_FAILURE() << "rank " << j << ": gpu id " << ids[j] << " (" << d[ids[j]] << "), cpu id " << want[j].id
                    << " (" << want[j].distance << ")";
    }
    if (j > 0 && ids[j - 1] >= 0) {
      EXPECT_TRUE(dist[j - 1] < dist[j] || (dist[j - 1] == dist[j] && ids[j - 1] < ids[j]))
          << "order at rank " << j;
    }
  }
  std::vector<int64_t> sorted(ids, ids + std::min(k, n_rows));
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicate ids";
  EXPECT_EQ(bad, 0);
}

void CheckKnn(uint64_t object, Metric m, size_t n_rows, size_t dims, size_t nq, size_t k, std::mt19937& rng) {
  SCOPED_TRACE(std::string(Name(m)) + " rows=" + std::to_string(n_rows) + " dims=" + std::to_string(dims) +
               " queries=" + std::to_string(nq) + " k=" + std::to_string(k));
  std::vector<float> rows = Random(n_rows * dims, rng), q = Random(nq * dims, rng);
  std::vector<int64_t> ids(nq * k, -7);
  std::vector<float> dist(nq * k, -7.0f);
  exec::DeviceFailure f = cuda::KnnResident({object, 1}, rows.data(), n_rows, dims, m, q.data(), nq, k, ids.data(),
                                            dist.data());
  ASSERT_TRUE(f.ok()) << f.message;
  for (size_t i = 0; i < nq; ++i) {
    SCOPED_TRACE("query " + std::to_string(i));
    CheckKnnQuery(m, q.data() + i * dims, rows, n_rows, dims, k, ids.data() + i * k, dist.data() + i * k);
  }
}

TEST_F(CudaGpu, KnnMatchesCpuBruteForce) {
  std::mt19937 rng(1234);
  uint64_t object = 1000;
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    for (size_t k : {size_t{1}, size_t{10}, size_t{100}, size_t{1024}}) {
      CheckKnn(++object, m, 3000, 65, 3, k, rng);
      CheckKnn(++object, m, 40000, 24, 2, k, rng);  // several slices per query, then a merge
      CheckKnn(++object, m, 2500, 33, 20, k, rng);  // tiled distance kernel
    }
    CheckKnn(++object, m, 7, 5, 2, 10, rng);      // n_rows < k: −1 padding
    CheckKnn(++object, m, 1, 1, 1, 1024, rng);
    CheckKnn(++object, m, 1023, 16, 1, 1024, rng);
  }
}

TEST_F(CudaGpu, KnnOrdersExactTiesBySmallerIndex) {
  const size_t n = 5000, dims = 8, k = 1024;
  std::vector<int64_t> ids(k);
  std::vector<float> dist(k);
  const std::vector<float> q(dims, 0.25f);
  // Every row identical (so every distance is bit-identical) except row 3000.
  std::vector<float> rows(n * dims, 0.5f);
  for (size_t j = 0; j < dims; ++j) rows[3000 * dims + j] = 0.3f;  // nearer in l2
  ASSERT_TRUE(cuda::KnnResident({77, 1}, rows.data(), n, dims, Metric::kL2, q.data(), 1, k, ids.data(), dist.data()).ok());
  EXPECT_EQ(ids[0], 3000);
  for (size_t j = 1; j < k; ++j) ASSERT_EQ(ids[j], static_cast<int64_t>(j - 1)) << "rank " << j;
  for (size_t j = 2; j < k; ++j) ASSERT_EQ(dist[j], dist[1]);
  for (size_t j = 0; j < dims; ++j) rows[3000 * dims + j] = 0.0f;  // a zero row: cosine distance 1, last
  ASSERT_TRUE(cuda::KnnResident({78, 1}, rows.data(), n, dims, Metric::kCosine, q.data(), 1, k, ids.data(),
                                dist.data()).ok());
  for (size_t j = 0; j < k; ++j) ASSERT_EQ(ids[j], static_cast<int64_t>(j)) << "rank " << j;
}

TEST_F(CudaGpu, ResidencyReusesAndReuploadsAfterVersionBump) {
  std::mt19937 rng(3);
  const size_t n = 2000, dims = 32, k = 5;
  std::vector<float> rows = Random(n * dims, rng), q = Random(dims, rng);
  std::vector<int64_t> ids(k);
  std::vector<float> dist(k);
  const uint64_t obj = 424242;
  cuda::CacheStats s0 = cuda::GetCacheStats();
  ASSERT_TRUE(cuda::KnnResident({obj, 1}, rows.data(), n, dims, Metric::kL2, q.data(), 1, k, ids.data(), dist.data()).ok());
  cuda::CacheStats s1 = cuda::GetCacheStats();
  EXPECT_EQ(s1.misses, s0.misses + 1);
  EXPECT_GE(s1.bytes_resident, n * dims * sizeof(float));
  // Same key: served from the device copy even though the host rows changed (the owner did not
  // bump the version, so the stale copy is what the contract says is used).
  std::vector<float> changed = rows;
  for (float& x : changed) x = -x;
  std::vector<int64_t> ids2(k);
  ASSERT_TRUE(cuda::KnnResident({obj, 1}, changed.data(), n, dims, Metric::kL2, q.data(), 1, k, ids2.data(),
                                dist.data()).ok());
  cuda::CacheStats s2 = cuda::GetCacheStats();
  EXPECT_EQ(s2.hits, s1.hits + 1);
  EXPECT_EQ(s2.misses, s1.misses);
  EXPECT_EQ(ids2, ids);
  // Version bump: uploaded again, the old version evicted, results follow the new rows.
  ASSERT_TRUE(cuda::KnnResident({obj, 2}, changed.data(), n, dims, Metric::kL2, q.data(), 1, k, ids2.data(),
                                dist.data()).ok());
  cuda::CacheStats s3 = cuda::GetCacheStats();
  EXPECT_EQ(s3.misses, s2.misses + 1);
  EXPECT_EQ(s3.evictions, s2.evictions + 1);
  EXPECT_EQ(s3.entries, s2.entries);
  CheckKnnQuery(Metric::kL2, q.data(), changed, n, dims, k, ids2.data(), dist.data());
  // ReleaseBuffers drops everything; the next call uploads again.
  cuda::ReleaseBuffers();
  EXPECT_EQ(cuda::GetCacheStats().entries, 0u);
  ASSERT_TRUE(cuda::KnnResident({obj, 2}, changed.data(), n, dims, Metric::kL2, q.data(), 1, k, ids2.data(),
                                dist.data()).ok());
  EXPECT_EQ(cuda::GetCacheStats().misses, s3.misses + 1);
  CheckKnnQuery(Metric::kL2, q.data(), changed, n, dims, k, ids2.data(), dist.data());
}

TEST_F(CudaGpu, MatrixLargerThanBudgetIsOutOfMemory) {
  std::mt19937 rng(11);
  const size_t n = 1000, dims = 16, k = 3;
  std::vector<float> rows = Random(n * dims, rng), q = Random(dims, rng);
  std::vector<int64_t> ids(k, -9);
  std::vector<float> dist(k);
  cuda::SetMemoryBudget(1000);
  exec::DeviceFailure f =
      cuda::KnnResident({555, 1}, rows.data(), n, dims, Metric::kDot, q.data(), 1, k, ids.data(), dist.data());
  EXPECT_EQ(f.error, DeviceError::kOutOfMemory);
  EXPECT_NE(f.message.find("budget"), std::string::npos) << f.message;
  EXPECT_EQ(cuda::GetCacheStats().entries, 0u);
  // The device is still fine afterwards.
  cuda::SetMemoryBudget(size_t{1} << 30);
  f = cuda::KnnResident({555, 1}, rows.data(), n, dims, Metric::kDot, q.data(), 1, k, ids.data(), dist.data());
  ASSERT_TRUE(f.ok()) << f.message;
  CheckKnnQuery(Metric::kDot, q.data(), rows, n, dims, k, ids.data(), dist.data());
  // Shrinking the budget evicts.
  cuda::SetMemoryBudget(0);
  EXPECT_EQ(cuda::GetCacheStats().entries, 0u);
}

TEST_F(CudaGpu, KnnRejectsKAboveTheDeviceLimit) {
  std::vector<float> rows(10, 1.0f), q(1, 1.0f);
  std::vector<int64_t> ids(cuda::kMaxDeviceK + 1);
  std::vector<float> dist(cuda::kMaxDeviceK + 1);
  exec::DeviceFailure f = cuda::KnnResident({9, 1}, rows.data(), 10, 1, Metric::kL2, q.data(), 1,
                                            cuda::kMaxDeviceK + 1, ids.data(), dist.data());
  EXPECT_EQ(f.error, DeviceError::kLaunch);
  EXPECT_FALSE(f.message.empty());
  // And the device still works.
  ASSERT_TRUE(cuda::KnnResident({9, 1}, rows.data(), 10, 1, Metric::kL2, q.data(), 1, 3, ids.data(), dist.data()).ok());
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[1], 1);
  EXPECT_EQ(ids[2], 2);
}

}  // namespace
}  // namespace vecgraph
