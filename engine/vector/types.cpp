#include "engine/vector/types.h"

#include <strings.h>

#include <charconv>
#include <bit>
#include <cmath>
#include <cstring>

#include "engine/vector/codec.h"
#include "kernels/cpu/distance.h"
#include "kernels/cpu/elem_math.h"

namespace vecgraph {

namespace {

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }
float FromBits(uint32_t x) { return std::bit_cast<float>(x); }

// The largest float32 magnitudes that round to a finite value (to nearest, ties to even):
// float16's max is 65504 = 0x477fe000; 65520 (0x477ff000), the midpoint to 65536, rounds to
// infinity. bfloat16's max is 0x7f7f0000; 0x7f7f8000, the midpoint, rounds to infinity.
constexpr uint32_t kF16Overflow = 0x477ff000u;
constexpr uint32_t kBF16Overflow = 0x7f7f8000u;

Status Dims(size_t dims) {
  if (dims == 0) return Status::InvalidArgument("empty vector: expected at least 1 element");
  if (dims > kMaxDims) {
    return Status::InvalidArgument(StrFormat("vector has %zu dimensions, more than the maximum %zu", dims, kMaxDims));
  }
  return Status::Ok();
}

std::string Shown(float f) {  // the shortest text that reads back as f
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

}  // namespace

const char* ElemTypeName(ElemType t) {
  switch (t) {
    case ElemType::kFloat32: return "float32";
    case ElemType::kFloat16: return "float16";
    case ElemType::kBFloat16: return "bfloat16";
    case ElemType::kInt8: return "int8";
    case ElemType::kBit: return "bit";
  }
  return "?";
}

StatusOr<ElemType> ParseElemType(std::string_view name) {
  auto is = [&](const char* s) { return name.size() == std::strlen(s) && strncasecmp(name.data(), s, name.size()) == 0; };
  if (is("float32") || is("float") || is("f32")) return ElemType::kFloat32;
  if (is("float16") || is("f16")) return ElemType::kFloat16;
  if (is("bfloat16") || is("bf16")) return ElemType::kBFloat16;
  if (is("int8") || is("i8")) return ElemType::kInt8;
  if (is("bit")) return ElemType::kBit;
  std::string shown(name.substr(0, 64));
  return Status::InvalidArgument(StrFormat(
      "unknown vector type '%s': expected 'float32', 'float16', 'bfloat16', 'int8' or 'bit'", shown.c_str()));
}

size_t ElemBytes(ElemType t, size_t dims) {
  switch (t) {
    case ElemType::kFloat32: return dims * 4;
    case ElemType::kFloat16:
    case ElemType::kBFloat16: return dims * 2;
    case ElemType::kInt8: return dims;
    case ElemType::kBit: return dims / 8;
  }
  return 0;
}

StatusOr<size_t> DimsOfBytes(ElemType t, size_t n_bytes) {
  const size_t per = t == ElemType::kFloat32 ? 4 : (t == ElemType::kFloat16 || t == ElemType::kBFloat16) ? 2 : 1;
  if (n_bytes % per != 0) {
    return Status::InvalidArgument(StrFormat("BLOB of %zu bytes is not a %s vector: length must be a multiple of %zu",
                                             n_bytes, ElemTypeName(t), per));
  }
  const size_t dims = t == ElemType::kBit ? n_bytes * 8 : n_bytes / per;
  VG_RETURN_IF_ERROR(Dims(dims));
  return dims;
}

uint16_t F32ToF16(float f) {
  uint32_t x = Bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x < 0x38800000u) {
    // Below float16's smallest normal (2^-14): a subnormal m · 2^-24. Scaling by 2^24 is exact
    // and nearbyint rounds to nearest even; m = 1024 is the smallest normal's bit pattern.
    const float t = FromBits(x) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(t)));
  }
  // Normal: rebias the exponent (127 → 15) and round the 23-bit mantissa to 10 bits, ties to
  // even; a carry out of the mantissa increments the exponent, as it should.
  uint32_t r = x - 0x38000000u;
  r += 0x0fffu + ((r >> 13) & 1u);
  return static_cast<uint16_t>(sign | (r >> 13));
}

float F16ToF32(uint16_t h) { return kernels::HalfToFloat(h); }
float BF16ToF32(uint16_t b) { return kernels::BFloatToFloat(b); }

uint16_t F32ToBF16(float f) {
  const uint32_t x = Bits(f);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

Status EncodeElems(ElemType t, std::span<const float> v, std::vector<uint8_t>* out) {
  VG_RETURN_IF_ERROR(Dims(v.size()));
  if (t == ElemType::kBit && v.size() % 8 != 0) {
    return Status::InvalidArgument(
        StrFormat("a bit vector's dimension must be a multiple of 8, found %zu elements", v.size()));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Status::InvalidArgument(
          StrFormat("element %zu is %s: expected a finite number", i, std::isnan(v[i]) ? "NaN" : "infinite"));
    }
  }
  out->assign(ElemBytes(t, v.size()), 0);
  uint8_t* o = out->data();
  switch (t) {
    case ElemType::kFloat32: std::memcpy(o, v.data(), v.size() * 4); break;
    case ElemType::kFloat16:
    case ElemType::kBFloat16: {
      const bool half = t == ElemType::kFloat16;
      for (size_t i = 0; i < v.size(); ++i) {
        if ((Bits(v[i]) & 0x7fffffffu) >= (half ? kF16Overflow : kBF16Overflow)) {
          return Status::InvalidArgument(StrFormat("element %zu is %s: beyond %s's range (largest %s)", i,
                                                   Shown(v[i]).c_str(), ElemTypeName(t),
                                                   half ? "±65504" : "±3.3895314e38"));
        }
        const uint16_t h = half ? F32ToF16(v[i]) : F32ToBF16(v[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      break;
    }
    case ElemType::kInt8:
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != std::trunc(v[i]) || v[i] < -128.0f || v[i] > 127.0f) {
          return Status::InvalidArgument(StrFormat("element %zu is %s: an int8 element must be an integer in -128..127 "
                                                   "(vec_quantize_int8 scales and rounds)",
                                                   i, Shown(v[i]).c_str()));
        }
        o[i] = static_cast<uint8_t>(static_cast<int8_t>(v[i]));
      }
      break;
    case ElemType::kBit:
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != 0.0f && v[i] != 1.0f) {
          return Status::InvalidArgument(StrFormat(
              "element %zu is %s: a bit element must be 0 or 1 (vec_quantize_binary takes signs)", i, Shown(v[i]).c_str()));
        }
        o[i / 8] |= static_cast<uint8_t>((v[i] == 1.0f) << (i % 8));
      }
      break;
  }
  return Status::Ok();
}

Status DecodeElems(ElemType t, const uint8_t* bytes, size_t dims, float* out) {
  switch (t) {
    case ElemType::kFloat32:
      std::memcpy(out, bytes, dims * 4);
      return CheckFinite({out, dims});
    case ElemType::kFloat16:
    case ElemType::kBFloat16: {
      const bool half = t == ElemType::kFloat16;
      for (size_t i = 0; i < dims; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        const bool special = half ? (h & 0x7c00u) == 0x7c00u : (h & 0x7f80u) == 0x7f80u;
        if (special) {
          const bool nan = half ? (h & 0x03ffu) != 0 : (h & 0x007fu) != 0;
          return Status::InvalidArgument(
              StrFormat("element %zu is %s: expected a finite number", i, nan ? "NaN" : "infinite"));
        }
        out[i] = half ? F16ToF32(h) : BF16ToF32(h);
      }
      return Status::Ok();
    }
    case ElemType::kInt8:
      for (size_t i = 0; i < dims; ++i) out[i] = static_cast<float>(static_cast<int8_t>(bytes[i]));
      return Status::Ok();
    case ElemType::kBit:
      for (size_t i = 0; i < dims; ++i) out[i] = static_cast<float>((bytes[i / 8] >> (i % 8)) & 1u);
      return Status::Ok();
  }
  return Status::Internal("unknown element type");
}

Status QuantizeInt8(std::span<const float> v, double range, std::vector<uint8_t>* out) {
  VG_RETURN_IF_ERROR(Dims(v.size()));
  VG_RETURN_IF_ERROR(CheckFinite(v));
  if (!std::isfinite(range) || range <= 0) {
    return Status::InvalidArgument(StrFormat("range must be a finite number > 0, found %g", range));
  }
  out->resize(v.size());
  const double scale = 127.0 / range;
  for (size_t i = 0; i < v.size(); ++i) {
    double q = std::nearbyint(static_cast<double>(v[i]) * scale);
    q = std::fmin(127.0, std::fmax(-127.0, q));
    (*out)[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
  }
  return Status::Ok();
}

Status QuantizeBinary(std::span<const float> v, std::vector<uint8_t>* out) {
  VG_RETURN_IF_ERROR(Dims(v.size()));
  VG_RETURN_IF_ERROR(CheckFinite(v));
  if (v.size() % 8 != 0) {
    return Status::InvalidArgument(
        StrFormat("a bit vector's dimension must be a multiple of 8, found %zu elements", v.size()));
  }
  out->assign(v.size() / 8, 0);
  for (size_t i = 0; i < v.size(); ++i) (*out)[i / 8] |= static_cast<uint8_t>((v[i] > 0.0f) << (i % 8));
  return Status::Ok();
}

uint64_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t n_bytes) {
  return kernels::Kernels().hamming(a, b, n_bytes);
}

double JaccardDistance(const uint8_t* a, const uint8_t* b, size_t n_bytes) {
  uint64_t both = 0, either = 0;
  for (size_t i = 0; i < n_bytes; ++i) {
    both += static_cast<uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] & b[i])));
    either += static_cast<uint64_t>(__builtin_popcount(static_cast<unsigned>(a[i] | b[i])));
  }
  return either == 0 ? 0.0 : 1.0 - static_cast<double>(both) / static_cast<double>(either);
}

}  // namespace vecgraph
