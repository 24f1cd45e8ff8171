// extension/vtab_util.h — what the extension's virtual tables share, written once.
//
// This header is the index of the shared vtab pieces. It holds two; the others stay where they
// are and are listed here so a new vtab finds them all:
//   RowsCursor, CursorOpen/CursorClose, RowsNext/RowsEof/RowsRowid (here)
//       a cursor that walks rows xFilter already computed: rowid = position + 1, one row per step.
//       vecgraph_stats, spread_activation and hnsw_knn_batch use it.
//   EponymousModule (here)
//       the sqlite3_module of a read-only, eponymous-only table-valued function (no xCreate, so
//       no CREATE VIRTUAL TABLE; no xUpdate): only the ten slots such a function has are set.
//       hnsw_knn, a full module (xCreate, xUpdate, transactions, shadow tables), spells out its own.
//   ResolveTable, TableRef (extension/sql_util.h)
//       a table-name argument ('schema.table' or a bare name) resolved the way SQLite resolves a
//       name in FROM, with the table's columns. VtabError and DeferredPlanError there too: how a
//       vtab reports an error, and how xBestIndex defers one to xFilter.
//   RowidBounds (extension/rowid_bounds.h)
//       rowid constraints (=, IN, <, >=, !=, IS, ...) read with SQLite's comparison rules into one
//       range plus allowed / excluded sets; hnsw_knn's k-NN search and plain scan share it.
//
// A cursor for the Rows* / Cursor* slots is a standard-layout struct whose first member is
// `sqlite3_vtab_cursor base`, followed by whatever the module needs; the Rows* slots also need
// `rows` (a container with size()) and `size_t pos`. RowsCursor<Row> is the plain one:
//
//   using StatsCursor = RowsCursor<exec::StatRow>;
//   ... xFilter fills c->rows and sets c->pos = 0; xColumn reads c->rows[c->pos] ...
//   constexpr sqlite3_module kStatsModule = EponymousModule({
//       .xConnect = StatsConnect, .xBestIndex = StatsBestIndex, .xDisconnect = StatsDisconnect,
//       .xOpen = CursorOpen<StatsCursor>, .xClose = CursorClose<StatsCursor>, .xFilter = StatsFilter,
//       .xNext = RowsNext<StatsCursor>, .xEof = RowsEof<StatsCursor>, .xColumn = StatsColumnFn,
//       .xRowid = RowsRowid<StatsCursor>});
//
// A cursor with more members (spread_activation's keeps its arguments for the hidden columns)
// declares its own struct with the same three members first; xClose deletes it, so its
// destructor releases whatever else it holds.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

#include "extension/sqlite_api.h"

namespace vecgraph::sql {

// The plain rows cursor: the rows of one xFilter call and the position in them.
template <typename Row>
struct RowsCursor {
  sqlite3_vtab_cursor base{}; /* must be first */
  std::vector<Row> rows;
  size_t pos = 0;
};

// The cursor behind a sqlite3_vtab_cursor* that SQLite hands back: sound only because `base` is
// at offset 0 of a standard-layout struct (the pointer to it is the pointer to the whole).
template <typename Cursor>
Cursor* AsCursor(sqlite3_vtab_cursor* cur) {
  static_assert(std::is_standard_layout_v<Cursor>, "a vtab cursor must be standard-layout");
  static_assert(offsetof(Cursor, base) == 0, "a vtab cursor's sqlite3_vtab_cursor base must be first");
  return reinterpret_cast<Cursor*>(cur);
}

// xOpen: a value-initialised Cursor. Only operator new may throw (the static_assert), and its
// bad_alloc must not cross into SQLite.
template <typename Cursor>
int CursorOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  static_assert(std::is_nothrow_default_constructible_v<Cursor>, "xOpen reports only SQLITE_NOMEM");
  try {
    auto* c = new Cursor();
    c->base = sqlite3_vtab_cursor{};
    *out = &c->base;
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
}

// xClose: deletes the Cursor; its destructor frees anything else it owns.
template <typename Cursor>
int CursorClose(sqlite3_vtab_cursor* cur) {
  delete AsCursor<Cursor>(cur);
  return SQLITE_OK;
}

template <typename Cursor>
int RowsNext(sqlite3_vtab_cursor* cur) {
  AsCursor<Cursor>(cur)->pos++;
  return SQLITE_OK;
}

template <typename Cursor>
int RowsEof(sqlite3_vtab_cursor* cur) {
  const Cursor* c = AsCursor<Cursor>(cur);
  return c->pos >= c->rows.size();
}

// The rowid of the current row: its 1-based position (the rows have no rowid of their own).
template <typename Cursor>
int RowsRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(AsCursor<Cursor>(cur)->pos + 1);
  return SQLITE_OK;
}

// The slots of a read-only eponymous-only table-valued function, each typed as its sqlite3_module
// member. Callers name them (designated initialisers, in this order), so a slot cannot land in
// its neighbour's place: xClose, xNext and xEof have the same type.
struct EponymousSlots {
  decltype(sqlite3_module::xConnect) xConnect = nullptr;
  decltype(sqlite3_module::xBestIndex) xBestIndex = nullptr;
  decltype(sqlite3_module::xDisconnect) xDisconnect = nullptr;
  decltype(sqlite3_module::xOpen) xOpen = nullptr;
  decltype(sqlite3_module::xClose) xClose = nullptr;
  decltype(sqlite3_module::xFilter) xFilter = nullptr;
  decltype(sqlite3_module::xNext) xNext = nullptr;
  decltype(sqlite3_module::xEof) xEof = nullptr;
  decltype(sqlite3_module::xColumn) xColumn = nullptr;
  decltype(sqlite3_module::xRowid) xRowid = nullptr;
};

// The module of such a function: iVersion 0, xCreate null (eponymous-only: SQLite connects it
// under the module's name and refuses CREATE VIRTUAL TABLE), xDestroy, xUpdate, the transaction,
// rename and savepoint slots, xFindFunction and xShadowName null. The struct is value-initialised
// first, so every member not set here is null whatever the SQLite headers declare (xIntegrity
// since 3.44, and anything later), without #if on SQLITE_VERSION_NUMBER. (No check that every
// slot is set: GCC with -fsanitize does not accept comparing a function template's address with
// null in a constant expression; each module's tests call every slot.)
consteval sqlite3_module EponymousModule(EponymousSlots s) {
  sqlite3_module m{};
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous-only
  m.xConnect = s.xConnect;
  m.xBestIndex = s.xBestIndex;
  m.xDisconnect = s.xDisconnect;
  m.xDestroy = nullptr;
  m.xOpen = s.xOpen;
  m.xClose = s.xClose;
  m.xFilter = s.xFilter;
  m.xNext = s.xNext;
  m.xEof = s.xEof;
  m.xColumn = s.xColumn;
  m.xRowid = s.xRowid;
  return m;
}

}  // namespace vecgraph::sql
