// engine/hnsw/hnsw_build.cpp — insert (deterministic batched parallel build), upsert, delete with
// repair, entry-point reassignment.
//
// One batch (InsertChunk), members m_0..m_{B-1} in call order:
//   0. (sequential) each member gets its slot: a new one, or its old one (upsert: the links
//      around it are repaired as for a delete and its own links cleared; revive of a tombstone).
//      Members are flagged kFlagInBatch: graph walks route through them but never pick them.
//      If the entry point is a member, another node takes over for the batch.
//   1. (parallel, read-only graph) member i: greedy descent and ef_construction search on each
//      of its levels from the entry point as it was at the batch start; candidates on level l =
//      the search results ∪ {m_j : j < i, level(m_j) ≥ l} with exact distances; keep the best
//      ef_construction by (distance, rowid); select M with the heuristic. Reads only vectors and
//      the graph as of step 0; writes only its own workspace.
//   2. (sequential) the selected lists are written as the members' links.
//   3. (parallel over targets) reverse links: the requests (target, level, i) are sorted; each
//      (target, level) list receives its new sources in member order; when they do not fit, the
//      heuristic re-selects among old ∪ new (tombstones dropped). A task writes only its own list.
//   4. (sequential) dirty marks, entry point: a member whose level exceeds the current maximum
//      becomes the entry point (in member order).
// Nothing depends on the thread count or on scheduling; ties are broken by rowid.
//
// Cancellation (build_control.h): the calling thread calls `cancelled` after each batch and,
// inside the two long steps (1 and 3: about 5 ms each per batch at 128 dimensions on 2 cores,
// growing with dim and graph size), between the members / groups it runs itself, at most every
// kPollInterval. A cancel sets a flag that every thread checks before its next item, so the step
// ends within one item. No barrier is added: the split of the work, and so the graph, is the
// one without a control. On cancel the batch stops where it is (members may be slots without
// links): the caller drops the index.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "engine/hnsw/hnsw_internal.h"

namespace vecgraph::hnsw {

namespace {

bool ListHas(const uint32_t* lst, size_t n, NodeId v) {
  for (size_t i = 0; i < n; ++i)
    if (lst[i] == v) return true;
  return false;
}

// Calls ctl->cancelled (on the calling thread), noting when: the polls inside a batch come
// kPollInterval after the previous one.
bool PollCancelled(BuildControl* ctl) {
  ctl->last_poll = std::chrono::steady_clock::now();
  return ctl->cancelled();
}

void WriteList(uint32_t* lst, uint32_t cap, const std::vector<Cand>& sel) {
  size_t n = std::min<size_t>(sel.size(), cap);
  for (size_t i = 0; i < n; ++i) lst[i] = sel[i].id;
  for (size_t i = n; i < cap; ++i) lst[i] = kInvalidNode;
}

}  // namespace

Status HnswIndex::Insert(int64_t rowid, std::span<const float> vec, uint32_t group) {
  if (vec.size() != dim_) {
    return Status::InvalidArgument(StrFormat("hnsw: dimension mismatch: rowid %lld has %zu, index has %zu",
                                             static_cast<long long>(rowid), vec.size(), dim_));
  }
  return InsertBatch({&rowid, 1}, vec.data(), false, nullptr, {&group, 1});
}

Status HnswIndex::Upsert(int64_t rowid, std::span<const float> vec, uint32_t group) {
  if (vec.size() != dim_) {
    return Status::InvalidArgument(StrFormat("hnsw: dimension mismatch: rowid %lld has %zu, index has %zu",
                                             static_cast<long long>(rowid), vec.size(), dim_));
  }
  return InsertBatch({&rowid, 1}, vec.data(), true, nullptr, {&group, 1});
}

Status HnswIndex::InsertBatch(std::span<const int64_t> rowids, const float* vectors, bool upsert,
                              BuildControl* control, std::span<const uint32_t> groups) {
  if (control != nullptr) {
    control->total.store(rowids.size(), std::memory_order_relaxed);
    control->built.store(0, std::memory_order_relaxed);
  }
  if (rowids.empty()) return Status::Ok();
  if (vectors == nullptr) return Status::InvalidArgument("hnsw: insert: null vectors");
  return Guard([&] {
    std::unique_lock lock(mu_);
    ForgetHopLists();
    if (grouped_ && groups.size() != rowids.size()) {
      return Status::InvalidArgument("hnsw: insert into a grouped index needs one group per row");
    }
    return InsertLocked(rowids, vectors, upsert, control, grouped_ ? groups : std::span<const uint32_t>{});
  });
}

NodeId HnswIndex::AddSlot(int64_t rowid, int level) {
  NodeId id = static_cast<NodeId>(n_);
  vecs_.resize((n_ + 1) * dim_, 0.0f);
  links0_.resize((n_ + 1) * m0_, kInvalidNode);
  if (Coded()) {
    codes_.resize((n_ + 1) * dim_, 0);
    scales_.resize(n_ + 1);
  }
  if (level > 0) {
    upper_off_.push_back(static_cast<uint32_t>(upper_.size()));
    upper_.resize(upper_.size() + static_cast<size_t>(level) * m_, kInvalidNode);
  } else {
    upper_off_.push_back(kInvalidNode);
  }
  rowid_.push_back(rowid);
  level_.push_back(static_cast<uint8_t>(level));
  flags_.push_back(0);
  if (attrs_.columns() != 0) attrs_.Resize(n_ + 1);
  if (grouped_) group_.push_back(kNoGroup);
  map_.Put(rowid, id);
  ++n_;
  return id;
}

void HnswIndex::ClearLinks(NodeId id) {
  for (int l = 0; l <= level_[id]; ++l) {
    uint32_t* lst = Links(id, l);
    std::fill(lst, lst + Cap(l), kInvalidNode);
  }
}

// Live node with the highest level, ties by smallest rowid, not excluded; kInvalidNode if none.
NodeId HnswIndex::PickEntry(const std::function<bool(NodeId)>& excluded) const {
  NodeId best = kInvalidNode;
  for (size_t i = 0; i < n_; ++i) {
    NodeId id = static_cast<NodeId>(i);
    if (!Live(id) || (excluded && excluded(id))) continue;
    if (EntryBefore(id, best)) best = id;
  }
  return best;
}

// Node d leaves its place (delete, or upsert before re-linking): each live neighbour n that links
// back to d re-selects its links on that level, with the heuristic, among its other live links
// and d's live links (hnswlib's repair). d's own links are left alone (a tombstone still routes).
void HnswIndex::RepairAround(NodeId d) {
  std::vector<NodeId> dl;
  std::vector<Cand> cands, sel, pruned;
  for (int l = 0; l <= level_[d]; ++l) {
    const uint32_t cap = Cap(l);
    const uint32_t* dlst = Links(d, l);
    dl.assign(dlst, dlst + Count(dlst, cap));
    for (NodeId nb : dl) {
      if (nb == d || !Live(nb)) continue;
      uint32_t* nl = Links(nb, l);
      size_t cnt = Count(nl, cap);
      if (!ListHas(nl, cnt, d)) continue;
      cands.clear();
      auto add = [&](NodeId x) {
        if (x == d || x == nb || !Live(x)) return;
        for (const Cand& c : cands)
          if (c.id == x) return;
        cands.push_back({DistNodes(nb, x), x});
      };
      for (size_t j = 0; j < cnt; ++j) add(nl[j]);
      for (NodeId x : dl) add(x);
      SortCands(&cands);
      SelectNeighbors(cands, cap, &sel, &pruned);
      WriteList(nl, cap, sel);
      Touch(nb);
    }
  }
}

Status HnswIndex::InsertLocked(std::span<const int64_t> rowids, const float* vectors, bool upsert,
                               BuildControl* ctl, std::span<const uint32_t> groups) {
  const size_t n = rowids.size();
  const bool pollable = ctl != nullptr && ctl->cancelled;
  auto cancelled = [&] {
    return Status::Cancelled(StrFormat("hnsw: insert cancelled after %llu of %zu rows",
                                       static_cast<unsigned long long>(ctl->built.load()), n));
  };
  // Validate everything first: a failing call changes nothing.
  for (size_t i = 0; i < n; ++i) {
    // Validation of a large call reads every element (about 100 MB at 65536 × 384): poll.
    if (pollable && i % 4096 == 4095 && PollCancelled(ctl)) return cancelled();
    Status st = CheckFinite({vectors + i * dim_, dim_});
    if (!st.ok()) {
      return Status::InvalidArgument(StrFormat("hnsw: rowid %lld: ", static_cast<long long>(rowids[i])) +
                                     st.message());
    }
  }
  {
    std::vector<int64_t> sorted(rowids.begin(), rowids.end());
    std::sort(sorted.begin(), sorted.end());
    auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end()) {
      return Status::InvalidArgument(
          StrFormat("hnsw: rowid %lld appears more than once in one insert", static_cast<long long>(*dup)));
    }
  }
  size_t fresh = 0;
  for (size_t i = 0; i < n; ++i) {
    NodeId id = map_.Find(rowids[i]);
    if (id == kInvalidNode) {
      ++fresh;
    } else if (Live(id) && !upsert) {
      return Status::InvalidArgument(
          StrFormat("hnsw: rowid %lld already exists", static_cast<long long>(rowids[i])));
    }
  }
  if (n_ + fresh > kMaxNodes) return Status::ResourceExhausted("hnsw: too many nodes");
  vecs_.reserve((n_ + fresh) * dim_);
  links0_.reserve((n_ + fresh) * m0_);
  ReserveCodes(n_ + fresh);
  rowid_.reserve(n_ + fresh);
  level_.reserve(n_ + fresh);
  flags_.reserve(n_ + fresh);
  upper_off_.reserve(n_ + fresh);
  map_.Reserve(n_ + fresh);

  if (pollable && PollCancelled(ctl)) return cancelled();  // nothing changed yet

  std::vector<float> stored(dim_);
  std::vector<NodeId> members;
  members.reserve(std::min(n, kBuildBatchSize));
  for (size_t i = 0; i < n; ++i) {
    const int64_t rowid = rowids[i];
    StoreVector(vectors + i * dim_, stored.data());
    NodeId id = map_.Find(rowid);
    const uint32_t g = grouped_ ? groups[i] : kNoGroup;
    if (id != kInvalidNode) {
      if (Live(id)) {
        const bool same_group = !grouped_ || group_[id] == g;
        if (same_group && std::memcmp(Vec(id), stored.data(), dim_ * sizeof(float)) == 0) continue;  // identical upsert
        RepairAround(id);
        if (grouped_ && !same_group) {
          // Leaves its old group: no node of it may link here any more (RepairAround fixed the
          // nodes it links to; others may link to it too), and that group's count and maybe its
          // entry point change. O(links) once per move.
          for (size_t x = 0; x < n_; ++x) {
            const NodeId xv = static_cast<NodeId>(x);
            if (xv == id) continue;
            for (int l = 0; l <= level_[x]; ++l) {
              uint32_t* lst = Links(xv, l);
              const uint32_t cap = Cap(l);
              const size_t cnt = Count(lst, cap);
              if (!ListHas(lst, cnt, id)) continue;
              size_t w = 0;
              for (size_t j = 0; j < cnt; ++j)
                if (lst[j] != id) lst[w++] = lst[j];
              for (; w < cap; ++w) lst[w] = kInvalidNode;
              Touch(xv);
            }
          }
          const uint32_t old = group_[id];
          auto it = groups_.find(old);
          group_[id] = g;
          if (it != groups_.end()) {
            --it->second.live;
            if (it->second.entry == id) RecomputeGroupEntry(old);
          }
          ++groups_[g].live;
        }
      } else {
        flags_[id] &= static_cast<uint8_t>(~kFlagTomb);  // revive the tombstone
        attrs_.SetNull(id);
        ++live_;
        if (grouped_) {
          group_[id] = g;
          ++groups_[g].live;
        }
      }
      ClearLinks(id);
    } else {
      id = AddSlot(rowid, LevelFor(rowid, cfg_.seed, cfg_.M));
      ++live_;
      if (grouped_) {
        group_[id] = g;
        ++groups_[g].live;
      }
    }
    std::memcpy(Vec(id), stored.data(), dim_ * sizeof(float));
    RecodeNode(id);
    flags_[id] |= kFlagInBatch;
    Touch(id);
    ++n_inserts_;
    members.push_back(id);
    if (members.size() == kBuildBatchSize || i + 1 == n) {
      if (!InsertChunk(members, ctl)) return cancelled();
      members.clear();
      if (ctl != nullptr) ctl->built.store(i + 1, std::memory_order_relaxed);
      if (pollable && i + 1 < n && PollCancelled(ctl)) return cancelled();
    }
  }
  if (!members.empty()) {  // the last rows were identical upserts (skipped): their batch is done
    if (!InsertChunk(members, ctl)) return cancelled();
  }
  if (ctl != nullptr) ctl->built.store(n, std::memory_order_relaxed);
  // A bulk insert into a grouped index lays the nodes out by group again (small inserts append;
  // the next bulk insert, Optimize or load regroups them).
  if (grouped_ && n >= std::max<size_t>(kClusterMinRows, n_ / 8)) ClusterGroupsLocked();
  return Status::Ok();
}

bool HnswIndex::InsertChunk(const std::vector<NodeId>& members, BuildControl* ctl) {
  const size_t B = members.size();
  // Polling inside steps 1 and 3 (see the top): only the calling thread calls ctl->cancelled
  // (and only it touches ctl->last_poll); a cancel sets `stop` for every thread.
  const bool pollable = ctl != nullptr && ctl->cancelled;
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> stop{false};
  auto stopped = [&] {
    if (!pollable) return false;
    if (stop.load(std::memory_order_relaxed)) return true;
    if (std::this_thread::get_id() != caller) return false;
    if (std::chrono::steady_clock::now() - ctl->last_poll < BuildControl::kPollInterval) return false;
    if (!PollCancelled(ctl)) return false;
    stop.store(true, std::memory_order_relaxed);
    return true;
  };
  if (entry_ != kInvalidNode && (flags_[entry_] & kFlagInBatch) != 0) {
    entry_ = PickEntry([this](NodeId v) { return (flags_[v] & kFlagInBatch) != 0; });
    max_level_ = entry_ != kInvalidNode ? level_[entry_] : -1;
  }
  const NodeId ep0_all = entry_;
  const int top0_all = max_level_;
  const size_t efc = cfg_.EfConstruction();
  // Grouped index: each member searches its own group's graph from that group's entry point as
  // of the batch start (a group entry that is a member of this batch is replaced first).
  struct Start {
    NodeId ep;
    int top;
  };
  std::unordered_map<uint32_t, Start> starts_by_group;
  if (grouped_) {
    for (NodeId id : members) {
      const uint32_t g = group_[id];
      if (starts_by_group.count(g)) continue;
      GroupInfo& info = groups_[g];
      if (info.entry == kInvalidNode || (flags_[info.entry] & kFlagInBatch) != 0 || !Live(info.entry)) {
        RecomputeGroupEntry(g);
      }
      starts_by_group[g] = {groups_[g].entry, groups_[g].max_level};
    }
  }
  const uint32_t* grp = group_.data();

  // Step 1: search and select, in parallel.
  std::vector<std::vector<std::vector<Cand>>> fwd(B);  // [member][level] selected links
  const uint8_t* flags = flags_.data();
  ParallelFor(B, 1, [&](size_t b, size_t e) {
    ContextLease ctx(this);
    for (size_t i = b; i < e; ++i) {
      if (stopped()) return;
      const NodeId id = members[i];
      const int L = level_[id];
      const float* v = Vec(id);
      fwd[i].assign(static_cast<size_t>(L) + 1, {});
      std::vector<Cand>& intra = ctx->intra;
      intra.clear();
      const uint32_t g = grouped_ ? grp[id] : kNoGroup;
      for (size_t j = 0; j < i; ++j) {
        if (grouped_ && grp[members[j]] != g) continue;  // links stay inside a group
        intra.push_back({DistNodes(id, members[j]), members[j]});
      }
      NodeId ep0 = ep0_all;
      int top0 = top0_all;
      if (grouped_) {
        const Start& s = starts_by_group.at(g);
        ep0 = s.ep;
        top0 = s.top;
      }
      auto elig = [flags, grp, g, this](NodeId x) {
        return (flags[x] & (kFlagTomb | kFlagInBatch)) == 0 && (!grouped_ || grp[x] == g);
      };
      NodeId ep = ep0;
      float ep_d = 0;
      if (ep0 != kInvalidNode) {
        ep_d = DistTo(v, ep0);
        if (top0 > L) ep = Descend(*ctx, v, ep0, &ep_d, top0, L);
      }
      for (int l = L; l >= 0; --l) {
        std::vector<Cand>& merged = ctx->merged;
        merged.clear();
        if (ep0 != kInvalidNode && l <= top0) {
          SearchLayerAny(*ctx, v, ep, ep_d, l, efc, elig);
          merged.assign(ctx->top.begin(), ctx->top.end());
        }
        for (const Cand& c : intra)
          if (level_[c.id] >= l) merged.push_back(c);
        if (ep0 != kInvalidNode && l <= top0) {
          // The next level starts from the closest graph node found here (ties: smaller rowid).
          for (const Cand& c : ctx->top) {
            if (c.d < ep_d || (c.d == ep_d && (c.id == ep || rowid_[c.id] < rowid_[ep]))) {
              ep = c.id;
              ep_d = c.d;
            }
          }
        }
        SortCands(&merged, efc);
        SelectNeighbors(merged, m_, &fwd[i][static_cast<size_t>(l)], &ctx->pruned);
      }
    }
  });
  if (stop.load()) return false;

  // Step 2: write the members' own links.
  struct Req {
    NodeId target;
    uint32_t level;
    uint32_t order;
    NodeId source;
  };
  std::vector<Req> reqs;
  for (size_t i = 0; i < B; ++i) {
    const NodeId id = members[i];
    for (size_t l = 0; l < fwd[i].size(); ++l) {
      WriteList(Links(id, static_cast<int>(l)), Cap(static_cast<int>(l)), fwd[i][l]);
      for (const Cand& c : fwd[i][l]) reqs.push_back({c.id, static_cast<uint32_t>(l), static_cast<uint32_t>(i), id});
    }
  }

  // Step 3: reverse links, grouped by (target, level), in parallel over groups.
  std::sort(reqs.begin(), reqs.end(), [](const Req& a, const Req& b) {
    if (a.target != b.target) return a.target < b.target;
    if (a.level != b.level) return a.level < b.level;
    return a.order < b.order;
  });
  std::vector<size_t> starts;
  for (size_t r = 0; r < reqs.size(); ++r) {
    if (r == 0 || reqs[r].target != reqs[r - 1].target || reqs[r].level != reqs[r - 1].level) starts.push_back(r);
  }
  starts.push_back(reqs.size());
  const size_t G = starts.size() - 1;
  std::vector<uint8_t> changed(G, 0);
  ParallelFor(G, 16, [&](size_t gb, size_t ge) {
    std::vector<Cand> cands, sel, pruned;
    std::vector<NodeId> news, old;
    for (size_t g = gb; g < ge; ++g) {
      if (stopped()) return;
      const NodeId t = reqs[starts[g]].target;
      const int l = static_cast<int>(reqs[starts[g]].level);
      const uint32_t cap = Cap(l);
      uint32_t* lst = Links(t, l);
      const size_t cnt = Count(lst, cap);
      news.clear();
      for (size_t r = starts[g]; r < starts[g + 1]; ++r) {
        NodeId s = reqs[r].source;
        if (s == t || ListHas(lst, cnt, s) || std::find(news.begin(), news.end(), s) != news.end()) continue;
        news.push_back(s);
      }
      if (news.empty()) continue;
      if (cnt + news.size() <= cap) {
        for (size_t j = 0; j < news.size(); ++j) lst[cnt + j] = news[j];
        changed[g] = 1;
        continue;
      }
      cands.clear();
      for (size_t j = 0; j < cnt; ++j)
        if (Live(lst[j])) cands.push_back({DistNodes(t, lst[j]), lst[j]});
      for (NodeId s : news) cands.push_back({DistNodes(t, s), s});
      SortCands(&cands);
      SelectNeighbors(cands, cap, &sel, &pruned);
      old.assign(lst, lst + cnt);
      WriteList(lst, cap, sel);
      bool same = sel.size() == old.size();
      for (size_t j = 0; same && j < old.size(); ++j) same = old[j] == sel[j].id;
      changed[g] = same ? 0 : 1;
    }
  });
  if (stop.load()) return false;

  // Step 4: dirty marks, entry point, batch flags.
  for (size_t g = 0; g < G; ++g)
    if (changed[g]) Touch(reqs[starts[g]].target);
  for (NodeId id : members) {
    if (entry_ == kInvalidNode || level_[id] > max_level_) {
      entry_ = id;
      max_level_ = level_[id];
    }
    if (grouped_) {
      // A group's entry: its live node of the highest level, ties by the smaller rowid (the rule
      // FinishGroups applies after a load, so a reloaded index starts its walks where this one does).
      GroupInfo& info = groups_[group_[id]];
      if (EntryBefore(id, info.entry)) {
        info.entry = id;
        info.max_level = level_[id];
      }
    }
    flags_[id] &= static_cast<uint8_t>(~kFlagInBatch);
  }
  header_dirty_ = true;
  return true;
}

Status HnswIndex::Delete(int64_t rowid) {
  return Guard([&] {
    std::unique_lock lock(mu_);
    ForgetHopLists();
    NodeId id = map_.Find(rowid);
    if (id == kInvalidNode || !Live(id)) {
      return Status::InvalidArgument(StrFormat("hnsw: rowid %lld not found", static_cast<long long>(rowid)));
    }
    flags_[id] |= kFlagTomb;
    --live_;
    ++n_deletes_;
    Touch(id);
    if (live_ == 0) {
      PurgeAllLocked();
      return Status::Ok();
    }
    RepairAround(id);
    if (entry_ == id) {
      entry_ = PickEntry({});
      max_level_ = level_[entry_];
    }
    if (grouped_) {
      auto it = groups_.find(group_[id]);
      if (it != groups_.end()) {
        --it->second.live;
        if (it->second.entry == id) RecomputeGroupEntry(group_[id]);
      }
    }
    return Status::Ok();
  });
}

}  // namespace vecgraph::hnsw
