// tests/fuzz/fuzz_hnsw_records.cpp — the shadow-table record loader: HnswHeader::Decode and
// HnswIndex::Load (engine/hnsw/hnsw.h, hnsw_format.h), which must turn any bytes a hostile or
// corrupted database holds into either an error or a consistent index.
//
// Input: a header and node rows (rowid, vector bytes, record bytes) in the format of
// hnsw_rows_format.h; the seed corpus holds real indexes written by make_hnsw_corpus. Checked:
//   - a header that decodes re-encodes to the same bytes;
//   - a successful Load passes index->Check() (no problems), and node_count() is the number of
//     rows, size() the live ones;
//   - searches (Search, ExactSearch, a filtered Search) with k = 1..size()+1 return
//     min(k, size()) distinct live rows, ascending by (distance, rowid) — the "never short"
//     promise of hnsw.h;
//   - the loaded index written out again (Header + ForEachNode) loads again, and writing that
//     one out gives the same bytes (the on-disk form is a fixed point after one load);
//   - it stays consistent under mutation: an insert, a delete and Optimize, each followed by
//     Check() (after Optimize with no links to tombstones allowed).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/hnsw_format.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/hnsw_rows_format.h"

namespace {

namespace hnsw = vecgraph::hnsw;

class CarvedSource final : public hnsw::RecordSource {
 public:
  explicit CarvedSource(const std::vector<vecgraph::fuzz::CarvedRow>* rows) : rows_(rows) {}
  vecgraph::StatusOr<bool> Next(hnsw::NodeRow* row) override {
    if (i_ >= rows_->size()) return false;
    const auto& r = (*rows_)[i_++];
    *row = hnsw::NodeRow{r.rowid, r.vector, r.record};
    return true;
  }

 private:
  const std::vector<vecgraph::fuzz::CarvedRow>* rows_;
  size_t i_ = 0;
};

std::string Problems(const std::vector<std::string>& p) {
  std::string s;
  for (size_t i = 0; i < p.size() && i < 8; ++i) s += "\n    " + p[i];
  return s;
}

void CheckConsistent(const hnsw::HnswIndex& ix, const char* when, const hnsw::CheckOptions& opts = {}) {
  auto problems = ix.Check(opts);
  FUZZ_CHECK(problems.empty(), "Check() after %s reports %zu problems:%s", when, problems.size(),
             Problems(problems).c_str());
}

void CheckHits(const hnsw::HnswIndex& ix, const std::vector<hnsw::HnswHit>& hits, size_t want, const char* what) {
  FUZZ_CHECK(hits.size() == want, "%s returned %zu rows, expected %zu (live rows %zu)", what, hits.size(), want,
             ix.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    FUZZ_CHECK(ix.Contains(hits[i].rowid), "%s returned rowid %lld, not a live row", what,
               static_cast<long long>(hits[i].rowid));
    FUZZ_CHECK(!std::isnan(hits[i].distance), "%s returned a NaN distance", what);
    if (i) {
      const auto &a = hits[i - 1], &b = hits[i];
      FUZZ_CHECK(a.distance < b.distance || (a.distance == b.distance && a.rowid < b.rowid),
                 "%s: rows %zu and %zu out of order: (%g, %lld) then (%g, %lld)", what, i - 1, i,
                 static_cast<double>(a.distance), static_cast<long long>(a.rowid), static_cast<double>(b.distance),
                 static_cast<long long>(b.rowid));
    }
  }
}

void Searches(const hnsw::HnswIndex& ix) {
  const size_t dim = ix.config().dim;
  std::vector<std::vector<float>> queries = {std::vector<float>(dim, 0.0f), std::vector<float>(dim, 1.0f)};
  std::vector<int64_t> rowids = ix.Rowids();
  for (size_t i = 0; i < rowids.size() && i < 4; ++i) {
    auto v = ix.StoredVector(rowids[i]);
    FUZZ_CHECK(v.ok(), "StoredVector(%lld) of a live row fails", static_cast<long long>(rowids[i]));
    queries.push_back(*v);
  }
  std::vector<int64_t> half;
  for (size_t i = 0; i < rowids.size(); i += 2) half.push_back(rowids[i]);
  const size_t max_k = std::min<size_t>(ix.size() + 1, 12);
  for (const auto& q : queries) {
    for (size_t k = 1; k <= max_k; k += (k < 4 ? 1 : 4)) {
      const size_t want = std::min(k, ix.size());
      auto s = ix.Search(q, k);
      FUZZ_CHECK(s.ok(), "Search(k=%zu) fails: %s", k, s.status().message().c_str());
      CheckHits(ix, *s, want, "Search");
      auto e = ix.ExactSearch(q, k);
      FUZZ_CHECK(e.ok(), "ExactSearch(k=%zu) fails: %s", k, e.status().message().c_str());
      CheckHits(ix, *e, want, "ExactSearch");
      auto f = ix.Search(q, k, 0, ix.MakeAllowedSet(half));
      FUZZ_CHECK(f.ok(), "filtered Search(k=%zu) fails: %s", k, f.status().message().c_str());
      CheckHits(ix, *f, std::min(k, half.size()), "filtered Search");
      for (const auto& h : *f) {
        FUZZ_CHECK(std::binary_search(half.begin(), half.end(), h.rowid), "filtered Search returned rowid %lld "
                   "outside the allowed set", static_cast<long long>(h.rowid));
      }
    }
  }
}

// The index as rows (Header + ForEachNode), flattened for comparison.
struct Persisted {
  std::vector<uint8_t> header;
  std::vector<hnsw::OwnedNodeRow> rows;
};

Persisted Persist(const hnsw::HnswIndex& ix) {
  Persisted p;
  p.header = ix.Header().Encode();
  vecgraph::Status st = ix.ForEachNode([&](int64_t rowid, std::span<const float> vec, std::span<const uint8_t> rec) {
    hnsw::OwnedNodeRow r;
    r.rowid = rowid;
    r.vector.resize(vec.size() * sizeof(float));
    if (!vec.empty()) std::memcpy(r.vector.data(), vec.data(), r.vector.size());
    r.record.assign(rec.begin(), rec.end());
    p.rows.push_back(std::move(r));
    return vecgraph::Status::Ok();
  });
  FUZZ_CHECK(st.ok(), "ForEachNode fails: %s", st.message().c_str());
  std::sort(p.rows.begin(), p.rows.end(), [](const auto& a, const auto& b) { return a.rowid < b.rowid; });
  return p;
}

bool SamePersisted(const Persisted& a, const Persisted& b) {
  if (a.header != b.header || a.rows.size() != b.rows.size()) return false;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    if (a.rows[i].rowid != b.rows[i].rowid || a.rows[i].vector != b.rows[i].vector ||
        a.rows[i].record != b.rows[i].record) {
      return false;
    }
  }
  return true;
}

std::unique_ptr<hnsw::HnswIndex> Reload(const Persisted& p, const char* what) {
  auto h = hnsw::HnswHeader::Decode(p.header);
  FUZZ_CHECK(h.ok(), "%s: the header Header() wrote does not decode: %s", what, h.status().message().c_str());
  hnsw::VectorRecordSource src(&p.rows);
  auto ix = hnsw::HnswIndex::Load(*h, src);
  FUZZ_CHECK(ix.ok(), "%s: the rows ForEachNode wrote do not load: %s", what, ix.status().message().c_str());
  return std::move(*ix);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return 0;
  vecgraph::fuzz::Carver in(data, size);
  std::span<const uint8_t> header_bytes;
  if (!in.Blob(&header_bytes)) return 0;
  auto header = hnsw::HnswHeader::Decode(header_bytes);
  if (!header.ok()) return 0;
  std::vector<uint8_t> re = header->Encode();
  FUZZ_CHECK(re.size() == header_bytes.size() && std::memcmp(re.data(), header_bytes.data(), re.size()) == 0,
             "a decoded header re-encodes to other bytes");
  if (header->dim > 64) return 0;  // keeps each input cheap; the decoder checks the range anyway

  std::vector<vecgraph::fuzz::CarvedRow> rows;
  vecgraph::fuzz::CarvedRow row;
  while (rows.size() < 512 && in.Row(&row)) rows.push_back(row);

  CarvedSource src(&rows);
  auto loaded = hnsw::HnswIndex::Load(*header, src);
  if (!loaded.ok()) {
    FUZZ_CHECK(!loaded.status().message().empty(), "Load failed without a message");
    return 0;
  }
  std::unique_ptr<hnsw::HnswIndex> ix = std::move(*loaded);
  CheckConsistent(*ix, "Load");
  FUZZ_CHECK(ix->node_count() == rows.size(), "Load kept %zu nodes of %zu rows", ix->node_count(), rows.size());
  FUZZ_CHECK(ix->size() + ix->tombstones() == ix->node_count(), "live %zu + tombstones %zu != nodes %zu", ix->size(),
             ix->tombstones(), ix->node_count());
  Searches(*ix);

  // Written out and loaded again: a fixed point.
  Persisted first = Persist(*ix);
  auto again = Reload(first, "reload");
  CheckConsistent(*again, "reload");
  Persisted second = Persist(*again);
  FUZZ_CHECK(SamePersisted(first, second), "an index loaded from its own rows writes other rows");

  // Mutations keep it consistent.
  const size_t dim = ix->config().dim;
  std::vector<int64_t> live = ix->Rowids();
  int64_t fresh = 1;  // a rowid that is not live (it may be a tombstone: Insert revives it)
  if (!live.empty()) {
    if (live.back() < std::numeric_limits<int64_t>::max()) fresh = live.back() + 1;
    else if (live.front() > std::numeric_limits<int64_t>::min()) fresh = live.front() - 1;
    else for (fresh = 0; ix->Contains(fresh); ++fresh) {}
  }
  std::vector<float> v(dim);
  for (size_t i = 0; i < dim; ++i) v[i] = static_cast<float>((i * 7 + size) % 5) - 2.0f;
  vecgraph::Status inserted = ix->Insert(fresh, v);
  FUZZ_CHECK(inserted.ok(), "Insert of a new row fails: %s", inserted.message().c_str());
  CheckConsistent(*ix, "Insert");
  if (!live.empty()) {
    vecgraph::Status st = ix->Delete(live[size % live.size()]);
    FUZZ_CHECK(st.ok(), "Delete of a live row fails: %s", st.message().c_str());
    CheckConsistent(*ix, "Delete");
  }
  auto opt = ix->Optimize();
  FUZZ_CHECK(opt.ok(), "Optimize fails: %s", opt.status().message().c_str());
  hnsw::CheckOptions strict;
  strict.allow_tombstone_links = false;
  CheckConsistent(*ix, "Optimize", strict);
  FUZZ_CHECK(ix->tombstones() == 0, "Optimize left %zu tombstones", ix->tombstones());
  Searches(*ix);
  return 0;
}
