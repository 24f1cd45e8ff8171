// extension/hnsw/hnsw_info.cpp — vecgraph_index_info(name): one hnsw_knn table described as JSON.
//
//   SELECT vecgraph_index_info('docs');
//   → {"name":"docs","schema":"main","format":4,"vector":{"name":"embedding","dim":768,"metric":"cosine","quantizer":"none","rescore":null},
//      "columns":[{"name":"category","kind":"metadata","type":"integer"},...],
//      "m":16,"ef_construction":200,"ef_search":64,"rows":1000,"deleted":3,"levels":3,
//      "partitions":{"user_id":42},"memory_bytes":{"vectors":...,"graph":...,"codes":...,"metadata":...,"total":...},
//      "disk_bytes":...,"pending_rows":0,"optimize":{"helps":false,"why":"..."},"last_query":{...}}
//
// The index is loaded (and buffered inserts built) first, so the numbers describe the committed
// and pending rows of this connection. `disk_bytes` is what the shadow tables occupy: pages from
// the dbstat table when SQLite has it, else the sum of the stored values' lengths (the JSON says
// which, in "disk_bytes_from"). `last_query` is how the last k-NN query on this table and this
// connection was answered (the strategy, the reason, the estimate of passing rows); null before
// the first one.
#include <string>

#include "engine/common/json.h"
#include "extension/build_progress.h"
#include "extension/hnsw/hnsw_vtab.h"
#include "extension/sql_util.h"

namespace vecgraph::sql {
namespace {

void Key(std::string* out, const char* k) {
  if (out->back() != '{') out->push_back(',');
  json::AppendString(out, k);
  out->push_back(':');
}

const char* Bool(bool b) { return b ? "true" : "false"; }

StatusOr<int64_t> ScalarInt(sqlite3* db, const std::string& sql, bool* failed) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  int64_t v = 0;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    if (failed) {
      *failed = true;
      return int64_t{0};
    }
    return SqliteError(db, rc, "vecgraph_index_info");
  }
  return v;
}

}  // namespace

std::string HnswVtab::LastQuery::Json() const {
  if (!set) return "null";
  if (none) return "{\"strategy\":\"none\",\"reason\":\"no row can pass the conditions\"}";
  const std::string parts = partitions == -1 ? "null" : partitions == -2 ? "\"all\"" : std::to_string(partitions);
  std::string o = "{\"strategy\":";
  json::AppendString(&o, strategy);
  o += ",\"reason\":";
  json::AppendString(&o, reason);
  o += StrFormat(",\"rows_wanted\":%llu,\"from\":\"%s\",\"filtered\":%s,\"passing_estimate\":%llu,"
                 "\"passing_counted\":%s,\"sampled\":%u,\"two_hop\":%s,\"two_hop_lists\":%s,\"correlated\":%s,"
                 "\"fallback\":%s,\"searches\":%zu,\"rows\":%zu,\"partitions\":%s}",
                 static_cast<unsigned long long>(rows_wanted), from, Bool(filtered),
                 static_cast<unsigned long long>(passing_estimate), Bool(passing_counted), sampled, Bool(two_hop),
                 Bool(two_hop_lists), Bool(correlated), Bool(fallback), searches, rows, parts.c_str());
  return o;
}

void HnswIndexInfoFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  VG_SQL_TRY
  auto* reg = static_cast<Registry*>(sqlite3_user_data(ctx));
  sqlite3* db = sqlite3_context_db_handle(ctx);
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    ResultError(ctx, StrFormat("vecgraph_index_info: argument 1 (index): expected the name of an hnsw_knn table, found %s",
                               DescribeValue(argv[0]).c_str()));
    return;
  }
  const std::string spec = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  auto found = FindIndex(db, reg, "vecgraph_index_info", "argument 1 (index)", spec);
  if (!found.ok()) {
    ResultError(ctx, found.status());
    return;
  }
  HnswVtab* vt = *found;
  Status st = Flush(vt);
  if (st.ok()) st = EnsureLoaded(vt);
  if (!st.ok()) {
    ResultError(ctx, st);
    return;
  }
  const hnsw::HnswIndex& idx = *vt->index;
  const HnswSchema& d = vt->decl;
  std::string o = "{";
  Key(&o, "name");
  json::AppendString(&o, vt->name);
  Key(&o, "schema");
  json::AppendString(&o, vt->schema);
  Key(&o, "format");
  o += std::to_string(vt->format);
  Key(&o, "vector");
  o += "{";
  Key(&o, "name");
  json::AppendString(&o, d.vector_name);
  Key(&o, "dim");
  o += std::to_string(vt->config.dim);
  Key(&o, "metric");
  json::AppendString(&o, MetricName(vt->config.metric));
  // What the query walks read: the 8-bit search codes ("int8") or the float vectors ("none"),
  // as chosen by the quantizer option (or, without it, by the dimension).
  Key(&o, "quantizer");
  json::AppendString(&o, vt->config.Coded() ? "int8" : "none");
  // How many of a coded walk's nodes are re-scored from the float vectors: R (× k), or null for
  // all of them (the walk's ef best).
  Key(&o, "rescore");
  o += vt->config.rescore == 0 ? "null" : std::to_string(vt->config.rescore);
  o += "}";
  Key(&o, "columns");
  o += "[";
  for (size_t i = 0; i < d.columns.size(); ++i) {
    const HnswColumnDef& c = d.columns[i];
    if (i) o += ",";
    o += "{";
    Key(&o, "name");
    json::AppendString(&o, c.name);
    Key(&o, "kind");
    json::AppendString(&o, HnswColumnKindName(c.kind));
    Key(&o, "type");
    if (c.declared_type.empty()) o += "null";
    else json::AppendString(&o, c.declared_type);
    o += "}";
  }
  o += "]";
  Key(&o, "m");
  o += std::to_string(vt->config.M);
  Key(&o, "ef_construction");
  o += std::to_string(vt->config.ef_construction);
  Key(&o, "ef_search");
  o += std::to_string(idx.config().ef_search);
  Key(&o, "rows");
  o += std::to_string(idx.size());
  Key(&o, "deleted");
  o += std::to_string(idx.tombstones());
  Key(&o, "levels");
  o += std::to_string(idx.MaxLevel() + 1);
  Key(&o, "partitions");
  o += "{";
  for (size_t i = 0; i < d.columns.size(); ++i) {
    if (d.columns[i].kind != HnswColumnKind::kPartition) continue;
    auto n = ScalarInt(db, Q("SELECT count(DISTINCT c", "", "") + std::to_string(i + 1) +
                               Q(") FROM \"%w\".\"%w_rows\"", vt->schema, vt->name),
                       nullptr);
    if (!n.ok()) {
      ResultError(ctx, n.status());
      return;
    }
    Key(&o, d.columns[i].name.c_str());
    o += std::to_string(*n);
  }
  o += "}";
  const hnsw::HnswIndex::MemoryParts mem = idx.MemoryByPart();
  Key(&o, "memory_bytes");
  o += "{";
  Key(&o, "vectors");
  o += std::to_string(mem.vectors);
  Key(&o, "graph");
  o += std::to_string(mem.graph);
  Key(&o, "codes");
  o += std::to_string(mem.codes);
  Key(&o, "metadata");
  o += std::to_string(mem.attributes);
  Key(&o, "total");
  o += std::to_string(idx.MemoryBytes());
  o += "}";
  // Disk: dbstat when compiled in, else the stored values' lengths.
  std::string names;
  {
    char* in = sqlite3_mprintf("name IN ('%q_info', '%q_nodes', '%q_rows')", vt->name.c_str(), vt->name.c_str(),
                               vt->name.c_str());
    if (in == nullptr) throw std::bad_alloc();
    names = in;
    sqlite3_free(in);
  }
  bool no_dbstat = false;
  auto disk = ScalarInt(db, Q("SELECT coalesce(sum(pgsize), 0) FROM dbstat(%Q) WHERE ", vt->schema, "") + names, &no_dbstat);
  std::string from = "dbstat";
  if (no_dbstat) {
    from = "value lengths";
    std::string sql = Q("SELECT (SELECT coalesce(sum(length(vector) + length(record) + coalesce(length(original), 0) + 8), 0) "
                        "FROM \"%w\".\"%w_nodes\")",
                        vt->schema, vt->name);
    if (!d.legacy) {
      std::string lens = "8";
      for (size_t i = 1; i <= d.columns.size(); ++i) lens += " + coalesce(length(c" + std::to_string(i) + "), 0)";
      sql += " + (SELECT coalesce(sum(" + lens + "), 0) FROM " + Q("\"%w\".\"%w_rows\")", vt->schema, vt->name);
    }
    disk = ScalarInt(db, sql, nullptr);
  }
  if (!disk.ok()) {
    ResultError(ctx, disk.status());
    return;
  }
  Key(&o, "disk_bytes");
  o += std::to_string(*disk);
  Key(&o, "disk_bytes_from");
  json::AppendString(&o, from);
  Key(&o, "pending_rows");
  o += std::to_string(vt->pending_rowids.size());
  // Builds of this index by any connection of this process (a bulk INSERT on another connection
  // shows its progress here while it runs).
  Key(&o, "build");
  if (auto b = LookupBuild(MakeBuildKey(db, vt->schema, vt->name))) {
    o += "{";
    Key(&o, "running");
    o += Bool(b->running);
    Key(&o, "open");
    o += Bool(b->open);
    Key(&o, "pending");
    o += std::to_string(b->pending);
    Key(&o, "built");
    o += std::to_string(b->built);
    Key(&o, "total");
    o += std::to_string(b->total);
    Key(&o, "seconds");
    o += StrFormat("%.3f", b->seconds);
    Key(&o, "interrupted");
    o += Bool(b->interrupted);
    o += "}";
  } else {
    o += "null";
  }
  Key(&o, "optimize");
  o += "{";
  const bool helps = idx.NeedsOptimize();
  Key(&o, "helps");
  o += Bool(helps);
  Key(&o, "why");
  const size_t nodes = idx.node_count();
  json::AppendString(&o, StrFormat("%zu of %zu nodes are deleted rows (tombstones) that still route searches and use "
                                   "memory; optimize purges them and repairs the links %s",
                                   idx.tombstones(), nodes,
                                   helps ? "(recommended from 25%)" : "(not needed below 25%)"));
  o += "}";
  Key(&o, "last_query");
  o += vt->last_query.Json();
  o += "}";
  ResultText(ctx, o);
  VG_SQL_CATCH(ctx)
}

}  // namespace vecgraph::sql
