#!/usr/bin/env bash
# Checks the shipped vecgraph.so: no CUDA or SQLite library needed at load time, only the two
# entry points exported, and a clean exit after TBB threads ran (dlclose at shell exit).
set -u
ext="$1"
fail=0
if ldd "$ext" | grep -Ei 'cuda|libsqlite3'; then
  echo "FAIL: $ext links a CUDA or SQLite library (see above)"; fail=1
fi
exported=$(nm -D --defined-only "$ext" | awk '$2 ~ /^[TDBW]$/ {print $3}' | grep -v '^_' | sort | tr '\n' ' ')
if [ "$exported" != "sqlite3_vecgraph_init vecgraph_register " ]; then
  echo "FAIL: unexpected exported symbols: $exported"; fail=1
fi
sqlite3 :memory: -cmd ".load ${ext%.so}" \
  "SELECT vecgraph_config('threads', 2);" \
  "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 20000)
   SELECT length(vec_topk(i, json_array(i % 7, i % 11, 1.0), '[1,2,3]', 3)) FROM s;" > /dev/null
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL: sqlite3 exited with $rc after using the extension"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: dependencies, exports, clean exit"
exit $fail
