// tests/fuzz/make_hnsw_corpus.cpp — writes the seed corpus of fuzz_hnsw_records: real persisted
// indexes (HnswIndex::Create / InsertBatch / Delete / Optimize, then Header().Encode() and
// ForEachNode's stored vector + EncodeNode record per node) in the input format of
// hnsw_rows_format.h. The output is committed (tests/fuzz/corpus/fuzz_hnsw_records/); rerun after
// a format change:
//
//   build/fuzz/tests/fuzz/make_hnsw_corpus tests/fuzz/corpus/fuzz_hnsw_records
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/hnsw/hnsw.h"
#include "tests/fuzz/hnsw_rows_format.h"

namespace {

namespace hnsw = vecgraph::hnsw;

struct Spec {
  const char* name;
  uint32_t dim;
  vecgraph::Metric metric;
  uint32_t M;
  int rows;
  int deletes;    // every n-th row deleted (0: none)
  bool optimize;  // Optimize() after the deletes
  bool reverse;   // write the node rows in reverse order (Load accepts any order)
};

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool Write(const std::string& dir, const Spec& s) {
  hnsw::HnswConfig cfg;
  cfg.dim = s.dim;
  cfg.metric = s.metric;
  cfg.M = s.M;
  cfg.ef_construction = 16;
  cfg.ef_search = 8;
  auto created = hnsw::HnswIndex::Create(cfg);
  if (!created.ok()) {
    std::fprintf(stderr, "%s: %s\n", s.name, created.status().message().c_str());
    return false;
  }
  auto& ix = **created;
  std::vector<int64_t> rowids;
  std::vector<float> vecs;
  for (int i = 0; i < s.rows; ++i) {
    rowids.push_back(i * 3 + 1);  // gaps, like a table with deletes
    for (uint32_t d = 0; d < s.dim; ++d) {
      // Small integers and a few repeats: ties in distance are part of what Load must keep.
      vecs.push_back(static_cast<float>(static_cast<int>(Mix(i * 131 + d) % 9) - 4) * 0.5f);
    }
  }
  if (!rowids.empty() && !ix.InsertBatch(rowids, vecs.data()).ok()) return false;
  if (s.deletes > 0) {
    for (size_t i = 0; i < rowids.size(); i += s.deletes) {
      if (!ix.Delete(rowids[i]).ok()) return false;
    }
  }
  if (s.optimize && !ix.Optimize().ok()) return false;

  std::vector<std::vector<uint8_t>> rows;
  vecgraph::Status st = ix.ForEachNode([&](int64_t rowid, std::span<const float> vec, std::span<const uint8_t> rec) {
    std::vector<uint8_t> one;
    vecgraph::fuzz::PutRow(&one, rowid,
                           {reinterpret_cast<const uint8_t*>(vec.data()), vec.size() * sizeof(float)}, rec);
    rows.push_back(std::move(one));
    return vecgraph::Status::Ok();
  });
  if (!st.ok()) return false;
  std::vector<uint8_t> out;
  vecgraph::fuzz::PutBlob(&out, ix.Header().Encode());
  if (s.reverse) {
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) out.insert(out.end(), it->begin(), it->end());
  } else {
    for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  }
  std::string path = dir + "/" + s.name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = std::fclose(f) == 0 && ok;
  std::printf("%s: %zu bytes, %zu nodes, %zu live\n", path.c_str(), out.size(), ix.node_count(), ix.size());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  using vecgraph::Metric;
  const Spec specs[] = {
      {"empty_l2", 3, Metric::kL2, 4, 0, 0, false, false},
      {"one_cosine", 2, Metric::kCosine, 2, 1, 0, false, false},
      {"l2_dim3_8rows", 3, Metric::kL2, 4, 8, 0, false, false},
      {"cosine_dim2_20rows", 2, Metric::kCosine, 3, 20, 0, false, true},
      {"dot_dim4_30rows", 4, Metric::kDot, 4, 30, 0, false, false},
      {"l2_tombstones", 3, Metric::kL2, 2, 24, 3, false, false},
      {"cosine_tombstones_reversed", 3, Metric::kCosine, 4, 16, 2, false, true},
      {"dot_optimized", 2, Metric::kDot, 2, 20, 4, true, false},
      {"all_deleted", 2, Metric::kL2, 2, 4, 1, false, false},
      {"l2_dim1_12rows", 1, Metric::kL2, 2, 12, 0, false, false},
      {"l2_m8_60rows", 5, Metric::kL2, 8, 60, 7, false, false},
  };
  for (const Spec& s : specs) {
    if (!Write(argv[1], s)) {
      std::fprintf(stderr, "failed: %s\n", s.name);
      return 1;
    }
  }
  return 0;
}
