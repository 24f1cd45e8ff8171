// tests/fuzz/hnsw_rows_format.h — the input format of fuzz_hnsw_records, shared with the seed
// generator (make_hnsw_corpus.cpp): a persisted HNSW index as the hnsw_knn shadow tables hold it
// (engine/hnsw/hnsw_format.h), flattened into one byte string.
//
//   u16 header length, header bytes (HnswHeader::Encode, normally 64)
//   then per node row: i64 rowid, u16 vector length, vector bytes, u16 record length, record bytes
//
// All little-endian. A truncated last row is dropped (the carver never reads past the input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vecgraph::fuzz {

struct CarvedRow {
  int64_t rowid = 0;
  std::span<const uint8_t> vector, record;
};

class Carver {
 public:
  Carver(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool Take(size_t k, std::span<const uint8_t>* out) {
    if (n_ - pos_ < k) return false;
    *out = {p_ + pos_, k};
    pos_ += k;
    return true;
  }
  template <typename T>
  bool Int(T* v) {
    std::span<const uint8_t> s;
    if (!Take(sizeof(T), &s)) return false;
    std::memcpy(v, s.data(), sizeof(T));  // the hosts this runs on are little-endian
    return true;
  }
  bool Blob(std::span<const uint8_t>* out) {
    uint16_t len = 0;
    return Int(&len) && Take(len, out);
  }
  bool Row(CarvedRow* row) {
    size_t save = pos_;
    if (Int(&row->rowid) && Blob(&row->vector) && Blob(&row->record)) return true;
    pos_ = save;
    return false;
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
};

inline void PutBlob(std::vector<uint8_t>* out, std::span<const uint8_t> b) {
  uint16_t len = static_cast<uint16_t>(b.size());
  out->insert(out->end(), reinterpret_cast<const uint8_t*>(&len), reinterpret_cast<const uint8_t*>(&len) + 2);
  out->insert(out->end(), b.begin(), b.end());
}

inline void PutRow(std::vector<uint8_t>* out, int64_t rowid, std::span<const uint8_t> vec,
                   std::span<const uint8_t> rec) {
  out->insert(out->end(), reinterpret_cast<const uint8_t*>(&rowid), reinterpret_cast<const uint8_t*>(&rowid) + 8);
  PutBlob(out, vec);
  PutBlob(out, rec);
}

}  // namespace vecgraph::fuzz
