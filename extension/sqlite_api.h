// extension/sqlite_api.h — which SQLite API the extension glue calls.
//
// The same sources build twice: into vecgraph.so (a loadable extension: every sqlite3_* call goes
// through the sqlite3_api table handed to sqlite3_vecgraph_init) and into libvecgraph.a (linked
// into an application: VECGRAPH_SQLITE_CORE, direct calls).
#pragma once

#ifdef VECGRAPH_SQLITE_CORE
#include <sqlite3.h>
#define VG_EXTENSION_INIT2(api) (void)(api)
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#define VG_EXTENSION_INIT2(api) SQLITE_EXTENSION_INIT2(api)
#endif
