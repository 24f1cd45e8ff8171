// extension/hnsw/hnsw_options.h — the arguments of CREATE VIRTUAL TABLE ... USING hnsw_knn(...).
//
//   CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=768, metric=cosine, m=16, ef_construction=200,
//                                          ef_search=64);
//
// Each argument is `key=value` (spaces around either are ignored, the value may be quoted with
// '...' or "..."); keys are case-insensitive; `dim` is required; a key given twice is an error.
// Messages read "hnsw_knn: option 'm': expected an integer between 2 and 128, found '1'".
#pragma once

#include "engine/common/status.h"
#include "engine/hnsw/hnsw_config.h"

namespace vecgraph::sql {

// argv[0..2] are the module, schema and table names (as SQLite passes them to xCreate/xConnect);
// the options are argv[3..argc). Fills *cfg (defaults for what is not given) and validates it.
Status ParseHnswOptions(int argc, const char* const* argv, hnsw::HnswConfig* cfg);

}  // namespace vecgraph::sql
