// engine/hnsw/hnsw_format.cpp — header and node-record codecs (layouts in hnsw_format.h).
//
// Everything read from bytes is bounds-checked before use: a record from a hostile database file
// can only produce Status::Corruption, never a read past its end.
#include "engine/hnsw/hnsw_format.h"

#include <bit>
#include <cstring>

namespace vecgraph::hnsw {

static_assert(std::endian::native == std::endian::little,
              "hnsw persistence writes little-endian integers and floats with memcpy");

namespace {

template <typename T>
void Put(std::vector<uint8_t>* out, T v) {
  size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

std::vector<uint8_t> HnswHeader::Encode() const {
  std::vector<uint8_t> out;
  out.reserve(kHnswHeaderBytes);
  Put<uint32_t>(&out, kHnswMagic);
  Put<uint32_t>(&out, format_version);
  Put<uint32_t>(&out, dim);
  Put<uint8_t>(&out, static_cast<uint8_t>(metric));
  Put<uint8_t>(&out, keep_pruned_connections ? kHeaderFlagKeepPruned : 0);
  Put<uint16_t>(&out, static_cast<uint16_t>(M));
  Put<uint32_t>(&out, ef_construction);
  Put<uint32_t>(&out, ef_search);
  Put<uint64_t>(&out, seed);
  Put<int64_t>(&out, entry_rowid);
  Put<uint32_t>(&out, max_level);
  Put<uint8_t>(&out, static_cast<uint8_t>(quantizer));
  Put<uint8_t>(&out, 0);
  Put<uint16_t>(&out, static_cast<uint16_t>(rescore));
  Put<uint64_t>(&out, node_count);
  Put<uint64_t>(&out, live_count);
  return out;
}

StatusOr<HnswHeader> HnswHeader::Decode(std::span<const uint8_t> b) {
  if (b.size() != kHnswHeaderBytes) {
    return Status::Corruption(StrFormat("hnsw: header has %zu bytes, expected %zu", b.size(), kHnswHeaderBytes));
  }
  const uint8_t* p = b.data();
  if (Get<uint32_t>(p) != kHnswMagic) return Status::Corruption("hnsw: header has a bad magic number");
  HnswHeader h;
  h.format_version = Get<uint32_t>(p + 4);
  if (h.format_version != kHnswFormatVersion) {
    return Status::Corruption(StrFormat("hnsw: header format version %u is not supported (expected %u)",
                                        h.format_version, kHnswFormatVersion));
  }
  h.dim = Get<uint32_t>(p + 8);
  uint8_t metric = p[12];
  if (metric > static_cast<uint8_t>(Metric::kL2)) {
    return Status::Corruption(StrFormat("hnsw: header has unknown metric %u", metric));
  }
  h.metric = static_cast<Metric>(metric);
  uint8_t flags = p[13];
  if ((flags & ~kHeaderFlagKeepPruned) != 0) {
    return Status::Corruption(StrFormat("hnsw: header has unknown flags 0x%02x", flags));
  }
  h.keep_pruned_connections = (flags & kHeaderFlagKeepPruned) != 0;
  h.M = Get<uint16_t>(p + 14);
  h.ef_construction = Get<uint32_t>(p + 16);
  h.ef_search = Get<uint32_t>(p + 20);
  h.seed = Get<uint64_t>(p + 24);
  h.entry_rowid = Get<int64_t>(p + 32);
  h.max_level = Get<uint32_t>(p + 40);
  if (p[44] > kMaxQuantizer) return Status::Corruption(StrFormat("hnsw: header has unknown quantizer %u", p[44]));
  h.quantizer = static_cast<Quantizer>(p[44]);
  if (p[45] != 0) return Status::Corruption("hnsw: header reserved field (offset 45) is not zero");
  h.rescore = Get<uint16_t>(p + 46);
  h.node_count = Get<uint64_t>(p + 48);
  h.live_count = Get<uint64_t>(p + 56);
  Status st = h.ToConfig().Validate();
  if (!st.ok()) return Status::Corruption("hnsw: header: " + st.message());
  if (h.max_level > static_cast<uint32_t>(kMaxLevel)) {
    return Status::Corruption(StrFormat("hnsw: header max level %u exceeds %d", h.max_level, kMaxLevel));
  }
  if (h.live_count > h.node_count) {
    return Status::Corruption(StrFormat("hnsw: header counts %llu live nodes but only %llu records",
                                        static_cast<unsigned long long>(h.live_count),
                                        static_cast<unsigned long long>(h.node_count)));
  }
  if (h.node_count > kMaxNodes) {
    return Status::Corruption(StrFormat("hnsw: header node count %llu exceeds the limit",
                                        static_cast<unsigned long long>(h.node_count)));
  }
  return h;
}

HnswConfig HnswHeader::ToConfig() const {
  HnswConfig c;
  c.dim = dim;
  c.metric = metric;
  c.M = M;
  c.ef_construction = ef_construction;
  c.ef_search = ef_search;
  c.seed = seed;
  c.keep_pruned_connections = keep_pruned_connections;
  c.quantizer = quantizer;
  c.rescore = rescore;
  return c;
}

Status DecodeNodeRecord(std::span<const uint8_t> b, int64_t row_rowid, uint32_t max_links0,
                        uint32_t max_links, NodeRecord* out) {
  auto bad = [&](const std::string& what) {
    return Status::Corruption(StrFormat("hnsw: node %lld: ", static_cast<long long>(row_rowid)) + what);
  };
  if (b.size() < kNodeRecordFixedBytes) {
    return bad(StrFormat("record truncated: %zu bytes, at least %zu expected", b.size(), kNodeRecordFixedBytes));
  }
  const uint8_t* p = b.data();
  if (p[0] != kHnswRecordVersion) return bad(StrFormat("record version %u is not supported", p[0]));
  if ((p[1] & ~kNodeFlagDeleted) != 0) return bad(StrFormat("record has unknown flags 0x%02x", p[1]));
  if (p[3] != 0) return bad("record reserved byte is not zero");
  out->deleted = (p[1] & kNodeFlagDeleted) != 0;
  out->level = p[2];
  if (out->level > kMaxLevel) return bad(StrFormat("level %d exceeds the maximum %d", out->level, kMaxLevel));
  out->rowid = Get<int64_t>(p + 4);
  if (out->rowid != row_rowid) {
    return bad(StrFormat("record names rowid %lld", static_cast<long long>(out->rowid)));
  }
  out->counts.clear();
  out->links.clear();
  size_t at = kNodeRecordFixedBytes;
  for (int l = 0; l <= out->level; ++l) {
    if (b.size() - at < 2) return bad(StrFormat("record truncated at level %d (byte %zu)", l, at));
    uint32_t count = Get<uint16_t>(p + at);
    at += 2;
    uint32_t cap = l == 0 ? max_links0 : max_links;
    if (count > cap) return bad(StrFormat("level %d has %u links, at most %u allowed", l, count, cap));
    if ((b.size() - at) / 8 < count) {
      return bad(StrFormat("record truncated in the links of level %d (byte %zu)", l, at));
    }
    out->counts.push_back(count);
    for (uint32_t j = 0; j < count; ++j, at += 8) out->links.push_back(Get<int64_t>(p + at));
  }
  if (at != b.size()) return bad(StrFormat("record has %zu trailing bytes", b.size() - at));
  return Status::Ok();
}

void EncodeNodeRecord(int64_t rowid, bool deleted, int level,
                      const std::vector<std::span<const int64_t>>& links, std::vector<uint8_t>* out) {
  Put<uint8_t>(out, kHnswRecordVersion);
  Put<uint8_t>(out, deleted ? kNodeFlagDeleted : 0);
  Put<uint8_t>(out, static_cast<uint8_t>(level));
  Put<uint8_t>(out, 0);
  Put<int64_t>(out, rowid);
  for (int l = 0; l <= level; ++l) {
    std::span<const int64_t> ls = links[static_cast<size_t>(l)];
    Put<uint16_t>(out, static_cast<uint16_t>(ls.size()));
    for (int64_t r : ls) Put<int64_t>(out, r);
  }
}

}  // namespace vecgraph::hnsw
