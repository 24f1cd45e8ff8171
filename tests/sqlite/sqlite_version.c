/* tests/sqlite/sqlite_version.c — which SQLite do the SQL tests of this build run on?
 *
 * Prints the library's version and source id, and fails (exit 1) when they differ from the header
 * this build compiled against (SQLITE_VERSION, SQLITE_SOURCE_ID): a header/library mismatch
 * would make every other SQL test's result meaningless. With an argument, also requires that
 * version ("3.54.1"), so `make test-sqlite-latest` proves it did not fall back to the system's.
 *
 *   vecgraph_sqlite_version [EXPECTED_VERSION]
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  int ok = 1;
  printf("sqlite3_libversion() = %s, sqlite3_sourceid() = %s\n", sqlite3_libversion(), sqlite3_sourceid());
  printf("compiled against SQLITE_VERSION %s (%d), SQLITE_SOURCE_ID %s\n", SQLITE_VERSION, SQLITE_VERSION_NUMBER,
         SQLITE_SOURCE_ID);
  if (strcmp(sqlite3_libversion(), SQLITE_VERSION) != 0 || sqlite3_libversion_number() != SQLITE_VERSION_NUMBER) {
    fprintf(stderr, "FAIL: library %s differs from header %s\n", sqlite3_libversion(), SQLITE_VERSION);
    ok = 0;
  }
  if (strcmp(sqlite3_sourceid(), SQLITE_SOURCE_ID) != 0) {
    fprintf(stderr, "FAIL: library source id differs from the header's\n");
    ok = 0;
  }
  if (argc > 1 && strcmp(sqlite3_libversion(), argv[1]) != 0) {
    fprintf(stderr, "FAIL: expected SQLite %s, running %s\n", argv[1], sqlite3_libversion());
    ok = 0;
  }
  if (!sqlite3_threadsafe()) {
    fprintf(stderr, "FAIL: this SQLite is built without thread safety (the concurrency test needs it)\n");
    ok = 0;
  }
  return ok ? 0 : 1;
}
