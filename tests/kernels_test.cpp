// tests/kernels_test.cpp — every CPU distance kernel table against the scalar reference.
//
// Parameterized over SupportedIsas() (every table this CPU can run, not only the dispatched one).
// Each entry is compared with ScalarKernels() on random data; the tolerance is relative to the
// sum of |a_i*b_i| for dot products and to the exact value for squared L2 / norms, plus a tiny
// absolute term. Buffers are sized exactly (and optionally offset by one float, so nothing is
// 16-byte aligned) so that ASan catches a tail that reads past the end of a row.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/distance.h"

namespace vecgraph::kernels {
namespace {

constexpr double kRelTol = 1e-5;
constexpr double kAbsTol = 1e-6;

// Dims for the batch and multi kernels (the pairwise kernels test every dim in 1..1100).
const std::vector<size_t> kDims = {1,  2,  3,  4,   5,   7,   8,   9,   15,  16,  17,  31,  32,
                                   33, 63, 64, 65, 100, 127, 128, 129, 255, 384, 511, 768, 1023,
                                   1100};
const std::vector<size_t> kRows = {0, 1, 2, 3, 4, 5, 8, 37};

// A buffer of exactly offset + n floats, uniform in [-1, 1]; Data() skips the offset.
class Buffer {
 public:
  Buffer(size_t n, size_t offset, std::mt19937& rng) : v_(offset + n), offset_(offset) {
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (float& x : v_) x = dist(rng);
  }
  const float* Data() const { return v_.data() + offset_; }

 private:
  std::vector<float> v_;
  size_t offset_;
};

double SumAbsProducts(const float* a, const float* b, size_t dims) {
  double s = 0;
  for (size_t i = 0; i < dims; ++i) s += std::fabs(static_cast<double>(a[i]) * b[i]);
  return s;
}
double ExactL2Sq(const float* a, const float* b, size_t dims) {
  double s = 0;
  for (size_t i = 0; i < dims; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return s;
}

double Tol(double scale) { return kRelTol * scale + kAbsTol; }

constexpr float kSentinel = -12345.f;

// An output buffer with one guard float past the end, to catch writes beyond n.
struct Out {
  explicit Out(size_t n) : v(n + 1, kSentinel), n(n) {}
  float* Data() { return v.data(); }
  bool GuardIntact() const { return v[n] == kSentinel; }
  std::vector<float> v;
  size_t n;
};

std::string TestName(const ::testing::TestParamInfo<Isa>& info) {
  std::string name = IsaName(info.param);
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return name;
}

class KernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    table_ = KernelsFor(GetParam());
    ASSERT_NE(table_, nullptr);
    ASSERT_EQ(table_->isa, GetParam());
  }
  const KernelTable* table_ = nullptr;
  const KernelTable& ref_ = ScalarKernels();
};

TEST_P(KernelsTest, Pairwise) {
  std::mt19937 rng(1234);
  for (size_t offset : {0, 1}) {
    for (size_t dims = 1; dims <= 1100; ++dims) {
      SCOPED_TRACE("dims=" + std::to_string(dims) + " offset=" + std::to_string(offset));
      Buffer a(dims, offset, rng), b(dims, offset, rng);
      const float* pa = a.Data();
      const float* pb = b.Data();

      EXPECT_NEAR(table_->dot(pa, pb, dims), ref_.dot(pa, pb, dims),
                  Tol(SumAbsProducts(pa, pb, dims)));
      const float l2 = ref_.l2sq(pa, pb, dims);
      EXPECT_NEAR(table_->l2sq(pa, pb, dims), l2, Tol(l2));
      const float nn = ref_.norm_sq(pa, dims);
      EXPECT_NEAR(table_->norm_sq(pa, dims), nn, Tol(nn));
      if (HasFailure()) return;
    }
  }
}

TEST_P(KernelsTest, PairwiseIdenticalAndZero) {
  std::mt19937 rng(7);
  for (size_t dims : kDims) {
    Buffer a(dims, 0, rng);
    EXPECT_EQ(table_->l2sq(a.Data(), a.Data(), dims), 0.f) << "dims=" << dims;
    std::vector<float> zero(dims, 0.f);
    EXPECT_EQ(table_->dot(a.Data(), zero.data(), dims), 0.f) << "dims=" << dims;
    EXPECT_EQ(table_->norm_sq(zero.data(), dims), 0.f) << "dims=" << dims;
  }
}

TEST_P(KernelsTest, Batch) {
  std::mt19937 rng(99);
  for (size_t offset : {0, 1}) {
    for (size_t dims : kDims) {
      for (size_t n : kRows) {
        SCOPED_TRACE("dims=" + std::to_string(dims) + " n_rows=" + std::to_string(n) +
                     " offset=" + std::to_string(offset));
        Buffer q(dims, offset, rng), rows(n * dims, offset, rng);
        const float* pq = q.Data();
        const float* pr = rows.Data();

        Out dot(n), dot_ref(n), l2(n), l2_ref(n), dn_dot(n), dn_norm(n), nref(n);
        table_->dot_batch(pq, pr, n, dims, dot.Data());
        ref_.dot_batch(pq, pr, n, dims, dot_ref.Data());
        table_->l2sq_batch(pq, pr, n, dims, l2.Data());
        ref_.l2sq_batch(pq, pr, n, dims, l2_ref.Data());
        table_->dot_norm_batch(pq, pr, n, dims, dn_dot.Data(), dn_norm.Data());
        for (size_t r = 0; r < n; ++r) nref.v[r] = ref_.norm_sq(pr + r * dims, dims);

        for (size_t r = 0; r < n; ++r) {
          const float* row = pr + r * dims;
          const double dtol = Tol(SumAbsProducts(pq, row, dims));
          EXPECT_NEAR(dot.v[r], dot_ref.v[r], dtol) << "r=" << r;
          EXPECT_NEAR(l2.v[r], l2_ref.v[r], Tol(l2_ref.v[r])) << "r=" << r;
          EXPECT_NEAR(dn_dot.v[r], dot_ref.v[r], dtol) << "r=" << r;
          EXPECT_NEAR(dn_norm.v[r], nref.v[r], Tol(nref.v[r])) << "r=" << r;
        }
        EXPECT_TRUE(dot.GuardIntact());
        EXPECT_TRUE(l2.GuardIntact());
        EXPECT_TRUE(dn_dot.GuardIntact());
        EXPECT_TRUE(dn_norm.GuardIntact());
        if (HasFailure()) return;
      }
    }
  }
}

void CheckMulti(const KernelTable& table, const KernelTable& ref, size_t nq, size_t n,
                size_t dims, size_t offset, std::mt19937& rng) {
  SCOPED_TRACE("n_queries=" + std::to_string(nq) + " n_rows=" + std::to_string(n) +
               " dims=" + std::to_string(dims) + " offset=" + std::to_string(offset));
  Buffer qs(nq * dims, offset, rng), rows(n * dims, offset, rng);
  const float* pq = qs.Data();
  const float* pr = rows.Data();
  Out dot(nq * n), dot_ref(nq * n), l2(nq * n), l2_ref(nq * n);
  table.dot_multi(pq, nq, pr, n, dims, dot.Data());
  ref.dot_multi(pq, nq, pr, n, dims, dot_ref.Data());
  table.l2sq_multi(pq, nq, pr, n, dims, l2.Data());
  ref.l2sq_multi(pq, nq, pr, n, dims, l2_ref.Data());
  for (size_t q = 0; q < nq; ++q) {
    for (size_t r = 0; r < n; ++r) {
      const size_t k = q * n + r;
      const float* qv = pq + q * dims;
      const float* row = pr + r * dims;
      EXPECT_NEAR(dot.v[k], dot_ref.v[k], Tol(SumAbsProducts(qv, row, dims)))
          << "q=" << q << " r=" << r;
      EXPECT_NEAR(l2.v[k], l2_ref.v[k], Tol(ExactL2Sq(qv, row, dims))) << "q=" << q << " r=" << r;
    }
  }
  EXPECT_TRUE(dot.GuardIntact());
  EXPECT_TRUE(l2.GuardIntact());
}

// The gather kernels score rows given by pointers (scattered, in any order, repeated) and must
// give exactly the pairwise kernel's bits for every row.
TEST_P(KernelsTest, GatherIsBitIdenticalToPairwise) {
  std::mt19937 rng(5);
  for (size_t offset : {0, 1}) {
    for (size_t dims : kDims) {
      for (size_t n : kRows) {
        SCOPED_TRACE("dims=" + std::to_string(dims) + " n=" + std::to_string(n) +
                     " offset=" + std::to_string(offset));
        Buffer q(dims, offset, rng), pool(7 * dims, offset, rng);
        std::vector<const float*> rows(n);
        for (size_t i = 0; i < n; ++i) rows[i] = pool.Data() + ((i * 5 + 3) % 7) * dims;
        Out dot(n), l2(n);
        table_->dot_gather(q.Data(), rows.data(), n, dims, dot.Data());
        table_->l2sq_gather(q.Data(), rows.data(), n, dims, l2.Data());
        for (size_t i = 0; i < n; ++i) {
          EXPECT_EQ(dot.v[i], table_->dot(q.Data(), rows[i], dims)) << "row " << i;
          EXPECT_EQ(l2.v[i], table_->l2sq(q.Data(), rows[i], dims)) << "row " << i;
        }
        EXPECT_TRUE(dot.GuardIntact());
        EXPECT_TRUE(l2.GuardIntact());
        if (HasFailure()) return;
      }
    }
  }
}

// Σ q[j]·code[j] for an int8 query and u8 codes is exact: every table (AVX-512 with VNNI where the
// CPU has it) equals a 64-bit sum on every dimension 1..1100, for groups of rows of every size
// the kernels split into, on unaligned rows of exactly the needed size, and at the extremes.
TEST_P(KernelsTest, DotU8S8GatherIsExact) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> byte(0, 255), sbyte(-128, 127);
  for (size_t dims = 1; dims <= 1100; ++dims) {
    SCOPED_TRACE("dims=" + std::to_string(dims));
    const size_t n = 1 + dims % 9;
    std::vector<int8_t> q(dims);
    for (auto& x : q) x = static_cast<int8_t>(sbyte(rng));
    std::vector<std::vector<uint8_t>> codes(n, std::vector<uint8_t>(dims + 1));
    std::vector<const uint8_t*> rows(n);
    for (size_t r = 0; r < n; ++r) {
      for (auto& c : codes[r]) c = static_cast<uint8_t>(byte(rng));
      rows[r] = codes[r].data() + 1;  // unaligned, and the row ends where its buffer does
    }
    std::vector<int32_t> got(n + 1, 12345);
    table_->dot_u8s8_gather(q.data(), rows.data(), n, dims, got.data());
    for (size_t r = 0; r < n; ++r) {
      int64_t want = 0;
      for (size_t j = 0; j < dims; ++j) want += static_cast<int64_t>(q[j]) * rows[r][j];
      ASSERT_EQ(got[r], want) << "row " << r;
    }
    ASSERT_EQ(got[n], 12345);  // nothing written past n
  }
  const size_t big = 65536;
  std::vector<int8_t> lo(big, -128), hi(big, 127);
  std::vector<uint8_t> full(big, 255);
  const uint8_t* rows[5] = {full.data(), full.data(), full.data(), full.data(), full.data()};
  int32_t out[5];
  table_->dot_u8s8_gather(lo.data(), rows, 5, big, out);
  for (int32_t v : out) EXPECT_EQ(v, int64_t{-128} * 255 * static_cast<int64_t>(big));
  table_->dot_u8s8_gather(hi.data(), rows, 5, big, out);
  for (int32_t v : out) EXPECT_EQ(v, int64_t{127} * 255 * static_cast<int64_t>(big));
  table_->dot_u8s8_gather(hi.data(), rows, 0, big, out);  // no rows: nothing read or written
}

// The typed kernels are exact: every table equals the scalar reference bit for bit, on every
// dimension 1..1100, on unaligned buffers of exactly the needed size, and at the extremes.
TEST_P(KernelsTest, TypedKernelsEqualTheScalarReference) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t dims = 1; dims <= 1100; ++dims) {
    SCOPED_TRACE("dims=" + std::to_string(dims));
    // One extra byte in front so that nothing is aligned; exact sizes so ASan sees an overread.
    std::vector<uint8_t> a(dims + 1), b(dims + 1);
    for (auto& x : a) x = static_cast<uint8_t>(byte(rng));
    for (auto& x : b) x = static_cast<uint8_t>(byte(rng));
    const auto* ia = reinterpret_cast<const int8_t*>(a.data() + 1);
    const auto* ib = reinterpret_cast<const int8_t*>(b.data() + 1);
    int64_t dot = 0, l2 = 0;
    for (size_t i = 0; i < dims; ++i) {
      dot += static_cast<int64_t>(ia[i]) * ib[i];
      l2 += (static_cast<int64_t>(ia[i]) - ib[i]) * (static_cast<int64_t>(ia[i]) - ib[i]);
    }
    ASSERT_EQ(table_->dot_i8(ia, ib, dims), dot);
    ASSERT_EQ(table_->l2sq_i8(ia, ib, dims), static_cast<uint64_t>(l2));
    ASSERT_EQ(table_->hamming(a.data() + 1, b.data() + 1, dims), ref_.hamming(a.data() + 1, b.data() + 1, dims));
    // float16 / bfloat16: random finite patterns (exponent 31 / 255 excluded), plus ±0 and subnormals.
    std::vector<uint16_t> h(dims + 1), bf(dims + 1);
    for (size_t i = 0; i <= dims; ++i) {
      h[i] = static_cast<uint16_t>(rng() % 0x7c00u) | static_cast<uint16_t>((rng() & 1u) << 15);
      bf[i] = static_cast<uint16_t>(rng() % 0x7f80u) | static_cast<uint16_t>((rng() & 1u) << 15);
      if (i % 97 == 0) h[i] = bf[i] = static_cast<uint16_t>(i % 2 ? 0x8000u : 0x0001u);
    }
    std::vector<float> got(dims), want(dims);
    table_->f16_to_f32(h.data() + 1, dims, got.data());
    ref_.f16_to_f32(h.data() + 1, dims, want.data());
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), dims * 4));
    table_->bf16_to_f32(bf.data() + 1, dims, got.data());
    ref_.bf16_to_f32(bf.data() + 1, dims, want.data());
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), dims * 4));
  }
  // The largest dimension at the extremes: −128 · −128 and (127 − −128)² summed 65 536 times.
  const size_t big = 65536;
  std::vector<int8_t> lo(big, -128), hi(big, 127);
  EXPECT_EQ(table_->dot_i8(lo.data(), lo.data(), big), int64_t{16384} * big);
  EXPECT_EQ(table_->dot_i8(lo.data(), hi.data(), big), int64_t{-16256} * static_cast<int64_t>(big));
  EXPECT_EQ(table_->l2sq_i8(lo.data(), hi.data(), big), uint64_t{65025} * big);
  std::vector<uint8_t> zeros(8192, 0), ones(8192, 0xff);
  EXPECT_EQ(table_->hamming(zeros.data(), ones.data(), 8192), 65536u);
  // Reference values of the conversions.
  const uint16_t h3[3] = {0x3c00, 0xfbff, 0x0001};
  float f3[3];
  table_->f16_to_f32(h3, 3, f3);
  EXPECT_EQ(f3[0], 1.0f);
  EXPECT_EQ(f3[1], -65504.0f);
  EXPECT_EQ(f3[2], std::ldexp(1.0f, -24));
}

TEST_P(KernelsTest, Multi) {
  std::mt19937 rng(4242);
  for (size_t offset : {0, 1}) {
    for (size_t dims : kDims) {
      for (size_t nq = 1; nq <= 9; ++nq) {
        for (size_t n : {0, 1, 2, 5, 37}) {
          CheckMulti(*table_, ref_, nq, n, dims, offset, rng);
          if (HasFailure()) return;
        }
      }
    }
  }
}

// More rows than one L2 tile of the multi kernels, so tile boundaries are crossed.
TEST_P(KernelsTest, MultiManyRows) {
  std::mt19937 rng(5);
  for (size_t dims : {13, 128, 768}) {
    for (size_t nq : {1, 4, 7}) {
      CheckMulti(*table_, ref_, nq, 411, dims, 1, rng);
      if (HasFailure()) return;
    }
  }
}

TEST_P(KernelsTest, NoRowsNoQueries) {
  std::vector<float> q(8, 1.f);
  float out = kSentinel;
  table_->dot_batch(q.data(), nullptr, 0, 8, &out);
  table_->l2sq_batch(q.data(), nullptr, 0, 8, &out);
  float out2 = kSentinel;
  table_->dot_norm_batch(q.data(), nullptr, 0, 8, &out, &out2);
  table_->dot_multi(q.data(), 1, nullptr, 0, 8, &out);
  table_->l2sq_multi(q.data(), 1, nullptr, 0, 8, &out);
  table_->dot_multi(nullptr, 0, q.data(), 1, 8, &out);
  table_->l2sq_multi(nullptr, 0, q.data(), 1, 8, &out);
  EXPECT_EQ(out, kSentinel);
  EXPECT_EQ(out2, kSentinel);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelsTest, ::testing::ValuesIn(SupportedIsas()), TestName);

TEST(KernelsDispatch, IsaNames) {
  EXPECT_STREQ(IsaName(Isa::kAvx512), "avx512");
  EXPECT_STREQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_STREQ(IsaName(Isa::kSse42), "sse4.2");
  EXPECT_STREQ(IsaName(Isa::kSse2), "sse2");
  EXPECT_STREQ(IsaName(Isa::kNeon), "neon");
  EXPECT_STREQ(IsaName(Isa::kScalar), "scalar");
}

TEST(KernelsDispatch, SupportedIsasAreConsistent) {
  const std::vector<Isa> isas = SupportedIsas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  EXPECT_EQ(ScalarKernels().isa, Isa::kScalar);
  EXPECT_EQ(KernelsFor(Isa::kScalar), &ScalarKernels());
  for (Isa isa : isas) {
    const KernelTable* t = KernelsFor(isa);
    ASSERT_NE(t, nullptr) << IsaName(isa);
    EXPECT_EQ(t->isa, isa);
    EXPECT_EQ(KernelsFor(isa), t) << "tables are singletons";
  }
#if defined(__x86_64__)
  EXPECT_NE(KernelsFor(Isa::kSse2), nullptr) << "SSE2 is part of x86-64";
  EXPECT_EQ(KernelsFor(Isa::kNeon), nullptr);
#elif defined(__aarch64__)
  EXPECT_NE(KernelsFor(Isa::kNeon), nullptr) << "NEON is part of AArch64";
  EXPECT_EQ(KernelsFor(Isa::kAvx2), nullptr);
#endif
}

TEST(KernelsDispatch, DispatchesToBestWithoutEnv) {
  if (std::getenv("VECGRAPH_SIMD") != nullptr) GTEST_SKIP() << "VECGRAPH_SIMD is set";
  EXPECT_EQ(Kernels().isa, SupportedIsas().back()) << IsaName(Kernels().isa);
  EXPECT_EQ(&Kernels(), KernelsFor(SupportedIsas().back()));
}

TEST(KernelsDispatch, DispatchHonoursEnvCap) {
  const char* env = std::getenv("VECGRAPH_SIMD");
  if (env == nullptr) GTEST_SKIP() << "VECGRAPH_SIMD is not set";
  for (Isa isa : SupportedIsas()) {
    if (std::string(env) == IsaName(isa)) {
      EXPECT_EQ(Kernels().isa, isa);
    }
  }
}

}  // namespace
}  // namespace vecgraph::kernels
