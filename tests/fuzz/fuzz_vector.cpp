// tests/fuzz/fuzz_vector.cpp — the vector parsers: vecgraph::DecodeJson and DecodeBlob
// (engine/vector/codec.h), which read every vector SQL hands to vecgraph.
//
// Each input is tried both ways, as JSON text and as a float32 BLOB. Checked besides "no crash,
// no sanitizer report":
//   JSON  success ⇒ 1..kMaxDims elements, all finite; EncodeJson(v) decodes again to v bit for
//         bit (-0 stays -0, denormals stay); encoding is a fixed point (encode(decode(encode(v)))
//         is the same text). The one JSON number grammar is shared with json::Parse, so a text
//         json::Parse reads as a flat array of 1..kMaxDims numbers that fit float32 must decode.
//   BLOB  success ⇔ length a multiple of 4, 1..kMaxDims floats, all finite; on success the
//         decoded floats are the input bytes, aligned (borrowed) or not (copied); EncodeJson of
//         it decodes back bit for bit.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/json.h"
#include "engine/vector/codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vecgraph::VectorBuf;

bool SameBits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void CheckDecoded(std::span<const float> v, const char* how) {
  FUZZ_CHECK(v.size() >= 1 && v.size() <= vecgraph::kMaxDims, "%s: decoded %zu elements", how, v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    FUZZ_CHECK(std::isfinite(v[i]), "%s: element %zu is not finite (%g)", how, i, static_cast<double>(v[i]));
  }
  // JSON round trip, bit for bit.
  std::string text = vecgraph::EncodeJson(v);
  VectorBuf again;
  vecgraph::Status st = vecgraph::DecodeJson(text, &again);
  FUZZ_CHECK(st.ok(), "%s: DecodeJson(EncodeJson(v)) failed: %s (text %.200s)", how, st.message().c_str(),
             text.c_str());
  FUZZ_CHECK(SameBits(v, again.view()), "%s: DecodeJson(EncodeJson(v)) differs from v (text %.200s)", how,
             text.c_str());
  FUZZ_CHECK(vecgraph::EncodeJson(again.view()) == text, "%s: EncodeJson is not a fixed point", how);
}

void FuzzJson(std::string_view text) {
  VectorBuf v;
  vecgraph::Status st = vecgraph::DecodeJson(text, &v);
  if (st.ok()) {
    FUZZ_CHECK(!st.message().size(), "ok status with a message");
    CheckDecoded(v.view(), "json");
  } else {
    FUZZ_CHECK(!st.message().empty(), "DecodeJson failed without a message");
  }
  // Cross-check with the general JSON reader: a flat array of numbers within float32 range
  // (clear of the rounding boundary at FLT_MAX) must be accepted by the vector decoder too.
  if (text.size() > 4096) return;  // keep the cross-check cheap
  auto parsed = vecgraph::json::Parse(text);
  if (!parsed.ok() || !parsed->IsArray()) return;
  const auto& arr = parsed->array;
  if (arr.empty() || arr.size() > vecgraph::kMaxDims) return;
  for (const auto& e : arr) {
    if (!e.IsNumber() || !std::isfinite(e.number) || std::fabs(e.number) > 3.4e38) return;
  }
  FUZZ_CHECK(st.ok(), "json::Parse reads a flat array of %zu numbers but DecodeJson fails: %s (text %.200s)",
             arr.size(), st.message().c_str(), std::string(text.substr(0, 200)).c_str());
  FUZZ_CHECK(v.dims() == arr.size(), "json::Parse sees %zu elements, DecodeJson %zu", arr.size(), v.dims());
}

void FuzzBlob(const uint8_t* data, size_t size, bool aligned_copy) {
  // libFuzzer's buffer is malloc'd (aligned); an offset of 1 byte exercises the copying path.
  std::vector<uint8_t> storage(size + 8);
  uint8_t* p = storage.data() + (aligned_copy ? 0 : 1);
  if (size) std::memcpy(p, data, size);
  VectorBuf v;
  vecgraph::Status st = vecgraph::DecodeBlob(p, size, &v);
  bool expect_ok = size % 4 == 0 && size >= 4 && size / 4 <= vecgraph::kMaxDims;
  for (size_t i = 0; expect_ok && i + 4 <= size; i += 4) {
    float f;
    std::memcpy(&f, p + i, 4);
    if (!std::isfinite(f)) expect_ok = false;
  }
  FUZZ_CHECK(st.ok() == expect_ok, "DecodeBlob(%zu bytes, %s) returned %s, expected %s", size,
             aligned_copy ? "aligned" : "unaligned", st.ok() ? "ok" : st.message().c_str(),
             expect_ok ? "ok" : "an error");
  if (!st.ok()) return;
  FUZZ_CHECK(v.dims() * 4 == size, "DecodeBlob: %zu floats from %zu bytes", v.dims(), size);
  FUZZ_CHECK(std::memcmp(v.data(), p, size) == 0, "DecodeBlob: decoded floats differ from the input bytes");
  CheckDecoded(v.view(), "blob");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzJson(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzBlob(data, size, true);
  FuzzBlob(data, size, false);
  return 0;
}
