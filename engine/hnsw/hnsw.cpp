// engine/hnsw/hnsw.cpp — HNSW index core: configuration, storage, level draw, distances, scratch
// pool, change tracking and small accessors. Search: hnsw_search.cpp; insert/delete:
// hnsw_build.cpp; optimize/check/persistence: hnsw_maintain.cpp. Overview in hnsw.h.
#include "engine/hnsw/hnsw.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/hnsw/hnsw_internal.h"
#include "engine/vector/distance.h"

namespace vecgraph::hnsw {

Status HnswConfig::Validate() const {
  if (dim < kMinDim || dim > kMaxDim) {
    return Status::InvalidArgument(StrFormat("hnsw: dim must be between %u and %u, found %u", kMinDim, kMaxDim, dim));
  }
  if (metric != Metric::kCosine && metric != Metric::kDot && metric != Metric::kL2) {
    return Status::InvalidArgument(StrFormat("hnsw: unknown metric %d", static_cast<int>(metric)));
  }
  if (M < kMinM || M > kMaxM) {
    return Status::InvalidArgument(StrFormat("hnsw: M must be between %u and %u, found %u", kMinM, kMaxM, M));
  }
  if (ef_construction < 1 || ef_construction > kMaxEf) {
    return Status::InvalidArgument(
        StrFormat("hnsw: ef_construction must be between 1 and %u, found %u", kMaxEf, ef_construction));
  }
  if (ef_search < 1 || ef_search > kMaxEf) {
    return Status::InvalidArgument(StrFormat("hnsw: ef_search must be between 1 and %u, found %u", kMaxEf, ef_search));
  }
  if (rescore > kMaxRescore) {
    return Status::InvalidArgument(StrFormat("hnsw: rescore must be between 0 and %u, found %u", kMaxRescore, rescore));
  }
  if (!(filter_graph_cost_rows >= 0.0 && filter_graph_cost_rows <= 1e15)) {
    return Status::InvalidArgument(
        StrFormat("hnsw: filter_graph_cost_rows must be between 0 and 1e15, found %g", filter_graph_cost_rows));
  }
  if (!(filter_hop_fraction >= 0.0 && filter_hop_fraction <= 1.0)) {
    return Status::InvalidArgument(
        StrFormat("hnsw: filter_hop_fraction must be between 0 and 1, found %g", filter_hop_fraction));
  }
  if (!(filter_exact_max_fraction >= 0.0 && filter_exact_max_fraction <= 1.0)) {
    return Status::InvalidArgument(
        StrFormat("hnsw: filter_exact_max_fraction must be between 0 and 1, found %g", filter_exact_max_fraction));
  }
  return Status::Ok();
}

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

// P(level ≥ L) = M^−L exactly, i.e. the paper's ⌊−ln(u)·m_L⌋ with m_L = 1/ln(M), computed with
// integers only (no libm: the same level on every platform). Level ≥ L ⇔ h < ⌊…⌊2^64/M⌋…/M⌋.
int HnswIndex::LevelFor(int64_t rowid, uint64_t seed, uint32_t M) {
  uint64_t h = SplitMix64(static_cast<uint64_t>(rowid) ^ SplitMix64(seed));
  uint64_t limit = UINT64_MAX;
  int level = 0;
  while (level < kMaxLevel) {
    limit /= M;
    if (h >= limit) break;
    ++level;
  }
  return level;
}

HnswIndex::HnswIndex(const HnswConfig& config)
    : cfg_(config),
      kt_(&kernels::Kernels()),
      dim_(config.dim),
      m0_(config.MaxLinks0()),
      m_(config.MaxLinks()),
      ip_(config.metric != Metric::kL2) {}

HnswIndex::~HnswIndex() = default;

StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Create(const HnswConfig& config) {
  VG_RETURN_IF_ERROR(config.Validate());
  return std::unique_ptr<HnswIndex>(new HnswIndex(config));
}

size_t HnswIndex::size() const {
  std::shared_lock lock(mu_);
  return live_;
}
size_t HnswIndex::node_count() const {
  std::shared_lock lock(mu_);
  return n_;
}
size_t HnswIndex::tombstones() const {
  std::shared_lock lock(mu_);
  return n_ - live_;
}
bool HnswIndex::Contains(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  return id != kInvalidNode && Live(id);
}
bool HnswIndex::NeedsOptimize(double fraction) const {
  std::shared_lock lock(mu_);
  return n_ > live_ && static_cast<double>(n_ - live_) >= fraction * static_cast<double>(n_);
}

void HnswIndex::SetCpuBackend(exec::CpuBackend* cpu) {
  std::unique_lock lock(mu_);
  cpu_ = cpu;
}

Status HnswIndex::SetEfSearch(uint32_t ef) {
  if (ef < 1 || ef > kMaxEf) {
    return Status::InvalidArgument(StrFormat("hnsw: ef_search must be between 1 and %u, found %u", kMaxEf, ef));
  }
  std::unique_lock lock(mu_);
  if (cfg_.ef_search != ef) header_dirty_ = true;
  cfg_.ef_search = ef;
  return Status::Ok();
}

float HnswIndex::DistNodes(NodeId a, NodeId b) const {
  return ip_ ? RawDist<true>(kt_, Vec(a), Vec(b), dim_) : RawDist<false>(kt_, Vec(a), Vec(b), dim_);
}
float HnswIndex::DistTo(const float* q, NodeId b) const {
  return ip_ ? RawDist<true>(kt_, q, Vec(b), dim_) : RawDist<false>(kt_, q, Vec(b), dim_);
}

// Cosine: the unit vector (UnitVector: normalised in double by a plain sequential loop, the same
// bits on any ISA); a zero vector stays zero. Other metrics: a copy.
void HnswIndex::StoredFormOf(Metric metric, std::span<const float> in, float* out) {
  if (metric != Metric::kCosine) {
    std::memcpy(out, in.data(), in.size() * sizeof(float));
    return;
  }
  UnitVector(in.data(), in.size(), out);
}

void HnswIndex::StoreVector(const float* in, float* out) const { StoredFormOf(cfg_.metric, {in, dim_}, out); }

std::vector<float> HnswIndex::StoredForm(std::span<const float> in) const {
  std::vector<float> out(dim_);
  if (in.size() == dim_) StoreVector(in.data(), out.data());
  return out;
}

Status HnswIndex::CheckQuery(std::span<const float> q) const {
  if (q.size() != dim_) {
    return Status::InvalidArgument(
        StrFormat("hnsw: dimension mismatch: query has %zu, index has %zu", q.size(), dim_));
  }
  Status st = CheckFinite(q);
  if (!st.ok()) return Status::InvalidArgument("hnsw: query: " + st.message());
  return Status::Ok();
}

// qi: the query in the internal space (cosine: unit vector); q_norm: |q| for reported cosine
// distances; zero: a zero cosine query (every distance is 1).
void HnswIndex::PrepareQuery(const float* q, float* qi, float* q_norm, bool* zero) const {
  *zero = false;
  *q_norm = 0;
  if (cfg_.metric != Metric::kCosine) {
    std::memcpy(qi, q, dim_ * sizeof(float));
    return;
  }
  StoreVector(q, qi);
  *q_norm = static_cast<float>(Norm(q, dim_));
  bool all_zero = true;
  for (size_t i = 0; i < dim_ && all_zero; ++i) all_zero = qi[i] == 0.0f;
  *zero = all_zero || *q_norm == 0.0f;
}

HnswIndex::SearchContext* HnswIndex::AcquireContext() const {
  std::unique_ptr<SearchContext> c;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      c = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!c) c = std::make_unique<SearchContext>();
  c->Fit(n_, m0_, dim_);
  return c.release();
}

void HnswIndex::ReleaseContext(SearchContext* ctx) const {
  std::unique_ptr<SearchContext> c(ctx);
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(std::move(c));  // may throw bad_alloc: then c frees the context
}

void HnswIndex::Touch(NodeId id) {
  if ((flags_[id] & kFlagDirty) == 0) {
    flags_[id] |= kFlagDirty;
    touched_.push_back(rowid_[id]);
  }
  header_dirty_ = true;
}

HnswChanges HnswIndex::TakeChanges() {
  std::unique_lock lock(mu_);
  HnswChanges ch;
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (int64_t r : touched_) {
    NodeId id = map_.Find(r);
    if (id != kInvalidNode) {
      flags_[id] &= static_cast<uint8_t>(~kFlagDirty);
      ch.written.push_back(r);
    } else {
      ch.erased.push_back(r);
    }
  }
  touched_.clear();
  ch.header = header_dirty_;
  header_dirty_ = false;
  return ch;
}

bool HnswIndex::HasChanges() const {
  std::shared_lock lock(mu_);
  return header_dirty_ || !touched_.empty();
}

HnswHeader HnswIndex::Header() const {
  std::shared_lock lock(mu_);
  HnswHeader h;
  h.dim = cfg_.dim;
  h.metric = cfg_.metric;
  h.M = cfg_.M;
  h.ef_construction = cfg_.ef_construction;
  h.ef_search = cfg_.ef_search;
  h.seed = cfg_.seed;
  h.keep_pruned_connections = cfg_.keep_pruned_connections;
  h.quantizer = cfg_.quantizer;
  h.rescore = cfg_.rescore;
  h.entry_rowid = entry_ != kInvalidNode ? rowid_[entry_] : 0;
  h.max_level = entry_ != kInvalidNode ? static_cast<uint32_t>(max_level_) : 0;
  h.node_count = n_;
  h.live_count = live_;
  return h;
}

size_t HnswIndex::MemoryBytes() const {
  std::shared_lock lock(mu_);
  size_t b = sizeof(*this) + vecs_.bytes() + links0_.bytes() + codes_.bytes() + scales_.bytes() + upper_.capacity() * sizeof(uint32_t) +
             upper_off_.capacity() * sizeof(uint32_t) + rowid_.capacity() * sizeof(int64_t) + level_.capacity() +
             flags_.capacity() + map_.bytes() + touched_.capacity() * sizeof(int64_t) + attrs_.bytes() +
             HopListsBytes();
  std::lock_guard<std::mutex> pl(pool_mu_);
  for (const auto& c : pool_) b += sizeof(SearchContext) + c->bytes();
  return b;
}

HnswIndex::MemoryParts HnswIndex::MemoryByPart() const {
  std::shared_lock lock(mu_);
  MemoryParts p;
  p.vectors = vecs_.bytes();
  p.codes = codes_.bytes() + scales_.bytes();
  p.graph = links0_.bytes() + upper_.capacity() * sizeof(uint32_t) + upper_off_.capacity() * sizeof(uint32_t) +
            rowid_.capacity() * sizeof(int64_t) + level_.capacity() + flags_.capacity() + map_.bytes();
  p.attributes = attrs_.bytes() + HopListsBytes();  // metadata, its filter cache and their two-hop lists
  return p;
}

int HnswIndex::MaxLevel() const {
  std::shared_lock lock(mu_);
  return entry_ != kInvalidNode ? max_level_ : -1;
}

HnswCounters HnswIndex::Counters() const {
  std::shared_lock lock(mu_);
  HnswCounters c;
  c.searches = n_searches_.load(std::memory_order_relaxed);
  c.search_distances = n_search_dist_.load(std::memory_order_relaxed);
  c.exact_scans = n_exact_.load(std::memory_order_relaxed);
  c.inserts = n_inserts_;
  c.deletes = n_deletes_;
  return c;
}

std::vector<int64_t> HnswIndex::Rowids() const {
  std::shared_lock lock(mu_);
  std::vector<int64_t> out;
  out.reserve(live_);
  for (size_t i = 0; i < n_; ++i)
    if (Live(static_cast<NodeId>(i))) out.push_back(rowid_[i]);
  std::sort(out.begin(), out.end());
  return out;
}

int HnswIndex::LevelOf(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  return id == kInvalidNode ? -1 : level_[id];
}

StatusOr<std::vector<std::vector<int64_t>>> HnswIndex::Neighbors(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  if (id == kInvalidNode) {
    return Status::InvalidArgument(StrFormat("hnsw: rowid %lld not found", static_cast<long long>(rowid)));
  }
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(level_[id]) + 1);
  for (int l = 0; l <= level_[id]; ++l) {
    const uint32_t* lst = Links(id, l);
    size_t c = Count(lst, Cap(l));
    for (size_t j = 0; j < c; ++j) out[static_cast<size_t>(l)].push_back(rowid_[lst[j]]);
  }
  return out;
}

void HnswIndex::SetGrouped() {
  std::unique_lock lock(mu_);
  ForgetHopLists();
  grouped_ = true;
  group_.assign(n_, kNoGroup);
  groups_.clear();
}

Status HnswIndex::SetGroup(int64_t rowid, uint32_t group) {
  std::unique_lock lock(mu_);
  ForgetHopLists();
  if (!grouped_) return Status::InvalidArgument("hnsw: SetGroup on an index without groups");
  NodeId id = map_.Find(rowid);
  if (id == kInvalidNode) {
    return Status::InvalidArgument(StrFormat("hnsw: group: rowid %lld not found", static_cast<long long>(rowid)));
  }
  group_[id] = group;
  return Status::Ok();
}

void HnswIndex::FinishGroups() {
  std::unique_lock lock(mu_);
  ForgetHopLists();
  groups_.clear();
  for (size_t i = 0; i < n_; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    if (!Live(id) || group_[i] == kNoGroup) continue;
    GroupInfo& g = groups_[group_[i]];
    ++g.live;
    if (EntryBefore(id, g.entry)) {
      g.entry = id;
      g.max_level = level_[i];
    }
  }
  ClusterGroupsLocked();
}

void HnswIndex::RecomputeGroupEntry(uint32_t g) {
  GroupInfo& info = groups_[g];
  info.entry = PickEntry([this, g](NodeId v) { return group_[v] != g || (flags_[v] & kFlagInBatch) != 0; });
  info.max_level = info.entry != kInvalidNode ? level_[info.entry] : -1;
}

uint32_t HnswIndex::GroupOf(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  return grouped_ && id != kInvalidNode ? group_[id] : kNoGroup;
}

size_t HnswIndex::GroupCount() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [g, info] : groups_) n += info.live > 0;
  return n;
}

void HnswIndex::SetAttributeSchema(std::vector<AttrType> types) {
  std::unique_lock lock(mu_);
  ForgetHopLists();
  attrs_.SetSchema(std::move(types));
  attrs_.Resize(n_);
}

std::vector<AttrType> HnswIndex::AttributeSchema() const {
  std::shared_lock lock(mu_);
  return attrs_.schema();
}

Status HnswIndex::SetAttributes(int64_t rowid, std::span<const AttrValue> row) {
  return Guard([&]() -> Status {
    std::unique_lock lock(mu_);
    ForgetHopLists();
    NodeId id = map_.Find(rowid);
    if (id == kInvalidNode) {
      return Status::InvalidArgument(StrFormat("hnsw: attributes: rowid %lld not found", static_cast<long long>(rowid)));
    }
    return attrs_.Set(id, row);
  });
}

StatusOr<AttrValue> HnswIndex::Attribute(int64_t rowid, uint32_t column) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  if (id == kInvalidNode) {
    return Status::InvalidArgument(StrFormat("hnsw: attributes: rowid %lld not found", static_cast<long long>(rowid)));
  }
  if (column >= attrs_.columns()) return Status::InvalidArgument("hnsw: attributes: column out of range");
  return attrs_.Get(id, column);
}

size_t HnswIndex::AttributeBytes() const {
  std::shared_lock lock(mu_);
  return attrs_.bytes();
}

void HnswIndex::Reset() {
  std::unique_lock lock(mu_);
  ForgetHopLists();
  ClearNodesLocked();
  touched_ = {};
  header_dirty_ = false;
}

void HnswIndex::ClearNodesLocked() {
  n_ = 0;
  live_ = 0;
  vecs_ = AlignedBuffer<float>();
  links0_ = AlignedBuffer<uint32_t>();
  codes_ = AlignedBuffer<uint8_t>();
  scales_ = AlignedBuffer<CodeScale>();
  upper_ = {};
  upper_off_ = {};
  rowid_ = {};
  level_ = {};
  flags_ = {};
  attrs_.Resize(0);
  group_.clear();
  groups_.clear();
  map_.Clear();
  entry_ = kInvalidNode;
  max_level_ = -1;
  ++generation_;
}

}  // namespace vecgraph::hnsw
