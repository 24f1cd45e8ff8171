#!/usr/bin/env bash
# Installs the peer SQLite vector extensions (prebuilt, from npm) into bench/.peers and prints
# where each loadable .so is.  Idempotent: a peer whose .so is already present is not reinstalled
# (pass --force to reinstall).  Always exits 0; a peer that fails to install is reported as skipped.
#
#   peer          npm package                              .so (under bench/.peers/node_modules)      entry point
#   sqlite-vec    sqlite-vec-linux-x64                     sqlite-vec-linux-x64/vec0.so               sqlite3_vec_init (default)
#   vectorlite    @1yefuwang1/vectorlite-linux-x64         @1yefuwang1/vectorlite-linux-x64/src/vectorlite.so  sqlite3_extension_init (default)
#   sqlite-vector @sqliteai/sqlite-vector-linux-x86_64     @sqliteai/sqlite-vector-linux-x86_64/vector.so      sqlite3_vector_init (default)
set -u

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_DIR="${PEERS_DIR:-$BENCH_DIR/.peers}"
PY="${PYTHON:-/usr/bin/python3}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

# name|npm package|path of the .so relative to node_modules|entry point
PEERS=(
  "sqlite-vec|sqlite-vec-linux-x64|sqlite-vec-linux-x64/vec0.so|sqlite3_vec_init"
  "vectorlite|@1yefuwang1/vectorlite-linux-x64|@1yefuwang1/vectorlite-linux-x64/src/vectorlite.so|sqlite3_extension_init"
  "sqlite-vector|@sqliteai/sqlite-vector-linux-x86_64|@sqliteai/sqlite-vector-linux-x86_64/vector.so|sqlite3_vector_init"
)

mkdir -p "$PEERS_DIR" || { echo "cannot create $PEERS_DIR; all peers skipped"; exit 0; }
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found; all peers skipped"
  exit 0
fi
# A package.json in PEERS_DIR keeps npm from walking up to some other project's package.json.
[ -f "$PEERS_DIR/package.json" ] || echo '{ "name": "vecgraph-bench-peers", "private": true }' > "$PEERS_DIR/package.json"

check_load() {  # $1 = .so path, $2 = entry point; prints "ok" or the error
  "$PY" - "$1" "$2" <<'EOF' 2>&1
import sqlite3, sys
con = sqlite3.connect(":memory:")
con.enable_load_extension(True)
try:
    con.execute("SELECT load_extension(?, ?)", (sys.argv[1], sys.argv[2]))
    print("ok")
except Exception as e:
    print(f"load failed: {e}")
EOF
}

for spec in "${PEERS[@]}"; do
  IFS='|' read -r name pkg rel entry <<<"$spec"
  so="$PEERS_DIR/node_modules/$rel"
  if [ "$FORCE" = 1 ] || [ ! -f "$so" ]; then
    echo "installing $name ($pkg) ..."
    if ! npm install --prefix "$PEERS_DIR" --ignore-scripts --no-audit --no-fund \
         "$pkg" >"$PEERS_DIR/npm-$name.log" 2>&1; then
      echo "  npm install of $pkg failed (see $PEERS_DIR/npm-$name.log)"
    fi
  fi
  if [ ! -f "$so" ]; then
    # Layout changed? look for any .so inside the package.
    alt="$(find "$PEERS_DIR/node_modules/$pkg" -name '*.so' -type f 2>/dev/null | head -n1)"
    [ -n "$alt" ] && so="$alt"
  fi
  if [ ! -f "$so" ]; then
    echo "SKIPPED $name: no .so found for $pkg"
    continue
  fi
  res="$(check_load "$so" "$entry")"
  if [ "$res" = "ok" ]; then
    echo "OK      $name: $so (entry point $entry)"
  else
    echo "SKIPPED $name: $so does not load from $PY: $res"
  fi
done
exit 0
