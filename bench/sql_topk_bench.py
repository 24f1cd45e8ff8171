#!/usr/bin/python3
"""End-to-end exact top-k benchmark of vecgraph's SQL contract against peer SQLite extensions.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions):

    bench/install_peers.sh                       # once: peers into bench/.peers
    /usr/bin/python3 bench/sql_topk_bench.py [--ext build/release/vecgraph.so] [--write-results FILE]

For each dataset (default 100000x128 and 50000x768, clustered, L2-normalised, generated and cached
by bench/datagen.py under bench/.data) it times, per query (median over --queries held-out queries
after --warmup warm-up queries, database file pre-read into the OS page cache):

  read          SELECT count(*) FROM t WHERE length(e) > 0            (baseline: a full table scan)
  vec_topk      SELECT vec_topk(id, e, ?, 10) FROM t                 (vecgraph; per thread count,
                                                                      SELECT vecgraph_config('threads', N))
  sqlite-vec    SELECT id FROM t ORDER BY vec_distance_cosine(e, ?) LIMIT 10
  vectorlite    SELECT id FROM t ORDER BY vector_distance(e, ?, 'cosine') LIMIT 10
  sqlite-vector SELECT id FROM vector_full_scan('t', 'e', ?, 10)     (brute-force table-valued
                function, after SELECT vector_init('t', 'e', 'type=FLOAT32,dimension=D,distance=COSINE');
                loading vector.so creates a table in the database, so it runs on a cached copy,
                bench/.data/*.sqlite-vector.db, and the shared dataset file is never modified)

Peers are single-threaded; they are timed once per dataset and repeated on each thread row.
Correctness: vec_topk's ids must equal sqlite-vec's ids, and every system is compared with a numpy
brute-force reference (recall@k; "tie-tolerant" also accepts an id whose exact distance is within
--tie-eps of the k-th reference distance).
Exit status 2 if vec_topk errors, returns unsorted results, or misses a true neighbour (beyond ties).
Nothing is written to files except the dataset cache, unless --write-results FILE is given (the
markdown table, machine info, date and command line are then appended to FILE).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy missing: run this with Debian's /usr/bin/python3 (python3-numpy)")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing datagen
sys.path.insert(0, BENCH_DIR)
import datagen  # noqa: E402

PEERS = {
    # name: (.so relative to <peers-dir>/node_modules, entry point)
    "sqlite-vec": ("sqlite-vec-linux-x64/vec0.so", "sqlite3_vec_init"),
    "vectorlite": ("@1yefuwang1/vectorlite-linux-x64/src/vectorlite.so", "sqlite3_extension_init"),
    "sqlite-vector": ("@sqliteai/sqlite-vector-linux-x86_64/vector.so", "sqlite3_vector_init"),
}
VECGRAPH_ENTRY = "sqlite3_vecgraph_init"

SQL_READ = "SELECT count(*) FROM t WHERE length(e) > 0"
SQL_VECGRAPH = "SELECT vec_topk(id, e, ?, {k}) FROM t"
SQL_PEER = {
    "sqlite-vec": "SELECT id FROM t ORDER BY vec_distance_cosine(e, ?) LIMIT {k}",
    "vectorlite": "SELECT id FROM t ORDER BY vector_distance(e, ?, 'cosine') LIMIT {k}",
    "sqlite-vector": "SELECT id FROM vector_full_scan('t', 'e', ?, {k})",
}
PEER_VERSION_SQL = {
    "sqlite-vec": "SELECT vec_version()",
    "vectorlite": "SELECT vectorlite_info()",
    "sqlite-vector": "SELECT vector_version()",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def resolve(path):
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    alt = os.path.join(REPO_DIR, path)
    return alt if os.path.exists(alt) else os.path.abspath(path)


def ext_connect(path, ext=None, entry=None, uri=False):
    """An autocommit connection with extension `ext` (entry point `entry`) loaded."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, uri=uri)
    if ext:
        con.enable_load_extension(True)
        con.execute("SELECT load_extension(?, ?)", (ext, entry))
        con.enable_load_extension(False)
    return con


def connect(db, args, ext=None, entry=None):
    con = ext_connect(db, ext, entry)
    if args.mmap:
        con.execute(f"PRAGMA mmap_size={int(args.mmap)}")
    return con


def sqlite_vector_copy(db):
    """sqlite-vector's entry point creates a table (_sqliteai_vector) in the main database of every
    connection it is loaded into, and fails on a read-only one; it gets its own copy of the dataset
    (made once, redone when the dataset is regenerated) so the shared dataset file stays pristine."""
    copy = db[:-3] + ".sqlite-vector.db" if db.endswith(".db") else db + ".sqlite-vector"
    if not os.path.exists(copy) or os.path.getmtime(copy) < os.path.getmtime(db):
        shutil.copyfile(db, copy + ".tmp")
        os.replace(copy + ".tmp", copy)
    prewarm_file(copy)
    return copy


def prewarm_file(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_timed(con, sql, queries, warmup, parse):
    """Runs sql once per query vector; returns (median ms, list of ms, parsed results of timed runs)."""
    for qv in queries[:warmup]:
        parse(con.execute(sql, () if qv is None else (qv,)).fetchall())
    times, results = [], []
    for qv in queries[warmup:]:
        t0 = time.perf_counter()
        rows = con.execute(sql, () if qv is None else (qv,)).fetchall()
        times.append((time.perf_counter() - t0) * 1e3)
        results.append(parse(rows))
    return statistics.median(times), times, results


def parse_ids(rows):
    return [int(r[0]) for r in rows]


def parse_vecgraph(rows):
    if len(rows) != 1 or rows[0][0] is None:
        raise ValueError(f"vec_topk returned {rows!r:.200}")
    val = json.loads(rows[0][0])
    return [int(p[0]) for p in val], [float(p[1]) for p in val]


def reference_topk(X, qs, k):
    """Exact cosine distances in float64: (ids as 1-based row numbers, distances, all distances)."""
    Xd = X.astype(np.float64)
    Xn = np.linalg.norm(Xd, axis=1)
    out = []
    for qv in qs:
        q = qv.astype(np.float64)
        d = 1.0 - (Xd @ q) / (Xn * np.linalg.norm(q))
        idx = np.argpartition(d, k)[:k]
        idx = idx[np.argsort(d[idx], kind="stable")]
        out.append((idx + 1, d[idx], d))
    return out


def recall(results, refs, k, eps):
    strict, tol = [], []
    for ids, (rids, rd, dall) in zip(results, refs):
        ids = list(ids)[:k]
        strict.append(len(set(ids) & set(int(i) for i in rids)) / k)
        thr = rd[-1] + eps
        ok = sum(1 for i in set(ids) if 1 <= i <= len(dall) and dall[i - 1] <= thr)
        tol.append(ok / k)
    return float(np.mean(strict)), float(np.mean(tol))


def fmt_ms(v):
    return "—" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def fmt_ratio(v, goal, higher_better):
    if v is None:
        return "—"
    ok = v >= goal if higher_better else v <= goal
    return f"{v:.2f} {'✓' if ok else '✗'}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_dataset(n, dim, args, peers_avail, ext, notes):
    db = datagen.ensure(n, dim, args.seed)
    k = args.k
    name = f"{n // 1000}k×{dim}" if n % 1000 == 0 else f"{n}×{dim}"
    log(f"== dataset {name}: {db} ({os.path.getsize(db) / 1e6:.0f} MB)")
    prewarm_file(db)
    _, X = datagen.load_vectors(db, "t")
    _, Q = datagen.load_vectors(db, "q")
    nq = args.warmup + args.queries
    if nq > Q.shape[0]:
        sys.exit(f"--warmup + --queries = {nq} exceeds the {Q.shape[0]} held-out queries")
    qblobs = [Q[i].astype("<f4").tobytes() for i in range(nq)]
    refs = reference_topk(X, Q[args.warmup:nq], k)
    del X

    res = {"dataset": name, "peer_ms": {}, "vg_ms": {}, "checks": []}

    # a) baseline read
    con = connect(db, args)
    res["read_ms"], _, _ = run_timed(con, SQL_READ, [None] * nq, args.warmup, lambda rows: rows)
    con.close()
    log(f"   read           {res['read_ms']:.2f} ms")

    # c/d) peers
    peer_ids = {}
    for p, (so, entry) in peers_avail.items():
        try:
            sql = SQL_PEER[p].format(k=k)
            if p == "sqlite-vector":
                con = connect(sqlite_vector_copy(db), args, so, entry)
                con.execute("SELECT vector_init('t', 'e', ?)",
                            (f"type=FLOAT32,dimension={dim},distance=COSINE",))
            else:
                con = connect(db, args, so, entry)
            ms, _, ids = run_timed(con, sql, qblobs, args.warmup, parse_ids)
            con.close()
        except Exception as e:  # noqa: BLE001
            notes.append(f"{name}: {p} failed: {e}")
            log(f"   {p:14s} FAILED: {e}")
            continue
        res["peer_ms"][p] = ms
        peer_ids[p] = ids
        r, rt = recall(ids, refs, k, args.tie_eps)
        res["checks"].append(f"{p}: recall@{k} vs numpy {r:.3f} (tie-tolerant {rt:.3f})")
        log(f"   {p:14s} {ms:.2f} ms   recall@{k} {r:.3f} (tie-tolerant {rt:.3f})")

    # a) vecgraph, per thread count
    if ext:
        try:
            con = connect(db, args, ext, VECGRAPH_ENTRY)
        except Exception as e:  # noqa: BLE001
            notes.append(f"{name}: vecgraph failed to load from {ext}: {e}")
            log(f"   vecgraph       failed to load: {e}")
            con = None
        if con is not None:
            # sanity check of the scalar vec_distance against numpy (row 1 vs query 0)
            try:
                d = con.execute("SELECT vec_distance((SELECT e FROM t WHERE id = 1), ?, 'cosine')",
                                (qblobs[0],)).fetchone()[0]
                x1 = np.frombuffer(con.execute("SELECT e FROM t WHERE id = 1").fetchone()[0], "<f4")
                q0 = np.frombuffer(qblobs[0], "<f4")
                dref = 1 - float(x1.astype(np.float64) @ q0) / (np.linalg.norm(x1) * np.linalg.norm(q0))
                res["checks"].append(f"vec_distance(...,'cosine') = {d:.6f}, numpy {dref:.6f}")
            except Exception as e:  # noqa: BLE001
                res["checks"].append(f"vec_distance(...,'cosine') failed: {e}")
            sql = SQL_VECGRAPH.format(k=k)
            for th in args.threads:
                label = th
                try:
                    con.execute("SELECT vecgraph_config('threads', ?)", (th,))
                except Exception as e:  # noqa: BLE001
                    msg = f"threads config unavailable ({e})"
                    if msg not in notes:
                        notes.append(msg)
                    label = "default"
                    if label in res["vg_ms"]:
                        continue
                try:
                    ms, _, out = run_timed(con, sql, qblobs, args.warmup, parse_vecgraph)
                except Exception as e:  # noqa: BLE001
                    notes.append(f"{name}: vec_topk failed: {e}")
                    res["failed"] = True
                    log(f"   vec_topk       FAILED: {e}")
                    break
                res["vg_ms"][label] = ms
                ids = [o[0] for o in out]
                r, rt = recall(ids, refs, k, args.tie_eps)
                derr = max(float(np.max(np.abs(np.array(o[1]) - rd[:len(o[1])])))
                           if o[1] else float("inf") for o, (_, rd, _) in zip(out, refs))
                order_ok = all(o[1] == sorted(o[1]) for o in out)
                msg = (f"vec_topk threads={label}: recall@{k} vs numpy {r:.3f} "
                       f"(tie-tolerant {rt:.3f}), max |dist − numpy| {derr:.2e}, "
                       f"sorted best-first {'yes' if order_ok else 'NO'}")
                if "sqlite-vec" in peer_ids:
                    same = sum(1 for a, b in zip(ids, peer_ids["sqlite-vec"]) if list(a) == list(b))
                    same_set = sum(1 for a, b in zip(ids, peer_ids["sqlite-vec"]) if set(a) == set(b))
                    msg += (f"; ids equal to sqlite-vec's in {same}/{len(ids)} queries "
                            f"(same set in {same_set}/{len(ids)})")
                if rt < 1.0 or not order_ok:
                    res["failed"] = True
                    msg = "**FAILED** " + msg
                res["checks"].append(msg)
                log(f"   vec_topk t={label!s:3s} {ms:.2f} ms   recall@{k} {r:.3f}")
            con.close()
    return res


def make_table(results, args, peers_all):
    cols = ["dataset", "threads", "read-only ms", "vec_topk ms"] + [f"{p} ms" for p in peers_all] + \
           ["vec_topk speed-up vs sqlite-vec (goal ≥ 1.7)", "vec_topk / read-only time (goal ≤ 1.3)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in results:
        labels = list(r["vg_ms"].keys()) or ["—"]
        for th in labels:
            vg = r["vg_ms"].get(th)
            sv = r["peer_ms"].get("sqlite-vec")
            row = [r["dataset"], str(th), fmt_ms(r["read_ms"]), fmt_ms(vg)]
            row += [fmt_ms(r["peer_ms"].get(p)) for p in peers_all]
            row.append(fmt_ratio(sv / vg if (vg and sv) else None, 1.7, True))
            row.append(fmt_ratio(vg / r["read_ms"] if vg else None, 1.3, False))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default="build/release/vecgraph.so",
                    help="vecgraph extension (entry point sqlite3_vecgraph_init); relative paths "
                         "are tried from the current directory, then the repository root")
    ap.add_argument("--peers-dir", default=os.path.join(BENCH_DIR, ".peers"))
    ap.add_argument("--datasets", default="100000x128,50000x768", help="comma-separated NxDIM")
    ap.add_argument("--threads", default="1,2", help="comma-separated vecgraph thread counts")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=10, help="timed queries per system (median)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up queries per system")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mmap", type=int, default=0, help="PRAGMA mmap_size for every connection "
                                                         "(default 0: SQLite's default, no mmap)")
    ap.add_argument("--tie-eps", type=float, default=1e-5)
    ap.add_argument("--skip-peers", default="", help="comma-separated peers not to run")
    ap.add_argument("--write-results", metavar="FILE", help="append the table and machine info to FILE")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t]
    datasets = [tuple(int(v) for v in d.lower().split("x")) for d in args.datasets.split(",") if d]
    t_start = time.time()
    notes = []

    con = sqlite3.connect(":memory:")
    sqlite_ver = con.execute("SELECT sqlite_version()").fetchone()[0]
    if not hasattr(con, "enable_load_extension"):
        sys.exit(f"{sys.executable}: this Python's sqlite3 cannot load extensions; use /usr/bin/python3")
    con.close()

    # peers
    skip = {s for s in args.skip_peers.split(",") if s}
    peers_avail, peer_versions = {}, {}
    for p, (rel, entry) in PEERS.items():
        if p in skip:
            notes.append(f"{p}: skipped (--skip-peers)")
            continue
        so = os.path.join(args.peers_dir, "node_modules", rel)
        if not os.path.isfile(so):
            msg = f"{p}: absent ({so} not found; run bench/install_peers.sh) — skipped"
            notes.append(msg)
            log(msg)
            continue
        try:
            c = connect(":memory:", args, so, entry)
            peer_versions[p] = str(c.execute(PEER_VERSION_SQL[p]).fetchone()[0]).splitlines()[0]
            c.close()
        except Exception as e:  # noqa: BLE001
            msg = f"{p}: failed to load {so}: {e} — skipped"
            notes.append(msg)
            log(msg)
            continue
        peers_avail[p] = (so, entry)

    # vecgraph
    ext = resolve(args.ext)
    if not os.path.isfile(ext):
        msg = f"vecgraph: absent ({ext} not found) — only the baseline and peers are measured"
        notes.append(msg)
        log(msg)
        ext = None

    results = []
    for n, dim in datasets:
        results.append(bench_dataset(n, dim, args, peers_avail, ext, notes))

    peers_all = [p for p in PEERS if p not in skip]
    table = make_table(results, args, peers_all)
    checks = [f"- {r['dataset']}: {c}" for r in results for c in r["checks"]]
    info = [
        f"- machine: {cpu_model()}, {os.cpu_count()} CPUs; SQLite {sqlite_ver} "
        f"(Python {platform.python_version()})",
        f"- peers: " + (", ".join(f"{p} {v}" for p, v in peer_versions.items()) or "none"),
        f"- timing: median of {args.queries} queries after {args.warmup} warm-up, k={args.k}, "
        f"file pre-read into the OS page cache, mmap_size={args.mmap}; peers and the read-only "
        f"baseline are single-threaded and timed once per dataset",
    ]
    out = ["", table, "", "Correctness:", *checks, "", "Notes:", *info,
           *(f"- {n}" for n in notes)]
    text = "\n".join(out)
    print(text)
    log(f"total time {time.time() - t_start:.0f}s")

    if args.write_results:
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = shlex.join([sys.executable] + sys.argv)
        with open(args.write_results, "a") as f:
            f.write(f"\n## SQL top-k benchmark, {date}\n\n`{cmd}`\n{text}\n")
        log(f"appended to {args.write_results}")
    if any(r.get("failed") for r in results):
        log("vecgraph CORRECTNESS FAILURE (see above)")
        sys.exit(2)


if __name__ == "__main__":
    main()
