/* vecgraph.h — vector search and associative recall for SQLite.
 *
 * Loadable extension:  .load ./vecgraph           (entry point sqlite3_vecgraph_init)
 * Linked into an app:  link libvecgraph.a (plus -ltbb -lsqlite3 -lstdc++), then either
 *   vecgraph_register(db);                              for one connection, or
 *   sqlite3_auto_extension((void (*)(void))sqlite3_vecgraph_init);   for every new connection.
 */
#ifndef VECGRAPH_H
#define VECGRAPH_H

#define VECGRAPH_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct sqlite3_api_routines;

/* Registers every vecgraph function and virtual table on db. Returns an SQLite result code. */
__attribute__((visibility("default"))) int vecgraph_register(struct sqlite3 *db);

/* The extension entry point (what `.load` and sqlite3_auto_extension call). */
__attribute__((visibility("default"))) int sqlite3_vecgraph_init(struct sqlite3 *db, char **pzErrMsg,
                                                                  const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif

#endif /* VECGRAPH_H */
