#!/usr/bin/env bash
# Runs one SQL case through the real sqlite3 shell with `.load` of the built extension and compares
# stdout+stderr with the .expected file beside it. Usage: run_case.sh SQLITE3 EXT CASE.sql
set -u
shell="$1"; ext="$2"; case="$3"
expected="${case%.sql}.expected"
actual="$(mktemp)"
trap 'rm -f "$actual"' EXIT
cd "$(dirname "$case")"
"$shell" :memory: -cmd ".load ${ext%.so}" < "$case" > "$actual" 2>&1
rc=$?
if [ -n "${UPDATE_EXPECTED:-}" ]; then cp "$actual" "$expected"; fi
if ! diff -u "$expected" "$actual"; then
  echo "FAIL: output of $case differs from $expected (rc=$rc)"
  exit 1
fi
echo "ok: $case"
