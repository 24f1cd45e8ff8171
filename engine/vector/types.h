// engine/vector/types.h — element types of a vector and the conversions between them.
//
// A vector's elements are one of:
//   float32   4 bytes, IEEE binary32 little-endian (the format of every float BLOB so far)
//   float16   2 bytes, IEEE binary16 LE (±65504, 11 significant bits, subnormals kept)
//   bfloat16  2 bytes, the upper half of a binary32 LE (float32's range, 8 significant bits)
//   int8      1 byte, two's complement, −128..127
//   bit       packed: element i is bit (i mod 8) of byte i / 8 (least significant bit first, as
//             sqlite-vec packs); the dimension is 8 × the byte count
// Every float16, bfloat16 and int8 value is exactly a float32, so numeric vectors of any type
// convert to float32 without loss and every metric is computed in float32 (or wider) on the
// converted elements: the same distance whatever the stored type.
//
// Converting into a narrower type never hides a problem: NaN and ±infinity are refused (as in
// float32 vectors), a float32 value beyond float16's or bfloat16's finite range after rounding is
// an error (not infinity), an int8 element must be an integer in −128..127 and a bit element 0
// or 1. Rounding into float16 and bfloat16 is to nearest, ties to even. The two lossy encodings
// are explicit: QuantizeInt8 (scale, round, clamp) and QuantizeBinary (sign bits).
// Messages name the element ("element 3 is 70000: beyond float16's range ±65504").
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace vecgraph {

enum class ElemType : uint8_t { kFloat32 = 0, kFloat16, kBFloat16, kInt8, kBit };
inline constexpr int kElemTypeCount = 5;

// "float32", "float16", "bfloat16", "int8", "bit".
const char* ElemTypeName(ElemType t);
// Accepts the names above and the aliases float / f32, f16, bf16, i8 (case-insensitive).
StatusOr<ElemType> ParseElemType(std::string_view name);

// Bytes of `dims` elements (bit: dims / 8; dims must then be a multiple of 8).
size_t ElemBytes(ElemType t, size_t dims);
// Elements in n_bytes of type t; an error when n_bytes is not a whole number of elements or is 0.
StatusOr<size_t> DimsOfBytes(ElemType t, size_t n_bytes);

// Scalar element conversions (bit-exact; the references the SIMD kernels are tested against).
// F32ToF16 / F32ToBF16 expect a finite value inside the type's range (CheckConvertible).
uint16_t F32ToF16(float f);
float F16ToF32(uint16_t h);
uint16_t F32ToBF16(float f);
float BF16ToF32(uint16_t b);

// Encodes float32 elements as type t into out (resized to ElemBytes). Errors as described above.
Status EncodeElems(ElemType t, std::span<const float> v, std::vector<uint8_t>* out);

// Decodes dims elements of type t from bytes into float32 (bit: 0 or 1). Checks float16 and
// bfloat16 elements are finite (a hostile BLOB can hold NaN patterns).
Status DecodeElems(ElemType t, const uint8_t* bytes, size_t dims, float* out);

// int8 scalar quantization: q = clamp(round(x · 127 / range), −127, 127), ties to even, so 0
// stays 0 and the code is symmetric (values beyond ±range clamp; documented as lossy).
// range must be finite and > 0.
Status QuantizeInt8(std::span<const float> v, double range, std::vector<uint8_t>* out);
// Binary quantization: bit i = (v[i] > 0). v.size() must be a multiple of 8.
Status QuantizeBinary(std::span<const float> v, std::vector<uint8_t>* out);

// Bit metrics over packed vectors of n_bytes each.
uint64_t HammingDistance(const uint8_t* a, const uint8_t* b, size_t n_bytes);
// 1 − |a ∧ b| / |a ∨ b|; 0 when both vectors have no bit set (they are equal).
double JaccardDistance(const uint8_t* a, const uint8_t* b, size_t n_bytes);

}  // namespace vecgraph
