#!/usr/bin/python3
"""End-to-end benchmark of spread_activation (SQL) against a scipy.sparse reference.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions; needs python3-numpy
and python3-scipy):

    /usr/bin/python3 bench/spread_bench.py [--ext build/release/vecgraph.so] [--sizes 1,10]

For each size (millions of edges; default 1 and 10) it generates an R-MAT power-law graph
((a, b, c, d) = (0.57, 0.19, 0.19, 0.05), about 10 edges per node, weights uniform in (0, 1]) into
bench/.data/spread_rmat_<M>m.db (table edges(src, dst, weight); cached, plus an .npz of the same
arrays for the reference) and measures:

  build      the first spread_activation call of a fresh connection (reads the table with one
             prepared SELECT, builds CSR + CSC); edges/s. Baseline: a plain scan of the 3 columns.
  dense hop  per-hop time of a dense spread (2000 seeds, threshold 0, normalize 'out', top_k 1), as
             (t(max_hops 4) - t(max_hops 2)) / 2, each the best of 7 runs, with
             vecgraph_config('threads', N), N = 1, 2; edges/s and edges/s per core. Hops 3 and 4
             are pull hops over every edge, including their per-node passes.
  recall     a memory-recall query, warm cache: 5 random seeds, max_hops 3, threshold 0.01,
             top_k 10; median over --queries queries for normalize 'none', 'out', 'sqrt_degree';
             also the number of nodes it activates.
  scipy      the same recall computation with scipy.sparse (CSC of the transpose, dense vectors,
             one SpMV per hop) on the same graph, checked against vecgraph's rows.

Everything else (machine, versions) is printed; nothing is written outside bench/.data.
The whole run takes about 2-4 minutes on a 2-core machine (the 10M-edge file is generated once).
"""
import argparse
import glob
import json
import os
import platform
import sqlite3
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy missing: run this with Debian's /usr/bin/python3 (python3-numpy)")
try:
    import scipy.sparse as sp
except ImportError:
    sp = None

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DATA_DIR = os.path.join(BENCH_DIR, ".data")


def find_ext(given):
    if given:
        return given
    for pattern in ("build/release/vecgraph.so", "build/*/vecgraph.so", "build/vecgraph.so"):
        hits = sorted(glob.glob(os.path.join(REPO_DIR, pattern)))
        if hits:
            return hits[0]
    sys.exit("vecgraph.so not found: pass --ext")


def rmat(log2n, m, seed):
    rng = np.random.default_rng(seed)
    src = np.zeros(m, dtype=np.int64)
    dst = np.zeros(m, dtype=np.int64)
    for _ in range(log2n):
        r = rng.random(m)
        q = np.where(r < 0.57, 0, np.where(r < 0.76, 1, np.where(r < 0.95, 2, 3)))
        src = (src << 1) | (q >> 1)
        dst = (dst << 1) | (q & 1)
    w = 1.0 - rng.random(m)  # (0, 1]
    return src, dst, w


def dataset(millions):
    os.makedirs(DATA_DIR, exist_ok=True)
    m = int(millions * 1_000_000)
    log2n = max(10, int(round(np.log2(m / 10))))
    db = os.path.join(DATA_DIR, f"spread_rmat_{millions:g}m.db")
    npz = db[:-3] + ".npz"
    if os.path.exists(db) and os.path.exists(npz):
        return db, npz
    t0 = time.perf_counter()
    src, dst, w = rmat(log2n, m, seed=int(millions * 1000))
    tmp = db + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE edges(src INTEGER NOT NULL, dst INTEGER NOT NULL, weight REAL)")
    chunk = 1_000_000
    for i in range(0, m, chunk):
        con.executemany("INSERT INTO edges VALUES (?, ?, ?)",
                        zip(src[i:i + chunk].tolist(), dst[i:i + chunk].tolist(), w[i:i + chunk].tolist()))
    con.commit()
    con.close()
    os.replace(tmp, db)
    np.savez(npz, src=src, dst=dst, w=w)
    print(f"  generated {db} ({m} edges, 2^{log2n} node ids) in {time.perf_counter() - t0:.1f} s", flush=True)
    return db, npz


def connect(db, ext):
    con = sqlite3.connect(db)
    con.enable_load_extension(True)
    con.load_extension(ext)  # entry point sqlite3_vecgraph_init, from the file name
    con.execute("SELECT vecgraph_config('mode', 'cpu')")
    return con


def timed(con, sql, params=()):
    t0 = time.perf_counter()
    rows = con.execute(sql, params).fetchall()
    return time.perf_counter() - t0, rows


def min_time(con, sql, params, runs=7):
    """Best of `runs` (the machine may be shared: the minimum is the least disturbed run)."""
    con.execute(sql, params).fetchall()
    return min(timed(con, sql, params)[0] for _ in range(runs))


def median_time(con, sql, params_list, warmup=1):
    for p in params_list[:warmup]:
        con.execute(sql, p).fetchall()
    times = []
    for p in params_list:
        t, _ = timed(con, sql, p)
        times.append(t)
    return statistics.median(times)


def spread_sql(opts):
    return ("SELECT node, activation, depth FROM spread_activation('edges', ?, '" + json.dumps(opts) + "')")


class Reference:
    """spread_activation's semantics with scipy.sparse: dense vectors, one SpMV per hop."""

    def __init__(self, src, dst, w):
        t0 = time.perf_counter()
        self.ids, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
        n = len(self.ids)
        s, d = inv[:len(src)], inv[len(src):]
        w32 = w.astype(np.float32).astype(np.float64)  # the graph stores float32 weights
        self.at = sp.csr_matrix((w32, (d, s)), shape=(n, n))  # Aᵀ: row v holds v's in-edges
        self.outdeg = np.bincount(s, minlength=n).astype(np.float64)
        self.outw = np.bincount(s, weights=w32, minlength=n)
        self.build_s = time.perf_counter() - t0

    def run(self, seeds, decay=0.5, threshold=0.01, max_hops=3, normalize="none"):
        n = len(self.ids)
        x = np.zeros(n)
        idx = np.searchsorted(self.ids, seeds)
        np.add.at(x, idx, 1.0)
        a = x.copy()
        if normalize == "out":
            norm = self.outw
        elif normalize == "degree":
            norm = self.outdeg
        elif normalize == "sqrt_degree":
            norm = np.sqrt(self.outdeg)
        else:
            norm = np.ones(n)
        inv = np.divide(1.0, norm, out=np.zeros(n), where=norm > 0)
        for _ in range(max_hops):
            fire = (x > 0) & (x >= threshold)
            if not fire.any():
                break
            y = decay * (self.at @ np.where(fire, x * inv, 0.0))
            a += y
            x = y
        nz = np.nonzero(a)[0]
        return dict(zip(self.ids[nz].tolist(), a[nz].tolist()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", help="path to vecgraph.so (default: build/release/vecgraph.so)")
    ap.add_argument("--sizes", default="1,10", help="graph sizes in millions of edges (default 1,10)")
    ap.add_argument("--queries", type=int, default=20, help="recall queries per configuration (default 20)")
    ap.add_argument("--threads", default="1,2", help="thread counts for the dense hop (default 1,2)")
    args = ap.parse_args()
    ext = find_ext(args.ext)
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"# spread_activation benchmark — {cpu}, {os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}, "
          f"numpy {np.__version__}, scipy {getattr(sp, '__version__', None) or (__import__('scipy').__version__ if sp else 'missing')}, "
          f"{platform.platform()}")
    print(f"# extension: {ext}")
    failures = 0
    for size in [float(s) for s in args.sizes.split(",") if s]:
        db, npz = dataset(size)
        arrays = np.load(npz)
        src, dst, w = arrays["src"], arrays["dst"], arrays["w"]
        m = len(src)
        print(f"\n## R-MAT, {m / 1e6:g}M edges, {len(np.unique(np.concatenate([src, dst])))} nodes")

        # Page cache warm, then the read baseline and the build (fresh connections: cold graph cache).
        con = connect(db, ext)
        t_scan, _ = timed(con, "SELECT count(*), sum(src), sum(dst), sum(weight) FROM edges")
        t_scan, _ = timed(con, "SELECT count(*), sum(src), sum(dst), sum(weight) FROM edges")
        con.close()
        builds = []
        for _ in range(3):
            con = connect(db, ext)
            t_first, _ = timed(con, "SELECT count(*) FROM spread_activation('edges', 0, '{\"max_hops\": 0}')")
            t_again, _ = timed(con, "SELECT count(*) FROM spread_activation('edges', 0, '{\"max_hops\": 0}')")
            builds.append((t_first, t_again))
            con.close()
        t_build = statistics.median(b[0] for b in builds)
        t_hit = statistics.median(b[1] for b in builds)
        print(f"| build (read table + CSR/CSC) | {t_build * 1e3:.0f} ms | {m / t_build / 1e6:.1f} M edges/s | "
              f"plain scan of the 3 columns: {t_scan * 1e3:.0f} ms ({m / t_scan / 1e6:.1f} M rows/s); "
              f"cached call afterwards: {t_hit * 1e3:.2f} ms |")

        con = connect(db, ext)
        rng = np.random.default_rng(7)
        sources = np.unique(src)
        # Dense hops.
        dense_seeds = json.dumps(rng.choice(sources, 2000, replace=False).tolist())
        for threads in [int(t) for t in args.threads.split(",") if t]:
            con.execute("SELECT vecgraph_config('threads', ?)", (threads,))
            q = lambda hops: ("SELECT count(*) FROM spread_activation('edges', ?, '" +
                              json.dumps({"threshold": 0, "normalize": "out", "max_hops": hops, "top_k": 1}) + "')")
            t2 = min_time(con, q(2), (dense_seeds,))
            t4 = min_time(con, q(4), (dense_seeds,))
            hop = max((t4 - t2) / 2, 1e-9)
            print(f"| dense hop, {threads} thread(s) | {hop * 1e3:.2f} ms/hop | {m / hop / 1e9:.3f} G edges/s | "
                  f"{m / hop / 1e9 / threads:.3f} G edges/s/core ({8.5 * m / hop / 1e9 / threads:.1f} GB/s/core at "
                  f"8.5 B/edge) |")
        con.execute("SELECT vecgraph_config('threads', ?)", (os.cpu_count() or 1,))

        # Recall queries.
        seed_sets = [rng.choice(sources, 5, replace=False).tolist() for _ in range(args.queries)]
        ref = Reference(src, dst, w) if sp is not None else None
        for norm in ("none", "out", "sqrt_degree"):
            opts = {"threshold": 0.01, "max_hops": 3, "normalize": norm}
            params = [(json.dumps(s),) for s in seed_sets]
            t_top = median_time(con, spread_sql(dict(opts, top_k=10)), params)
            t_cnt = median_time(con, "SELECT count(*) FROM spread_activation('edges', ?, '" + json.dumps(opts) + "')",
                                params)
            counts = [con.execute("SELECT count(*) FROM spread_activation('edges', ?, '" + json.dumps(opts) + "')",
                                  p).fetchone()[0] for p in params]
            line = (f"| recall 5 seeds, 3 hops, θ 0.01, normalize '{norm}' | top_k 10: {t_top * 1e3:.2f} ms | "
                    f"all rows counted: {t_cnt * 1e3:.2f} ms | median activated nodes {int(statistics.median(counts))}")
            if ref is not None:
                times = []
                for s in seed_sets:
                    t0 = time.perf_counter()
                    ref.run(s, normalize=norm)
                    times.append(time.perf_counter() - t0)
                t_ref = statistics.median(times)
                # Correctness: every row of the first query against the reference.
                got = {r[0]: r[1] for r in con.execute(spread_sql(opts), params[0]).fetchall()}
                want = ref.run(seed_sets[0], normalize=norm)
                worst = max((abs(got.get(k, 0.0) - v) / max(v, 1e-300) for k, v in want.items()), default=0.0)
                ok = set(got) == set(want) and worst < 1e-6
                failures += not ok
                line += (f" | scipy.sparse: {t_ref * 1e3:.2f} ms ({t_ref / t_top:.0f}x) | "
                         f"{'matches' if ok else 'MISMATCH'} (max rel diff {worst:.1e}) |")
            else:
                line += " | scipy missing |"
            print(line, flush=True)
        if ref is not None:
            print(f"| scipy.sparse CSR build from numpy arrays (no SQLite read) | {ref.build_s * 1e3:.0f} ms | "
                  f"{m / ref.build_s / 1e6:.1f} M edges/s |")
        con.close()
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
