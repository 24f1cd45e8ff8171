// bench/hnsw_bench.cpp — HNSW engine benchmark (plain main; driven by bench/hnsw_compare.py).
//
// Reads raw little-endian float32 files (base n × dim, queries nq × dim) and an int32 ground
// truth (nq × gt_k nearest base indices, computed by the driver in float64), builds the index
// with each thread count (rowid = base row index), checks that all builds are identical, then
// measures on one thread: QPS and recall@k for each ef; SearchBatch QPS on the largest thread
// count; filtered search (graph vs exact scan) at several selectivities; memory. Prints one JSON
// object on stdout.
//
//   vecgraph_hnsw_bench --base X.f32 --queries Q.f32 --gt GT.i32 --dim 128 [--metric cosine]
//       [--M 16] [--efc 200] [--threads 1,2] [--ef 10,16,32,64,128] [--k 10] [--gt-k 10]
//       [--min-seconds 1.0] [--filter 1] [--n N] [--index-file PATH] [--codes-max-dim D]
// --index-file: load the index from PATH if it exists (no build; search only), else build and
// save it there (header + per node: rowid, stored vector, record — the persistence hooks).
// Times: wall clock, plus process CPU time (cpu_seconds, cpu_qps) to spot a contended machine.
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/executor/cpu_backend.h"
#include "engine/hnsw/hnsw.h"

using vecgraph::hnsw::HnswConfig;
using vecgraph::hnsw::HnswHit;
using vecgraph::hnsw::HnswIndex;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the whole process (robust to other processes stealing the cores).
double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds all processes on the machine have used (/proc/stat: user+nice+system+irq+softirq).
// Minus this process's CPU time it tells how much other work competed with a measurement.
double MachineBusySeconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  f >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq;
  return static_cast<double>(user + nice + sys + irq + softirq) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Index file: header bytes (64), then per node: rowid i64, vector bytes, u32 record length, record.
void SaveIndex(const HnswIndex& idx, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  auto hdr = idx.Header().Encode();
  f.write(reinterpret_cast<const char*>(hdr.data()), static_cast<std::streamsize>(hdr.size()));
  (void)idx.ForEachNode([&](int64_t rowid, std::span<const float> v, std::span<const uint8_t> rec) {
    uint32_t len = static_cast<uint32_t>(rec.size());
    f.write(reinterpret_cast<const char*>(&rowid), 8);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size_bytes()));
    f.write(reinterpret_cast<const char*>(&len), 4);
    f.write(reinterpret_cast<const char*>(rec.data()), len);
    return vecgraph::Status::Ok();
  });
}

class FileSource final : public vecgraph::hnsw::RecordSource {
 public:
  FileSource(std::vector<uint8_t> bytes, size_t dim) : b_(std::move(bytes)), vbytes_(dim * 4) {}
  vecgraph::StatusOr<bool> Next(vecgraph::hnsw::NodeRow* row) override {
    if (at_ >= b_.size()) return false;
    std::memcpy(&row->rowid, b_.data() + at_, 8);
    row->vector = {b_.data() + at_ + 8, vbytes_};
    uint32_t len;
    std::memcpy(&len, b_.data() + at_ + 8 + vbytes_, 4);
    row->record = {b_.data() + at_ + 12 + vbytes_, len};
    at_ += 12 + vbytes_ + len;
    return true;
  }
  size_t at_ = vecgraph::hnsw::kHnswHeaderBytes;

 private:
  std::vector<uint8_t> b_;
  size_t vbytes_;
};

template <typename T>
std::vector<T> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  size_t bytes = static_cast<size_t>(f.tellg());
  f.seekg(0);
  std::vector<T> v(bytes / sizeof(T));
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}

std::vector<size_t> ParseList(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoul(item));
  return out;
}

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages_total = 0, pages_res = 0;
  f >> pages_total >> pages_res;
  return pages_res * 4096;
}

uint64_t Fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

uint64_t GraphHash(const HnswIndex& idx) {
  uint64_t h = 1469598103934665603ULL;
  (void)idx.ForEachNode([&](int64_t rowid, std::span<const float> v, std::span<const uint8_t> rec) {
    h = Fnv(h, &rowid, sizeof(rowid));
    h = Fnv(h, v.data(), v.size_bytes());
    h = Fnv(h, rec.data(), rec.size());
    return vecgraph::Status::Ok();
  });
  return h;
}

double Recall(const std::vector<HnswHit>& got, const int32_t* gt, size_t k) {
  std::set<int64_t> truth(gt, gt + k);
  size_t hit = 0;
  for (size_t i = 0; i < got.size() && i < k; ++i) hit += truth.count(got[i].rowid);
  return static_cast<double>(hit) / static_cast<double>(k);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a = {{"metric", "cosine"}, {"M", "16"},       {"efc", "200"},
                                          {"threads", "1,2"},   {"ef", "10,16,24,32,48,64,96,128"},
                                          {"k", "10"},          {"gt-k", "10"},    {"min-seconds", "1.0"},
                                          {"filter", "1"},      {"n", "0"},
                                          {"index-file", ""},   {"codes-max-dim", ""}, {"sels", "all"}, {"filter-ef", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    a[key] = argv[i + 1];
  }
  const size_t dim = std::stoul(a["dim"]);
  std::vector<float> base = ReadFile<float>(a["base"]);
  std::vector<float> queries = ReadFile<float>(a["queries"]);
  std::vector<int32_t> gt = ReadFile<int32_t>(a["gt"]);
  size_t n = base.size() / dim;
  if (std::stoul(a["n"]) != 0) n = std::min(n, std::stoul(a["n"]));
  const size_t nq = queries.size() / dim;
  const size_t k = std::stoul(a["k"]), gt_k = std::stoul(a["gt-k"]);
  const double min_s = std::stod(a["min-seconds"]);

  HnswConfig cfg;
  cfg.dim = static_cast<uint32_t>(dim);
  auto metric = vecgraph::ParseMetric(a["metric"]);
  if (!metric.ok()) return 2;
  cfg.metric = *metric;
  cfg.M = static_cast<uint32_t>(std::stoul(a["M"]));
  cfg.ef_construction = static_cast<uint32_t>(std::stoul(a["efc"]));
  if (!a["codes-max-dim"].empty()) cfg.search_codes_max_dim = static_cast<uint32_t>(std::stoul(a["codes-max-dim"]));

  std::vector<int64_t> rowids(n);
  for (size_t i = 0; i < n; ++i) rowids[i] = static_cast<int64_t>(i);

  std::string json = "{";
  auto field = [&](const std::string& key, const std::string& val) {
    if (json.size() > 1) json += ",";
    json += "\"" + key + "\":" + val;
  };
  field("n", std::to_string(n));
  field("dim", std::to_string(dim));
  field("nq", std::to_string(nq));

  std::unique_ptr<HnswIndex> idx;
  if (!a["index-file"].empty()) {  // search-only runs on a saved index
    std::ifstream probe(a["index-file"]);
    if (probe) {
      std::vector<uint8_t> bytes = ReadFile<uint8_t>(a["index-file"]);
      auto hdr = vecgraph::hnsw::HnswHeader::Decode({bytes.data(), vecgraph::hnsw::kHnswHeaderBytes});
      FileSource src(std::move(bytes), dim);
      double t0 = Now();
      auto loaded = HnswIndex::Load(*hdr, src, &cfg);
      if (!loaded.ok()) {
        std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
        return 2;
      }
      idx = std::move(*loaded);
      std::fprintf(stderr, "loaded %s in %.2fs\n", a["index-file"].c_str(), Now() - t0);
      a["threads"] = "";
    }
  }
  std::string builds = "[";
  uint64_t first_hash = 0;
  bool identical = true;
  for (size_t t : ParseList(a["threads"])) {
    idx.reset();
    vecgraph::exec::CpuBackend cpu(static_cast<int>(t));
    size_t rss0 = RssBytes();
    auto made = HnswIndex::Create(cfg);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().message().c_str());
      return 2;
    }
    idx = std::move(*made);
    idx->SetCpuBackend(&cpu);
    double t0 = Now(), c0 = CpuNow(), m0 = MachineBusySeconds();
    vecgraph::Status st = idx->InsertBatch(rowids, base.data());
    double secs = Now() - t0, cpu_secs = CpuNow() - c0, other = MachineBusySeconds() - m0 - cpu_secs;
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 2;
    }
    size_t rss1 = RssBytes();
    idx->SetCpuBackend(nullptr);
    uint64_t h = GraphHash(*idx);
    if (builds.size() > 1) builds += ",";
    else first_hash = h;
    identical = identical && h == first_hash;
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"threads\":%zu,\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"other_cpu_seconds\":%.2f,"
                  "\"memory_bytes\":%zu,\"rss_delta\":%zu,\"hash\":\"%016llx\"}",
                  t, secs, cpu_secs, other > 0 ? other : 0.0, idx->MemoryBytes(), rss1 > rss0 ? rss1 - rss0 : 0,
                  static_cast<unsigned long long>(h));
    builds += buf;
    std::fprintf(stderr, "build threads=%zu %.2fs (cpu %.2fs, other processes %.2f cpu-s)\n", t, secs, cpu_secs,
                 other > 0 ? other : 0.0);
  }
  builds += "]";
  if (!a["index-file"].empty() && builds.size() > 2) SaveIndex(*idx, a["index-file"]);
  field("builds", builds);
  if (builds.size() > 2) field("identical", identical ? "true" : "false");
  if (builds.size() <= 2) field("identical", "true");
  auto problems = idx->Check();
  field("check_problems", std::to_string(problems.size()));

  // Single-thread search sweep.
  vecgraph::exec::CpuBackend one(1);
  idx->SetCpuBackend(&one);
  std::string sweep = "[";
  for (size_t ef : ParseList(a["ef"])) {
    double rec = 0;
    uint64_t dists = 0;
    std::vector<std::vector<HnswHit>> res(nq);
    size_t reps = 0;
    double t0 = Now(), c0 = CpuNow(), m0 = MachineBusySeconds(), el = 0;
    do {
      for (size_t q = 0; q < nq; ++q) {
        vecgraph::hnsw::SearchStats ss;
        auto r = idx->Search({queries.data() + q * dim, dim}, k, ef, &ss);
        res[q] = std::move(*r);
        if (reps == 0) dists += ss.distances;
      }
      ++reps;
      el = Now() - t0;
    } while (el < min_s);
    double cpu_el = CpuNow() - c0, other = std::max(0.0, MachineBusySeconds() - m0 - cpu_el);
    for (size_t q = 0; q < nq; ++q) rec += Recall(res[q], gt.data() + q * gt_k, k);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s{\"ef\":%zu,\"qps\":%.1f,\"cpu_qps\":%.1f,\"recall\":%.4f,\"distances\":%.1f,"
                  "\"other_cpu_fraction\":%.3f}",
                  sweep.size() > 1 ? "," : "", ef, static_cast<double>(reps * nq) / el,
                  static_cast<double>(reps * nq) / cpu_el, rec / static_cast<double>(nq),
                  static_cast<double>(dists) / static_cast<double>(nq), other / el);
    sweep += buf;
    std::fprintf(stderr, "ef=%zu qps=%.0f cpu_qps=%.0f recall=%.4f\n", ef, static_cast<double>(reps * nq) / el,
                 static_cast<double>(reps * nq) / cpu_el, rec / static_cast<double>(nq));
  }
  sweep += "]";
  field("search", sweep);

  // Batched search on the largest thread count, ef 64.
  {
    size_t tmax = 1;
    for (size_t t : ParseList(a["threads"])) tmax = std::max(tmax, t);
    vecgraph::exec::CpuBackend cpu(static_cast<int>(tmax));
    idx->SetCpuBackend(&cpu);
    size_t reps = 0;
    double t0 = Now(), el = 0;
    bool same = true;
    do {
      auto r = idx->SearchBatch(queries.data(), nq, k, 64);
      if (reps == 0) {
        for (size_t q = 0; q < nq && same; ++q) same = (*r)[q] == *idx->Search({queries.data() + q * dim, dim}, k, 64);
      }
      ++reps;
      el = Now() - t0;
    } while (el < min_s);
    char buf[200];
    std::snprintf(buf, sizeof buf, "{\"threads\":%zu,\"ef\":64,\"qps\":%.1f,\"equals_one_by_one\":%s}", tmax,
                  static_cast<double>(reps * nq) / el, same ? "true" : "false");
    field("batch_search", buf);
    idx->SetCpuBackend(&one);
  }

  // Filtered search, single thread: a metadata column `category` (integer) holds, for each
  // selectivity s, the value c_s on a hashed (uncorrelated) s-fraction of the rows; the query
  // `category = c_s` runs through SearchFiltered three ways: the strategy the index chooses, the
  // graph walk forced, the exact scan forced. Recall is against the exact scan (same rows).
  if (a["filter"] != "0") {
    const std::vector<double> sels = {0.001, 0.01, 0.05, 0.1, 0.2, 0.5};
    idx->SetAttributeSchema({vecgraph::hnsw::AttrType::kInteger, vecgraph::hnsw::AttrType::kInteger});
    // A correlated column: the rows are split into the Voronoi cells of 100 centres (base rows
    // spread over the file), and `corr = 1` holds in every tenth cell: about 10 % of the rows,
    // lying together in cells away from most queries (as `cluster = c` in hnsw_filter_bench.py).
    std::vector<uint8_t> corr_pass(n);
    {
      const size_t centres = 100;
      for (size_t i = 0; i < n; ++i) {
        size_t best = 0;
        double bd = 1e300;
        for (size_t c = 0; c < centres; ++c) {
          const float* x = base.data() + i * dim;
          const float* y = base.data() + (c * (n / centres)) * dim;
          double d = 0;
          for (size_t j = 0; j < dim; ++j) d += (static_cast<double>(x[j]) - y[j]) * (static_cast<double>(x[j]) - y[j]);
          if (d < bd) {
            bd = d;
            best = c;
          }
        }
        corr_pass[i] = best % 10 == 3;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t h = (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL) >> 40;
      const double u = static_cast<double>(h % 1000000) / 1e6;
      // Disjoint classes: value j+1 on the u-interval [Σ sels[<j], Σ sels[≤j]); 100 elsewhere.
      int64_t c = 100;
      double lo = 0;
      for (size_t j = 0; j < sels.size() && c == 100; ++j) {
        if (u >= lo && u < lo + sels[j]) c = static_cast<int64_t>(j + 1);
        lo += sels[j];
      }
      vecgraph::hnsw::AttrValue v[2] = {vecgraph::hnsw::AttrValue::Int(c),
                                        vecgraph::hnsw::AttrValue::Int(corr_pass[i])};
      (void)idx->SetAttributes(static_cast<int64_t>(i), {v, 2});
    }
    const size_t qn = std::min<size_t>(nq, 200);
    const size_t filter_ef = std::stoul(a["filter-ef"]);  // 0: the index's ef_search
    auto timed = [&](auto&& fn) {  // best of 3 passes (after a warm-up), µs per query
      fn();
      double best = 1e30;
      for (int p = 0; p < 3; ++p) {
        double t0 = Now();
        fn();
        best = std::min(best, (Now() - t0) / static_cast<double>(qn));
      }
      return best * 1e6;
    };
    double unfiltered_us = timed([&] {
      for (size_t q = 0; q < qn; ++q) (void)idx->Search({queries.data() + q * dim, dim}, k, 0);
    });
    std::string fs = "[";
    for (size_t j = 0; j <= sels.size(); ++j) {  // the last: correlated 10 %
      const bool corr = j == sels.size();
      const double sel = corr ? 0.1 : sels[j];
      // --sels 0.1,corr runs only those filters (default: all).
      if (a["sels"] != "all") {
        char key[32];
        std::snprintf(key, sizeof key, "%g", sel);
        const std::string want = "," + a["sels"] + ",";
        if (want.find(corr ? std::string(",corr,") : "," + std::string(key) + ",") == std::string::npos) continue;
      }
      vecgraph::hnsw::AttrTerm term;
      term.column = corr ? 1 : 0;
      term.op = vecgraph::hnsw::AttrOp::kEq;
      term.values = {vecgraph::hnsw::AttrValue::Int(corr ? 1 : static_cast<int64_t>(j + 1))};
      vecgraph::hnsw::SearchFilter filter;
      filter.terms = {&term, 1};
      std::vector<std::vector<HnswHit>> exact(qn), got(qn);
      vecgraph::hnsw::SearchStats st;
      double exact_us = timed([&] {
        for (size_t q = 0; q < qn; ++q) exact[q] = *idx->SearchFiltered({queries.data() + q * dim, dim}, k, filter_ef, filter, true);
      });
      uint64_t passing = 0, dists = 0;
      size_t graph_chosen = 0;
      double chosen_us = timed([&] {
        graph_chosen = 0;
        for (size_t q = 0; q < qn; ++q) {
          got[q] = *idx->SearchFiltered({queries.data() + q * dim, dim}, k, filter_ef, filter, false, &st);
          graph_chosen += st.strategy == vecgraph::hnsw::FilterStrategy::kGraph;
          passing = st.passing_estimate;
        }
      });
      auto recall = [&](const std::vector<std::vector<HnswHit>>& r, size_t* short_answers) {
        double rec = 0;
        for (size_t q = 0; q < qn; ++q) {
          std::set<int64_t> truth;
          for (const auto& h : exact[q]) truth.insert(h.rowid);
          size_t hit = 0;
          for (const auto& h : r[q]) hit += truth.count(h.rowid);
          rec += exact[q].empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(exact[q].size());
          *short_answers += r[q].size() < exact[q].size();
        }
        return rec / static_cast<double>(qn);
      };
      size_t short_chosen = 0, short_graph = 0;
      const double chosen_recall = recall(got, &short_chosen);
      // The walk forced: every threshold of the exact rule at 0.
      vecgraph::hnsw::HnswConfig forced = idx->config();
      forced.filter_exact_max_rows = 0;
      forced.filter_exact_max_fraction = 0;
      forced.filter_graph_cost_rows = 0;
      idx->SetFilterThresholds(forced);
      size_t fallbacks = 0, with_lists = 0;
      std::vector<uint8_t> walked_all(qn);
      double graph_us = timed([&] {
        fallbacks = 0;
        dists = 0;
        with_lists = 0;
        for (size_t q = 0; q < qn; ++q) {
          got[q] = *idx->SearchFiltered({queries.data() + q * dim, dim}, k, filter_ef, filter, false, &st);
          fallbacks += st.fallback;
          dists += st.distances;
          with_lists += st.hop_lists;
          walked_all[q] = st.correlated;
        }
      });
      idx->SetFilterThresholds(cfg);
      const double graph_recall = recall(got, &short_graph);
      // Recall of the walks that kept scoring every node (correlated) and of the others.
      size_t n_corr = 0;
      double rec_corr = 0, rec_other = 0;
      for (size_t q = 0; q < qn; ++q) {
        std::set<int64_t> truth;
        for (const auto& h : exact[q]) truth.insert(h.rowid);
        size_t hit = 0;
        for (const auto& h : got[q]) hit += truth.count(h.rowid);
        const double r = exact[q].empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(exact[q].size());
        (walked_all[q] ? rec_corr : rec_other) += r;
        n_corr += walked_all[q];
      }
      std::fprintf(stderr, "  walks scoring every node: %zu/%zu (recall %.4f), others recall %.4f\n", n_corr, qn,
                   n_corr ? rec_corr / n_corr : 1.0, qn > n_corr ? rec_other / (qn - n_corr) : 1.0);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"selectivity\":%g,\"correlated\":%s,\"passing_estimate\":%llu,\"unfiltered_us\":%.1f,\"chosen_us\":%.1f,"
                    "\"chosen_graph_queries\":%zu,\"chosen_recall\":%.4f,\"graph_us\":%.1f,\"graph_recall\":%.4f,"
                    "\"graph_distances\":%.0f,\"graph_fallbacks\":%zu,\"graph_hop_lists\":%zu,\"exact_us\":%.1f,"
                    "\"short\":%zu}",
                    fs.size() > 1 ? "," : "", sel, corr ? "true" : "false", static_cast<unsigned long long>(passing), unfiltered_us,
                    chosen_us, graph_chosen, chosen_recall, graph_us, graph_recall,
                    static_cast<double>(dists) / static_cast<double>(qn), fallbacks, with_lists, exact_us,
                    short_chosen + short_graph);
      fs += buf;
      std::fprintf(stderr,
                   "filter sel=%g%s unfiltered=%.0fus chosen=%.0fus (graph %zu/%zu, recall %.4f) graph=%.0fus "
                   "(recall %.4f, %.0f dists, %zu fallbacks, %zu with two-hop lists; %.2fx unfiltered) exact=%.0fus\n",
                   sel, corr ? " correlated" : "", unfiltered_us, chosen_us, graph_chosen, qn, chosen_recall, graph_us, graph_recall,
                   static_cast<double>(dists) / static_cast<double>(qn), fallbacks, with_lists, unfiltered_us / graph_us,
                   exact_us);
    }
    fs += "]";
    field("filtered", fs);
  }
  idx->SetCpuBackend(nullptr);
  json += "}";
  std::printf("%s\n", json.c_str());
  return identical ? 0 : 1;
}
