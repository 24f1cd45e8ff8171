#!/usr/bin/python3
"""Deterministic generator of clustered, L2-normalised float32 vectors as a SQLite file.

Layout of the generated database:
    t(id INTEGER PRIMARY KEY, e BLOB)   -- n vectors, ids 1..n, little-endian float32 blobs
    q(id INTEGER PRIMARY KEY, e BLOB)   -- held-out query vectors (same distribution), ids 1..nq
    meta(key TEXT PRIMARY KEY, value)   -- generation parameters (used as the cache key)

Distribution: `clusters` Gaussian centres c_j ~ N(0, I_d) / sqrt(d) (so |c_j| ~ 1); each point is
c_j + noise * N(0, I_d) / sqrt(d) for a uniformly chosen cluster j, then L2-normalised.
Same (n, dim, seed, clusters, noise, nq) -> byte-identical vectors.

Usage:
    /usr/bin/python3 bench/datagen.py --n 100000 --dim 128 --seed 1 [--out path]
Without --out the file goes to bench/.data/clustered_n{n}_d{dim}_s{seed}.db (cached: an existing
file with matching parameters is reused, not regenerated).
"""
import argparse
import os
import sqlite3
import sys
import time

import numpy as np

GENERATOR_VERSION = 1
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BENCH_DIR, ".data")


def default_path(n, dim, seed, clusters=1000, noise=0.5, nq=100):
    name = f"clustered_n{n}_d{dim}_s{seed}"
    if clusters != 1000 or noise != 0.5 or nq != 100:
        name += f"_c{clusters}_z{noise:g}_q{nq}"
    return os.path.join(DATA_DIR, name + ".db")


def _params(n, dim, seed, clusters, noise, nq):
    return {"generator_version": str(GENERATOR_VERSION), "n": str(n), "dim": str(dim),
            "seed": str(seed), "clusters": str(clusters), "noise": repr(float(noise)),
            "nq": str(nq)}


def _existing_params(path):
    if not os.path.exists(path):
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT key, value FROM meta").fetchall()
            cnt_t = con.execute("SELECT max(id) FROM t").fetchone()[0]
            cnt_q = con.execute("SELECT max(id) FROM q").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return None
    p = {k: str(v) for k, v in rows}
    if p.get("complete") != "1":
        return None
    if str(cnt_t) != p.get("n") or str(cnt_q) != p.get("nq"):
        return None
    p.pop("complete", None)
    return p


def generate_arrays(n, dim, seed, clusters=1000, noise=0.5, nq=100, chunk=20000):
    """Returns (X, Q): float32 arrays of shape (n, dim) and (nq, dim), rows L2-normalised."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)) / np.sqrt(dim)

    def draw(count, stream_seed):
        r = np.random.default_rng([seed, stream_seed])
        out = np.empty((count, dim), dtype=np.float32)
        for s in range(0, count, chunk):
            m = min(chunk, count - s)
            lab = r.integers(0, clusters, size=m)
            pts = centres[lab] + noise * r.standard_normal((m, dim)) / np.sqrt(dim)
            pts /= np.linalg.norm(pts, axis=1, keepdims=True)
            out[s:s + m] = pts
        return out

    X = draw(n, 1)   # table rows
    Q = draw(nq, 2)  # held-out queries: independent stream, same distribution
    return X, Q


def write_db(path, X, Q, params):
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = path + ".tmp"
    for p in (tmp, tmp + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB)")
    con.execute("CREATE TABLE q(id INTEGER PRIMARY KEY, e BLOB)")
    con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value)")
    Xle = np.ascontiguousarray(X, dtype="<f4")
    Qle = np.ascontiguousarray(Q, dtype="<f4")
    con.executemany("INSERT INTO t(id, e) VALUES (?, ?)",
                    ((i + 1, Xle[i].tobytes()) for i in range(Xle.shape[0])))
    con.executemany("INSERT INTO q(id, e) VALUES (?, ?)",
                    ((i + 1, Qle[i].tobytes()) for i in range(Qle.shape[0])))
    con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(params.items()))
    con.execute("INSERT INTO meta(key, value) VALUES ('complete', '1')")
    con.commit()
    con.close()
    os.replace(tmp, path)


def ensure(n, dim, seed=1, out=None, clusters=1000, noise=0.5, nq=100, force=False, verbose=True):
    """Returns the path of a database with these parameters, generating it only if needed."""
    path = out or default_path(n, dim, seed, clusters, noise, nq)
    params = _params(n, dim, seed, clusters, noise, nq)
    if not force and _existing_params(path) == params:
        if verbose:
            print(f"[datagen] cached: {path}", file=sys.stderr)
        return path
    t0 = time.time()
    X, Q = generate_arrays(n, dim, seed, clusters, noise, nq)
    write_db(path, X, Q, params)
    if verbose:
        mb = os.path.getsize(path) / 1e6
        print(f"[datagen] wrote {path} ({n}x{dim}, {mb:.0f} MB) in {time.time() - t0:.1f}s",
              file=sys.stderr)
    return path


def load_vectors(path, table="t"):
    """Reads (ids, float32 matrix) back from a generated database."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(f"SELECT id, e FROM {table} ORDER BY id").fetchall()
    finally:
        con.close()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.zeros((0, 0), dtype=np.float32)
    mat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, mat.astype(np.float32, copy=False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="output path (default: bench/.data/...)")
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.5,
                    help="noise scale relative to the centre norm (default 0.5)")
    ap.add_argument("--queries", type=int, default=100, help="held-out query vectors (default 100)")
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    a = ap.parse_args(argv)
    print(ensure(a.n, a.dim, a.seed, a.out, a.clusters, a.noise, a.queries, a.force))


if __name__ == "__main__":
    main()
