// engine/hnsw/hnsw_maintain.cpp — Optimize (purge tombstones, compact ids, reconnect), Check
// (consistency report), and the persistence hooks: node encoding, loading from records with
// hostile-input checks, reload.
#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/hnsw/hnsw_internal.h"

namespace vecgraph::hnsw {

namespace {

long long LL(int64_t v) { return static_cast<long long>(v); }

// A load allocates and frees tens of MB of scratch (neighbour rowids of every record, the growth
// of the storage arrays). glibc keeps freed heap memory mapped, so the process would hold that
// much more than the index needs; give it back once the load is over.
void ReleaseFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace

// ---- Optimize --------------------------------------------------------------------------------

void HnswIndex::PurgeAllLocked() {
  for (size_t i = 0; i < n_; ++i) touched_.push_back(rowid_[i]);
  ClearNodesLocked();
  header_dirty_ = true;
}

// Drops every tombstone slot and renumbers the live nodes densely, keeping their order. Live
// lists must not link to tombstones any more (links to them are dropped defensively).
void HnswIndex::Compact(std::vector<int64_t>* purged) {
  std::vector<NodeId> remap(n_, kInvalidNode);
  size_t nn = 0;
  for (size_t i = 0; i < n_; ++i) {
    if (Live(static_cast<NodeId>(i))) {
      remap[i] = static_cast<NodeId>(nn++);
    } else {
      purged->push_back(rowid_[i]);
      touched_.push_back(rowid_[i]);
    }
  }
  if (nn == n_) return;
  RemapLocked(remap, nn);
  header_dirty_ = true;
}

// Grouped index: node ids in group order (a stable sort: within a group, the old order), so that
// a partition's nodes are contiguous in every per-node array and a walk of one group touches as
// few cache lines as a standalone index of that group would. Links, the persisted records (they
// name rowids) and every answer are unchanged; AllowedSets made before are invalidated.
void HnswIndex::ClusterGroupsLocked() {
  if (!grouped_ || n_ < 2) return;
  bool sorted = true;
  for (size_t i = 1; i < n_ && sorted; ++i) sorted = group_[i - 1] <= group_[i];
  if (sorted) return;
  std::vector<NodeId> order(n_);
  for (size_t i = 0; i < n_; ++i) order[i] = static_cast<NodeId>(i);
  std::stable_sort(order.begin(), order.end(), [this](NodeId a, NodeId b) { return group_[a] < group_[b]; });
  std::vector<NodeId> remap(n_);
  for (size_t i = 0; i < n_; ++i) remap[order[i]] = static_cast<NodeId>(i);
  RemapLocked(remap, n_);
}

// Moves node i to remap[i] (kInvalidNode: drops it; remap is injective onto [0, nn)), rewriting
// every per-node array and every link; links to dropped nodes go.
void HnswIndex::RemapLocked(const std::vector<NodeId>& remap, size_t nn) {
  AlignedBuffer<float> vecs;
  vecs.resize(nn * dim_);
  AlignedBuffer<uint32_t> links0;
  links0.resize(nn * m0_, kInvalidNode);
  AlignedBuffer<uint8_t> codes;
  AlignedBuffer<CodeScale> scales;
  if (Coded()) {
    codes.resize(nn * dim_);
    scales.resize(nn);
  }
  std::vector<uint32_t> upper, upper_off(nn, kInvalidNode);
  std::vector<int64_t> rowid(nn);
  std::vector<uint8_t> level(nn), flags(nn);
  auto copy_list = [&](const uint32_t* src, uint32_t* dst, uint32_t cap) {
    size_t c = Count(src, cap), w = 0;
    for (size_t j = 0; j < c; ++j) {
      NodeId v = remap[src[j]];
      if (v != kInvalidNode) dst[w++] = v;
    }
    for (; w < cap; ++w) dst[w] = kInvalidNode;
  };
  for (size_t i = 0; i < n_; ++i) {
    NodeId ni = remap[i];
    if (ni == kInvalidNode) continue;
    NodeId oi = static_cast<NodeId>(i);
    std::memcpy(vecs.data() + static_cast<size_t>(ni) * dim_, Vec(oi), dim_ * sizeof(float));
    if (Coded()) {
      std::memcpy(codes.data() + static_cast<size_t>(ni) * dim_, Code(oi), dim_);
      scales[ni] = scales_[oi];
    }
    copy_list(Links(oi, 0), links0.data() + static_cast<size_t>(ni) * m0_, m0_);
    if (level_[i] > 0) {
      upper_off[ni] = static_cast<uint32_t>(upper.size());
      upper.resize(upper.size() + static_cast<size_t>(level_[i]) * m_, kInvalidNode);
      for (int l = 1; l <= level_[i]; ++l) {
        copy_list(Links(oi, l), upper.data() + upper_off[ni] + static_cast<size_t>(l - 1) * m_, m_);
      }
    }
    rowid[ni] = rowid_[i];
    level[ni] = level_[i];
    flags[ni] = flags_[i];
  }
  attrs_.Compact(remap, nn);
  if (grouped_) {
    std::vector<uint32_t> group(nn, kNoGroup);
    for (size_t i = 0; i < n_; ++i)
      if (remap[i] != kInvalidNode) group[remap[i]] = group_[i];
    group_ = std::move(group);
    for (auto& [g, info] : groups_)
      if (info.entry != kInvalidNode) info.entry = remap[info.entry];
  }
  map_.Clear();
  map_.Reserve(nn);
  for (size_t i = 0; i < nn; ++i) map_.Put(rowid[i], static_cast<NodeId>(i));
  entry_ = entry_ != kInvalidNode ? remap[entry_] : kInvalidNode;
  vecs_ = std::move(vecs);
  links0_ = std::move(links0);
  codes_ = std::move(codes);
  scales_ = std::move(scales);
  upper_ = std::move(upper);
  upper_off_ = std::move(upper_off);
  rowid_ = std::move(rowid);
  level_ = std::move(level);
  flags_ = std::move(flags);
  n_ = nn;
  ++generation_;
}

StatusOr<OptimizeResult> HnswIndex::Optimize() {
  return Guard([&]() -> StatusOr<OptimizeResult> {
    std::unique_lock lock(mu_);
    ForgetHopLists();
    OptimizeResult res;
    const size_t touched_before = touched_.size();
    std::vector<uint8_t> was_dirty(n_);
    for (size_t i = 0; i < n_; ++i) {
      was_dirty[i] = flags_[i] & kFlagDirty;
      flags_[i] &= static_cast<uint8_t>(~kFlagDirty);  // so Touch logs this call's changes
    }
    std::vector<int64_t> previously_dirty;
    for (size_t i = 0; i < n_; ++i)
      if (was_dirty[i]) previously_dirty.push_back(rowid_[i]);

    if (n_ > live_) {
      // 1. Live nodes linking to tombstones re-select among their live links and the live links
      //    of those tombstones (two hops through tombstone chains), in parallel into a staging
      //    area (each node reads the old graph only), then written.
      std::vector<NodeId> work;
      for (size_t i = 0; i < n_; ++i) {
        NodeId y = static_cast<NodeId>(i);
        if (!Live(y)) continue;
        bool dirty = false;
        for (int l = 0; l <= level_[y] && !dirty; ++l) {
          const uint32_t* lst = Links(y, l);
          size_t c = Count(lst, Cap(l));
          for (size_t j = 0; j < c && !dirty; ++j) dirty = !Live(lst[j]);
        }
        if (dirty) work.push_back(y);
      }
      std::vector<std::vector<std::vector<NodeId>>> staged(work.size());
      ParallelFor(work.size(), 8, [&](size_t b, size_t e) {
        std::vector<Cand> cands, sel, pruned;
        std::vector<NodeId> seen;
        for (size_t w = b; w < e; ++w) {
          const NodeId y = work[w];
          staged[w].assign(static_cast<size_t>(level_[y]) + 1, {});
          for (int l = 0; l <= level_[y]; ++l) {
            const uint32_t cap = Cap(l);
            const uint32_t* lst = Links(y, l);
            size_t c = Count(lst, cap);
            bool has_tomb = false;
            for (size_t j = 0; j < c; ++j) has_tomb |= !Live(lst[j]);
            if (!has_tomb) continue;
            cands.clear();
            seen.clear();
            auto add = [&](NodeId x) {
              if (x == y || !Live(x) || std::find(seen.begin(), seen.end(), x) != seen.end()) return;
              seen.push_back(x);
              cands.push_back({DistNodes(y, x), x});
            };
            // A live link is kept as a candidate; a tombstone is replaced by its links, up to
            // two tombstones deep.
            auto expand = [&](auto&& self, NodeId x, int depth) -> void {
              if (Live(x)) {
                add(x);
                return;
              }
              if (depth == 0) return;
              const uint32_t* xl = Links(x, l);
              const size_t xc = Count(xl, cap);
              for (size_t k = 0; k < xc; ++k) self(self, xl[k], depth - 1);
            };
            for (size_t j = 0; j < c; ++j) expand(expand, lst[j], 2);
            SortCands(&cands);
            SelectNeighbors(cands, cap, &sel, &pruned);
            auto& out = staged[w][static_cast<size_t>(l)];
            out.push_back(kInvalidNode);  // marks "level rewritten" (first entry)
            for (const Cand& s : sel) out.push_back(s.id);
          }
        }
      });
      for (size_t w = 0; w < work.size(); ++w) {
        const NodeId y = work[w];
        for (size_t l = 0; l < staged[w].size(); ++l) {
          const auto& s = staged[w][l];
          if (s.empty()) continue;
          uint32_t* lst = Links(y, static_cast<int>(l));
          uint32_t cap = Cap(static_cast<int>(l));
          size_t k = 0;
          for (size_t j = 1; j < s.size() && k < cap; ++j) lst[k++] = s[j];
          for (; k < cap; ++k) lst[k] = kInvalidNode;
        }
        Touch(y);
      }
      // 2. Purge and compact.
      Compact(&res.purged);
    }
    ClusterGroupsLocked();

    // 3. Live nodes left without level-0 links (all their neighbours were deleted) are linked
    //    again like an insert, one at a time in rowid order.
    if (live_ > 1) {
      std::vector<std::pair<int64_t, NodeId>> orphans;
      for (size_t i = 0; i < n_; ++i) {
        NodeId y = static_cast<NodeId>(i);
        if (Live(y) && Count(Links(y, 0), m0_) == 0) orphans.push_back({rowid_[i], y});
      }
      std::sort(orphans.begin(), orphans.end());
      for (const auto& o : orphans) {
        NodeId y = o.second;
        ClearLinks(y);
        flags_[y] |= kFlagInBatch;
        Touch(y);
        InsertChunk({y});
      }
    }

    // Changed in this call: logged by Touch since the start (dirty flags were cleared above).
    std::vector<int64_t> mine(touched_.begin() + static_cast<std::ptrdiff_t>(touched_before), touched_.end());
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    std::sort(res.purged.begin(), res.purged.end());
    for (int64_t r : mine) {
      if (!std::binary_search(res.purged.begin(), res.purged.end(), r)) res.changed.push_back(r);
    }
    // Restore the dirty marks of rows that were pending before the call.
    for (int64_t r : previously_dirty) {
      NodeId id = map_.Find(r);
      if (id != kInvalidNode) flags_[id] |= kFlagDirty;
    }
    if (n_ == 0) {
      entry_ = kInvalidNode;
      max_level_ = -1;
    }
    header_dirty_ = true;
    return res;
  });
}

// ---- Check -----------------------------------------------------------------------------------

std::vector<std::string> HnswIndex::Check(const CheckOptions& opt) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (out.size() < 1000) out.push_back(std::move(s));
  };
  if (rowid_.size() != n_ || level_.size() != n_ || flags_.size() != n_ || upper_off_.size() != n_ ||
      vecs_.size() != n_ * dim_ || links0_.size() != n_ * m0_ || codes_.size() != (Coded() ? n_ * dim_ : 0) ||
      scales_.size() != (Coded() ? n_ : 0)) {
    add("storage arrays disagree on the node count");
    return out;
  }
  size_t live = 0;
  std::vector<uint8_t> code(dim_);
  for (size_t i = 0; i < n_; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    const long long r = LL(rowid_[i]);
    if (Live(id)) ++live;
    if (Coded()) {
      const CodeScale sc = EncodeCodes(Vec(id), dim_, code.data());
      if (std::memcmp(code.data(), Code(id), dim_) != 0 || std::memcmp(&sc, &scales_[id], sizeof sc) != 0) {
        add(StrFormat("node %lld: search codes differ from its vector", r));
      }
    }
    if (map_.Find(rowid_[i]) != id) add(StrFormat("node %lld: rowid map points elsewhere", r));
    if (level_[i] > kMaxLevel) add(StrFormat("node %lld: level %d out of range", r, level_[i]));
    if (level_[i] != LevelFor(rowid_[i], cfg_.seed, cfg_.M)) {
      add(StrFormat("node %lld: level %d differs from its drawn level %d", r, level_[i],
                    LevelFor(rowid_[i], cfg_.seed, cfg_.M)));
    }
    if (level_[i] > 0 && (upper_off_[i] == kInvalidNode ||
                          static_cast<size_t>(upper_off_[i]) + static_cast<size_t>(level_[i]) * m_ > upper_.size())) {
      add(StrFormat("node %lld: upper-level lists out of bounds", r));
      continue;
    }
    if (Live(id) && entry_ != kInvalidNode && level_[i] > max_level_) {
      add(StrFormat("node %lld: level %d above the entry point's level %d", r, level_[i], max_level_));
    }
    CheckFinite({Vec(id), dim_}).ok() ? void() : add(StrFormat("node %lld: vector is not finite", r));
    if (cfg_.metric == Metric::kCosine) {
      double s = 0;
      for (size_t j = 0; j < dim_; ++j) s += static_cast<double>(Vec(id)[j]) * Vec(id)[j];
      if (s != 0 && std::fabs(s - 1.0) > 1e-3) add(StrFormat("node %lld: stored cosine vector is not unit length", r));
    }
    for (int l = 0; l <= level_[i]; ++l) {
      const uint32_t cap = Cap(l);
      const uint32_t* lst = Links(id, l);
      size_t c = Count(lst, cap);
      for (size_t j = c; j < cap; ++j) {
        if (lst[j] != kInvalidNode) {
          add(StrFormat("node %lld: level %d list has a link after its end marker", r, l));
          break;
        }
      }
      for (size_t j = 0; j < c; ++j) {
        NodeId v = lst[j];
        if (v >= n_) {
          add(StrFormat("node %lld: level %d link to a dangling id %u", r, l, v));
          continue;
        }
        if (v == id) add(StrFormat("node %lld: level %d self link", r, l));
        if (grouped_ && group_.size() == n_ && group_[i] != kNoGroup && group_[v] != kNoGroup && group_[v] != group_[i]) {
          add(StrFormat("node %lld: level %d link to rowid %lld of another partition", r, l, LL(rowid_[v])));
        }
        if (level_[v] < l) {
          add(StrFormat("node %lld: level %d link to rowid %lld whose level is %d", r, l, LL(rowid_[v]), level_[v]));
        }
        for (size_t k = 0; k < j; ++k)
          if (lst[k] == v) add(StrFormat("node %lld: level %d duplicate link to rowid %lld", r, l, LL(rowid_[v])));
        if (!opt.allow_tombstone_links && Live(id) && !Live(v)) {
          add(StrFormat("node %lld: level %d links to deleted node %lld (deleted node reachable)", r, l,
                        LL(rowid_[v])));
        }
      }
    }
  }
  if (live != live_) add(StrFormat("live count %zu, but %zu live nodes", live_, live));
  if (map_.size() != n_) add(StrFormat("rowid map has %zu entries for %zu nodes", map_.size(), n_));
  if (live_ > 0) {
    if (entry_ == kInvalidNode || entry_ >= n_) {
      add("entry point invalid");
    } else {
      if (!Live(entry_)) add(StrFormat("entry point %lld is deleted", LL(rowid_[entry_])));
      if (level_[entry_] != max_level_) {
        add(StrFormat("entry point level %d differs from the max level %d", level_[entry_], max_level_));
      }
    }
  } else if (entry_ != kInvalidNode) {
    add("entry point set in an index without live nodes");
  }
  if (!opt.allow_tombstone_links && n_ != live_) add(StrFormat("%zu tombstones remain", n_ - live_));
  if (opt.check_reachability && live_ > 0 && entry_ < n_) {
    std::vector<uint8_t> seen(n_, 0);
    std::vector<NodeId> stack{entry_};
    seen[entry_] = 1;
    while (!stack.empty()) {
      NodeId u = stack.back();
      stack.pop_back();
      const uint32_t* lst = Links(u, 0);
      size_t c = Count(lst, m0_);
      for (size_t j = 0; j < c; ++j) {
        NodeId v = lst[j];
        if (v < n_ && !seen[v]) {
          seen[v] = 1;
          stack.push_back(v);
        }
      }
    }
    for (size_t i = 0; i < n_; ++i)
      if (Live(static_cast<NodeId>(i)) && !seen[i]) add(StrFormat("node %lld unreachable from the entry point", LL(rowid_[i])));
  }
  return out;
}

// ---- persistence -----------------------------------------------------------------------------

void HnswIndex::EncodeLocked(NodeId id, std::vector<uint8_t>* out, std::vector<int64_t>* scratch) const {
  const int L = level_[id];
  scratch->clear();
  std::vector<size_t> sizes;
  for (int l = 0; l <= L; ++l) {
    const uint32_t* lst = Links(id, l);
    size_t c = Count(lst, Cap(l));
    for (size_t j = 0; j < c; ++j) scratch->push_back(rowid_[lst[j]]);
    sizes.push_back(c);
  }
  std::vector<std::span<const int64_t>> spans;
  size_t at = 0;
  for (size_t c : sizes) {
    spans.emplace_back(scratch->data() + at, c);
    at += c;
  }
  out->clear();
  EncodeNodeRecord(rowid_[id], !Live(id), L, spans, out);
}

StatusOr<std::vector<uint8_t>> HnswIndex::EncodeNode(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  if (id == kInvalidNode) return Status::InvalidArgument(StrFormat("hnsw: rowid %lld not found", LL(rowid)));
  std::vector<uint8_t> out;
  std::vector<int64_t> scratch;
  EncodeLocked(id, &out, &scratch);
  return out;
}

StatusOr<std::vector<float>> HnswIndex::StoredVector(int64_t rowid) const {
  std::shared_lock lock(mu_);
  NodeId id = map_.Find(rowid);
  if (id == kInvalidNode) return Status::InvalidArgument(StrFormat("hnsw: rowid %lld not found", LL(rowid)));
  return std::vector<float>(Vec(id), Vec(id) + dim_);
}

Status HnswIndex::ForEachNode(const std::function<Status(int64_t, std::span<const float>,
                                                         std::span<const uint8_t>)>& fn) const {
  std::shared_lock lock(mu_);
  std::vector<uint8_t> rec;
  std::vector<int64_t> scratch;
  for (size_t i = 0; i < n_; ++i) {
    NodeId id = static_cast<NodeId>(i);
    EncodeLocked(id, &rec, &scratch);
    VG_RETURN_IF_ERROR(fn(rowid_[i], {Vec(id), dim_}, rec));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Load(const HnswHeader& header, RecordSource& source,
                                                     const HnswConfig* runtime) {
  HnswConfig cfg = header.ToConfig();
  if (runtime != nullptr) {
    cfg.filter_exact_max_rows = runtime->filter_exact_max_rows;
    cfg.filter_exact_max_fraction = runtime->filter_exact_max_fraction;
    cfg.filter_graph_cost_rows = runtime->filter_graph_cost_rows;
    cfg.filter_hop_fraction = runtime->filter_hop_fraction;
    cfg.search_codes_max_dim = runtime->search_codes_max_dim;
  }
  Status st = cfg.Validate();
  if (!st.ok()) return Status::Corruption("hnsw: header: " + st.message());
  if (header.format_version != kHnswFormatVersion) {
    return Status::Corruption(StrFormat("hnsw: header format version %u is not supported", header.format_version));
  }
  if (header.max_level > static_cast<uint32_t>(kMaxLevel) || header.live_count > header.node_count ||
      header.node_count > kMaxNodes) {
    return Status::Corruption("hnsw: header counts or max level out of range");
  }
  std::unique_ptr<HnswIndex> idx(new HnswIndex(cfg));
  Status ls = Guard([&] { return idx->LoadLocked(header, source); });
  ReleaseFreedMemory();
  if (!ls.ok()) return ls;
  return idx;
}

Status HnswIndex::LoadLocked(const HnswHeader& header, RecordSource& source) {
  // Pre-size from the header's count, but never trust it for more than 256 MiB: a forged count
  // must not force a huge allocation (storage grows as records actually arrive). Exact sizes
  // matter: a grown buffer's partly used last huge page would be resident in full.
  const size_t per_node = (dim_ + m0_) * sizeof(float) + (Coded() ? dim_ + sizeof(CodeScale) : 0) + 32;
  const size_t reserve = static_cast<size_t>(std::min<uint64_t>(header.node_count, (size_t{256} << 20) / per_node));
  vecs_.reserve(reserve * dim_);
  links0_.reserve(reserve * m0_);
  ReserveCodes(reserve);
  map_.Reserve(reserve);
  std::vector<int64_t> pend;         // neighbour rowids, node-major then level-major
  std::vector<uint16_t> pend_count;  // per node and level
  std::vector<size_t> pend_at;       // per node: index of its level-0 count in pend_count
  NodeRecord rec;
  NodeRow row;
  const size_t vbytes = dim_ * sizeof(float);
  for (;;) {
    auto more = source.Next(&row);
    if (!more.ok()) return more.status();
    if (!*more) break;
    const long long r = LL(row.rowid);
    if (n_ >= header.node_count) {
      return Status::Corruption(StrFormat("hnsw: more node records than the header's count %llu (at rowid %lld)",
                                          static_cast<unsigned long long>(header.node_count), r));
    }
    if (map_.Find(row.rowid) != kInvalidNode) {
      return Status::Corruption(StrFormat("hnsw: duplicate node record for rowid %lld", r));
    }
    if (row.vector.size() != vbytes) {
      return Status::Corruption(
          StrFormat("hnsw: node %lld: vector has %zu bytes, expected %zu", r, row.vector.size(), vbytes));
    }
    VG_RETURN_IF_ERROR(DecodeNodeRecord(row.record, row.rowid, m0_, m_, &rec));
    int drawn = LevelFor(row.rowid, cfg_.seed, cfg_.M);
    if (rec.level != drawn) {
      return Status::Corruption(
          StrFormat("hnsw: node %lld: level %d differs from the level drawn for this rowid (%d)", r, rec.level, drawn));
    }
    if (!rec.deleted && rec.level > static_cast<int>(header.max_level)) {
      return Status::Corruption(
          StrFormat("hnsw: node %lld: level %d exceeds the header's max level %u", r, rec.level, header.max_level));
    }
    NodeId id = AddSlot(row.rowid, rec.level);
    std::memcpy(Vec(id), row.vector.data(), vbytes);
    Status fin = CheckFinite({Vec(id), dim_});
    if (!fin.ok()) return Status::Corruption(StrFormat("hnsw: node %lld: vector ", r) + fin.message());
    if (cfg_.metric == Metric::kCosine) {
      double s = 0;
      for (size_t j = 0; j < dim_; ++j) s += static_cast<double>(Vec(id)[j]) * Vec(id)[j];
      if (s != 0 && std::fabs(s - 1.0) > 1e-3) {
        return Status::Corruption(StrFormat("hnsw: node %lld: stored cosine vector is not unit length (|v|² = %g)", r, s));
      }
    }
    RecodeNode(id);
    if (rec.deleted) {
      flags_[id] |= kFlagTomb;
    } else {
      ++live_;
    }
    pend_at.push_back(pend_count.size());
    for (uint32_t c : rec.counts) pend_count.push_back(static_cast<uint16_t>(c));
    pend.insert(pend.end(), rec.links.begin(), rec.links.end());
  }
  if (n_ != header.node_count) {
    return Status::Corruption(StrFormat("hnsw: header counts %llu nodes, found %zu records",
                                        static_cast<unsigned long long>(header.node_count), n_));
  }
  if (live_ != header.live_count) {
    return Status::Corruption(StrFormat("hnsw: header counts %llu live nodes, found %zu",
                                        static_cast<unsigned long long>(header.live_count), live_));
  }
  // Resolve neighbour rowids.
  size_t at = 0;
  for (size_t i = 0; i < n_; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    const long long r = LL(rowid_[i]);
    for (int l = 0; l <= level_[i]; ++l) {
      uint32_t* lst = Links(id, l);
      size_t c = pend_count[pend_at[i] + static_cast<size_t>(l)];
      for (size_t j = 0; j < c; ++j) {
        const int64_t nr = pend[at++];
        NodeId v = map_.Find(nr);
        if (v == kInvalidNode) {
          return Status::Corruption(
              StrFormat("hnsw: node %lld: level %d links to rowid %lld, which is not in the index", r, l, LL(nr)));
        }
        if (v == id) return Status::Corruption(StrFormat("hnsw: node %lld: level %d links to itself", r, l));
        if (level_[v] < l) {
          return Status::Corruption(StrFormat("hnsw: node %lld: level %d links to rowid %lld, whose level is only %d",
                                              r, l, LL(nr), level_[v]));
        }
        for (size_t k = 0; k < j; ++k) {
          if (lst[k] == v) {
            return Status::Corruption(StrFormat("hnsw: node %lld: level %d links twice to rowid %lld", r, l, LL(nr)));
          }
        }
        lst[j] = v;
      }
    }
  }
  if (live_ > 0) {
    NodeId e = map_.Find(header.entry_rowid);
    if (e == kInvalidNode) {
      return Status::Corruption(StrFormat("hnsw: entry point rowid %lld is not in the index", LL(header.entry_rowid)));
    }
    if (!Live(e)) return Status::Corruption(StrFormat("hnsw: entry point rowid %lld is deleted", LL(header.entry_rowid)));
    if (level_[e] != static_cast<int>(header.max_level)) {
      return Status::Corruption(StrFormat("hnsw: entry point rowid %lld has level %d, the header says %u",
                                          LL(header.entry_rowid), level_[e], header.max_level));
    }
    entry_ = e;
    max_level_ = level_[e];
  }
  touched_.clear();
  header_dirty_ = false;
  for (uint8_t& f : flags_) f &= kFlagTomb;
  return Status::Ok();
}

void HnswIndex::StealState(HnswIndex& o) {
  cfg_ = o.cfg_;
  n_ = o.n_;
  live_ = o.live_;
  vecs_ = std::move(o.vecs_);
  links0_ = std::move(o.links0_);
  codes_ = std::move(o.codes_);
  scales_ = std::move(o.scales_);
  upper_ = std::move(o.upper_);
  upper_off_ = std::move(o.upper_off_);
  rowid_ = std::move(o.rowid_);
  level_ = std::move(o.level_);
  flags_ = std::move(o.flags_);
  map_ = std::move(o.map_);
  attrs_.SetSchema(attrs_.schema());  // ids changed meaning: values NULL until set again
  attrs_.Resize(n_);
  if (grouped_) {  // likewise the groups: SetGroup + FinishGroups again
    group_.assign(n_, kNoGroup);
    groups_.clear();
  }
  entry_ = o.entry_;
  max_level_ = o.max_level_;
  touched_.clear();
  header_dirty_ = false;
}

Status HnswIndex::Reload(const HnswHeader& header, RecordSource& source) {
  {
    std::shared_lock lock(mu_);
    if (header.dim != cfg_.dim || header.metric != cfg_.metric || header.M != cfg_.M) {
      // A different shape is fine to load, but this object's derived constants are fixed.
      return Status::InvalidArgument("hnsw: reload: the stored index has a different dim, metric or M");
    }
  }
  auto fresh = Load(header, source, &cfg_);
  if (!fresh.ok()) return fresh.status();
  std::unique_lock lock(mu_);
  ForgetHopLists();
  StealState(**fresh);
  ++generation_;
  return Status::Ok();
}

}  // namespace vecgraph::hnsw
