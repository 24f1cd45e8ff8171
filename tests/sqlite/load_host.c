/* tests/sqlite/load_host.c — a plain C host that loads a built vecgraph.so the way applications
 * do (sqlite3_enable_load_extension + sqlite3_load_extension), into whatever SQLite it is linked
 * with. `make test-sqlite-latest` links it with the newest amalgamation and loads the shipped
 * build/release/vecgraph.so, compiled against Debian's older sqlite3ext.h: proof that the .so
 * works in a newer SQLite than it was built for. The Release build runs it against Debian's.
 *
 *   vecgraph_load_host PATH/TO/vecgraph.so [SCRATCH_DIR]
 *
 * Runs vec_distance, an hnsw_knn create / insert / k-NN / check (in a file database that is
 * closed, reopened and queried again, so the shadow tables are read back by this SQLite),
 * spread_activation over a small edge table, then closes every connection and exits 0 — a crash
 * at exit (TBB workers after dlclose) would fail it as well.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char* g_ext;
static int g_failed;

static sqlite3* Open(const char* path) {
  sqlite3* db = NULL;
  char* err = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "FAIL: open %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  if (sqlite3_enable_load_extension(db, 1) != SQLITE_OK ||
      sqlite3_load_extension(db, g_ext, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "FAIL: load_extension(%s): %s\n", g_ext, err ? err : sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_enable_load_extension(db, 0);
  return db;
}

static void Exec(sqlite3* db, const char* sql) {
  char* err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "FAIL: %s\n  error: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    g_failed = 1;
  }
}

/* Rows of a query as text: columns joined by '|', rows by ';'. */
static void Expect(sqlite3* db, const char* sql, const char* expected) {
  char got[4096];
  size_t n = 0;
  sqlite3_stmt* st = NULL;
  got[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "FAIL: %s\n  prepare: %s\n", sql, sqlite3_errmsg(db));
    g_failed = 1;
    return;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const char* t = (const char*)sqlite3_column_text(st, c);
      n += (size_t)snprintf(got + n, n < sizeof got ? sizeof got - n : 0, "%s%s", c ? "|" : (n ? ";" : ""),
                            t ? t : "NULL");
    }
  }
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "FAIL: %s\n  step: %s\n", sql, sqlite3_errmsg(db));
    g_failed = 1;
  } else if (strcmp(got, expected) != 0) {
    fprintf(stderr, "FAIL: %s\n  expected: %s\n  got:      %s\n", sql, expected, got);
    g_failed = 1;
  }
  sqlite3_finalize(st);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH/TO/vecgraph.so [SCRATCH_DIR]\n", argv[0]);
    return 2;
  }
  g_ext = argv[1];
  char path[4096];
  snprintf(path, sizeof path, "%s/vecgraph_load_host_%d.db", argc > 2 ? argv[2] : "/tmp", (int)getpid());
  unlink(path);
  printf("SQLite %s, loading %s\n", sqlite3_libversion(), g_ext);

  sqlite3* db = Open(":memory:");
  Expect(db, "SELECT vecgraph_version() IS NOT NULL, vec_distance('[0,0]', '[3,4]'), vec_dims(vec_f32('[1,2,3]'))",
         "1|5.0|3");
  Expect(db, "SELECT vec_json(vec_normalize('[3,4]'))", "[0.6,0.8]");
  Exec(db, "CREATE TABLE links(src INTEGER, dst INTEGER, weight REAL);"
           "INSERT INTO links VALUES (1, 2, 1.0), (2, 3, 1.0), (1, 4, 0.5);");
  Expect(db,
         "SELECT node, activation, depth FROM spread_activation('links', '[1]', "
         "'{\"decay\": 0.5, \"threshold\": 0.01, \"max_hops\": 2}')",
         "1|1.0|0;2|0.5|1;3|0.25|2;4|0.25|1");
  sqlite3_close(db);

  db = Open(path);
  Exec(db, "CREATE VIRTUAL TABLE ix USING hnsw_knn(dim=3, metric=l2, m=8, ef_construction=32);"
           "INSERT INTO ix(rowid, vector) VALUES (1, '[0,0,0]'), (2, '[1,0,0]'), (3, '[0,2,0]'), (4, '[0,0,3]');"
           "BEGIN; INSERT INTO ix(rowid, vector) VALUES (5, '[9,9,9]'); ROLLBACK;"
           "DELETE FROM ix WHERE rowid = 4;");
  /* Distances rounded: how SQLite prints a REAL changed between versions (15 vs 17 digits). */
  Expect(db, "SELECT rowid, round(distance, 5) FROM ix WHERE vector MATCH '[0.9,0,0]' AND k = 3",
         "2|0.1;1|0.9;3|2.19317");
  Expect(db, "SELECT vecgraph_check('ix'), (SELECT count(*) FROM ix)", "ok|3");
  sqlite3_close(db);

  db = Open(path); /* the index is read back from its shadow tables by this SQLite */
  Expect(db, "SELECT rowid FROM ix WHERE vector MATCH '[0,1.9,0]' AND k = 2 AND exact = 1", "3;1");
  Exec(db, "INSERT INTO ix(ix) VALUES ('optimize')");
  Expect(db, "SELECT vecgraph_check('ix'), (SELECT group_concat(rowid) FROM ix)", "ok|1,2,3");
  sqlite3_close(db);
  unlink(path);

  if (g_failed) return 1;
  printf("ok: vecgraph loads and works in SQLite %s\n", sqlite3_libversion());
  return 0;
}
