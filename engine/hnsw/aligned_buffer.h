// engine/hnsw/aligned_buffer.h — a growable array of trivially copyable T whose storage starts on a
// 64-byte boundary (a cache line, and an AVX-512 register), so vector rows whose byte size is a
// multiple of 64 never straddle more cache lines than they must.
//
// std::vector cannot promise this alignment for float/uint32_t, so this is a small vector over
// `::operator new(bytes, std::align_val_t{64})` (no raw malloc). Growth doubles; elements are
// moved with memcpy (T must be trivially copyable). Allocation failure throws std::bad_alloc.
//
// Large buffers (≥ kHugeBytes: the vectors and level-0 links of a big index) are aligned to 2 MiB
// and, on Linux, advised MADV_HUGEPAGE. A graph search touches them at random; with 4 KiB pages
// nearly every neighbour costs a TLB miss and a page walk besides its cache misses (the L2 TLB
// covers ~12 MiB), with 2 MiB pages the whole index stays mapped by the TLB. Where transparent
// huge pages are off ("never") the advice is a no-op and nothing else changes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vecgraph::hnsw {

inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kHugePage = size_t{2} << 20;
inline constexpr size_t kHugeBytes = size_t{4} << 20;

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "AlignedBuffer moves elements with memcpy");
  static_assert(alignof(T) <= kCacheLine);

 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept { Swap(o); }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    AlignedBuffer tmp(std::move(o));
    Swap(tmp);
    return *this;
  }
  ~AlignedBuffer() { Free(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

  // Grows (or shrinks) to n elements; new elements are set to `fill`.
  void resize(size_t n, T fill = T{}) {
    if (n > capacity_) reserve(std::max(n, capacity_ + capacity_ / 2 + 16));
    for (size_t i = size_; i < n; ++i) data_[i] = fill;
    size_ = n;
  }
  void reserve(size_t n) {
    if (n <= capacity_) return;
    T* fresh = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Alignment(n)}));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (n * sizeof(T) >= kHugeBytes) {
      // Advice only: failure (no THP support) leaves ordinary pages.
      (void)madvise(static_cast<void*>(fresh), n * sizeof(T) / kHugePage * kHugePage, MADV_HUGEPAGE);
    }
#endif
    const size_t keep = size_;
    if (keep > 0) std::memcpy(static_cast<void*>(fresh), data_, keep * sizeof(T));
    Free();
    data_ = fresh;
    size_ = keep;
    capacity_ = n;
  }
  // Releases spare capacity (after a compaction).
  void shrink_to_fit() {
    if (capacity_ == size_) return;
    AlignedBuffer tmp;
    if (size_ > 0) {
      tmp.reserve(size_);
      std::memcpy(static_cast<void*>(tmp.data_), data_, size_ * sizeof(T));
      tmp.size_ = size_;
    }
    Swap(tmp);
  }
  void clear() { size_ = 0; }
  size_t bytes() const { return capacity_ * sizeof(T); }

  void Swap(AlignedBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
  }

 private:
  // The alignment of a buffer of n elements (a function of the capacity, so Free() knows it).
  static size_t Alignment(size_t n) { return n * sizeof(T) >= kHugeBytes ? kHugePage : kCacheLine; }

  void Free() {
    if (data_ != nullptr) ::operator delete(static_cast<void*>(data_), std::align_val_t{Alignment(capacity_)});
    data_ = nullptr;
    capacity_ = 0;
    size_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace vecgraph::hnsw
