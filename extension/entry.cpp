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

// The oldest SQLite whose API the extension calls (sqlite3_vtab_in and the LIMIT/OFFSET
// constraints of xBestIndex are 3.38.0). Through a loadable extension's API table a newer call on
// an older library would read past the table's end, so the check comes before anything else.
constexpr int kMinSqliteVersion = 3038000;

int RegisterAll(sqlite3* db, char** pz_err) {
  if (sqlite3_libversion_number() < kMinSqliteVersion) {
    if (pz_err) {
      *pz_err = sqlite3_mprintf("vecgraph: needs SQLite 3.38.0 or newer, this is SQLite %s", sqlite3_libversion());
    }
    return SQLITE_ERROR;
  }
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
