// engine/hnsw/rowid_map.h — SQLite rowid (int64) → internal node id (uint32) hash map.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), power-of-two
// capacity, load factor at most 1/2. 16 bytes per slot, so about 32-64 bytes per entry — a third
// of std::unordered_map's node-per-entry cost. Keys are mixed with a 64-bit finalizer so
// sequential rowids spread out. Not thread-safe for writers; concurrent readers are fine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vecgraph::hnsw {

class RowidMap {
 public:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;  // a value never stored (kInvalidNode)

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

  // The id stored for rowid, or kEmpty.
  uint32_t Find(int64_t rowid) const {
    if (slots_.empty()) return kEmpty;
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash(rowid) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.value == kEmpty) return kEmpty;
      if (s.key == rowid) return s.value;
    }
  }

  // Inserts or overwrites. value must not be kEmpty. May throw std::bad_alloc.
  void Put(int64_t rowid, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash(rowid) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.value == kEmpty) {
        s.key = rowid;
        s.value = value;
        ++size_;
        return;
      }
      if (s.key == rowid) {
        s.value = value;
        return;
      }
    }
  }

  // Removes rowid if present; returns whether it was.
  bool Erase(int64_t rowid) {
    if (slots_.empty()) return false;
    size_t mask = slots_.size() - 1;
    size_t i = Hash(rowid) & mask;
    for (;; i = (i + 1) & mask) {
      if (slots_[i].value == kEmpty) return false;
      if (slots_[i].key == rowid) break;
    }
    // Backward-shift: move later entries of the probe run into the hole when their home slot
    // is not cyclically inside (hole, j].
    size_t hole = i;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      if (slots_[j].value == kEmpty) break;
      size_t home = Hash(slots_[j].key) & mask;
      bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].value = kEmpty;
    --size_;
    return true;
  }

  void Clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
  }
  void Reserve(size_t n) {
    size_t want = 16;
    while (want < 2 * n) want *= 2;
    if (want > slots_.size()) Rehash(want);
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_)
      if (s.value != kEmpty) fn(s.key, s.value);
  }

 private:
  struct Slot {
    int64_t key = 0;
    uint32_t value = kEmpty;
    uint32_t pad = 0;
  };
  static_assert(sizeof(Slot) == 16);

  static size_t Hash(int64_t k) {
    uint64_t x = static_cast<uint64_t>(k);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return static_cast<size_t>(x);
  }
  void Grow() { Rehash(slots_.empty() ? 16 : slots_.size() * 2); }
  void Rehash(size_t cap) {
    std::vector<Slot> old(cap);
    old.swap(slots_);
    size_ = 0;
    for (const Slot& s : old)
      if (s.value != kEmpty) Put(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace vecgraph::hnsw
