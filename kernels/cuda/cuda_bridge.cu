// kernels/cuda/cuda_bridge.cu — the CUDA implementation of engine/executor/cuda_bridge.h.
//
// How it works
//   One process-wide State, guarded by one mutex, owns everything on the device: a non-blocking
//   stream, two pinned host staging slots in each direction (allocated on first use, grown
//   geometrically up to Tuning::kStagingBytes, kept until exit), device scratch buffers (grown on
//   demand, freed by ReleaseBuffers), and the residency cache of KnnResident matrices
//   (engine/executor/residency.h does the LRU accounting, this file the cudaMalloc/cudaFree).
//
//   Probe (lazy, once per process): cudaDriverGetVersion (0 → "no NVIDIA driver"),
//   cudaGetDeviceCount (35/100 → no device), device 0's properties, a context (cudaFree(0)), and a
//   one-thread kernel that proves this binary has code for the GPU (209 → kLaunch).
//
//   Distances: rows [begin, end) are copied in chunks of at most kStagingBytes through the pinned
//   slots (the host copies chunk c+1 while the device works on chunk c), one kernel per chunk
//   writes every query's distances, and the results come back through pinned slots into each
//   query's stripe of t.out. Few queries (< kTiledMinQueries): a warp per row, lanes stride the
//   dimensions, register-blocked over 8 queries, one pass computes q·r (or Σ(q−r)²) and |r|²,
//   reduced with warp shuffles. Many queries: 64×64 (rows × queries) shared-memory tiles, each
//   thread a 4×4 block of results; |r|² from a separate norms kernel. Both finish with the same
//   per-element math as the CPU (kernels/cpu/metric_math.h).
//
//   KnnResident: the matrix (and its row norms |r|², computed once) stays on the device under
//   (object, version). Queries go in chunks sized so the distance scratch (chunk × n_rows floats)
//   stays under kMaxKnnScratchBytes. Selection packs each distance with its row index into a
//   64-bit key (order-preserving float bits << 32 | index), so sorting keys orders by ascending
//   distance, ties by smaller index — exactly the CPU's order. A block (256 threads) keeps its
//   best k keys in shared memory; scanned keys that beat the current k-th best are appended to a
//   candidate buffer, and when it fills, the block sorts best-k ∪ candidates with
//   cub::BlockRadixSort (2048 keys) and keeps the first k. Long rows are split into slices (one
//   block each, so a single query fills the GPU); a second pass merges the slices' best k.
//
// Errors: every CUDA call is checked and the launch error read after every launch; execution
// errors are classified at every synchronisation. Sticky errors (700, 702, 710, 714–719, 721,
// 810) latch "lost": from then on no CUDA function is called again in this process. Other
// errors are cleared with cudaGetLastError, the stream is drained, and the call fails with a
// DeviceFailure the executor turns into a CPU fallback. Never cudaDeviceReset (the host
// application may share the primary context); destructors at exit ignore
// cudaErrorCudartUnloading.
//
// Other .cu files here (kernels/cuda/spread.cu) share the latch and the classifier through
// vecgraph::cuda::detail (declare what you use; hidden like everything in the extension):
//   exec::DeviceError ClassifyCudaError(cudaError_t e);  // sticky → kIllegalAddress and latches
//   bool DeviceLost(std::string* reason);                // reason may be null
//   void LatchLost(const std::string& reason);
#include <cuda_runtime.h>

#include <cub/block/block_radix_sort.cuh>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/executor/cuda_bridge.h"
#include "engine/executor/residency.h"
#include "kernels/cpu/metric_math.h"

namespace vecgraph::cuda {
namespace {

using exec::DeviceError;
using exec::DeviceFailure;

// Sizes and thresholds (named here, not scattered; none depends on the device).
struct Tuning {
  static constexpr size_t kStagingBytes = size_t{16} << 20;         // per pinned slot
  static constexpr size_t kMaxKnnScratchBytes = size_t{256} << 20;  // KnnResident distance scratch
  static constexpr size_t kMaxQueryChunk = 1024;                    // queries per KnnResident pass
  static constexpr size_t kTiledMinQueries = 16;                    // use the tiled kernel from here
  static constexpr size_t kMinSliceItems = 16384;                   // rows per selection block, at least
  static constexpr int kBlocksPerSm = 4;                            // selection blocks wanted per SM
  static constexpr size_t kMaxDims = size_t{1} << 24;               // kernels index dims as unsigned
};

// =============================================================================================
// Device code

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;  // RowWarpDistances / RowNorms: 8 warps, a warp per row
constexpr int kQB = 8;            // queries register-blocked per row pass

constexpr int kTileRows = 64, kTileQueries = 64, kTileDims = 16, kTileThreads = 256;

using Key = unsigned long long;
constexpr Key kEmptyKey = ~Key{0};
constexpr int kSelThreads = 256, kSelItems = 8, kSelTile = kSelThreads * kSelItems;  // 2048 keys
static_assert(kMaxDeviceK <= kSelTile / 2, "the candidate buffer must hold at least half a tile");
using BlockSort = cub::BlockRadixSort<Key, kSelThreads, kSelItems>;

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <Metric M>
__device__ __forceinline__ float Accumulate(float acc, float x, float y) {
  if constexpr (M == Metric::kL2) {
    const float t = x - y;
    return fmaf(t, t, acc);
  } else {
    return fmaf(x, y, acc);
  }
}

// acc: q·r (cosine, dot) or Σ(q−r)² (l2).
template <Metric M>
__device__ __forceinline__ float Finish(float acc, float q_norm, float r_norm_sq) {
  if constexpr (M == Metric::kCosine) return kernels::CosineDistanceFromParts(acc, q_norm, r_norm_sq);
  else if constexpr (M == Metric::kDot) return kernels::DotDistance(acc);
  else return kernels::L2DistanceFromSquared(acc);
}

// out[q * ld_out + r] for r < n_rows, q < n_queries. A warp per row (grid-stride). For cosine,
// |r|² comes from row_norms_sq or, when that is null, from the same pass as the dot products.
template <Metric M>
__global__ void __launch_bounds__(kRowThreads)
    RowWarpDistances(const float* __restrict__ rows, size_t n_rows, unsigned dims, const float* __restrict__ queries,
                     const float* __restrict__ q_norms, size_t n_queries, const float* __restrict__ row_norms_sq,
                     float* __restrict__ out, size_t ld_out) {
  const unsigned lane = threadIdx.x & (kWarp - 1);
  const size_t first = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const size_t stride = (static_cast<size_t>(gridDim.x) * blockDim.x) / kWarp;
  for (size_t r = first; r < n_rows; r += stride) {  // warp-uniform
    const float* row = rows + r * dims;
    float r_norm_sq = 0.0f;
    if constexpr (M == Metric::kCosine) {
      if (row_norms_sq != nullptr) r_norm_sq = row_norms_sq[r];
    }
    for (size_t q0 = 0; q0 < n_queries; q0 += kQB) {
      const int nq = n_queries - q0 < kQB ? static_cast<int>(n_queries - q0) : kQB;
      const float* qb = queries + q0 * dims;
      const bool pass_norm = M == Metric::kCosine && row_norms_sq == nullptr && q0 == 0;  // warp-uniform
      float acc[kQB];
#pragma unroll
      for (int j = 0; j < kQB; ++j) acc[j] = 0.0f;
      float nsq = 0.0f;
      for (unsigned d = lane; d < dims; d += kWarp) {
        const float x = row[d];
        if (pass_norm) nsq = fmaf(x, x, nsq);
#pragma unroll
        for (int j = 0; j < kQB; ++j) {
          if (j < nq) acc[j] = Accumulate<M>(acc[j], x, qb[static_cast<size_t>(j) * dims + d]);
        }
      }
#pragma unroll
      for (int j = 0; j < kQB; ++j) acc[j] = WarpSum(acc[j]);
      if (pass_norm) r_norm_sq = WarpSum(nsq);
      if (lane == 0) {
#pragma unroll
        for (int j = 0; j < kQB; ++j) {
          if (j < nq) {
            const float qn = q_norms != nullptr ? q_norms[q0 + j] : 0.0f;
            out[(q0 + j) * ld_out + r] = Finish<M>(acc[j], qn, r_norm_sq);
          }
        }
      }
    }
  }
}

// The same output from 64-row × 64-query tiles: grid (ceil(n_rows/64), ceil(n_queries/64)).
// Thread (tx, ty) = (tid % 16, tid / 16) owns rows tx + 16i and queries ty + 16j, i, j < 4, so a
// warp's stores cover 16 consecutive rows of two queries. Cosine needs row_norms_sq.
template <Metric M>
__global__ void __launch_bounds__(kTileThreads)
    TiledDistances(const float* __restrict__ rows, size_t n_rows, unsigned dims, const float* __restrict__ queries,
                   const float* __restrict__ q_norms, size_t n_queries, const float* __restrict__ row_norms_sq,
                   float* __restrict__ out, size_t ld_out) {
  __shared__ float rs[kTileDims][kTileRows + 1];     // rows tile, dimension-major
  __shared__ float qs[kTileDims][kTileQueries + 1];  // queries tile, dimension-major
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int ld_d = tid % kTileDims, ld_i = tid / kTileDims;  // loader: dimension, row/query within 16
  const size_t r0 = static_cast<size_t>(blockIdx.x) * kTileRows;
  const size_t q0 = static_cast<size_t>(blockIdx.y) * kTileQueries;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (unsigned d0 = 0; d0 < dims; d0 += kTileDims) {
    const unsigned d = d0 + ld_d;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int li = ld_i + 16 * i;
      const size_t r = r0 + li, q = q0 + li;
      rs[ld_d][li] = (r < n_rows && d < dims) ? rows[r * dims + d] : 0.0f;
      qs[ld_d][li] = (q < n_queries && d < dims) ? queries[q * dims + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileDims; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = rs[kk][tx + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = qs[kk][ty + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = Accumulate<M>(acc[i][j], a[i], b[j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const size_t r = r0 + tx + 16 * i;
    if (r >= n_rows) continue;
    const float rn = M == Metric::kCosine ? row_norms_sq[r] : 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const size_t q = q0 + ty + 16 * j;
      if (q >= n_queries) continue;
      const float qn = (M == Metric::kCosine && q_norms != nullptr) ? q_norms[q] : 0.0f;
      out[q * ld_out + r] = Finish<M>(acc[i][j], qn, rn);
    }
  }
}

// out[r] = |row r|² (or |row r| when take_sqrt). A warp per row.
__global__ void __launch_bounds__(kRowThreads)
    RowNorms(const float* __restrict__ rows, size_t n_rows, unsigned dims, float* __restrict__ out, bool take_sqrt) {
  const unsigned lane = threadIdx.x & (kWarp - 1);
  const size_t first = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const size_t stride = (static_cast<size_t>(gridDim.x) * blockDim.x) / kWarp;
  for (size_t r = first; r < n_rows; r += stride) {
    const float* row = rows + r * dims;
    float s = 0.0f;
    for (unsigned d = lane; d < dims; d += kWarp) s = fmaf(row[d], row[d], s);
    s = WarpSum(s);
    if (lane == 0) out[r] = take_sqrt ? sqrtf(s) : s;
  }
}

// Order-preserving key: ascending key = ascending distance, ties by smaller index. −0 is keyed
// as +0 (the CPU compares them equal) and NaN after +inf.
__device__ __forceinline__ Key MakeKey(float d, unsigned idx) {
  unsigned u = __float_as_uint(d);
  if (d == 0.0f) u = 0u;
  if (d != d) u = 0x7fc00000u;
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<Key>(u) << 32) | idx;
}

struct SelectShared {
  Key top[kMaxDeviceK];  // the best k so far, ascending; kEmptyKey while not filled
  union {
    BlockSort::TempStorage sort;
    Key cand[kSelTile];
  } u;
  unsigned count;  // candidates appended since the last merge (may exceed the capacity)
  Key bound;       // top[k - 1]: a candidate must be smaller to matter
};
static_assert(sizeof(SelectShared) <= 48 * 1024, "selection shared memory exceeds the static limit");

// Sorts top ∪ candidates and keeps the best k. Called by every thread of the block.
__device__ __forceinline__ void SelectMerge(SelectShared& s, int k) {
  const int cap = kSelTile - k;
  const int n_c = s.count < static_cast<unsigned>(cap) ? static_cast<int>(s.count) : cap;
  Key keys[kSelItems];
#pragma unroll
  for (int i = 0; i < kSelItems; ++i) {
    const int pos = threadIdx.x * kSelItems + i;
    keys[i] = pos < k ? s.top[pos] : (pos - k < n_c ? s.u.cand[pos - k] : kEmptyKey);
  }
  __syncthreads();  // candidates and count read before the sort reuses their storage
  BlockSort(s.u.sort).Sort(keys);  // blocked arrangement: thread t holds ranks t*8 .. t*8+7
#pragma unroll
  for (int i = 0; i < kSelItems; ++i) {
    const int pos = threadIdx.x * kSelItems + i;
    if (pos < k) {
      s.top[pos] = keys[i];
      if (pos == k - 1) s.bound = keys[i];
    }
  }
  if (threadIdx.x == 0) s.count = 0;
  __syncthreads();
}

// Best k keys of each query's items [lo, hi) of n, the slice blockIdx.x of gridDim.x; query
// blockIdx.y. Items are distances dist[q * ld_in + i] (keyed with index i) or, kKeysIn, keys
// keys_in[q * ld_in + i]. Writes out[(q * gridDim.x + slice) * k + j], ascending, kEmptyKey
// padded.
template <bool kKeysIn>
__global__ void __launch_bounds__(kSelThreads)
    SelectTopK(const float* __restrict__ dist, const Key* __restrict__ keys_in, size_t ld_in, size_t n, int k,
               Key* __restrict__ out) {
  __shared__ SelectShared s;
  const size_t q = blockIdx.y;
  const size_t slices = gridDim.x, slice = blockIdx.x;
  const size_t per = (n + slices - 1) / slices;
  const size_t lo = slice * per < n ? slice * per : n;
  const size_t hi = n - lo < per ? n : lo + per;
  for (int j = threadIdx.x; j < k; j += kSelThreads) s.top[j] = kEmptyKey;
  if (threadIdx.x == 0) {
    s.count = 0;
    s.bound = kEmptyKey;
  }
  __syncthreads();
  const unsigned cap = kSelTile - k;
  for (size_t base = lo; base < hi; base += kSelTile) {  // block-uniform
    Key key[kSelItems];
    bool pending[kSelItems];
#pragma unroll
    for (int i = 0; i < kSelItems; ++i) {
      const size_t idx = base + static_cast<size_t>(i) * kSelThreads + threadIdx.x;
      pending[i] = idx < hi;
      key[i] = kEmptyKey;
      if (pending[i]) {
        if constexpr (kKeysIn) key[i] = keys_in[q * ld_in + idx];
        else key[i] = MakeKey(dist[q * ld_in + idx], static_cast<unsigned>(idx));
      }
    }
    for (;;) {
      const Key bound = s.bound;
      bool overflow = false;
#pragma unroll
      for (int i = 0; i < kSelItems; ++i) {
        if (!pending[i]) continue;
        if (key[i] < bound) {
          const unsigned pos = atomicAdd(&s.count, 1u);
          if (pos < cap) {
            s.u.cand[pos] = key[i];
            pending[i] = false;
          } else {
            overflow = true;  // retry after the merge, against the tighter bound
          }
        } else {
          pending[i] = false;
        }
      }
      if (!__syncthreads_or(overflow)) break;
      SelectMerge(s, k);
    }
  }
  if (s.count > 0) SelectMerge(s, k);  // count is stable: the last __syncthreads_or ordered it
  Key* o = out + (q * slices + slice) * static_cast<size_t>(k);
  for (int j = threadIdx.x; j < k; j += kSelThreads) o[j] = s.top[j];
}

__global__ void ProbeKernel(int* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = 42;
}

// =============================================================================================
// Host side

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  float* f() const { return static_cast<float*>(ptr); }
  Key* k() const { return static_cast<Key*>(ptr); }
};

struct PinnedBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
};

struct DeviceMatrix {
  uint64_t version = 0;
  float* rows = nullptr;
  float* norms_sq = nullptr;
  size_t n_rows = 0, dims = 0;
};

struct State {
  std::mutex mu;

  // Probe (once per process).
  bool probed = false;
  bool usable = false;
  bool touched = false;  // CUDA was initialised: resources may exist
  GpuInfo info;
  DeviceFailure probe_failure;
  int sm_count = 1;

  // Sticky-error latch: set once, never cleared; no CUDA call after it.
  bool lost = false;
  std::string lost_reason;

  cudaStream_t stream = nullptr;
  cudaEvent_t slot_done[2] = {nullptr, nullptr};  // last use of pinned slot 0/1 finished
  PinnedBuffer pin_in[2], pin_out[2];
  DeviceBuffer d_rows, d_out, d_rnorms, d_queries, d_qnorms, d_dist, d_keys1, d_keys2;

  exec::ResidencyTracker residency;
  std::unordered_map<uint64_t, DeviceMatrix> matrices;  // by MatrixKey::object

  ~State();
  DeviceBuffer* Scratch(int i) {
    DeviceBuffer* all[] = {&d_rows, &d_out, &d_rnorms, &d_queries, &d_qnorms, &d_dist, &d_keys1, &d_keys2};
    return i < 8 ? all[i] : nullptr;
  }
};

State& GlobalState() {
  static State s;
  return s;
}

bool IsSticky(cudaError_t e) {
  switch (static_cast<int>(e)) {
    case 700:  // cudaErrorIllegalAddress
    case 702:  // cudaErrorLaunchTimeout
    case 710:  // cudaErrorAssert
    case 714:  // cudaErrorHardwareStackError
    case 715:  // cudaErrorIllegalInstruction
    case 716:  // cudaErrorMisalignedAddress
    case 717:  // cudaErrorInvalidAddressSpace
    case 718:  // cudaErrorInvalidPc
    case 719:  // cudaErrorLaunchFailure
    case 721:  // cudaErrorTensorMemoryLeak
    case 810:  // cudaErrorMpsClientTerminated
      return true;
    default:
      return false;
  }
}

DeviceError Classify(cudaError_t e) {
  if (IsSticky(e)) return DeviceError::kIllegalAddress;
  switch (e) {
    case cudaErrorMemoryAllocation: return DeviceError::kOutOfMemory;
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice: return DeviceError::kNoDevice;
    default: return DeviceError::kLaunch;  // 9, 98, 209, 222, 701, ...: this batch falls back
  }
}

std::string ErrorText(cudaError_t e) {
  std::string s = cudaGetErrorName(e);
  s += " (";
  s += cudaGetErrorString(e);
  s += ")";
  return s;
}

DeviceFailure LostFailure(const State& s) {
  return {DeviceError::kIllegalAddress, "cuda: device lost earlier in this process: " + s.lost_reason};
}

// The failure for `e` raised by `what`. Sticky: latch and touch nothing more. Otherwise clear the
// error and drain the stream so no async work still uses our buffers.
DeviceFailure Fail(State& s, cudaError_t e, const std::string& what) {
  DeviceFailure f{Classify(e), "cuda: " + what + ": " + ErrorText(e)};
  if (f.error == DeviceError::kIllegalAddress) {
    s.lost = true;
    s.lost_reason = f.message;
    return f;
  }
  (void)cudaGetLastError();
  if (s.stream != nullptr) {
    cudaError_t d = cudaStreamSynchronize(s.stream);
    if (d != cudaSuccess) {
      if (IsSticky(d)) {
        s.lost = true;
        s.lost_reason = "cuda: " + what + ": cudaStreamSynchronize: " + ErrorText(d);
        return {DeviceError::kIllegalAddress, s.lost_reason};
      }
      (void)cudaGetLastError();
    }
  }
  return f;
}

#define VG_CUDA(call, what)                                               \
  do {                                                                    \
    const cudaError_t vg_err_ = (call);                                   \
    if (vg_err_ != cudaSuccess) return Fail(s, vg_err_, (what));          \
  } while (0)

#define VG_TRY(expr)                                \
  do {                                              \
    DeviceFailure vg_f_ = (expr);                   \
    if (!vg_f_.ok()) return vg_f_;                  \
  } while (0)

// Frees ignoring the result except to latch a sticky error (nothing useful can be done).
void FreeDevice(State& s, void* p) {
  if (p == nullptr || s.lost) return;
  cudaError_t e = cudaFree(p);
  if (e != cudaSuccess) {
    if (IsSticky(e)) {
      s.lost = true;
      s.lost_reason = "cuda: cudaFree: " + ErrorText(e);
    } else {
      (void)cudaGetLastError();
    }
  }
}

void FreeScratch(State& s) {
  for (int i = 0; i < 8; ++i) {
    DeviceBuffer* b = s.Scratch(i);
    FreeDevice(s, b->ptr);
    *b = DeviceBuffer{};
  }
}

void FreeMatrix(State& s, const MatrixKey& key) {
  auto it = s.matrices.find(key.object);
  if (it == s.matrices.end() || it->second.version != key.version) return;
  FreeDevice(s, it->second.rows);
  FreeDevice(s, it->second.norms_sq);
  s.matrices.erase(it);
}

void FreeAllMatrices(State& s) {
  for (auto& [object, m] : s.matrices) {
    FreeDevice(s, m.rows);
    FreeDevice(s, m.norms_sq);
  }
  s.matrices.clear();
  (void)s.residency.Clear();
}

State::~State() {
  // At exit the runtime may already be unloading (cudaErrorCudartUnloading): every result here is
  // ignored. Never cudaDeviceReset.
  if (lost || !touched) return;
  for (auto& [object, m] : matrices) {
    if (m.rows != nullptr) (void)cudaFree(m.rows);
    if (m.norms_sq != nullptr) (void)cudaFree(m.norms_sq);
  }
  for (int i = 0; i < 8; ++i) {
    if (Scratch(i)->ptr != nullptr) (void)cudaFree(Scratch(i)->ptr);
  }
  for (PinnedBuffer* p : {&pin_in[0], &pin_in[1], &pin_out[0], &pin_out[1]}) {
    if (p->ptr != nullptr) (void)cudaFreeHost(p->ptr);
  }
  for (cudaEvent_t ev : slot_done) {
    if (ev != nullptr) (void)cudaEventDestroy(ev);
  }
  if (stream != nullptr) (void)cudaStreamDestroy(stream);
}

// Grows a device buffer (content not kept) to at least `bytes`. Only call with nothing in flight.
DeviceFailure Reserve(State& s, DeviceBuffer& b, size_t bytes, const char* what) {
  if (b.bytes >= bytes) return {};
  FreeDevice(s, b.ptr);
  b = DeviceBuffer{};
  if (s.lost) return LostFailure(s);
  const size_t granule = size_t{1} << 20;
  const size_t want = (std::max<size_t>(bytes, 1) + granule - 1) / granule * granule;
  void* p = nullptr;
  VG_CUDA(cudaMalloc(&p, want), std::string("cudaMalloc(") + what + ", " + std::to_string(want) + " bytes)");
  b.ptr = p;
  b.bytes = want;
  return {};
}

// Grows a pinned staging buffer geometrically. Only call with nothing in flight.
DeviceFailure ReservePinned(State& s, PinnedBuffer& b, size_t bytes) {
  if (b.bytes >= bytes) return {};
  const size_t want = std::max<size_t>({bytes, 1, std::min(b.bytes * 2, Tuning::kStagingBytes)});
  if (b.ptr != nullptr) {
    cudaError_t e = cudaFreeHost(b.ptr);
    b = PinnedBuffer{};
    if (e != cudaSuccess) return Fail(s, e, "cudaFreeHost(staging)");
  }
  void* p = nullptr;
  VG_CUDA(cudaHostAlloc(&p, want, cudaHostAllocDefault),
          "cudaHostAlloc(staging, " + std::to_string(want) + " bytes)");
  b.ptr = p;
  b.bytes = want;
  return {};
}

// Both input slots (capped at kStagingBytes: uploads go in pieces) and `out_slots` output slots.
DeviceFailure ReserveStaging(State& s, size_t in_bytes, size_t out_bytes, int out_slots) {
  in_bytes = std::min(in_bytes, Tuning::kStagingBytes);
  for (int i = 0; i < 2; ++i) {
    VG_TRY(ReservePinned(s, s.pin_in[i], in_bytes));
    if (i < out_slots) VG_TRY(ReservePinned(s, s.pin_out[i], out_bytes));
  }
  return {};
}

// Host → device through the pinned input slots, alternating so the host fills one slot while
// the other is copied. Needs non-empty slots (ReserveStaging).
DeviceFailure Upload(State& s, void* dst, const void* src, size_t bytes, const char* what) {
  const size_t cap = std::min(s.pin_in[0].bytes, s.pin_in[1].bytes);
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  for (size_t off = 0, c = 0; off < bytes; off += cap, ++c) {
    const int slot = static_cast<int>(c & 1);
    const size_t m = std::min(cap, bytes - off);
    VG_CUDA(cudaEventSynchronize(s.slot_done[slot]), std::string("upload ") + what + ": cudaEventSynchronize");
    std::memcpy(s.pin_in[slot].ptr, from + off, m);
    VG_CUDA(cudaMemcpyAsync(to + off, s.pin_in[slot].ptr, m, cudaMemcpyHostToDevice, s.stream),
            std::string("upload ") + what + ": cudaMemcpyAsync");
    VG_CUDA(cudaEventRecord(s.slot_done[slot], s.stream), std::string("upload ") + what + ": cudaEventRecord");
  }
  return {};
}

unsigned GridFor(const State& s, size_t warps_needed) {
  const size_t per_block = kRowThreads / kWarp;
  const size_t blocks = (warps_needed + per_block - 1) / per_block;
  const size_t cap = static_cast<size_t>(std::max(s.sm_count, 1)) * 32;
  return static_cast<unsigned>(std::max<size_t>(1, std::min(blocks, cap)));
}

DeviceFailure LaunchNorms(State& s, const float* rows, size_t n, size_t dims, float* out, bool take_sqrt) {
  if (n == 0) return {};
  RowNorms<<<GridFor(s, n), kRowThreads, 0, s.stream>>>(rows, n, static_cast<unsigned>(dims), out, take_sqrt);
  VG_CUDA(cudaGetLastError(), "launch RowNorms");
  return {};
}

template <Metric M>
DeviceFailure LaunchDistancesFor(State& s, const float* rows, size_t n, size_t dims, const float* queries,
                                 const float* q_norms, size_t nq, const float* row_norms_sq, float* out, size_t ld) {
  const unsigned d = static_cast<unsigned>(dims);
  if (nq < Tuning::kTiledMinQueries) {
    RowWarpDistances<M><<<GridFor(s, n), kRowThreads, 0, s.stream>>>(rows, n, d, queries, q_norms, nq, row_norms_sq,
                                                                      out, ld);
    VG_CUDA(cudaGetLastError(), "launch RowWarpDistances");
    return {};
  }
  const size_t max_q = size_t{65535} * kTileQueries;  // gridDim.y limit
  const size_t gx = (n + kTileRows - 1) / kTileRows;
  for (size_t q0 = 0; q0 < nq; q0 += max_q) {
    const size_t m = std::min(max_q, nq - q0);
    dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>((m + kTileQueries - 1) / kTileQueries));
    TiledDistances<M><<<grid, kTileThreads, 0, s.stream>>>(rows, n, d, queries + q0 * dims,
                                                           q_norms != nullptr ? q_norms + q0 : nullptr, m,
                                                           row_norms_sq, out + q0 * ld, ld);
    VG_CUDA(cudaGetLastError(), "launch TiledDistances");
  }
  return {};
}

// out[q * ld + r]. Cosine with nq >= kTiledMinQueries needs row_norms_sq.
DeviceFailure LaunchDistances(State& s, Metric metric, const float* rows, size_t n, size_t dims,
                              const float* queries, const float* q_norms, size_t nq, const float* row_norms_sq,
                              float* out, size_t ld) {
  if (n == 0 || nq == 0) return {};
  switch (metric) {
    case Metric::kCosine:
      return LaunchDistancesFor<Metric::kCosine>(s, rows, n, dims, queries, q_norms, nq, row_norms_sq, out, ld);
    case Metric::kDot:
      return LaunchDistancesFor<Metric::kDot>(s, rows, n, dims, queries, q_norms, nq, row_norms_sq, out, ld);
    case Metric::kL2:
      return LaunchDistancesFor<Metric::kL2>(s, rows, n, dims, queries, q_norms, nq, row_norms_sq, out, ld);
  }
  return {DeviceError::kLaunch, "cuda: unknown metric"};
}

void ProbeLocked(State& s) {
  s.probed = true;
  s.usable = false;
  auto unavailable = [&](std::string m) { s.probe_failure = {DeviceError::kNoDevice, std::move(m)}; };

  int driver = 0;
  cudaError_t e = cudaDriverGetVersion(&driver);
  if (e != cudaSuccess || driver == 0) {
    (void)cudaGetLastError();
    unavailable("no NVIDIA driver");
    return;
  }
  s.touched = true;
  s.info.driver_version = driver;
  (void)cudaRuntimeGetVersion(&s.info.runtime_version);

  int count = 0;  // not written on failure (cudaErrorInsufficientDriver)
  e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || e == cudaErrorInitializationError ||
      e == cudaErrorDevicesUnavailable) {
    (void)cudaGetLastError();
    unavailable(e == cudaErrorInsufficientDriver ? "NVIDIA driver too old for CUDA runtime " +
                                                       std::to_string(s.info.runtime_version) + ": " + ErrorText(e)
                                                 : "no usable CUDA device: " + ErrorText(e));
    return;
  }
  if (e != cudaSuccess) {
    s.probe_failure = Fail(s, e, "cudaGetDeviceCount");
    return;
  }
  if (count <= 0) {
    unavailable("no CUDA device");
    return;
  }
  s.info.device_count = count;

  cudaDeviceProp prop;
  e = cudaGetDeviceProperties(&prop, 0);
  if (e != cudaSuccess) {
    s.probe_failure = Fail(s, e, "cudaGetDeviceProperties(0)");
    return;
  }
  s.info.name = prop.name;
  s.info.total_memory = prop.totalGlobalMem;
  s.info.cc_major = prop.major;
  s.info.cc_minor = prop.minor;
  s.sm_count = std::max(prop.multiProcessorCount, 1);
  if (prop.major * 10 + prop.minor < 75) {
    unavailable("device 0 (" + s.info.name + ") has compute capability " + std::to_string(prop.major) + "." +
                std::to_string(prop.minor) + "; this build needs 7.5 or newer");
    return;
  }

  // A context, a stream, the slot events, and one tiny kernel: proves the binary runs here.
  e = cudaSetDevice(0);
  if (e == cudaSuccess) e = cudaFree(nullptr);
  if (e == cudaErrorDevicesUnavailable || e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) {
    (void)cudaGetLastError();
    unavailable("device 0 is not available: " + ErrorText(e));
    return;
  }
  if (e != cudaSuccess) {
    s.probe_failure = Fail(s, e, "creating a context on device 0");
    return;
  }
  auto fail = [&](cudaError_t err, const char* what) { s.probe_failure = Fail(s, err, what); };
  if ((e = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking)) != cudaSuccess) {
    s.stream = nullptr;
    return fail(e, "cudaStreamCreateWithFlags");
  }
  for (cudaEvent_t& ev : s.slot_done) {
    if ((e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming)) != cudaSuccess) {
      ev = nullptr;
      return fail(e, "cudaEventCreateWithFlags");
    }
  }
  int* d_flag = nullptr;
  if ((e = cudaMalloc(&d_flag, sizeof(int))) != cudaSuccess) return fail(e, "cudaMalloc(probe)");
  ProbeKernel<<<1, 32, 0, s.stream>>>(d_flag);
  e = cudaGetLastError();
  int flag = 0;
  if (e == cudaSuccess) e = cudaMemcpyAsync(&flag, d_flag, sizeof(int), cudaMemcpyDeviceToHost, s.stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s.stream);
  if (e != cudaSuccess) {
    DeviceFailure f = Fail(s, e, "probe kernel on " + s.info.name + " (compute capability " +
                                     std::to_string(prop.major) + "." + std::to_string(prop.minor) + ")");
    FreeDevice(s, d_flag);
    s.probe_failure = f;
    return;
  }
  FreeDevice(s, d_flag);
  if (flag != 42) {
    s.probe_failure = {DeviceError::kLaunch, "cuda: probe kernel on " + s.info.name + " produced a wrong result"};
    return;
  }
  s.usable = true;
  s.probe_failure = {};
}

// Lock held. Ready to issue work on device 0, or the reason not to.
DeviceFailure Ready(State& s) {
  if (s.lost) return LostFailure(s);
  if (!s.probed) ProbeLocked(s);
  if (s.lost) return LostFailure(s);
  if (!s.usable) return s.probe_failure;
  VG_CUDA(cudaSetDevice(0), "cudaSetDevice(0)");  // per calling thread
  return {};
}

DeviceFailure DistancesLocked(State& s, const exec::DistanceTask& t, size_t begin, size_t end) {
  const size_t n = end - begin, dims = t.dims, nq = t.n_queries;
  const size_t row_bytes = std::max<size_t>(dims, 1) * sizeof(float);
  size_t chunk = std::max<size_t>(1, Tuning::kStagingBytes / row_bytes);
  chunk = std::min(chunk, std::max<size_t>(1, Tuning::kStagingBytes / (nq * sizeof(float))));
  chunk = std::min(chunk, n);
  const bool tiled = nq >= Tuning::kTiledMinQueries;
  const bool need_rnorms = tiled && t.metric == Metric::kCosine;

  // Everything is reserved before the first async operation.
  VG_TRY(Reserve(s, s.d_queries, nq * dims * sizeof(float), "queries"));
  VG_TRY(Reserve(s, s.d_qnorms, nq * sizeof(float), "query norms"));
  VG_TRY(Reserve(s, s.d_rows, chunk * dims * sizeof(float), "rows"));
  VG_TRY(Reserve(s, s.d_out, nq * chunk * sizeof(float), "distances"));
  if (need_rnorms) VG_TRY(Reserve(s, s.d_rnorms, chunk * sizeof(float), "row norms"));
  VG_TRY(ReserveStaging(s, std::max(chunk * dims, nq * dims) * sizeof(float), nq * chunk * sizeof(float), 2));

  VG_TRY(Upload(s, s.d_queries.ptr, t.queries, nq * dims * sizeof(float), "queries"));
  if (t.query_norms != nullptr) {
    VG_TRY(Upload(s, s.d_qnorms.ptr, t.query_norms, nq * sizeof(float), "query norms"));
  } else {
    VG_CUDA(cudaMemsetAsync(s.d_qnorms.ptr, 0, nq * sizeof(float), s.stream), "cudaMemsetAsync(query norms)");
  }

  struct Pending {
    bool live = false;
    size_t r0 = 0, rows = 0;
  } pending[2];
  // Waits for the slot's last use and scatters its results into each query's stripe of t.out.
  auto drain = [&](int slot) -> DeviceFailure {
    VG_CUDA(cudaEventSynchronize(s.slot_done[slot]), "distances: cudaEventSynchronize");
    Pending& p = pending[slot];
    if (p.live) {
      const float* src = static_cast<const float*>(s.pin_out[slot].ptr);
      for (size_t q = 0; q < nq; ++q) {
        std::memcpy(t.out + q * t.n_rows + p.r0, src + q * p.rows, p.rows * sizeof(float));
      }
      p.live = false;
    }
    return {};
  };

  size_t c = 0;
  for (size_t r0 = begin; r0 < end; r0 += chunk, ++c) {
    const int slot = static_cast<int>(c & 1);
    const size_t m = std::min(chunk, end - r0);
    VG_TRY(drain(slot));
    std::memcpy(s.pin_in[slot].ptr, t.rows + r0 * dims, m * dims * sizeof(float));
    VG_CUDA(cudaMemcpyAsync(s.d_rows.ptr, s.pin_in[slot].ptr, m * dims * sizeof(float), cudaMemcpyHostToDevice,
                            s.stream),
            "distances: cudaMemcpyAsync(rows)");
    if (need_rnorms) VG_TRY(LaunchNorms(s, s.d_rows.f(), m, dims, s.d_rnorms.f(), false));
    VG_TRY(LaunchDistances(s, t.metric, s.d_rows.f(), m, dims, s.d_queries.f(), s.d_qnorms.f(), nq,
                           need_rnorms ? s.d_rnorms.f() : nullptr, s.d_out.f(), m));
    VG_CUDA(cudaMemcpyAsync(s.pin_out[slot].ptr, s.d_out.ptr, nq * m * sizeof(float), cudaMemcpyDeviceToHost,
                            s.stream),
            "distances: cudaMemcpyAsync(results)");
    VG_CUDA(cudaEventRecord(s.slot_done[slot], s.stream), "distances: cudaEventRecord");
    pending[slot] = Pending{true, r0, m};
  }
  VG_TRY(drain(static_cast<int>(c & 1)));
  VG_TRY(drain(static_cast<int>((c + 1) & 1)));
  return {};
}

// Makes key's rows resident (uploading on a miss) and returns them in *out.
DeviceFailure EnsureResident(State& s, const MatrixKey& key, const float* host_rows, size_t n_rows, size_t dims,
                             DeviceMatrix** out) {
  if (s.residency.Lookup(key)) {
    auto it = s.matrices.find(key.object);
    if (it != s.matrices.end() && it->second.version == key.version && it->second.n_rows == n_rows &&
        it->second.dims == dims) {
      *out = &it->second;
      return {};
    }
    // Same key, different shape (the owner forgot to bump the version): upload again.
    FreeMatrix(s, key);
    (void)s.residency.Remove(key);
  }
  if (host_rows == nullptr) return {DeviceError::kLaunch, "cuda: knn: matrix rows are null"};
  const size_t rows_bytes = n_rows * dims * sizeof(float), norm_bytes = n_rows * sizeof(float);
  const size_t bytes = rows_bytes + norm_bytes;
  exec::ResidencyTracker::Admission a = s.residency.Admit(key, bytes);
  for (const MatrixKey& k : a.evict) FreeMatrix(s, k);
  if (s.lost) return LostFailure(s);
  if (!a.fits) {
    return {DeviceError::kOutOfMemory, "cuda: knn: matrix of " + std::to_string(bytes) +
                                           " bytes does not fit the GPU memory budget of " +
                                           std::to_string(s.residency.budget()) + " bytes"};
  }
  DeviceMatrix m;
  m.version = key.version;
  m.n_rows = n_rows;
  m.dims = dims;
  auto drop = [&](DeviceFailure f) {
    FreeDevice(s, m.rows);
    FreeDevice(s, m.norms_sq);
    (void)s.residency.Remove(key);
    return f;
  };
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, std::max<size_t>(rows_bytes, 1));
  if (e != cudaSuccess) return drop(Fail(s, e, "cudaMalloc(resident matrix, " + std::to_string(rows_bytes) + " bytes)"));
  m.rows = static_cast<float*>(p);
  e = cudaMalloc(&p, std::max<size_t>(norm_bytes, 1));
  if (e != cudaSuccess) return drop(Fail(s, e, "cudaMalloc(resident norms, " + std::to_string(norm_bytes) + " bytes)"));
  m.norms_sq = static_cast<float*>(p);
  if (DeviceFailure f = Upload(s, m.rows, host_rows, rows_bytes, "resident matrix"); !f.ok()) return drop(f);
  if (DeviceFailure f = LaunchNorms(s, m.rows, n_rows, dims, m.norms_sq, false); !f.ok()) return drop(f);
  // Synchronise once so a failed upload is never mistaken for a resident matrix later.
  e = cudaStreamSynchronize(s.stream);
  if (e != cudaSuccess) return drop(Fail(s, e, "upload resident matrix: cudaStreamSynchronize"));
  DeviceMatrix& slot = s.matrices[key.object];
  slot = m;
  *out = &slot;
  return {};
}

float KeyDistance(Key key) {
  const uint32_t u = static_cast<uint32_t>(key >> 32);
  const uint32_t bits = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

DeviceFailure KnnLocked(State& s, const MatrixKey& key, const float* host_rows, size_t n_rows, size_t dims,
                        Metric metric, const float* queries, size_t n_queries, size_t k, int64_t* out_index,
                        float* out_dist) {
  const size_t kk = std::min(k, n_rows);  // selected on the device; the rest is −1 padding
  size_t qc = Tuning::kMaxKnnScratchBytes / (n_rows * sizeof(float));
  qc = std::max<size_t>(1, std::min({qc, n_queries, Tuning::kMaxQueryChunk}));
  const size_t target_blocks = static_cast<size_t>(s.sm_count) * Tuning::kBlocksPerSm;
  const size_t by_size = std::max<size_t>(1, n_rows / std::max(Tuning::kMinSliceItems, 4 * kk));
  const size_t slices = std::max<size_t>(1, std::min((target_blocks + qc - 1) / qc, by_size));

  // Everything is reserved before the first async operation.
  VG_TRY(ReserveStaging(s, std::max(n_rows * dims, qc * dims) * sizeof(float), qc * kk * sizeof(Key), 1));
  VG_TRY(Reserve(s, s.d_queries, qc * dims * sizeof(float), "queries"));
  VG_TRY(Reserve(s, s.d_qnorms, qc * sizeof(float), "query norms"));
  VG_TRY(Reserve(s, s.d_dist, qc * n_rows * sizeof(float), "distance scratch"));
  if (slices > 1) VG_TRY(Reserve(s, s.d_keys1, qc * slices * kk * sizeof(Key), "selection scratch"));
  VG_TRY(Reserve(s, s.d_keys2, qc * kk * sizeof(Key), "selection results"));

  DeviceMatrix* m = nullptr;
  VG_TRY(EnsureResident(s, key, host_rows, n_rows, dims, &m));

  const Key* keys = static_cast<const Key*>(s.pin_out[0].ptr);
  for (size_t q0 = 0; q0 < n_queries; q0 += qc) {
    const size_t nq = std::min(qc, n_queries - q0);
    VG_TRY(Upload(s, s.d_queries.ptr, queries + q0 * dims, nq * dims * sizeof(float), "queries"));
    if (metric == Metric::kCosine) VG_TRY(LaunchNorms(s, s.d_queries.f(), nq, dims, s.d_qnorms.f(), true));
    VG_TRY(LaunchDistances(s, metric, m->rows, n_rows, dims, s.d_queries.f(), s.d_qnorms.f(), nq,
                           metric == Metric::kCosine ? m->norms_sq : nullptr, s.d_dist.f(), n_rows));
    const int kd = static_cast<int>(kk);
    SelectTopK<false><<<dim3(static_cast<unsigned>(slices), static_cast<unsigned>(nq)), kSelThreads, 0, s.stream>>>(
        s.d_dist.f(), nullptr, n_rows, n_rows, kd, slices > 1 ? s.d_keys1.k() : s.d_keys2.k());
    VG_CUDA(cudaGetLastError(), "launch SelectTopK");
    if (slices > 1) {
      SelectTopK<true><<<dim3(1, static_cast<unsigned>(nq)), kSelThreads, 0, s.stream>>>(
          nullptr, s.d_keys1.k(), slices * kk, slices * kk, kd, s.d_keys2.k());
      VG_CUDA(cudaGetLastError(), "launch SelectTopK (merge)");
    }
    VG_CUDA(cudaMemcpyAsync(s.pin_out[0].ptr, s.d_keys2.ptr, nq * kk * sizeof(Key), cudaMemcpyDeviceToHost,
                            s.stream),
            "knn: cudaMemcpyAsync(results)");
    VG_CUDA(cudaStreamSynchronize(s.stream), "knn: cudaStreamSynchronize");
    for (size_t q = 0; q < nq; ++q) {
      int64_t* idx = out_index + (q0 + q) * k;
      float* dist = out_dist + (q0 + q) * k;
      for (size_t j = 0; j < k; ++j) {
        const Key key_j = j < kk ? keys[q * kk + j] : kEmptyKey;
        if (key_j == kEmptyKey) {
          idx[j] = -1;
          dist[j] = std::numeric_limits<float>::infinity();
        } else {
          idx[j] = static_cast<int64_t>(key_j & 0xffffffffu);
          dist[j] = KeyDistance(key_j);
        }
      }
    }
  }
  return {};
}

}  // namespace

namespace detail {

void LatchLost(const std::string& reason);

exec::DeviceError ClassifyCudaError(cudaError_t e) {
  const DeviceError c = Classify(e);
  if (c == DeviceError::kIllegalAddress) LatchLost(std::string("cuda: ") + ErrorText(e));
  else (void)cudaGetLastError();  // clear a non-sticky error
  return c;
}

bool DeviceLost(std::string* reason) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.lost && reason != nullptr) *reason = s.lost_reason;
  return s.lost;
}

void LatchLost(const std::string& reason) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.lost) {
    s.lost = true;
    s.lost_reason = reason;
  }
}

}  // namespace detail

bool Compiled() { return true; }

bool Probe(GpuInfo* info, exec::DeviceFailure* failure) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.probed && !s.lost) ProbeLocked(s);
  if (info != nullptr) *info = s.info;
  DeviceFailure f = s.lost ? LostFailure(s) : (s.usable ? DeviceFailure{} : s.probe_failure);
  const bool ok = f.ok();
  if (failure != nullptr) *failure = std::move(f);
  return ok;
}

exec::DeviceFailure Distances(const exec::DistanceTask& t, size_t begin, size_t end) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  VG_TRY(Ready(s));
  if (begin > end || end > t.n_rows) {
    return {DeviceError::kLaunch, "cuda: distances: row range [" + std::to_string(begin) + ", " +
                                      std::to_string(end) + ") outside 0.." + std::to_string(t.n_rows)};
  }
  if (begin == end || t.n_queries == 0) return {};
  if (t.rows == nullptr || t.queries == nullptr || t.out == nullptr) {
    return {DeviceError::kLaunch, "cuda: distances: null buffer"};
  }
  if (t.dims > Tuning::kMaxDims) {
    return {DeviceError::kLaunch, "cuda: distances: " + std::to_string(t.dims) + " dimensions exceed the device limit"};
  }
  return DistancesLocked(s, t, begin, end);
}

exec::DeviceFailure KnnResident(const MatrixKey& key, const float* host_rows, size_t n_rows, size_t dims,
                                Metric metric, const float* queries, size_t n_queries, size_t k, int64_t* out_index,
                                float* out_dist) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  VG_TRY(Ready(s));
  if (k > kMaxDeviceK) {
    return {DeviceError::kLaunch, "cuda: knn: k " + std::to_string(k) + " exceeds the device limit " +
                                      std::to_string(kMaxDeviceK)};
  }
  if (k == 0 || n_queries == 0) return {};
  if (queries == nullptr || out_index == nullptr || out_dist == nullptr) {
    return {DeviceError::kLaunch, "cuda: knn: null buffer"};
  }
  if (dims > Tuning::kMaxDims) {
    return {DeviceError::kLaunch, "cuda: knn: " + std::to_string(dims) + " dimensions exceed the device limit"};
  }
  if (n_rows >= 0xffffffffu) {
    return {DeviceError::kLaunch, "cuda: knn: " + std::to_string(n_rows) + " rows exceed the device limit"};
  }
  if (n_rows == 0) {
    std::fill(out_index, out_index + n_queries * k, int64_t{-1});
    std::fill(out_dist, out_dist + n_queries * k, std::numeric_limits<float>::infinity());
    return {};
  }
  return KnnLocked(s, key, host_rows, n_rows, dims, metric, queries, n_queries, k, out_index, out_dist);
}

void ReleaseBuffers() {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  // Nothing is in flight between calls (each call synchronises or drains before returning).
  FreeScratch(s);     // FreeDevice touches no CUDA once lost
  FreeAllMatrices(s);
}

void SetMemoryBudget(size_t bytes) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  for (const MatrixKey& k : s.residency.SetBudget(bytes)) FreeMatrix(s, k);
}

CacheStats GetCacheStats() {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  exec::ResidencyCounters c = s.residency.counters();
  CacheStats out;
  out.hits = c.hits;
  out.misses = c.misses;
  out.evictions = c.evictions;
  out.bytes_resident = c.bytes_resident;
  out.entries = c.entries;
  out.budget = s.residency.budget();
  return out;
}

}  // namespace vecgraph::cuda
