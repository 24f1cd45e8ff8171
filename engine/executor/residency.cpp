#include "engine/executor/residency.h"

#include <iterator>

namespace vecgraph::exec {

bool ResidencyTracker::Lookup(const cuda::MatrixKey& key) {
  auto it = by_object_.find(key.object);
  if (it == by_object_.end() || it->second->key.version != key.version) {
    ++misses_;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return true;
}

cuda::MatrixKey ResidencyTracker::Erase(List::iterator it) {
  cuda::MatrixKey key = it->key;
  bytes_ -= it->bytes;
  by_object_.erase(key.object);
  lru_.erase(it);
  return key;
}

void ResidencyTracker::EvictToFit(size_t incoming, std::vector<cuda::MatrixKey>* out) {
  while (!lru_.empty() && (bytes_ > budget_ || budget_ - bytes_ < incoming)) {
    out->push_back(Erase(std::prev(lru_.end())));
    ++evictions_;
  }
}

ResidencyTracker::Admission ResidencyTracker::Admit(const cuda::MatrixKey& key, size_t bytes) {
  Admission a;
  auto it = by_object_.find(key.object);
  if (it != by_object_.end()) {
    if (it->second->key.version == key.version) {
      // Already resident: refresh, and account for a changed size.
      List::iterator e = it->second;
      lru_.splice(lru_.begin(), lru_, e);
      if (bytes > budget_) {
        a.evict.push_back(Erase(e));
        ++evictions_;
        return a;
      }
      bytes_ -= e->bytes;
      e->bytes = 0;
      // Evict others (never e itself: it is at the front and holds 0 bytes while we do).
      while (lru_.size() > 1 && budget_ - bytes_ < bytes) {
        a.evict.push_back(Erase(std::prev(lru_.end())));
        ++evictions_;
      }
      e->bytes = bytes;
      bytes_ += bytes;
      a.fits = true;
      return a;
    }
    // A different version of the same object: the old rows are garbage either way.
    a.evict.push_back(Erase(it->second));
    ++evictions_;
  }
  if (bytes > budget_) return a;
  EvictToFit(bytes, &a.evict);
  lru_.push_front(Entry{key, bytes});
  by_object_[key.object] = lru_.begin();
  bytes_ += bytes;
  a.fits = true;
  return a;
}

std::vector<cuda::MatrixKey> ResidencyTracker::SetBudget(size_t bytes) {
  budget_ = bytes;
  std::vector<cuda::MatrixKey> out;
  EvictToFit(0, &out);
  return out;
}

bool ResidencyTracker::Remove(const cuda::MatrixKey& key) {
  auto it = by_object_.find(key.object);
  if (it == by_object_.end() || it->second->key.version != key.version) return false;
  Erase(it->second);
  return true;
}

std::vector<cuda::MatrixKey> ResidencyTracker::Clear() {
  std::vector<cuda::MatrixKey> out = Keys();
  lru_.clear();
  by_object_.clear();
  bytes_ = 0;
  return out;
}

bool ResidencyTracker::Contains(const cuda::MatrixKey& key) const {
  auto it = by_object_.find(key.object);
  return it != by_object_.end() && it->second->key.version == key.version;
}

std::vector<cuda::MatrixKey> ResidencyTracker::Keys() const {
  std::vector<cuda::MatrixKey> out;
  out.reserve(lru_.size());
  for (const Entry& e : lru_) out.push_back(e.key);
  return out;
}

ResidencyCounters ResidencyTracker::counters() const {
  ResidencyCounters c;
  c.hits = hits_;
  c.misses = misses_;
  c.evictions = evictions_;
  c.bytes_resident = bytes_;
  c.entries = lru_.size();
  return c;
}

}  // namespace vecgraph::exec
