// engine/executor/residency.h — LRU bookkeeping for device-resident matrices (no CUDA types).
//
// How it works
//   The CUDA bridge (kernels/cuda/cuda_bridge.cu) keeps copies of row matrices on the device,
//   keyed by cuda::MatrixKey {object, version}. This class only does the accounting: which keys
//   are resident, how many bytes each holds, and which to evict, least recently used first, so
//   that the total stays within a byte budget. The caller owns the device memory and frees what
//   the tracker tells it to.
//
//   - At most one version of an object is resident: admitting {object, v2} evicts {object, v1}
//     (the rows changed; the old copy is garbage). A Lookup of a stale version is a miss.
//   - Admit(key, bytes) of a key that is not resident returns the keys to free first (LRU order,
//     stale versions of the same object first) and records the key as resident, most recently
//     used. When bytes > budget it returns fits = false and records nothing, but still returns
//     the stale versions of the same object to free (they are never used again).
//   - If the device allocation for an admitted key then fails, the caller calls Remove(key).
//
// Thread-safety: none. The caller holds a lock around every call (the bridge's state mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "engine/executor/cuda_bridge.h"

namespace vecgraph::exec {

struct ResidencyCounters {
  uint64_t hits = 0;        // Lookup found the exact key
  uint64_t misses = 0;      // Lookup found nothing or a stale version
  uint64_t evictions = 0;   // keys handed back for eviction by Admit and SetBudget
  size_t bytes_resident = 0;
  size_t entries = 0;
};

class ResidencyTracker {
 public:
  explicit ResidencyTracker(size_t budget_bytes = 0) : budget_(budget_bytes) {}

  struct Admission {
    bool fits = false;                    // false: bytes > budget, key not recorded
    std::vector<cuda::MatrixKey> evict;   // free these first (also when !fits)
  };

  // True when exactly `key` is resident; moves it to the front (most recently used).
  bool Lookup(const cuda::MatrixKey& key);

  // Records `key` (bytes on the device) as resident. If the exact key is already resident it is
  // only moved to the front (fits = true, nothing to evict; its size is updated).
  Admission Admit(const cuda::MatrixKey& key, size_t bytes);

  // Changes the budget; returns the keys to free (LRU first) so the rest fits.
  std::vector<cuda::MatrixKey> SetBudget(size_t bytes);

  // Forgets `key` (exact version). Returns whether it was resident. Not counted as an eviction.
  bool Remove(const cuda::MatrixKey& key);

  // Forgets everything; returns what was resident (most recent first). Counters other than
  // bytes_resident/entries are kept.
  std::vector<cuda::MatrixKey> Clear();

  // Whether exactly `key` is resident, without touching the LRU order or the counters.
  bool Contains(const cuda::MatrixKey& key) const;

  // Resident keys, most recently used first.
  std::vector<cuda::MatrixKey> Keys() const;

  size_t budget() const { return budget_; }
  size_t bytes_resident() const { return bytes_; }
  size_t size() const { return lru_.size(); }
  ResidencyCounters counters() const;

 private:
  struct Entry {
    cuda::MatrixKey key;
    size_t bytes;
  };
  using List = std::list<Entry>;

  // Drops the entry; returns its key.
  cuda::MatrixKey Erase(List::iterator it);
  // Pops LRU entries into *out until bytes_ + incoming <= budget_.
  void EvictToFit(size_t incoming, std::vector<cuda::MatrixKey>* out);

  size_t budget_;
  size_t bytes_ = 0;
  List lru_;                                           // front = most recently used
  std::unordered_map<uint64_t, List::iterator> by_object_;  // one version per object
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace vecgraph::exec
