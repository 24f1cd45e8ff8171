#!/usr/bin/env bash
# scripts/fetch_sqlite_amalgamation.sh DEST_DIR — a newer SQLite than Debian's, for
# `make test-sqlite-latest`: the amalgamation (sqlite3.c, sqlite3.h, sqlite3ext.h) that the npm
# package better-sqlite3 bundles in deps/sqlite3/. Only the tarball is used (nothing is built or
# installed with npm), so the package's Node version requirement does not matter.
#
# The package version and its registry integrity (sha512, `npm view better-sqlite3@V dist.integrity`)
# are pinned here; the tarball is cached in build/downloads/ and checked against the pin before
# every extraction. To move to a newer SQLite: pick the version, update both lines, run
# `make test-sqlite-latest`.
set -euo pipefail

PKG_VERSION=13.2.0   # bundles SQLite 3.54.1 (2026-10-16)
PKG_INTEGRITY='sha512-Z8Q/9x/uNyKxA1v4FNodyItRVRw1TeKBrmj32JhxhR0ceNcBY+wMobt/Bv7M7TzwPAXjnZRtNaEsATnUZSKWZQ=='

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:?usage: $0 DEST_DIR}"
cache="$root/build/downloads"
tgz="$cache/better-sqlite3-$PKG_VERSION.tgz"
stamp="$dest/.source"
want="better-sqlite3@$PKG_VERSION $PKG_INTEGRITY"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dest/sqlite3.c" ]; then
  exit 0  # already extracted from the pinned tarball
fi

# The expected digest as hex (coreutils only: base64 + od).
want_hex="$(printf '%s' "${PKG_INTEGRITY#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
verify() { [ "$(sha512sum "$1" | cut -d' ' -f1)" = "$want_hex" ]; }

mkdir -p "$cache"
if [ -f "$tgz" ] && ! verify "$tgz"; then
  echo "fetch_sqlite_amalgamation: cached $tgz does not match the pinned integrity; downloading again" >&2
  rm -f "$tgz"
fi
if [ ! -f "$tgz" ]; then
  command -v npm >/dev/null || { echo "fetch_sqlite_amalgamation: npm is required (apt-get install npm)" >&2; exit 1; }
  echo "fetch_sqlite_amalgamation: npm pack better-sqlite3@$PKG_VERSION"
  tmp="$(mktemp -d "$cache/pack.XXXXXX")"
  (cd "$tmp" && npm pack "better-sqlite3@$PKG_VERSION" --silent >/dev/null)
  mv "$tmp/better-sqlite3-$PKG_VERSION.tgz" "$tgz"
  rmdir "$tmp"
fi
if ! verify "$tgz"; then
  echo "fetch_sqlite_amalgamation: $tgz: sha512 differs from the pinned $PKG_INTEGRITY" >&2
  rm -f "$tgz"
  exit 1
fi

rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tgz" -C "$dest" --strip-components=3 \
  package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h package/deps/sqlite3/sqlite3ext.h
printf '%s\n' "$want" > "$stamp"
echo "fetch_sqlite_amalgamation: $(grep -m1 '^#define SQLITE_VERSION ' "$dest/sqlite3.h") in $dest"
