// extension/sql_util.h — argument parsing and error reporting shared by every SQL function.
//
// One way to report per boundary: scalar and aggregate functions call ResultError (which sets
// sqlite3_result_error with the right code); virtual tables use VtabError. No C++ exception ever
// crosses into SQLite: callback bodies are wrapped in VG_SQL_TRY / VG_SQL_CATCH(ctx).
// Messages read like SQLite's: "vec_dims: argument 1 (vector): expected ..., found ...".
#pragma once

#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/vector/codec.h"
#include "engine/vector/types.h"
#include "extension/sqlite_api.h"

namespace vecgraph::sql {

// The SQLite result code for s: its detail() when it came from SQLite, else by code
// (InvalidArgument → SQLITE_ERROR, Corruption → SQLITE_CORRUPT, ResourceExhausted → SQLITE_NOMEM,
// Internal → SQLITE_INTERNAL, Cancelled → SQLITE_INTERRUPT).
int StatusToSqlite(const Status& s);

// A failed SQLite call as a Status: "<what>: <sqlite3_errmsg>", code from rc (SQLITE_CORRUPT and
// SQLITE_NOTADB → Corruption, SQLITE_NOMEM → ResourceExhausted, others InvalidArgument), with
// detail() = the extended result code, so StatusToSqlite gives SQLite's own code back.
Status SqliteError(sqlite3* db, int rc, const std::string& what);

// "integer", "real", "text", "blob", "null".
const char* TypeName(sqlite3_value* v);

// A value as messages show it: "integer 3", "real 2.5", "text 'abc'", "a blob of 12 bytes", "NULL".
std::string DescribeValue(sqlite3_value* v);

// A copy of v with SQLite's numeric affinity applied, as SQLite does to the right-hand side of a
// comparison with an INTEGER column (TEXT '2' → INTEGER 2, '2.5' → REAL 2.5, 'abc' stays TEXT).
// Owns the copy; never modifies v.
class NumericValue {
 public:
  explicit NumericValue(sqlite3_value* v);
  ~NumericValue();
  NumericValue(const NumericValue&) = delete;
  NumericValue& operator=(const NumericValue&) = delete;
  int type() const { return type_; }  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  sqlite3_value* value() const { return v_; }

 private:
  sqlite3_value* v_ = nullptr;
  sqlite3_value* owned_ = nullptr;
  int type_ = SQLITE_NULL;
};

// Reads an integer argument in [lo, hi]: an INTEGER, a REAL with an integral value (JS drivers
// bind every number as REAL: 3.0 is 3, 2.5 is an error), or TEXT that SQLite's numeric affinity
// turns into one. The error has no prefix: "expected an integer between 1 and 65536, found real
// 2.5" (">= lo" when hi is INT64_MAX).
Status ReadIntegral(sqlite3_value* v, int64_t lo, int64_t hi, int64_t* out);

void ResultError(sqlite3_context* ctx, const Status& s);
void ResultError(sqlite3_context* ctx, const std::string& message);

enum class ReadResult { kOk, kNull, kError };

// Decodes a float32 BLOB or JSON TEXT value (anything else, NULL included, is an error naming the
// type found; so is a BLOB tagged as another element type, see below). The message has no
// function prefix; callers add theirs.
Status DecodeVectorValue(sqlite3_value* v, VectorBuf* out);

// Typed vectors (docs/reference.md "Vector types"). A function returning a typed vector tags it
// with a SQLite subtype: sqlite-vec's numbers for the types both extensions have, with the same
// bytes (float32 223, bit 224, int8 225), so values pass between the two; float16 226, bfloat16
// 227. Subtypes do not survive storage: a BLOB read from a table is untagged.
inline constexpr unsigned kSubtypeFloat32 = 223, kSubtypeBit = 224, kSubtypeInt8 = 225, kSubtypeFloat16 = 226,
                          kSubtypeBFloat16 = 227;
unsigned SubtypeOf(ElemType t);
// Function flags: reads subtypes of its arguments / sets the subtype of its result
// (SQLITE_RESULT_SUBTYPE is 3.45+; older versions ignore the bit).
inline constexpr int kReadsSubtype = SQLITE_SUBTYPE;
inline constexpr int kSetsSubtype = 0x001000000;

// A vector value of any element type: borrowed from the sqlite3_value or owned.
struct TypedVector {
  ElemType type = ElemType::kFloat32;
  size_t dims = 0;
  const uint8_t* data = nullptr;  // ElemBytes(type, dims) bytes
  size_t bytes = 0;
  std::vector<uint8_t> owned;
  VectorBuf f32;  // float32 (borrowed when aligned), float16, bfloat16: the elements as float32
};

// The recognition rule, in one place: a BLOB tagged with a subtype above is of that type; an
// untagged BLOB is of type `untagged` (float32, unless a constructor such as vec_int8 names the
// type its bytes are); TEXT is a JSON array of numbers, encoded as `untagged` (so it must fit
// that type). A BLOB with another subtype, NULL and numbers are errors. Checks the length, the
// dimension cap and, for float types, that every element is finite.
Status DecodeTypedValue(sqlite3_value* v, ElemType untagged, TypedVector* out);
// The elements as float32 (exact for every numeric type; bit elements 0 or 1): float32 vectors
// as they are, others decoded into scratch.
std::span<const float> AsFloats(const TypedVector& v, VectorBuf* scratch);
// Sets the result to a copy of the bytes, tagged with t's subtype.
void ResultTyped(sqlite3_context* ctx, ElemType t, const uint8_t* bytes, size_t n_bytes);

// Reads a vector argument: a float32 BLOB or JSON TEXT. NULL → kNull (nothing reported). On a bad
// value reports "fn: argument N (name): ..." through ctx and returns kError.
ReadResult ReadVector(sqlite3_context* ctx, const char* fn, int arg_index, const char* arg_name, sqlite3_value* v,
                      VectorBuf* out);

// Reads an optional metric argument (TEXT). NULL → kNull.
ReadResult ReadMetric(sqlite3_context* ctx, const char* fn, int arg_index, sqlite3_value* v, bool allow_l2,
                      Metric* out);

// Sets the result to a copy of the string / float vector.
void ResultText(sqlite3_context* ctx, const std::string& s);
void ResultVector(sqlite3_context* ctx, std::span<const float> v);

// Copies a message into sqlite3_malloc'd memory for zErrMsg / *pzErr.
char* SqliteStrdup(const std::string& s);

// Sets a virtual table's error message (frees the previous one).
void VtabError(sqlite3_vtab* vtab, const std::string& message);

// xBestIndex never fails: SQLite also asks it about plans it will not run (each branch of an OR,
// other join orders), and an error there fails the whole statement. A query that is an error
// gets this plan instead: idxNum = plan_error, idxStr = the message (xFilter raises it), priced
// above every other plan so SQLite takes it only when nothing else exists.
int DeferredPlanError(sqlite3_index_info* info, int plan_error, const std::string& message);

// ---- names the extension is given (hnsw_knn_batch, vecgraph_check, spread_activation)

struct TableRef {
  std::string schema;  // as listed by PRAGMA database_list ("main", "temp", an attached name)
  std::string table;
  std::vector<std::string> columns;  // as declared (pragma_table_xinfo), hidden ones included
  bool HasColumn(std::string_view name) const;  // case-insensitive, as SQLite matches names
};

// Resolves a table or view name the way SQLite resolves one in FROM: 'schema.table' when an
// attached schema has that name (case-insensitive), else the whole text is a table name looked up
// in temp, main, then the attached schemas in order. nullopt when no table or view has the name.
// `what` prefixes errors from SQLite itself ("argument 1 (edges)").
StatusOr<std::optional<TableRef>> ResolveTable(sqlite3* db, std::string_view spec, const std::string& what);

// The attached schemas in SQLite's search order for an unqualified name: temp, main, then the
// others as PRAGMA database_list lists them.
StatusOr<std::vector<std::string>> ListSchemas(sqlite3* db);

// A name for messages: quoted with '...', cut to 80 characters.
std::string QuotedName(std::string_view s);

}  // namespace vecgraph::sql

#define VG_SQL_TRY try {
#define VG_SQL_CATCH(ctx)                                            \
  }                                                                  \
  catch (const std::bad_alloc&) {                                    \
    sqlite3_result_error_nomem(ctx);                                 \
  }                                                                  \
  catch (const std::exception& e) {                                  \
    ::vecgraph::sql::ResultError(ctx, std::string("vecgraph: internal error: ") + e.what()); \
  }
