// extension/functions.h — registration entry points of each extension file.
#pragma once

#include "extension/sqlite_api.h"

namespace vecgraph::sql {

int RegisterVectorFunctions(sqlite3* db);    // vector_functions.cpp
int RegisterTopkAggregate(sqlite3* db);      // topk_aggregate.cpp
int RegisterExecutorFunctions(sqlite3* db);  // executor_functions.cpp
int RegisterSpreadActivation(sqlite3* db);   // spread_activation.cpp
int RegisterHnsw(sqlite3* db);               // hnsw_module.cpp

}  // namespace vecgraph::sql
