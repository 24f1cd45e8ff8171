// kernels/cuda/spread.cu — the CUDA side of cuda::SpreadHop (engine/executor/cuda_bridge.h): one
// hop of spreading activation (engine/executor/backend.h HopTask) on device 0.
//
// How it works
//   The graph's arrays stay on the device, cached under (graph_id, graph_version) — the CSC when
//   a pull hop first needs it, the CSR when a push hop does — for at most kMaxResidentGraphs
//   graphs, least recently used out first. Each call uploads only what changes per hop (pulses,
//   or the frontier range with its pulses and slot offsets), runs one kernel, and copies the
//   range's results back; then it synchronises, so nothing is in flight between calls.
//
//   Pull: one thread per (node v, set q) of the item range sums v's in-edges in CSC order.
//   Push: one thread per (slot, set q) of the range's slots finds its frontier entry by binary
//   search over the slot offsets and writes pulse · w. Both use __dmul_rn / __dadd_rn, so no
//   fused multiply-add: every term and every sum is rounded exactly as on the CPU
//   (engine/executor/cpu_backend.cpp), in the same order, and results are bit-identical. (A
//   warp-per-node reduction would be faster on hubs but would add in a different order.)
//
// Errors: every CUDA call is checked and the launch error read after each launch; errors are
// classified by cuda_bridge.cu's detail::ClassifyCudaError (sticky → kIllegalAddress and the
// process-wide "lost" latch, after which no CUDA call is made; out of memory → kOutOfMemory, and
// the executor calls ReleaseSpreadBuffers before re-running the hop on the CPU; others → kLaunch).
// State is heap-allocated and never destroyed: device memory goes with the process, and no CUDA
// call runs from a static destructor while the runtime unloads.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>

#include "engine/executor/cuda_bridge.h"

namespace vecgraph::cuda {
namespace detail {
// Defined in cuda_bridge.cu.
exec::DeviceError ClassifyCudaError(cudaError_t e);
bool DeviceLost(std::string* reason);
void LatchLost(const std::string& reason);
}  // namespace detail

namespace {

using exec::DeviceError;
using exec::DeviceFailure;
using exec::HopTask;

struct Tuning {
  static constexpr int kThreads = 256;
  static constexpr size_t kMaxResidentGraphs = 2;
  static constexpr unsigned kMaxBlocks = 65535u * 8;
};

// ---- device code

__global__ void __launch_bounds__(Tuning::kThreads)
    PullKernel(const unsigned long long* __restrict__ off, const uint32_t* __restrict__ src,
               const float* __restrict__ w, const double* __restrict__ pulse, double* __restrict__ out,
               unsigned long long begin, unsigned long long count, unsigned nq) {
  const unsigned long long total = count * nq;
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const unsigned long long v = begin + i / nq;
    const unsigned q = static_cast<unsigned>(i % nq);
    double acc = 0.0;
    for (unsigned long long e = off[v], e_end = off[v + 1]; e < e_end; ++e) {
      acc = __dadd_rn(acc, __dmul_rn(pulse[static_cast<unsigned long long>(src[e]) * nq + q], static_cast<double>(w[e])));
    }
    out[i] = acc;
  }
}

// slots: the range's slot offsets rebased to 0 (n_entries + 1 values); frontier / fpulse: the
// range's entries. contrib[(s)*nq + q] for the range's slots s.
__global__ void __launch_bounds__(Tuning::kThreads)
    PushKernel(const unsigned long long* __restrict__ out_off, const float* __restrict__ w,
               const uint32_t* __restrict__ frontier, const double* __restrict__ fpulse,
               const unsigned long long* __restrict__ slots, unsigned long long n_entries, double* __restrict__ contrib,
               unsigned nq) {
  const unsigned long long total = slots[n_entries] * nq;
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const unsigned long long s = i / nq;
    const unsigned q = static_cast<unsigned>(i % nq);
    // The entry whose slots hold s: the last k with slots[k] <= s.
    unsigned long long lo = 0, hi = n_entries;
    while (hi - lo > 1) {
      const unsigned long long mid = (lo + hi) / 2;
      if (slots[mid] <= s) lo = mid;
      else hi = mid;
    }
    const unsigned long long j = s - slots[lo];
    const double wt = static_cast<double>(w[out_off[frontier[lo]] + j]);
    contrib[i] = __dmul_rn(fpulse[lo * nq + q], wt);
  }
}

// ---- host side

template <class T>
struct DeviceArray {
  T* p = nullptr;
  size_t n = 0;  // capacity in elements
};

struct DeviceGraph {
  uint64_t id = 0, version = 0;
  size_t n_nodes = 0, n_edges = 0;
  DeviceArray<unsigned long long> in_off, out_off;
  DeviceArray<uint32_t> in_src;
  DeviceArray<float> in_w, out_w;
  bool has_csc = false, has_csr = false;
};

struct State {
  std::mutex mu;
  bool lost = false;  // mirrors the shared latch once seen
  cudaStream_t stream = nullptr;
  std::list<DeviceGraph> graphs;  // front = most recently used
  DeviceArray<double> pulse, out, fpulse, contrib;
  DeviceArray<uint32_t> frontier;
  DeviceArray<unsigned long long> slots;
};

State& GlobalState() {
  static State* s = new State();  // never destroyed (see the header)
  return *s;
}

std::string ErrorText(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}

DeviceFailure Fail(State& s, cudaError_t e, const std::string& what) {
  const std::string text = ErrorText(e);  // before classification clears the error
  DeviceFailure f{detail::ClassifyCudaError(e), "cuda: spread: " + what + ": " + text};
  if (f.error == DeviceError::kIllegalAddress) {
    s.lost = true;
    return f;
  }
  if (s.stream != nullptr) {  // drain: no async work may still use our buffers
    const cudaError_t d = cudaStreamSynchronize(s.stream);
    if (d != cudaSuccess && detail::ClassifyCudaError(d) == DeviceError::kIllegalAddress) {
      s.lost = true;
      return {DeviceError::kIllegalAddress, "cuda: spread: " + what + ": cudaStreamSynchronize: " + ErrorText(d)};
    }
  }
  return f;
}

#define VG_SPREAD_CUDA(call, what)                                \
  do {                                                            \
    const cudaError_t vg_err_ = (call);                           \
    if (vg_err_ != cudaSuccess) return Fail(s, vg_err_, (what));  \
  } while (0)

#define VG_SPREAD_TRY(expr)          \
  do {                               \
    DeviceFailure vg_f_ = (expr);    \
    if (!vg_f_.ok()) return vg_f_;   \
  } while (0)

template <class T>
void FreeArray(State& s, DeviceArray<T>& a) {
  if (a.p != nullptr && !s.lost) {
    const cudaError_t e = cudaFree(a.p);
    if (e != cudaSuccess && e != cudaErrorCudartUnloading &&
        detail::ClassifyCudaError(e) == DeviceError::kIllegalAddress) {
      s.lost = true;
    }
  }
  a = {};
}

void FreeGraph(State& s, DeviceGraph& g) {
  FreeArray(s, g.in_off);
  FreeArray(s, g.in_src);
  FreeArray(s, g.in_w);
  FreeArray(s, g.out_off);
  FreeArray(s, g.out_w);
  g.has_csc = g.has_csr = false;
}

void FreeAll(State& s) {
  for (DeviceGraph& g : s.graphs) FreeGraph(s, g);
  s.graphs.clear();
  FreeArray(s, s.pulse);
  FreeArray(s, s.out);
  FreeArray(s, s.fpulse);
  FreeArray(s, s.contrib);
  FreeArray(s, s.frontier);
  FreeArray(s, s.slots);
}

// Grows a scratch array to at least n elements (contents are not kept).
template <class T>
DeviceFailure Reserve(State& s, DeviceArray<T>& a, size_t n, const char* what) {
  if (a.n >= n) return {};
  FreeArray(s, a);
  if (s.lost) return {DeviceError::kIllegalAddress, "cuda: spread: device lost"};
  const size_t want = std::max<size_t>(n, 1024);
  VG_SPREAD_CUDA(cudaMalloc(reinterpret_cast<void**>(&a.p), want * sizeof(T)), std::string("cudaMalloc ") + what);
  a.n = want;
  return {};
}

template <class T>
DeviceFailure Upload(State& s, DeviceArray<T>& a, const T* host, size_t n, const char* what) {
  VG_SPREAD_TRY(Reserve(s, a, n, what));
  if (n == 0) return {};
  VG_SPREAD_CUDA(cudaMemcpyAsync(a.p, host, n * sizeof(T), cudaMemcpyHostToDevice, s.stream),
                 std::string("upload ") + what);
  return {};
}

// The resident copy of t's graph with the arrays `pull` needs (CSC) or push needs (CSR).
DeviceFailure ResidentGraph(State& s, const HopTask& t, bool pull, DeviceGraph** out) {
  auto it = std::find_if(s.graphs.begin(), s.graphs.end(),
                         [&](const DeviceGraph& g) { return g.id == t.graph_id && g.version == t.graph_version; });
  if (it == s.graphs.end()) {
    // Stale versions of the same graph are garbage; then keep at most kMaxResidentGraphs - 1 others.
    for (auto g = s.graphs.begin(); g != s.graphs.end();) {
      if (g->id == t.graph_id) {
        FreeGraph(s, *g);
        g = s.graphs.erase(g);
      } else {
        ++g;
      }
    }
    while (s.graphs.size() >= Tuning::kMaxResidentGraphs) {
      FreeGraph(s, s.graphs.back());
      s.graphs.pop_back();
    }
    DeviceGraph g;
    g.id = t.graph_id;
    g.version = t.graph_version;
    g.n_nodes = t.n_nodes;
    g.n_edges = t.n_edges;
    s.graphs.push_front(g);
    it = s.graphs.begin();
  } else if (it != s.graphs.begin()) {
    s.graphs.splice(s.graphs.begin(), s.graphs, it);
    it = s.graphs.begin();
  }
  DeviceGraph& g = *it;
  static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "offsets are 64-bit on both sides");
  if (pull && !g.has_csc) {
    const auto* off = reinterpret_cast<const unsigned long long*>(t.in_offsets);
    VG_SPREAD_TRY(Upload(s, g.in_off, off, t.n_nodes + 1, "CSC offsets"));
    VG_SPREAD_TRY(Upload(s, g.in_src, t.in_src, t.n_edges, "CSC sources"));
    VG_SPREAD_TRY(Upload(s, g.in_w, t.in_w, t.n_edges, "CSC weights"));
    g.has_csc = true;
  }
  if (!pull && !g.has_csr) {
    const auto* off = reinterpret_cast<const unsigned long long*>(t.out_offsets);
    VG_SPREAD_TRY(Upload(s, g.out_off, off, t.n_nodes + 1, "CSR offsets"));
    VG_SPREAD_TRY(Upload(s, g.out_w, t.out_w, t.n_edges, "CSR weights"));
    g.has_csr = true;
  }
  *out = &g;
  return {};
}

unsigned Blocks(unsigned long long threads) {
  const unsigned long long b = (threads + Tuning::kThreads - 1) / Tuning::kThreads;
  return static_cast<unsigned>(std::max<unsigned long long>(1, std::min<unsigned long long>(b, Tuning::kMaxBlocks)));
}

DeviceFailure PullLocked(State& s, const HopTask& t, size_t begin, size_t end) {
  DeviceGraph* g = nullptr;
  VG_SPREAD_TRY(ResidentGraph(s, t, /*pull=*/true, &g));
  const size_t nq = t.n_queries;
  const size_t count = end - begin;
  VG_SPREAD_TRY(Upload(s, s.pulse, t.pulse, t.n_nodes * nq, "pulses"));
  VG_SPREAD_TRY(Reserve(s, s.out, count * nq, "sums"));
  PullKernel<<<Blocks(static_cast<unsigned long long>(count) * nq), Tuning::kThreads, 0, s.stream>>>(
      g->in_off.p, g->in_src.p, g->in_w.p, s.pulse.p, s.out.p, begin, count, static_cast<unsigned>(nq));
  VG_SPREAD_CUDA(cudaGetLastError(), "launch PullKernel");
  VG_SPREAD_CUDA(cudaMemcpyAsync(t.out + begin * nq, s.out.p, count * nq * sizeof(double), cudaMemcpyDeviceToHost,
                                 s.stream),
                 "download sums");
  VG_SPREAD_CUDA(cudaStreamSynchronize(s.stream), "PullKernel");
  return {};
}

DeviceFailure PushLocked(State& s, const HopTask& t, size_t begin, size_t end) {
  DeviceGraph* g = nullptr;
  VG_SPREAD_TRY(ResidentGraph(s, t, /*pull=*/false, &g));
  const size_t nq = t.n_queries;
  const size_t entries = end - begin;
  const uint64_t first_slot = t.slot_offsets[begin];
  const uint64_t n_slots = t.slot_offsets[end] - first_slot;
  if (n_slots == 0) return {};
  // Slot offsets of the range, rebased to 0 (host copy; small: one per frontier entry).
  thread_local std::vector<unsigned long long> rebased;
  rebased.resize(entries + 1);
  for (size_t i = 0; i <= entries; ++i) rebased[i] = t.slot_offsets[begin + i] - first_slot;
  VG_SPREAD_TRY(Upload(s, s.frontier, t.frontier + begin, entries, "frontier"));
  VG_SPREAD_TRY(Upload(s, s.fpulse, t.frontier_pulse + begin * nq, entries * nq, "frontier pulses"));
  VG_SPREAD_TRY(Upload(s, s.slots, rebased.data(), entries + 1, "slot offsets"));
  VG_SPREAD_TRY(Reserve(s, s.contrib, n_slots * nq, "contributions"));
  PushKernel<<<Blocks(n_slots * nq), Tuning::kThreads, 0, s.stream>>>(
      g->out_off.p, g->out_w.p, s.frontier.p, s.fpulse.p, s.slots.p, entries, s.contrib.p, static_cast<unsigned>(nq));
  VG_SPREAD_CUDA(cudaGetLastError(), "launch PushKernel");
  VG_SPREAD_CUDA(cudaMemcpyAsync(t.contrib + first_slot * nq, s.contrib.p, n_slots * nq * sizeof(double),
                                 cudaMemcpyDeviceToHost, s.stream),
                 "download contributions");
  VG_SPREAD_CUDA(cudaStreamSynchronize(s.stream), "PushKernel");
  return {};
}

}  // namespace

exec::DeviceFailure SpreadHop(const exec::HopTask& t, size_t begin, size_t end) {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  std::string reason;
  if (s.lost || detail::DeviceLost(&reason)) {
    s.lost = true;
    return {DeviceError::kIllegalAddress, "cuda: device lost earlier in this process: " + reason};
  }
  if (begin > end || end > t.Items()) {
    return {DeviceError::kLaunch, "cuda: spread: item range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                      ") outside 0.." + std::to_string(t.Items())};
  }
  if (begin == end) return {};
  if (t.n_queries == 0 || t.n_queries > exec::kMaxHopQueries) {
    return {DeviceError::kLaunch, "cuda: spread: " + std::to_string(t.n_queries) + " sets per hop (at most " +
                                      std::to_string(exec::kMaxHopQueries) + ")"};
  }
  const bool pull = t.direction == HopTask::Direction::kPull;
  if (pull ? (t.in_offsets == nullptr || t.in_src == nullptr || t.in_w == nullptr || t.pulse == nullptr ||
              t.out == nullptr)
           : (t.out_offsets == nullptr || t.out_w == nullptr || t.frontier == nullptr ||
              t.frontier_pulse == nullptr || t.slot_offsets == nullptr || t.contrib == nullptr)) {
    return {DeviceError::kLaunch, "cuda: spread: null buffer"};
  }
  VG_SPREAD_CUDA(cudaSetDevice(0), "cudaSetDevice(0)");  // per calling thread
  if (s.stream == nullptr) {
    VG_SPREAD_CUDA(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  }
  return pull ? PullLocked(s, t, begin, end) : PushLocked(s, t, begin, end);
}

void ReleaseSpreadBuffers() {
  State& s = GlobalState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.lost && detail::DeviceLost(nullptr)) s.lost = true;
  FreeAll(s);  // touches no CUDA once lost
}

}  // namespace vecgraph::cuda
