// Vector codec, JSON reader, metric math and top-k selection.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <cstring>
#include <random>

#include "engine/common/json.h"
#include "engine/vector/codec.h"
#include "engine/vector/distance.h"
#include "kernels/cpu/metric_math.h"
#include "kernels/cpu/topk.h"

namespace vecgraph {
namespace {

TEST(Codec, BlobRoundTripAndBorrow) {
  std::vector<float> v = {1.0f, -2.5f, 3.25f};
  VectorBuf b;
  ASSERT_TRUE(DecodeBlob(v.data(), v.size() * 4, &b).ok());
  EXPECT_EQ(b.dims(), 3u);
  EXPECT_EQ(b.data(), v.data());  // aligned → borrowed
  EXPECT_EQ(EncodeJson(b.view()), "[1,-2.5,3.25]");
}

TEST(Codec, UnalignedBlobIsCopied) {
  std::vector<char> raw(4 * 3 + 1);
  float v[3] = {1, 2, 3};
  std::memcpy(raw.data() + 1, v, sizeof v);
  VectorBuf b;
  ASSERT_TRUE(DecodeBlob(raw.data() + 1, 12, &b).ok());
  EXPECT_NE(static_cast<const void*>(b.data()), static_cast<const void*>(raw.data() + 1));
  EXPECT_EQ(b.view()[2], 3.0f);
}

TEST(Codec, BlobErrors) {
  VectorBuf b;
  char bytes[10] = {};
  Status st = DecodeBlob(bytes, 10, &b);
  EXPECT_EQ(st.message(), "BLOB of 10 bytes is not a float32 vector: length must be a multiple of 4");
  EXPECT_EQ(DecodeBlob(bytes, 0, &b).message(), "empty vector: expected at least 1 element");
  float nan[2] = {1, NAN};
  EXPECT_EQ(DecodeBlob(nan, 8, &b).message(), "element 1 is NaN: expected a finite number");
  float inf[1] = {-INFINITY};
  EXPECT_EQ(DecodeBlob(inf, 4, &b).message(), "element 0 is infinite: expected a finite number");
  std::vector<float> big(kMaxDims + 1, 1.0f);
  EXPECT_EQ(DecodeBlob(big.data(), big.size() * 4, &b).message(),
            "vector has 65537 dimensions, more than the maximum 65536");
  std::vector<float> max(kMaxDims, 1.0f);
  EXPECT_TRUE(DecodeBlob(max.data(), max.size() * 4, &b).ok());
}

TEST(Codec, JsonRoundTripExact) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> v(257);
  for (float& x : v) x = nd(rng) * 1e3f;
  VectorBuf b;
  ASSERT_TRUE(DecodeJson(EncodeJson(v), &b).ok());
  ASSERT_EQ(b.dims(), v.size());
  EXPECT_EQ(std::memcmp(b.data(), v.data(), v.size() * 4), 0);  // shortest round trip is exact
}

TEST(Codec, JsonAccepted) {
  VectorBuf b;
  ASSERT_TRUE(DecodeJson("  [ 1 , -2.5e0,3E-1 ,0]  ", &b).ok());
  EXPECT_EQ(b.dims(), 4u);
  EXPECT_FLOAT_EQ(b.view()[2], 0.3f);
  ASSERT_TRUE(DecodeJson("[1e-60]", &b).ok());  // underflow to 0 is fine
  EXPECT_EQ(b.view()[0], 0.0f);
}

TEST(Codec, JsonErrors) {
  VectorBuf b;
  EXPECT_EQ(DecodeJson("", &b).message(), "malformed JSON vector: expected '[' at offset 0, found 'end of text'");
  EXPECT_EQ(DecodeJson("{\"a\":1}", &b).message(), "malformed JSON vector: expected '[' at offset 0, found '{\"a\":1}'");
  EXPECT_EQ(DecodeJson("[]", &b).message(), "empty vector: expected at least 1 element");
  EXPECT_EQ(DecodeJson("[1, \"a\"]", &b).message(), "element 1 is not a JSON number: found '\"a\"]'");
  EXPECT_EQ(DecodeJson("[1, NaN]", &b).message(), "element 1 is NaN: expected a finite number");
  EXPECT_EQ(DecodeJson("[1, 2", &b).message(), "malformed JSON vector: unexpected end of text, expected ']'");
  EXPECT_EQ(DecodeJson("[1 2]", &b).message(), "malformed JSON vector: expected ',' or ']' at offset 3, found '2]'");
  EXPECT_EQ(DecodeJson("[1] x", &b).message(), "malformed JSON vector: unexpected 'x' after the closing ']'");
  EXPECT_EQ(DecodeJson("[1e39]", &b).message(), "element 0 is out of range: '1e39' does not fit float32 (largest magnitude 3.4028235e+38)");
  EXPECT_EQ(DecodeJson("[1,]", &b).message(), "element 1 is not a JSON number: found ']'");
}

TEST(Codec, JsonNumbersOutsideFloat32AreErrorsNotZero) {
  VectorBuf b;
  // A failed conversion is overflow or underflow by the number's magnitude, never "0".
  for (const char* big : {"[1e400]", "[-1e999]", "[3.4028236e38]", "[1e39]", "[0.0000000000000000000001e61]",
                          "[1e+99999999999999999999999]", "[123456789012345678901234567890123456789012345]"}) {
    Status st = DecodeJson(big, &b);
    EXPECT_NE(st.message().find("does not fit float32"), std::string::npos) << big << ": " << st.message();
  }
  for (const char* tiny : {"[1e-46]", "[-7e-46]", "[1e-99999999999999999999999]", "[0.0000000000000000000001e-30]"}) {
    ASSERT_TRUE(DecodeJson(tiny, &b).ok()) << tiny;
    EXPECT_EQ(b.view()[0], 0.0f) << tiny;
    EXPECT_EQ(std::signbit(b.view()[0]), tiny[1] == '-') << tiny;
  }
  ASSERT_TRUE(DecodeJson("[3.4028235e38, 1e-45, 0e999999]", &b).ok());
  EXPECT_EQ(b.view()[0], std::numeric_limits<float>::max());
  EXPECT_EQ(b.view()[1], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(b.view()[2], 0.0f);
  EXPECT_EQ(DecodeJson("[-nan]", &b).message(), "element 0 is NaN: expected a finite number");
  EXPECT_EQ(DecodeJson("[inf]", &b).message(), "element 0 is infinite: expected a finite number");
  for (const char* bad : {"[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[0x1]", "[1.e5]", "[-]", "[1f]"}) {
    EXPECT_NE(DecodeJson(bad, &b).message().find("not a JSON number"), std::string::npos) << bad;
  }
}

TEST(Json, NumbersShareTheVectorGrammar) {
  // The option/seed reader takes the same numbers: strict grammar, locale-free, overflow → ±inf
  // (which every caller rejects as non-finite).
  auto v = json::Parse("[1e400, -1e400, 1e-400, 0.5, 12345678901234567890]");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(std::isinf(v->array[0].number) && v->array[0].number > 0);
  EXPECT_TRUE(std::isinf(v->array[1].number) && v->array[1].number < 0);
  EXPECT_EQ(v->array[2].number, 0.0);
  EXPECT_EQ(v->array[3].number, 0.5);
  EXPECT_FALSE(v->array[4].is_int);  // beyond int64
  for (const char* bad : {"01", "1.", ".5", "+1", "1e", "NaN", "-"}) EXPECT_FALSE(json::Parse(bad).ok()) << bad;
  EXPECT_EQ(json::ScanNumber("-0.5e+3,", 0).length, 7u);
  EXPECT_FALSE(json::ScanNumber("-0.5e+3", 0).integral);
  EXPECT_TRUE(json::ScanNumber("-12", 0).integral);
}

TEST(Codec, Metric) {
  EXPECT_EQ(*ParseMetric("COSINE"), Metric::kCosine);
  EXPECT_EQ(*ParseMetric("l2"), Metric::kL2);
  EXPECT_EQ(ParseMetric("l2", false).status().message(), "unknown metric 'l2': expected 'cosine' or 'dot'");
  EXPECT_EQ(ParseMetric("hamming").status().message(), "unknown metric 'hamming': expected 'cosine', 'dot' or 'l2'");
}

TEST(MetricMath, CosineDefinitions) {
  using kernels::CosineDistanceFromParts;
  EXPECT_EQ(CosineDistanceFromParts(0, 0, 4), 1.0f);    // zero query
  EXPECT_EQ(CosineDistanceFromParts(0, 2, 0), 1.0f);    // zero row
  EXPECT_EQ(CosineDistanceFromParts(4.0001f, 2, 4), 0.0f);  // clamped, never negative
  EXPECT_EQ(kernels::L2DistanceFromSquared(-1e-7f), 0.0f);
  EXPECT_EQ(kernels::DotDistance(2.5f), -2.5f);
}

TEST(Distance, PairAndBatchAgree) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (size_t dims : {1u, 3u, 17u, 128u, 769u}) {
    std::vector<float> q(dims), rows(dims * 9);
    for (float& x : q) x = nd(rng);
    for (float& x : rows) x = nd(rng);
    for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
      std::vector<float> out(9), scratch(9);
      BatchDistances(kernels::Kernels(), m, q.data(), static_cast<float>(Norm(q.data(), dims)), rows.data(), 9, dims,
                     out.data(), scratch.data());
      for (size_t r = 0; r < 9; ++r) {
        double pair = PairDistance(m, q.data(), rows.data() + r * dims, dims);
        EXPECT_NEAR(out[r], pair, 1e-4 * (1 + std::fabs(pair))) << MetricName(m) << " dims " << dims;
      }
    }
  }
}

TEST(Distance, OverflowNeverNaN) {
  std::vector<float> a(64, 3e38f), b(64, -3e38f);
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    double d = PairDistance(m, a.data(), b.data(), a.size());
    EXPECT_FALSE(std::isnan(d)) << MetricName(m);
  }
  EXPECT_NEAR(PairDistance(Metric::kCosine, a.data(), b.data(), 64), 2.0, 1e-9);
  EXPECT_NEAR(PairSimilarity(Metric::kCosine, a.data(), a.data(), 64), 1.0, 1e-9);
}

TEST(Distance, OneFloat32RuleForTinyHugeAndOverflowingInput) {
  // Every path (pairwise, batch, streamed row) gives the same float32 value, recomputed in
  // double where float32 loses it, ±inf when the distance is beyond float32.
  const float big = 3e38f;
  const std::vector<std::vector<float>> rows = {
      {1e-30f, 0}, {0, 1}, {0, 0}, {-1e-38f, 1e-38f}, {2e19f, 2e19f}, {1e20f, 1}, {1e-45f, -1e-45f}, {big, big},
      {-big, -big}, {1, 1}};
  const std::vector<std::vector<float>> queries = {{1e-30f, 0}, {1, 0}, {big, -big}, {1e-45f, 0}, {0, 0}, {1, 1}};
  const kernels::KernelTable& kt = kernels::Kernels();
  for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) {
    for (const auto& q : queries) {
      std::vector<float> flat;
      for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
      std::vector<float> out(rows.size()), scratch(rows.size());
      const float qn = static_cast<float>(Norm(q.data(), 2));
      BatchDistances(kt, m, q.data(), qn, flat.data(), rows.size(), 2, out.data(), scratch.data());
      for (size_t r = 0; r < rows.size(); ++r) {
        SCOPED_TRACE(::testing::Message() << MetricName(m) << " q=(" << q[0] << "," << q[1] << ") row " << r);
        const float pair = PairDistance(m, q.data(), rows[r].data(), 2);
        const float row = RowDistance(kt, m, q.data(), qn, rows[r].data(), 2);
        EXPECT_FALSE(std::isnan(pair));
        EXPECT_EQ(row, out[r]);                                  // streamed = batch, bit for bit
        if (std::isinf(pair) || std::isinf(out[r])) EXPECT_EQ(pair, out[r]);
        else EXPECT_NEAR(pair, out[r], 1e-6 * (1 + std::fabs(pair)));  // pairwise kernels may round apart
        EXPECT_FALSE(std::signbit(out[r]) && out[r] == 0.0f);     // never -0
      }
    }
  }
  // Tiny vectors have a direction; the zero vector keeps the zero rule.
  const float tiny[2] = {1e-30f, 0}, up[2] = {0, 1}, zero[2] = {0, 0}, huge[2] = {1e20f, 1}, x[2] = {1, 0};
  EXPECT_EQ(PairDistance(Metric::kCosine, tiny, tiny, 2), 0.0f);
  EXPECT_EQ(PairDistance(Metric::kCosine, tiny, up, 2), 1.0f);
  EXPECT_EQ(PairDistance(Metric::kCosine, zero, tiny, 2), 1.0f);
  EXPECT_EQ(PairDistance(Metric::kCosine, huge, x, 2), 0.0f);
  EXPECT_GT(Norm(tiny, 2), 0.0);
  float unit[2];
  UnitVector(tiny, 2, unit);
  EXPECT_EQ(unit[0], 1.0f);
  EXPECT_EQ(unit[1], 0.0f);
  // An overflowing dot product is −inf, as a float32 distance.
  const float ones[2] = {1, 1}, bigs[2] = {big, big};
  EXPECT_EQ(PairDistance(Metric::kDot, ones, bigs, 2), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(kernels::DotDistance(0.0f), 0.0f);
  EXPECT_FALSE(std::signbit(kernels::DotDistance(0.0f)));
}

TEST(TopK, MatchesSortReference) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> di(0, 20);  // many ties
  for (size_t n : {0u, 1u, 5u, 100u, 5000u}) {
    for (size_t k : {1u, 3u, 10u, 7000u}) {
      std::vector<float> d(n);
      std::vector<int64_t> ids(n);
      for (size_t i = 0; i < n; ++i) {
        d[i] = static_cast<float>(di(rng)) / 4;
        ids[i] = static_cast<int64_t>(n - i) * 3;
      }
      kernels::TopK t(k);
      for (size_t off = 0; off < n; off += 37) t.PushBatch(d.data() + off, ids.data() + off, std::min<size_t>(37, n - off));
      auto got = t.Sorted();
      auto want = kernels::SortTopKReference(d.data(), ids.data(), n, k);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].id, want[i].id);
        EXPECT_EQ(got[i].distance, want[i].distance);
      }
    }
  }
}

TEST(Json, ParsesAndRejects) {
  auto v = json::Parse(R"({"a": [1, 2.5, -3e2], "b": "x\u00e9\n", "c": true, "d": null, "e": 9007199254740993})");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->object.size(), 5u);
  EXPECT_EQ(v->object[0].second.array[2].number, -300);
  EXPECT_EQ(v->object[1].second.string, "x\xc3\xa9\n");
  EXPECT_TRUE(v->object[4].second.is_int);
  EXPECT_EQ(v->object[4].second.integer, 9007199254740993LL);
  auto big = json::Parse("[1e999, -1e999, 1e-999]");
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(std::isinf(big->array[0].number) && big->array[0].number > 0);
  EXPECT_TRUE(std::isinf(big->array[1].number) && big->array[1].number < 0);
  EXPECT_EQ(big->array[2].number, 0.0);
  EXPECT_FALSE(json::Parse("{\"a\":1,}").ok());
  EXPECT_FALSE(json::Parse("[01]").ok());
  EXPECT_FALSE(json::Parse("[1] 2").ok());
  EXPECT_FALSE(json::Parse(std::string(1000, '[')).ok());  // depth cap, no stack overflow
  EXPECT_EQ(json::Parse("nul").status().message(), "malformed JSON at offset 0: expected a value");
}

}  // namespace
}  // namespace vecgraph
