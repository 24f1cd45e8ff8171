// extension/spread_activation.cpp — placeholder: registers nothing yet (issue: spread_activation).
#include "extension/functions.h"

namespace vecgraph::sql {
int RegisterSpreadActivation(sqlite3*) { return SQLITE_OK; }
}  // namespace vecgraph::sql
