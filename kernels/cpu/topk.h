// kernels/cpu/topk.h — bounded top-k selection over (distance, id) pairs.
//
// Order: ascending distance, ties by smaller id (the vec_topk contract). TopK keeps a max-heap of
// the k best seen so far, so rejecting a candidate costs one compare against worst(); PushBatch
// filters a whole batch against the current bound before touching the heap. SortTopKReference is
// the plain reference (sort everything, keep k) that tests compare against.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace vecgraph::kernels {

struct Neighbor {
  float distance;
  int64_t id;
};

inline bool Better(const Neighbor& a, const Neighbor& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

class TopK {
 public:
  explicit TopK(size_t k = 0) : k_(k) { heap_.reserve(std::min<size_t>(k, 4096)); }

  size_t k() const { return k_; }
  size_t size() const { return heap_.size(); }
  bool full() const { return heap_.size() >= k_; }
  // The distance a candidate must beat (or tie with a smaller id) to enter; +inf while not full.
  float bound() const { return full() && k_ > 0 ? heap_.front().distance : std::numeric_limits<float>::infinity(); }

  void Push(float distance, int64_t id) {
    if (k_ == 0) return;
    Neighbor n{distance, id};
    if (heap_.size() < k_) {
      heap_.push_back(n);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(n, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = n;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }

  // Pushes dists[i] with ids[i] (or base_id + i when ids is null) for i in [0, n).
  void PushBatch(const float* dists, const int64_t* ids, size_t n, int64_t base_id = 0) {
    for (size_t i = 0; i < n; ++i) {
      if (dists[i] <= bound()) Push(dists[i], ids ? ids[i] : base_id + static_cast<int64_t>(i));
    }
  }

  void Merge(const TopK& other) {
    for (const Neighbor& n : other.heap_) Push(n.distance, n.id);
  }

  // Best first. Leaves the heap intact.
  std::vector<Neighbor> Sorted() const {
    std::vector<Neighbor> out(heap_);
    std::sort(out.begin(), out.end(), Better);
    return out;
  }

  void Clear() { heap_.clear(); }

 private:
  size_t k_;
  std::vector<Neighbor> heap_;  // max-heap under Better: front() is the worst kept
};

// Reference: sort all candidates, keep the first k.
inline std::vector<Neighbor> SortTopKReference(const float* dists, const int64_t* ids, size_t n, size_t k) {
  std::vector<Neighbor> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = {dists[i], ids ? ids[i] : static_cast<int64_t>(i)};
  std::sort(all.begin(), all.end(), Better);
  if (all.size() > k) all.resize(k);
  return all;
}

}  // namespace vecgraph::kernels
