// extension/hnsw_vtab.cpp — placeholder: registers nothing yet (issue: hnsw_knn).
#include "extension/functions.h"

namespace vecgraph::sql {
int RegisterHnsw(sqlite3*) { return SQLITE_OK; }
}  // namespace vecgraph::sql
