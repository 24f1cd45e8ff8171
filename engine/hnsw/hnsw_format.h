// engine/hnsw/hnsw_format.h — persistence formats of the HNSW index: the header and the per-node
// record, as the SQL layer stores them (one shadow-table row for the header, one per node).
//
// Header (HnswHeader::Encode, 64 bytes, little-endian):
//   0  u32 magic 'VGHN' (0x4E484756)      4  u32 format_version (kHnswFormatVersion)
//   8  u32 dim                            12 u8 metric (0 cosine, 1 dot, 2 l2)  13 u8 flags
//                                            (bit 0 keep_pruned_connections)     14 u16 M
//   16 u32 ef_construction                20 u32 ef_search
//   24 u64 seed                           32 i64 entry rowid (meaningless when live_count = 0)
//   40 u32 max_level (level of the entry) 44 u8 quantizer (0 auto, 1 none, 2 int8; 0 before 0.2)
//                                         45 u8 reserved (0)  46 u16 rescore (0: all; 0 before 0.2)
//   48 u64 node_count (records, tombstones included)  56 u64 live_count
//
// Node record (EncodeNode; the vector is stored beside it as a float32 BLOB of dim × 4 bytes):
//   0 u8 record version (kHnswRecordVersion)   1 u8 flags (bit 0: deleted / tombstone)
//   2 u8 level L                                3 u8 reserved (0)
//   4 i64 rowid (must equal the row's rowid)
//   then for each level l = 0..L: u16 count, then count × i64 neighbour rowids (in link order).
//   The record ends exactly there. Neighbours are ROWIDS, not internal ids: internal ids are
//   reassigned on every load and compaction, rowids stay valid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/hnsw/hnsw_config.h"

namespace vecgraph::hnsw {

inline constexpr uint32_t kHnswMagic = 0x4E484756u;  // "VGHN" little-endian
inline constexpr uint32_t kHnswFormatVersion = 1;
inline constexpr uint8_t kHnswRecordVersion = 1;
inline constexpr size_t kHnswHeaderBytes = 64;
inline constexpr size_t kNodeRecordFixedBytes = 12;

inline constexpr uint8_t kHeaderFlagKeepPruned = 1;
inline constexpr uint8_t kNodeFlagDeleted = 1;

struct HnswHeader {
  uint32_t format_version = kHnswFormatVersion;
  uint32_t dim = 0;
  Metric metric = Metric::kCosine;
  uint32_t M = 16;
  uint32_t ef_construction = 200;
  uint32_t ef_search = 64;
  uint64_t seed = 100;
  bool keep_pruned_connections = false;
  Quantizer quantizer = Quantizer::kAuto;
  uint32_t rescore = 0;
  int64_t entry_rowid = 0;  // valid only when live_count > 0
  uint32_t max_level = 0;
  uint64_t node_count = 0;  // node records, tombstones included
  uint64_t live_count = 0;

  std::vector<uint8_t> Encode() const;
  // Checks the magic, version, lengths and every field's range (Corruption on failure).
  static StatusOr<HnswHeader> Decode(std::span<const uint8_t> bytes);
  // The persisted part of a config (runtime-only fields keep their defaults).
  HnswConfig ToConfig() const;
};

// One node row as the SQL layer reads it back. The spans must stay valid until the next call to
// RecordSource::Next (e.g. sqlite3_column_blob of the current row).
struct NodeRow {
  int64_t rowid = 0;
  std::span<const uint8_t> vector;  // dim × 4 bytes, float32 little-endian
  std::span<const uint8_t> record;  // EncodeNode bytes
};

// Iterator over the stored node rows, in any order.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Fills *row and returns true, or returns false at the end; an error status aborts the load.
  virtual StatusOr<bool> Next(NodeRow* row) = 0;
};

// A RecordSource over rows held in memory (tests, tools).
struct OwnedNodeRow {
  int64_t rowid = 0;
  std::vector<uint8_t> vector;
  std::vector<uint8_t> record;
};
class VectorRecordSource final : public RecordSource {
 public:
  explicit VectorRecordSource(const std::vector<OwnedNodeRow>* rows) : rows_(rows) {}
  StatusOr<bool> Next(NodeRow* row) override {
    if (i_ >= rows_->size()) return false;
    const OwnedNodeRow& r = (*rows_)[i_++];
    *row = NodeRow{r.rowid, r.vector, r.record};
    return true;
  }

 private:
  const std::vector<OwnedNodeRow>* rows_;
  size_t i_ = 0;
};

// A decoded node record (links as rowids, level-major). Decoding checks every length and count;
// it does not know the other nodes (LoadFromRecords checks the references).
struct NodeRecord {
  int64_t rowid = 0;
  bool deleted = false;
  int level = 0;
  std::vector<uint32_t> counts;  // level + 1 entries
  std::vector<int64_t> links;    // Σ counts entries
};
// Corruption (naming `row_rowid`) if the record is truncated, too long, of an unknown version,
// has unknown flags, a level above kMaxLevel, a count above the level's capacity (max_links0
// at level 0, max_links above) or a rowid different from row_rowid.
Status DecodeNodeRecord(std::span<const uint8_t> bytes, int64_t row_rowid, uint32_t max_links0,
                        uint32_t max_links, NodeRecord* out);
// Appends the record bytes of a node: links[l] is the rowid list of level l.
void EncodeNodeRecord(int64_t rowid, bool deleted, int level,
                      const std::vector<std::span<const int64_t>>& links, std::vector<uint8_t>* out);

}  // namespace vecgraph::hnsw
