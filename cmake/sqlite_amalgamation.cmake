# cmake/sqlite_amalgamation.cmake — builds SQLite from an amalgamation directory
# (VECGRAPH_SQLITE_AMALGAMATION: sqlite3.c, sqlite3.h, sqlite3ext.h; scripts/fetch_sqlite_amalgamation.sh
# makes one) and provides what find_package(SQLite3) would: the target SQLite::SQLite3 and
# SQLite3_INCLUDE_DIRS / SQLite3_VERSION. Everything that links SQLite::SQLite3 (vecgraph_static,
# the SQL tests, the concurrency test) then runs on this SQLite instead of the system's.
#
# Compile options: SQLite's defaults, plus only what the build and tests need and what both
# Debian's libsqlite3 and better-sqlite3 enable — serialized threading (the concurrency test
# shares nothing but the process), math functions, dbstat, column metadata, and HAVE_USLEEP
# (without it the busy handler sleeps in whole seconds). Deliberately not SQLITE_DQS=0 or other
# behaviour changes: the tests assume SQLite's default semantics.
set(_amalg "${VECGRAPH_SQLITE_AMALGAMATION}")
foreach(f sqlite3.c sqlite3.h sqlite3ext.h)
  if(NOT EXISTS "${_amalg}/${f}")
    message(FATAL_ERROR "VECGRAPH_SQLITE_AMALGAMATION=${_amalg}: ${f} not found "
                        "(scripts/fetch_sqlite_amalgamation.sh ${_amalg} makes one)")
  endif()
endforeach()
file(STRINGS "${_amalg}/sqlite3.h" _ver REGEX "^#define SQLITE_VERSION +\"")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" SQLite3_VERSION "${_ver}")

add_library(vecgraph_sqlite3 STATIC "${_amalg}/sqlite3.c")
target_include_directories(vecgraph_sqlite3 SYSTEM PUBLIC "${_amalg}")
target_compile_definitions(vecgraph_sqlite3 PRIVATE
  SQLITE_THREADSAFE=1
  SQLITE_ENABLE_MATH_FUNCTIONS
  SQLITE_ENABLE_DBSTAT_VTAB
  SQLITE_ENABLE_COLUMN_METADATA
  HAVE_USLEEP=1
  HAVE_LOCALTIME_R=1)
# The amalgamation is third-party code: no project warnings, optimised even in Debug, and visible
# symbols (a host program that loads vecgraph.so resolves nothing through them, but dlsym-style
# tools expect an ordinary libsqlite3).
target_compile_options(vecgraph_sqlite3 PRIVATE -w -O2)
set_target_properties(vecgraph_sqlite3 PROPERTIES C_VISIBILITY_PRESET default)
target_link_libraries(vecgraph_sqlite3 PUBLIC Threads::Threads ${CMAKE_DL_LIBS} m)
add_library(SQLite::SQLite3 ALIAS vecgraph_sqlite3)
set(SQLite3_INCLUDE_DIRS "${_amalg}")
set(SQLite3_FOUND TRUE)
message(STATUS "vecgraph: SQLite ${SQLite3_VERSION} from the amalgamation in ${_amalg}")
