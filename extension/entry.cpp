// extension/entry.cpp — the extension entry points.
//
//   sqlite3_vecgraph_init(db, pzErrMsg, pApi)   `.load ./vecgraph`, load_extension(), or
//                                               sqlite3_auto_extension() in a C/C++ app
//   vecgraph_register(db)                       direct registration (libvecgraph.a)
#include <exception>
#include <new>

#include "extension/functions.h"
#include "extension/sql_util.h"
#include "extension/vecgraph.h"

#ifndef VECGRAPH_SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

namespace {

int RegisterAll(sqlite3* db, char** pz_err) {
  try {
    int rc = vecgraph::sql::RegisterVectorFunctions(db);
    if (rc == SQLITE_OK) rc = vecgraph::sql::RegisterTopkAggregate(db);
    if (rc == SQLITE_OK) rc = vecgraph::sql::RegisterExecutorFunctions(db);
    if (rc == SQLITE_OK) rc = vecgraph::sql::RegisterSpreadActivation(db);
    if (rc == SQLITE_OK) rc = vecgraph::sql::RegisterHnsw(db);
    if (rc != SQLITE_OK && pz_err) *pz_err = sqlite3_mprintf("vecgraph: registration failed: %s", sqlite3_errmsg(db));
    return rc;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    if (pz_err) *pz_err = sqlite3_mprintf("vecgraph: registration failed: %s", e.what());
    return SQLITE_ERROR;
  }
}

}  // namespace

extern "C" int sqlite3_vecgraph_init(sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* pApi) {
  VG_EXTENSION_INIT2(pApi);
  return RegisterAll(db, pzErrMsg);
}

extern "C" int vecgraph_register(sqlite3* db) { return RegisterAll(db, nullptr); }
