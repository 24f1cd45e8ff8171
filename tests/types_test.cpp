// Vector element types (engine/vector/types.h): conversions against independent references
// (nearest representable value by search, ties to even), range errors, packing, quantizers and
// the bit metrics against plain loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/vector/types.h"

namespace vecgraph {
namespace {

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }
float FromBits(uint32_t x) { return std::bit_cast<float>(x); }

// Every finite non-negative float16 value in increasing order (index = bit pattern).
const std::vector<double>& F16Values() {
  static const std::vector<double> v = [] {
    std::vector<double> out;
    for (uint32_t h = 0; h < 0x7c00; ++h) {
      const uint32_t e = h >> 10, m = h & 0x3ff;
      out.push_back(e == 0 ? std::ldexp(static_cast<double>(m), -24)
                           : std::ldexp(1.0 + static_cast<double>(m) / 1024.0, static_cast<int>(e) - 15));
    }
    return out;
  }();
  return v;
}

// The float16 nearest to f (ties to the even pattern), by search over every value.
uint16_t F16Reference(float f) {
  const std::vector<double>& v = F16Values();
  const double a = std::fabs(static_cast<double>(f));
  const auto it = std::lower_bound(v.begin(), v.end(), a);
  size_t hi = static_cast<size_t>(it - v.begin());
  size_t best;
  if (hi == 0) {
    best = 0;
  } else if (hi == v.size()) {
    best = v.size() - 1;
  } else {
    const double dl = a - v[hi - 1], dh = v[hi] - a;
    best = dl < dh ? hi - 1 : dh < dl ? hi : ((hi - 1) % 2 == 0 ? hi - 1 : hi);
  }
  return static_cast<uint16_t>(best | (std::signbit(f) ? 0x8000u : 0u));
}

uint16_t BF16Reference(float f) {
  const uint32_t x = Bits(f);
  const uint32_t lo = x & 0xffff0000u, hi = lo + 0x10000u;
  const double a = std::fabs(static_cast<double>(f));
  const double dl = a - std::fabs(static_cast<double>(FromBits(lo))), dh = std::fabs(static_cast<double>(FromBits(hi))) - a;
  const uint32_t pick = dl < dh ? lo : dh < dl ? hi : (((lo >> 16) & 1u) == 0 ? lo : hi);
  return static_cast<uint16_t>(pick >> 16);
}

TEST(ElemTypes, NamesSizesAndDims) {
  for (int i = 0; i < kElemTypeCount; ++i) {
    const ElemType t = static_cast<ElemType>(i);
    auto p = ParseElemType(ElemTypeName(t));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, t);
  }
  EXPECT_EQ(*ParseElemType("F16"), ElemType::kFloat16);
  EXPECT_EQ(*ParseElemType("float"), ElemType::kFloat32);
  EXPECT_EQ(ParseElemType("int4").status().message(),
            "unknown vector type 'int4': expected 'float32', 'float16', 'bfloat16', 'int8' or 'bit'");
  EXPECT_EQ(ElemBytes(ElemType::kFloat32, 3), 12u);
  EXPECT_EQ(ElemBytes(ElemType::kBFloat16, 3), 6u);
  EXPECT_EQ(ElemBytes(ElemType::kInt8, 3), 3u);
  EXPECT_EQ(ElemBytes(ElemType::kBit, 16), 2u);
  EXPECT_EQ(*DimsOfBytes(ElemType::kBit, 2), 16u);
  EXPECT_EQ(*DimsOfBytes(ElemType::kFloat16, 6), 3u);
  EXPECT_EQ(DimsOfBytes(ElemType::kFloat16, 5).status().message(),
            "BLOB of 5 bytes is not a float16 vector: length must be a multiple of 2");
  EXPECT_EQ(DimsOfBytes(ElemType::kInt8, 0).status().message(), "empty vector: expected at least 1 element");
  EXPECT_EQ(DimsOfBytes(ElemType::kBit, 8193).status().message(),
            "vector has 65544 dimensions, more than the maximum 65536");
  EXPECT_TRUE(DimsOfBytes(ElemType::kBit, 8192).ok());
}

TEST(ElemTypes, Float16EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;  // inf / NaN
    const float f = F16ToF32(static_cast<uint16_t>(h));
    EXPECT_EQ(static_cast<double>(f) * ((h & 0x8000u) ? -1 : 1), F16Values()[h & 0x7fffu]) << h;
    ASSERT_EQ(F32ToF16(f), h) << h;
  }
}

TEST(ElemTypes, Float16RoundsToNearestEven) {
  std::mt19937 rng(5);
  std::vector<float> cases = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.996f, -65519.996f, 1e-8f, 2.9802322e-8f,
                              2.9802326e-8f, 5.9604645e-8f, 6.1035156e-5f, 6.1035152e-5f, 1e-45f, 0.1f, 1.0009766f,
                              1.0004883f, 1.0014648f, 2048.0f, 2049.0f, 2051.0f};
  // Midpoints between neighbouring float16 values: the ties.
  for (uint32_t h = 0; h + 1 < 0x7c00; h += 97) {
    const double mid = (F16Values()[h] + F16Values()[h + 1]) / 2;
    cases.push_back(static_cast<float>(mid));
  }
  std::uniform_real_distribution<float> u(-65519.0f, 65519.0f);
  std::uniform_int_distribution<int> e(-30, 15);
  for (int i = 0; i < 20000; ++i) cases.push_back(std::ldexp(u(rng) / 65536.0f, e(rng)));
  for (float f : cases) {
    ASSERT_TRUE(std::fabs(f) < 65520.0f);
    EXPECT_EQ(F32ToF16(f), F16Reference(f)) << f;
  }
}

TEST(ElemTypes, BFloat16RoundsToNearestEvenAndRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if ((b & 0x7f80u) == 0x7f80u) continue;
    ASSERT_EQ(F32ToBF16(BF16ToF32(static_cast<uint16_t>(b))), b);
  }
  std::mt19937 rng(6);
  std::uniform_int_distribution<uint32_t> u(0, 0x7f7effffu);
  for (int i = 0; i < 50000; ++i) {
    float f = FromBits(u(rng) | (i % 2 ? 0x80000000u : 0u));
    if (i % 5 == 0) f = FromBits((Bits(f) & 0xffff0000u) | 0x8000u);  // an exact tie
    EXPECT_EQ(F32ToBF16(f), BF16Reference(f)) << f;
  }
}

TEST(ElemTypes, EncodeRefusesWhatDoesNotFit) {
  std::vector<uint8_t> out;
  auto msg = [&](ElemType t, std::vector<float> v) { return EncodeElems(t, v, &out).message(); };
  EXPECT_TRUE(EncodeElems(ElemType::kFloat16, std::vector<float>{65504.0f, -65519.99f}, &out).ok());
  EXPECT_EQ(msg(ElemType::kFloat16, {1, 65520.0f}), "element 1 is 65520: beyond float16's range (largest ±65504)");
  EXPECT_EQ(msg(ElemType::kFloat16, {-1e30f}), "element 0 is -1e+30: beyond float16's range (largest ±65504)");
  EXPECT_TRUE(EncodeElems(ElemType::kBFloat16, std::vector<float>{3.38e38f, -1e-40f}, &out).ok());
  EXPECT_EQ(msg(ElemType::kBFloat16, {std::numeric_limits<float>::max()}),
            "element 0 is 3.4028235e+38: beyond bfloat16's range (largest ±3.3895314e38)");
  EXPECT_EQ(msg(ElemType::kFloat16, {std::nanf("")}), "element 0 is NaN: expected a finite number");
  EXPECT_EQ(msg(ElemType::kInt8, {1, std::numeric_limits<float>::infinity()}),
            "element 1 is infinite: expected a finite number");
  EXPECT_EQ(msg(ElemType::kInt8, {1.5f}),
            "element 0 is 1.5: an int8 element must be an integer in -128..127 (vec_quantize_int8 scales and rounds)");
  EXPECT_EQ(msg(ElemType::kInt8, {128}),
            "element 0 is 128: an int8 element must be an integer in -128..127 (vec_quantize_int8 scales and rounds)");
  ASSERT_TRUE(EncodeElems(ElemType::kInt8, std::vector<float>{-128, 127, -0.0f}, &out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0x80, 0x7f, 0x00}));
  EXPECT_EQ(msg(ElemType::kBit, {1, 0, 1}), "a bit vector's dimension must be a multiple of 8, found 3 elements");
  EXPECT_EQ(msg(ElemType::kBit, {1, 0, 1, 0, 0, 0, 0, 2}),
            "element 7 is 2: a bit element must be 0 or 1 (vec_quantize_binary takes signs)");
  ASSERT_TRUE(EncodeElems(ElemType::kBit, std::vector<float>{1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}, &out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0x81, 0x02}));  // element i is bit i % 8 of byte i / 8
  EXPECT_EQ(msg(ElemType::kFloat16, {}), "empty vector: expected at least 1 element");
}

TEST(ElemTypes, DecodeChecksHostileBytes) {
  float f[2];
  const uint8_t f16_inf[] = {0x00, 0x7c}, f16_nan[] = {0x01, 0x7e}, bf16_nan[] = {0xc1, 0x7f};
  EXPECT_EQ(DecodeElems(ElemType::kFloat16, f16_inf, 1, f).message(), "element 0 is infinite: expected a finite number");
  EXPECT_EQ(DecodeElems(ElemType::kFloat16, f16_nan, 1, f).message(), "element 0 is NaN: expected a finite number");
  EXPECT_EQ(DecodeElems(ElemType::kBFloat16, bf16_nan, 1, f).message(), "element 0 is NaN: expected a finite number");
  const uint8_t i8[] = {0x80, 0x7f};
  ASSERT_TRUE(DecodeElems(ElemType::kInt8, i8, 2, f).ok());
  EXPECT_EQ(f[0], -128.0f);
  EXPECT_EQ(f[1], 127.0f);
  const uint8_t f16_sub[] = {0x01, 0x00, 0xff, 0xfb};  // smallest subnormal, -65504
  ASSERT_TRUE(DecodeElems(ElemType::kFloat16, f16_sub, 2, f).ok());
  EXPECT_EQ(f[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(f[1], -65504.0f);
}

TEST(ElemTypes, Quantizers) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(QuantizeInt8(std::vector<float>{0, 1, -1, 2, -2, 0.3f}, 1.0, &out).ok());
  std::vector<int8_t> got(out.begin(), out.end());
  EXPECT_EQ(got, (std::vector<int8_t>{0, 127, -127, 127, -127, 38}));  // beyond ±range clamps to ±127
  ASSERT_TRUE(QuantizeInt8(std::vector<float>{0.5f, 1.5f, 2.5f, -0.5f, 126.5f}, 127.0, &out).ok());
  got.assign(out.begin(), out.end());
  EXPECT_EQ(got, (std::vector<int8_t>{0, 2, 2, 0, 126}));  // ties to even
  ASSERT_TRUE(QuantizeInt8(std::vector<float>{10, -5}, 10.0, &out).ok());
  EXPECT_EQ(static_cast<int8_t>(out[0]), 127);
  EXPECT_EQ(static_cast<int8_t>(out[1]), -64);  // -63.5 → -64 (even)
  EXPECT_EQ(QuantizeInt8(std::vector<float>{1}, 0.0, &out).message(), "range must be a finite number > 0, found 0");
  EXPECT_EQ(QuantizeInt8(std::vector<float>{1}, std::nan(""), &out).message(),
            "range must be a finite number > 0, found nan");
  ASSERT_TRUE(QuantizeBinary(std::vector<float>{1, -1, 0, -0.0f, 1e-30f, -3, 2, 0}, &out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0x51}));
  EXPECT_EQ(QuantizeBinary(std::vector<float>{1, 2}, &out).message(),
            "a bit vector's dimension must be a multiple of 8, found 2 elements");
}

TEST(ElemTypes, BitMetricsAgreeWithPlainLoops) {
  std::mt19937 rng(9);
  for (size_t bytes = 1; bytes <= 140; bytes += (bytes < 20 ? 1 : 13)) {
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<uint8_t> a(bytes), b(bytes);
      for (auto& x : a) x = static_cast<uint8_t>(rng());
      for (auto& x : b) x = rep == 3 ? 0 : static_cast<uint8_t>(rng());
      if (rep == 3) std::fill(a.begin(), a.end(), 0);
      uint64_t ham = 0, both = 0, either = 0;
      for (size_t i = 0; i < bytes * 8; ++i) {
        const int x = (a[i / 8] >> (i % 8)) & 1, y = (b[i / 8] >> (i % 8)) & 1;
        ham += x != y;
        both += x & y;
        either += x | y;
      }
      EXPECT_EQ(HammingDistance(a.data(), b.data(), bytes), ham);
      EXPECT_DOUBLE_EQ(JaccardDistance(a.data(), b.data(), bytes),
                       either == 0 ? 0.0 : 1.0 - static_cast<double>(both) / static_cast<double>(either));
    }
  }
}

}  // namespace
}  // namespace vecgraph
