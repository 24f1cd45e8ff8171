#!/usr/bin/python3
"""End-to-end SQL benchmark of vecgraph's hnsw_knn virtual table against peers, same run.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions; needs python3-numpy,
python3-hnswlib and, for the plots, python3-matplotlib):

    bench/install_peers.sh                      # once: sqlite-vec and vectorlite into bench/.peers
    /usr/bin/python3 bench/hnsw_sql_bench.py --ext /tmp/hbench/vecgraph.so [--write-results FILE]

Per dataset (default 100000x128, then 50000x768 and 1000000x128 while the time budget allows;
clustered, L2-normalised vectors from bench/datagen.py, cached in bench/.data), k=10, cosine,
M=16, ef_construction=200 everywhere:

  build    vecgraph   CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=D, metric=cosine, m=16,
                      ef_construction=200, ef_search=64); BEGIN; INSERT INTO idx(rowid, vector)
                      SELECT id, e FROM data.t; COMMIT  (commit included), after
                      SELECT vecgraph_config('threads', N) for N in --build-threads
           hnswlib    Index('cosine').init_index + add_items, set_num_threads(N) / num_threads=N
           vectorlite CREATE VIRTUAL TABLE x USING vectorlite(e float32[D] cosine,
                      hnsw(max_elements=n, ef_construction=200, M=16));
                      BEGIN; INSERT INTO x(rowid, e) SELECT id, e FROM data.t; COMMIT
  search   (single-threaded, vecgraph_config('threads', 1)), one query at a time over the 100
           held-out queries, --passes timed passes after one warm-up pass, for every ef:
           vecgraph   SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = 10 AND ef = EF
           vectorlite SELECT rowid, distance FROM x WHERE knn_search(e, knn_param(?1, 10, EF))
           hnswlib    index.set_ef(EF); index.knn_query(q, k=10) per query from Python (and, for
                      reference, one batched knn_query(Q, k=10, num_threads=1) call)
           *-join     all queries in one statement, no Python call per query:
                      vecgraph   SELECT q.id, i.rowid, i.distance FROM data.q AS q CROSS JOIN idx AS i
                                 WHERE i.vector MATCH q.e AND i.k = 10 AND i.ef = EF
                      vectorlite SELECT q.id, x.rowid, x.distance FROM data.q AS q CROSS JOIN x
                                 WHERE knn_search(x.e, knn_param(q.e, 10, EF))
  exact    vecgraph   ... WHERE vector MATCH ?1 AND k = 10 AND exact = 1
           sqlite-vec CREATE VIRTUAL TABLE v USING vec0(e float[D] distance_metric=cosine);
                      SELECT rowid, distance FROM v WHERE e MATCH ?1 AND k = 10
  batch    SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch('idx', 'data.q', 'e', 10, EF)
           with threads 1 and 2, vs the same queries one by one (EF = --batch-ef, default 100)
  memory   vecgraph: RSS growth of a fresh process that opens the database and runs one query
           (loads the index); hnswlib: RSS growth of a fresh process's load_index of the saved
           index (and of its build); on disk: dbstat pgsize of idx_* vs the saved hnswlib file.

Every system runs in its own fresh subprocess for builds and memory; the search sweep runs all
systems in one subprocess, interleaved per (pass, ef), so background load hits them alike. QPS is
the best timed pass (the median pass is kept in the JSON). Recall@10 is against a numpy float64
brute force ("tie-tolerant" also accepts ids within --tie-eps of the 10th distance).

The index databases and the saved hnswlib index go to bench/.data/hnsw_sql/ (deleted at the end
unless --keep); raw results to bench/.data/hnsw_sql_bench.json; recall–QPS plots to
bench/recall_qps_<dataset>.png (via bench/plot_recall_qps.py; --no-plot to skip). The markdown
summary goes to stdout and, with --write-results FILE, is appended to FILE with machine info, date
and command line.
"""
import argparse
import datetime
import gc
import hashlib
import json
import math
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy missing: run this with Debian's /usr/bin/python3 (python3-numpy)")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DATA_DIR = os.path.join(BENCH_DIR, ".data")
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing datagen / sql_topk_bench
sys.path.insert(0, BENCH_DIR)
import datagen  # noqa: E402
from sql_topk_bench import (PEERS, cpu_model, ext_connect, prewarm_file, recall, reference_topk,  # noqa: E402
                            resolve)

VECGRAPH_ENTRY = "sqlite3_vecgraph_init"
DEFAULT_EFS = "10,16,24,32,48,64,100,150,200,300"
SYSTEMS = ("vecgraph", "vectorlite", "hnswlib")
M, EF_CONSTRUCTION = 16, 200


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds():
    """user + system CPU seconds of this process, all threads."""
    t = os.times()
    return t.user + t.system


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def remove_db(path):
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def attach_data(con, data_db):
    con.execute("ATTACH DATABASE ? AS data", (f"file:{data_db}?mode=ro",))


def build_vectorlite(vl_ext, vl_db, data, dim, n):
    """A fresh vectorlite index of the dataset (cosine, M, ef_construction as ours), declared in a
    database file as a user's would be (the index itself lives in the connection's memory).
    Returns (connection, {build_s, rss_delta, version})."""
    remove_db(vl_db)
    vl = ext_connect(f"file:{vl_db}", vl_ext, PEERS["vectorlite"][1], uri=True)
    attach_data(vl, data)
    vl.execute(f"CREATE VIRTUAL TABLE x USING vectorlite(e float32[{dim}] cosine, "
               f"hnsw(max_elements={n}, ef_construction={EF_CONSTRUCTION}, M={M}))")
    gc.collect()
    r0 = rss_bytes()
    t0 = time.perf_counter()
    vl.execute("BEGIN")
    vl.execute("INSERT INTO x(rowid, e) SELECT id, e FROM data.t")
    vl.execute("COMMIT")
    return vl, {"build_s": time.perf_counter() - t0, "rss_delta": rss_bytes() - r0,
                "version": vl.execute("SELECT vectorlite_info()").fetchone()[0]}


def query_blobs(data_db):
    con = sqlite3.connect(f"file:{data_db}?mode=ro", uri=True)
    rows = con.execute("SELECT id, e FROM q ORDER BY id").fetchall()
    con.close()
    return [r[1] for r in rows]


# ---- workers (each runs in a fresh subprocess: `--worker KIND --spec JSON`, prints JSON) ------

def w_vg_build(s):
    """vecgraph build: fresh database, the dataset attached read-only; commit included.
    s["options"] (optional) is appended to the index options (e.g. "quantizer=int8")."""
    remove_db(s["out"])
    con = ext_connect(f"file:{s['out']}", s["ext"], VECGRAPH_ENTRY, uri=True)
    attach_data(con, s["data"])
    con.execute("SELECT vecgraph_config('threads', ?)", (s["threads"],))
    extra = f", {s['options']}" if s.get("options") else ""
    con.execute(f"CREATE VIRTUAL TABLE idx USING hnsw_knn(dim={s['dim']}, metric=cosine, m={M}, "
                f"ef_construction={EF_CONSTRUCTION}, ef_search=64{extra})")
    r0 = rss_bytes()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.execute("INSERT INTO idx(rowid, vector) SELECT id, e FROM data.t")
    t1 = time.perf_counter()
    con.execute("COMMIT")
    t2 = time.perf_counter()
    out = {"build_s": t2 - t0, "insert_stmt_s": t1 - t0, "commit_s": t2 - t1,
           "rss_delta": rss_bytes() - r0, "cpu_s": cpu_seconds() - c0}
    h = hashlib.sha256()
    for rowid, rec in con.execute("SELECT rowid, record FROM idx_nodes ORDER BY rowid"):
        h.update(rowid.to_bytes(8, "little", signed=True))
        h.update(rec if isinstance(rec, bytes) else str(rec).encode())
    out["graph_sha256"] = h.hexdigest()
    out["rows"] = con.execute("SELECT count(*) FROM idx_nodes").fetchone()[0]
    try:
        out["dbstat"] = dict(con.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'idx_%' GROUP BY name").fetchall())
    except sqlite3.Error as e:
        out["dbstat_error"] = str(e)
    try:
        out["check"] = con.execute("SELECT vecgraph_check('idx')").fetchone()[0]
    except sqlite3.Error as e:
        out["check"] = f"error: {e}"
    con.close()
    out["file_size"] = os.path.getsize(s["out"])
    return out


def w_hl_build(s):
    import hnswlib
    ids, X = datagen.load_vectors(s["data"], "t")
    gc.collect()
    r0 = rss_bytes()
    p = hnswlib.Index(space="cosine", dim=s["dim"])
    p.init_index(max_elements=X.shape[0], ef_construction=EF_CONSTRUCTION, M=M, random_seed=100)
    p.set_num_threads(s["threads"])
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    p.add_items(X, ids, num_threads=s["threads"])
    out = {"build_s": time.perf_counter() - t0, "rss_delta": rss_bytes() - r0, "cpu_s": cpu_seconds() - c0}
    if s.get("save"):
        p.save_index(s["save"])
        out["file_size"] = os.path.getsize(s["save"])
    return out


def w_vg_mem(s):
    """RSS growth of opening the index database and running one query (= loading the index)."""
    q = query_blobs(s["data"])[0]
    con = ext_connect(f"file:{s['db']}", s["ext"], VECGRAPH_ENTRY, uri=True)
    con.execute("SELECT vecgraph_config('threads', 1)")
    con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    gc.collect()
    r0 = rss_bytes()
    t0 = time.perf_counter()
    rows = con.execute("SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = 10", (q,)).fetchall()
    t1 = time.perf_counter()
    r1 = rss_bytes()
    con.execute("SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = 10", (q,)).fetchall()
    t2 = time.perf_counter()
    return {"rss_delta": r1 - r0, "first_query_s": t1 - t0, "second_query_s": t2 - t1, "rows": len(rows)}


def w_hl_mem(s):
    import hnswlib
    p = hnswlib.Index(space="cosine", dim=s["dim"])
    gc.collect()
    r0 = rss_bytes()
    t0 = time.perf_counter()
    p.load_index(s["path"])
    return {"rss_delta": rss_bytes() - r0, "load_s": time.perf_counter() - t0}


def _sql_runner(con, sql, lat=None):
    """One statement per query; when lat (a list) is given, appends each query's seconds to it."""
    def run(qs):
        out = []
        pc = time.perf_counter
        for q in qs:
            t0 = pc()
            rows = con.execute(sql, (q,)).fetchall()
            if lat is not None:
                lat.append(pc() - t0)
            out.append([(int(r[0]), float(r[1])) for r in rows])
        return out
    return run


def _join_runner(con, sql, nq):
    """All queries in one statement (a lateral join over data.q, rows (query id, rowid, distance)):
    what a query costs inside SQLite, without a Python round trip per query."""
    def run(_qs):
        per = [[] for _ in range(nq)]
        for qid, rid, d in con.execute(sql).fetchall():
            per[int(qid) - 1].append((int(rid), float(d)))
        return per
    return run


def _time(fn, *a):
    t0 = time.perf_counter()
    r = fn(*a)
    return time.perf_counter() - t0, r


def w_sweep(s):
    """All systems in one process; timed passes interleaved per (pass, ef)."""
    import hnswlib
    k, efs, passes = s["k"], s["efs"], s["passes"]
    qblobs = query_blobs(s["data"])
    Q = np.stack([np.frombuffer(b, dtype="<f4") for b in qblobs]).astype(np.float32)
    out = {"notes": [], "sys": {}, "loadavg": {"start": loadavg()}}

    # vectorlite: built here (its index lives in the connection's memory), first, so the RSS
    # delta of its build is not mixed with the other systems' allocations. Its virtual table is
    # declared in a database file, as a user's would be, so each of its statements pays SQLite's
    # file-locking transaction like vecgraph's do (the index itself stays in memory).
    vl = None
    if s.get("vectorlite"):
        try:
            vl, built = build_vectorlite(s["vectorlite"], s["vl_db"], s["data"], s["dim"], s["n"])
            out["vectorlite_build"] = dict(built, loadavg=loadavg())
            log(f"   vectorlite build {out['vectorlite_build']['build_s']:.1f}s")
        except Exception as e:  # noqa: BLE001
            out["notes"].append(f"vectorlite failed: {e}")
            log(f"   vectorlite FAILED: {e}")
            vl = None

    vg = ext_connect(f"file:{s['vg_db']}", s["ext"], VECGRAPH_ENTRY, uri=True)
    attach_data(vg, s["data"])
    vg.execute("SELECT vecgraph_config('threads', 1)")
    vg.execute("SELECT rowid FROM idx WHERE vector MATCH ?1 AND k = 10", (qblobs[0],)).fetchall()  # load

    hl = hnswlib.Index(space="cosine", dim=s["dim"])
    hl.load_index(s["hl_index"])
    hl.set_num_threads(1)

    def hl_one(ef, lat):
        def run(qs):
            hl.set_ef(ef)
            res = []
            pc = time.perf_counter
            for q in qs:
                t0 = pc()
                lab, dist = hl.knn_query(q, k=k)
                lat.append(pc() - t0)
                res.append(list(zip(lab[0].tolist(), dist[0].tolist())))
            return res
        return run

    def hl_batch(ef, lat, chunk=10):
        """Batched knn_query over chunks of `chunk` queries (each chunk timed, so a preemption
        spoils one chunk, not the pass)."""
        def run(qs):
            hl.set_ef(ef)
            res = []
            pc = time.perf_counter
            for c in range(0, len(qs), chunk):
                t0 = pc()
                lab, dist = hl.knn_query(qs[c:c + chunk], k=k, num_threads=1)
                lat.append(pc() - t0)
                res += [list(zip(a.tolist(), b.tolist())) for a, b in zip(lab, dist)]
            return res
        return run

    runners = {}
    lats = {}  # per-query latencies of the timed passes, in query order, pass after pass
    for ef in efs:
        lats[("vecgraph", ef)] = []
        runners[("vecgraph", ef)] = (_sql_runner(vg, f"SELECT rowid, distance FROM idx WHERE vector MATCH ?1 "
                                                     f"AND k = {k} AND ef = {ef}", lats[("vecgraph", ef)]), qblobs)
        if vl is not None:
            lats[("vectorlite", ef)] = []
            runners[("vectorlite", ef)] = (_sql_runner(vl, f"SELECT rowid, distance FROM x WHERE "
                                                           f"knn_search(e, knn_param(?1, {k}, {ef}))",
                                                       lats[("vectorlite", ef)]), qblobs)
        runners[("vecgraph-join", ef)] = (_join_runner(vg, f"SELECT q.id, i.rowid, i.distance FROM data.q AS q "
                                                          f"CROSS JOIN idx AS i WHERE i.vector MATCH q.e AND "
                                                          f"i.k = {k} AND i.ef = {ef} ORDER BY q.id, i.distance",
                                                          len(qblobs)), qblobs)
        if vl is not None:
            runners[("vectorlite-join", ef)] = (_join_runner(vl, f"SELECT q.id, x.rowid, x.distance FROM data.q "
                                                                 f"AS q CROSS JOIN x WHERE knn_search(x.e, "
                                                                 f"knn_param(q.e, {k}, {ef})) ORDER BY q.id, "
                                                                 f"x.distance", len(qblobs)), qblobs)
        lats[("hnswlib", ef)] = []
        runners[("hnswlib", ef)] = (hl_one(ef, lats[("hnswlib", ef)]), list(Q))
        lats[("hnswlib-batch", ef)] = []
        runners[("hnswlib-batch", ef)] = (hl_batch(ef, lats[("hnswlib-batch", ef)]), Q)

    times = {key: [] for key in runners}
    results = {}
    for key, (fn, qs) in runners.items():  # warm-up pass; results are kept for recall
        try:
            results[key] = fn(qs)
        except Exception as e:  # noqa: BLE001
            out["notes"].append(f"{key[0]} ef={key[1]} failed: {e}")
            log(f"   {key[0]} ef={key[1]} FAILED: {e}")
    runners = {key: v for key, v in runners.items() if key in results}
    for v in lats.values():
        v.clear()  # drop the warm-up pass
    for p in range(passes):
        for ef in efs:
            for name in ("vecgraph", "vectorlite", "vecgraph-join", "vectorlite-join", "hnswlib", "hnswlib-batch"):
                if (name, ef) in runners:
                    fn, qs = runners[(name, ef)]
                    times[(name, ef)].append(_time(fn, qs)[0])
        log(f"   sweep pass {p + 1}/{passes} done (load {loadavg()})")
    for (name, ef), ts in times.items():
        if not ts:
            continue
        d = out["sys"].setdefault(name, {})
        d[str(ef)] = {"pass_s": ts, "ids": [[i for i, _ in r] for r in results[(name, ef)]]}
        lat = lats.get((name, ef))
        if lat:
            m = len(lat) // len(ts)  # timed calls per pass (queries, or chunks for hnswlib-batch)
            per_q = [min(lat[i::m]) for i in range(m)]  # each call's best over the passes
            d[str(ef)]["sum_min_s"] = sum(per_q)
            d[str(ef)]["median_query_s"] = statistics.median(lat)
    out["loadavg"]["sweep"] = loadavg()

    # per-statement floors: what a trivial statement / a trivial Python call costs per query
    floor_sql = _sql_runner(vg, "SELECT 0, length(?1)")
    out["floor_sql_s"] = min(_time(floor_sql, qblobs)[0] for _ in range(passes)) / len(qblobs)
    out["floor_py_s"] = min(_time(lambda qs: [len(q) for q in qs], list(Q))[0] for _ in range(passes)) / len(qblobs)

    # exact: vecgraph exact = 1 vs sqlite-vec vec0
    ex = {"vecgraph-exact": _sql_runner(vg, f"SELECT rowid, distance FROM idx WHERE vector MATCH ?1 "
                                            f"AND k = {k} AND exact = 1")}
    if s.get("sqlite_vec"):
        try:
            remove_db(s["vec0_db"])
            sv = ext_connect(f"file:{s['vec0_db']}", s["sqlite_vec"], PEERS["sqlite-vec"][1], uri=True)
            attach_data(sv, s["data"])
            sv.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{s['dim']}] distance_metric=cosine)")
            t0 = time.perf_counter()
            sv.execute("BEGIN")
            sv.execute("INSERT INTO v(rowid, e) SELECT id, e FROM data.t")
            sv.execute("COMMIT")
            out["vec0_insert_s"] = time.perf_counter() - t0
            out["vec0_version"] = sv.execute("SELECT vec_version()").fetchone()[0]
            ex["sqlite-vec"] = _sql_runner(sv, f"SELECT rowid, distance FROM v WHERE e MATCH ?1 AND k = {k}")
        except Exception as e:  # noqa: BLE001
            out["notes"].append(f"sqlite-vec failed: {e}")
            log(f"   sqlite-vec FAILED: {e}")
    out["exact"] = {}
    ex_times = {name: [] for name in ex}
    for name, fn in ex.items():
        out["exact"][name] = {"ids": [[i for i, _ in r] for r in fn(qblobs[:2]) + fn(qblobs[2:])]}
    for _ in range(s["exact_passes"]):
        for name, fn in ex.items():
            ex_times[name].append(_time(fn, qblobs)[0])
    for name in ex:
        out["exact"][name]["pass_s"] = ex_times[name]
    log(f"   exact done (load {loadavg()})")

    # batch vs one by one, same ef
    bef = s["batch_ef"]
    one = _sql_runner(vg, f"SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = {k} AND ef = {bef}")
    bsql = f"SELECT query_id, rowid, distance, rank FROM hnsw_knn_batch('idx', 'data.q', 'e', {k}, {bef})"
    bt = {"one-by-one": [], "batch-t1": [], "batch-t2": []}
    bres = {}
    try:
        for p in range(s["passes"] + 1):
            vg.execute("SELECT vecgraph_config('threads', 1)")
            t, r1 = _time(one, qblobs)
            t1, rb1 = _time(lambda: vg.execute(bsql).fetchall())
            vg.execute("SELECT vecgraph_config('threads', 2)")
            t2, rb2 = _time(lambda: vg.execute(bsql).fetchall())
            if p == 0:  # warm-up
                bres = {"one": r1, "b1": rb1, "b2": rb2}
                continue
            bt["one-by-one"].append(t)
            bt["batch-t1"].append(t1)
            bt["batch-t2"].append(t2)
        one_ids = [[i for i, _ in r] for r in bres["one"]]

        def group(rows):
            g = {}
            for qid, rowid, _d, rank in rows:
                g.setdefault(int(qid), []).append((int(rank), int(rowid)))
            return [[rid for _, rid in sorted(g.get(i + 1, []))] for i in range(len(qblobs))]
        out["batch"] = {"ef": bef, "pass_s": bt,
                        "same_ids_t1": sum(a == b for a, b in zip(one_ids, group(bres["b1"]))),
                        "same_ids_t2": sum(a == b for a, b in zip(one_ids, group(bres["b2"]))),
                        "nq": len(qblobs)}
    except Exception as e:  # noqa: BLE001
        out["notes"].append(f"hnsw_knn_batch failed: {e}")
        log(f"   hnsw_knn_batch FAILED: {e}")
    vg.execute("SELECT vecgraph_config('threads', 1)")
    out["loadavg"]["end"] = loadavg()
    return out


WORKERS = {"vg_build": w_vg_build, "hl_build": w_hl_build, "vg_mem": w_vg_mem, "hl_mem": w_hl_mem,
           "sweep": w_sweep}


def run_worker(kind, spec, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", json.dumps(spec)]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    if p.returncode != 0:
        return {"error": f"exit status {p.returncode}"}
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"no JSON in output: {p.stdout[-300:]!r}"}
    r["wall_s"] = time.time() - t0
    return r


# ---- main -----------------------------------------------------------------------------------

def mib(b):
    return None if b is None else b / 2**20


def fmt(v, nd=1):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.{nd}f}" if abs(v) < 1000 else f"{v:.0f}"


def goal(v, target, higher_better=True, nd=2):
    if v is None:
        return "—"
    ok = v >= target if higher_better else v <= target
    return f"{v:.{nd}f} {'✓' if ok else '✗'}"


def cost_units(n, dim):
    """Rough relative build cost: n log n distance evaluations of cost ~(dim + 32)."""
    return n * math.log(max(n, 2)) * (dim + 32)


def bench_dataset(n, dim, args, ext, peers, notes):
    name = f"{n // 1000}k×{dim}" if n % 1000 == 0 else f"{n}×{dim}"
    slug = f"{n // 1000}k" if dim == 128 else f"{n // 1000}k_d{dim}"
    data = datagen.ensure(n, dim, args.seed)
    log(f"== dataset {name}: {data} ({os.path.getsize(data) / 1e6:.0f} MB), load {loadavg()}")
    prewarm_file(data)
    work = os.path.join(DATA_DIR, "hnsw_sql")
    os.makedirs(work, exist_ok=True)
    stem = os.path.join(work, f"n{n}_d{dim}_s{args.seed}")
    paths = {"vg1": stem + ".vecgraph.db", "vg2": stem + ".vecgraph_t2.db", "hl": stem + ".hnswlib.bin",
             "vec0": stem + ".vec0.db", "vl": stem + ".vectorlite.db"}
    res = {"dataset": name, "slug": slug, "n": n, "dim": dim, "build": {}, "notes": [], "loadavg": {}}
    t_start = time.time()

    # builds: fresh process each, interleaved vecgraph / hnswlib per thread count
    vg_db = None
    for th in args.build_threads:
        vp = paths["vg1"] if th == args.build_threads[0] else paths["vg2"]
        la = loadavg()
        r = run_worker("vg_build", {"ext": ext, "data": data, "out": vp, "threads": th, "dim": dim}, args.timeout)
        r["loadavg_before"] = la
        res["build"][f"vecgraph t{th}"] = r
        log(f"   vecgraph build t{th}: " + (r.get("error") or f"{r['build_s']:.1f}s (insert stmt "
            f"{r['insert_stmt_s']:.1f}s, commit {r['commit_s']:.1f}s) load before {la}"))
        if "error" not in r and vg_db is None:
            vg_db = vp
        la = loadavg()
        spec = {"data": data, "threads": th, "dim": dim}
        if th == args.build_threads[0]:
            spec["save"] = paths["hl"]
        r = run_worker("hl_build", spec, args.timeout)
        r["loadavg_before"] = la
        res["build"][f"hnswlib t{th}"] = r
        log(f"   hnswlib  build t{th}: " + (r.get("error") or f"{r['build_s']:.1f}s load before {la}"))
    b = res["build"]
    shas = {key: v.get("graph_sha256") for key, v in b.items() if key.startswith("vecgraph") and "error" not in v}
    if len(shas) > 1:
        res["deterministic"] = len(set(shas.values())) == 1
    if "error" in b.get(f"hnswlib t{args.build_threads[0]}", {"error": 1}) or vg_db is None:
        res["notes"].append("a build failed; search/memory not measured")
        return res

    # memory, fresh processes
    res["mem_vg"] = run_worker("vg_mem", {"ext": ext, "db": vg_db, "data": data}, args.timeout)
    res["mem_hl"] = run_worker("hl_mem", {"path": paths["hl"], "dim": dim}, args.timeout)

    # search sweep
    spec = {"ext": ext, "data": data, "vg_db": vg_db, "hl_index": paths["hl"], "vec0_db": paths["vec0"],
            "vl_db": paths["vl"],
            "dim": dim, "n": n, "k": args.k, "efs": args.efs, "passes": args.passes,
            "exact_passes": args.exact_passes, "batch_ef": args.batch_ef,
            "vectorlite": peers.get("vectorlite"), "sqlite_vec": peers.get("sqlite-vec")}
    res["sweep"] = run_worker("sweep", spec, args.timeout)
    res["wall_s"] = time.time() - t_start

    if not args.keep:
        for p in paths.values():
            remove_db(p)
    return res


def analyse(res, args, refs):
    """Adds recall / QPS summaries to res (in place)."""
    sw = res.get("sweep", {})
    if "error" in sw or "sys" not in sw:
        return
    nq = len(refs)
    curves = {}
    for name, per_ef in sw["sys"].items():
        pts = []
        for ef in args.efs:
            d = per_ef.get(str(ef))
            if not d:
                continue
            r, rt = recall(d["ids"], refs, args.k, args.tie_eps)
            best, med = min(d["pass_s"]), statistics.median(d["pass_s"])
            # headline: 100 queries / sum of each query's best time over the passes (robust to the
            # preemptions of a shared machine); batched hnswlib has only whole-pass times
            tot = d.get("sum_min_s", best)
            pts.append({"ef": ef, "recall": r, "recall_tol": rt, "qps": nq / tot, "qps_best_pass": nq / best,
                        "qps_median_pass": nq / med, "us_per_query": tot / nq * 1e6})
        curves[name] = pts
    res["curves"] = curves
    at = {}
    for name, pts in curves.items():
        hit = next((p for p in pts if p["recall"] >= args.target_recall), None)
        at[name] = hit
    res["at_target"] = at
    ex = {}
    for name, d in sw.get("exact", {}).items():
        if d.get("pass_s"):
            r, rt = recall(d["ids"], refs, args.k, args.tie_eps)
            ex[name] = {"qps": nq / min(d["pass_s"]), "recall": r, "recall_tol": rt}
    res["exact_summary"] = ex


def summarise(results, args, notes, t_total):
    L = []
    tr = args.target_recall
    for res in results:
        name = res["dataset"]
        L.append(f"### {name} (k={args.k}, cosine, M={M}, ef_construction={EF_CONSTRUCTION})")
        L.append("")
        # builds
        b = res["build"]
        vl_b = res.get("sweep", {}).get("vectorlite_build")
        L.append("| build | seconds | CPU s (all threads) | load avg before | notes |")
        L.append("|---|---|---|---|---|")
        for key, v in b.items():
            if "error" in v:
                L.append(f"| {key} | FAILED | | {v.get('loadavg_before', '')} | {v['error']} |")
                continue
            extra = ""
            if key.startswith("vecgraph"):
                extra = (f"INSERT stmt {v['insert_stmt_s']:.1f} s + COMMIT {v['commit_s']:.1f} s; "
                         f"vecgraph_check: {v.get('check')}")
            L.append(f"| {key} | {v['build_s']:.1f} | {v['cpu_s']:.1f} | {v['loadavg_before']} | {extra} |")
        if vl_b:
            L.append(f"| vectorlite (1 thread) | {vl_b['build_s']:.1f} | | {vl_b['loadavg']} (after) | "
                     f"{vl_b['version']} |")
        t = args.build_threads
        g1 = g2 = hl2 = None
        if len(t) >= 1:
            v1, h1 = b.get(f"vecgraph t{t[0]}", {}), b.get(f"hnswlib t{t[0]}", {})
            if "build_s" in v1 and "build_s" in h1:
                g1 = v1["build_s"] / h1["build_s"]
        if len(t) >= 2:
            v1, v2 = b.get(f"vecgraph t{t[0]}", {}), b.get(f"vecgraph t{t[1]}", {})
            h1, h2 = b.get(f"hnswlib t{t[0]}", {}), b.get(f"hnswlib t{t[1]}", {})
            if "build_s" in v1 and "build_s" in v2:
                g2 = v1["build_s"] / v2["build_s"]
            if "build_s" in h1 and "build_s" in h2:
                hl2 = h1["build_s"] / h2["build_s"]
        L.append("")
        L.append(f"- vecgraph {t[0]}-thread build / hnswlib {t[0]}-thread (goal ≤ 0.8): {goal(g1, 0.8, False)}")
        v1, h1 = b.get(f"vecgraph t{t[0]}", {}), b.get(f"hnswlib t{t[0]}", {})
        if v1.get("cpu_s") and h1.get("cpu_s"):
            L.append(f"  (same ratio in CPU seconds, less sensitive to other jobs: {v1['cpu_s'] / h1['cpu_s']:.2f})")
        if len(t) >= 2:
            L.append(f"- vecgraph speed-up {t[1]} vs {t[0]} threads (goal ≥ 1.7): {goal(g2, 1.7)}"
                     f" (hnswlib's own: {fmt(hl2, 2)})")
            par = [f"{key} {v['cpu_s'] / v['build_s']:.2f}" for key, v in b.items()
                   if key.endswith(f"t{t[1]}") and v.get("build_s")]
            if par:
                L.append(f"- achieved parallelism of the {t[1]}-thread builds (CPU s / wall s; "
                         f"{t[1]}.00 = both cores to itself): " + ", ".join(par)
                         + f"; below {t[1]} the wall-clock speed-up measures the other jobs as much as the build")
            v2 = b.get(f"vecgraph t{t[1]}", {})
            if v1.get("cpu_s") and v2.get("cpu_s"):
                L.append(f"- vecgraph CPU seconds {t[1]} threads / {t[0]} thread (work inflation of the parallel "
                         f"build, 1.00 = none): {v2['cpu_s'] / v1['cpu_s']:.2f}")
        if "deterministic" in res:
            L.append(f"- vecgraph graph identical for {t[0]} and {t[1]} threads (sha256 of idx_nodes.record): "
                     f"{'yes' if res['deterministic'] else 'NO'}")
        L.append("")
        sw = res.get("sweep", {})
        if "error" in sw:
            L.append(f"**search sweep failed: {sw['error']}**")
        if "curves" in res:
            cur = res["curves"]
            names = [s for s in ("vecgraph", "vectorlite", "vecgraph-join", "vectorlite-join", "hnswlib",
                                 "hnswlib-batch") if s in cur]
            L.append(f"Recall@10 / QPS (single thread, one query per call; QPS = {res['refs_n']} queries / sum of "
                     f"each query's best time over {args.passes} passes; hnswlib-batch: knn_query calls of 10 "
                     "queries, each chunk's best time):")
            L.append("")
            L.append("| ef | " + " | ".join(f"{s} recall | {s} QPS" for s in names) + " |")
            L.append("|---|" + "---|---|" * len(names))
            for ef in args.efs:
                row = [str(ef)]
                for s in names:
                    p = next((p for p in cur[s] if p["ef"] == ef), None)
                    row += ([f"{p['recall']:.3f}", f"{p['qps']:.0f}"] if p else ["—", "—"])
                L.append("| " + " | ".join(row) + " |")
            L.append("")
            at = res["at_target"]

            def desc(s):
                p = at.get(s)
                if p is None:
                    best = max((q["recall"] for q in cur.get(s, [])), default=None)
                    return f"not reached (best recall {fmt(best, 3)})"
                return f"{p['qps']:.0f} QPS at ef={p['ef']} (recall {p['recall']:.3f}, {p['us_per_query']:.0f} µs/query)"
            L.append(f"| QPS at the smallest ef with recall@10 ≥ {tr} | |")
            L.append("|---|---|")
            for s in names:
                L.append(f"| {s} | {desc(s)} |")
            vq = at.get("vecgraph")

            def ratio(other):
                o = at.get(other)
                return None if (vq is None or o is None) else vq["qps"] / o["qps"]
            L.append("")
            L.append(f"- vecgraph / vectorlite QPS (goal ≥ 1.5): {goal(ratio('vectorlite'), 1.5)}")
            L.append(f"- vecgraph / hnswlib QPS, hnswlib one knn_query per query from Python (goal ≥ 1.2): "
                     f"{goal(ratio('hnswlib'), 1.2)}")
            L.append(f"- vecgraph / hnswlib batched knn_query (10 queries per call, ~no per-query Python overhead; "
                     "reference only): "
                     f"{fmt(ratio('hnswlib-batch'), 2)}")
            vj, oj = at.get("vecgraph-join"), at.get("vectorlite-join")
            if vj and oj:
                L.append(f"- all {res['refs_n']} queries in one SQL statement (`FROM data.q CROSS JOIN <index>`: "
                         "the per-query cost inside SQLite, no Python round trip per query; best pass): vecgraph "
                         f"{vj['qps']:.0f} QPS at ef={vj['ef']}, vectorlite {oj['qps']:.0f} QPS at ef={oj['ef']}: "
                         f"vecgraph / vectorlite (goal ≥ 1.5) {goal(vj['qps'] / oj['qps'], 1.5)}")
            if "floor_sql_s" in sw:
                L.append(f"- per-call floors on this machine: a trivial SQL statement "
                         f"(`SELECT 0, length(?1)`, execute+fetchall from Python) {sw['floor_sql_s'] * 1e6:.1f} µs; "
                         f"hnswlib Python-call overhead at the target ef ≈ "
                         + (f"{(at['hnswlib']['us_per_query'] - next(p for p in cur['hnswlib-batch'] if p['ef'] == at['hnswlib']['ef'])['us_per_query']):.1f} µs/query "
                            f"(per-query loop minus batched call; ≤ 0 = lost in noise)" if at.get("hnswlib") and "hnswlib-batch" in cur else "—"))
            L.append("")
        ex = res.get("exact_summary")
        if ex:
            L.append("| exact k-NN | QPS | recall@10 (tie-tolerant) |")
            L.append("|---|---|---|")
            for s, d in ex.items():
                label = "vecgraph `exact = 1`" if s == "vecgraph-exact" else "sqlite-vec vec0 `MATCH … k = 10`"
                L.append(f"| {label} | {d['qps']:.1f} | {d['recall']:.3f} ({d['recall_tol']:.3f}) |")
            if "vecgraph-exact" in ex and "sqlite-vec" in ex:
                L.append("")
                L.append(f"- vecgraph exact / sqlite-vec exact QPS (goal ≥ 4): "
                         f"{goal(ex['vecgraph-exact']['qps'] / ex['sqlite-vec']['qps'], 4.0)}")
            if sw.get("vec0_insert_s") is not None:
                L.append(f"- (sqlite-vec vec0 INSERT … SELECT of the {res['n']} rows: {sw['vec0_insert_s']:.1f} s)")
            L.append("")
        bt = sw.get("batch")
        if bt:
            one = min(bt["pass_s"]["one-by-one"])
            L.append(f"| {bt['nq']} queries, ef={bt['ef']} | total ms | vs one by one |")
            L.append("|---|---|---|")
            L.append(f"| one by one (threads 1) | {one * 1e3:.1f} | 1.00 |")
            for key, lab in (("batch-t1", "hnsw_knn_batch, threads 1"), ("batch-t2", "hnsw_knn_batch, threads 2")):
                v = min(bt["pass_s"][key])
                L.append(f"| {lab} | {v * 1e3:.1f} | {one / v:.2f}× faster |")
            L.append("")
            L.append(f"- batch ids equal to one-by-one ids: threads 1 {bt['same_ids_t1']}/{bt['nq']}, "
                     f"threads 2 {bt['same_ids_t2']}/{bt['nq']}")
            L.append("")
        mv, mh = res.get("mem_vg", {}), res.get("mem_hl", {})
        if mv or mh:
            vb = b.get(f"vecgraph t{args.build_threads[0]}", {})
            hb = b.get(f"hnswlib t{args.build_threads[0]}", {})
            disk = sum(vb.get("dbstat", {}).values()) if vb.get("dbstat") else None
            L.append("| memory / disk | vecgraph MiB | hnswlib MiB | ratio |")
            L.append("|---|---|---|---|")
            rv, rh = mv.get("rss_delta"), mh.get("rss_delta")
            L.append(f"| index in RAM: RSS growth of a fresh process (vecgraph: open + first query; "
                     f"hnswlib: load_index) | {fmt(mib(rv))} | {fmt(mib(rh))} | "
                     f"{goal(rv / rh if rv and rh else None, 1.2, False)} (goal ≤ 1.2) |")
            L.append(f"| RSS growth during the {args.build_threads[0]}-thread build | {fmt(mib(vb.get('rss_delta')))} | "
                     f"{fmt(mib(hb.get('rss_delta')))} | "
                     f"{fmt(vb['rss_delta'] / hb['rss_delta'] if vb.get('rss_delta') and hb.get('rss_delta') else None, 2)} |")
            L.append(f"| on disk (vecgraph: dbstat pgsize of idx_*; hnswlib: save_index file) | {fmt(mib(disk))} | "
                     f"{fmt(mib(hb.get('file_size')))} | "
                     f"{fmt(disk / hb['file_size'] if disk and hb.get('file_size') else None, 2)} |")
            if vb.get("dbstat"):
                L.append("")
                L.append("- vecgraph on disk by table: " + ", ".join(f"{k} {mib(v):.1f} MiB" for k, v in vb["dbstat"].items())
                         + "; raw float32 vectors alone are "
                         f"{res['n'] * res['dim'] * 4 / 2**20:.1f} MiB (idx_nodes keeps, for cosine, the normalised and the inserted vector)")
            if mv.get("first_query_s") is not None:
                L.append(f"- vecgraph first query in a fresh process (loads the index from idx_nodes): "
                         f"{mv['first_query_s'] * 1e3:.0f} ms; second query {mv['second_query_s'] * 1e3:.2f} ms; "
                         f"hnswlib load_index {fmt(mh.get('load_s', None) and mh['load_s'] * 1e3, 0)} ms")
            vlb = sw.get("vectorlite_build")
            if vlb:
                L.append(f"- vectorlite RSS growth during its build (same process, approximate): "
                         f"{mib(vlb['rss_delta']):.1f} MiB")
            L.append("")
        for nline in res["notes"] + sw.get("notes", []):
            L.append(f"- note: {nline}")
        la = sw.get("loadavg", {})
        if la:
            L.append(f"- load average (1/5/15 min) during the sweep: start {la.get('start')}, after the ef sweep "
                     f"{la.get('sweep')}, end {la.get('end')}")
        if res.get("wall_s"):
            L.append(f"- dataset wall time {res['wall_s']:.0f} s")
        L.append("")
    con = sqlite3.connect(":memory:")
    sqlite_ver = con.execute("SELECT sqlite_version()").fetchone()[0]
    con.close()
    L.append("Notes:")
    L.append(f"- machine: {cpu_model()}, {os.cpu_count()} CPUs (shared with other jobs; load averages above), "
             f"SQLite {sqlite_ver}, Python {platform.python_version()}, hnswlib {hnswlib_version()}")
    L.append(f"- QPS = 100 held-out queries / Σ over queries of each query's best latency in {args.passes} timed "
             "passes (after a warm-up pass; best-pass and median-pass QPS are in the JSON), one "
             "statement (or one knn_query call) per query, `execute(sql, (blob,)).fetchall()`; the three systems "
             "are interleaved per (pass, ef) in one process. SQL per-query overhead (statement step, blob binding, "
             "row materialisation in Python) is included for vecgraph and vectorlite alike; hnswlib pays a "
             "numpy/pybind11 call instead")
    L.append("- builds: one run each, in fresh processes (vecgraph: rollback journal, synchronous=FULL, "
             "dataset ATTACHed read-only; COMMIT writes idx_nodes); vectorlite builds single-threaded inside "
             "the sweep process (its index lives in memory, nothing is written to disk)")
    for nline in notes:
        L.append(f"- {nline}")
    L.append(f"- total run time {t_total:.0f} s")
    return "\n".join(L)


_HNSWLIB_VERSION = None


def hnswlib_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-hnswlib"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "?"
    except Exception:  # noqa: BLE001
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default="build/release/vecgraph.so", help="vecgraph extension")
    ap.add_argument("--peers-dir", default=os.path.join(BENCH_DIR, ".peers"))
    ap.add_argument("--datasets", default="100000x128,50000x768,1000000x128",
                    help="comma-separated NxDIM, run in order while the time budget allows")
    ap.add_argument("--budget-min", type=float, default=15.0,
                    help="skip a dataset whose estimated time (scaled from the first one) would "
                         "end the run after this many minutes")
    ap.add_argument("--build-threads", default="1,2")
    ap.add_argument("--efs", default=DEFAULT_EFS)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--passes", type=int, default=5, help="timed passes of the 100 queries per ef")
    ap.add_argument("--exact-passes", type=int, default=2)
    ap.add_argument("--batch-ef", type=int, default=100)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tie-eps", type=float, default=1e-5)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per subprocess")
    ap.add_argument("--skip-peers", default="", help="comma-separated: vectorlite,sqlite-vec")
    ap.add_argument("--keep", action="store_true", help="keep bench/.data/hnsw_sql/* (index files)")
    ap.add_argument("--json", default=os.path.join(DATA_DIR, "hnsw_sql_bench.json"), help="raw results")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--write-results", metavar="FILE", help="append the summary and machine info to FILE")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.spec))))
        return

    args.build_threads = [int(t) for t in args.build_threads.split(",") if t]
    args.efs = [int(e) for e in args.efs.split(",") if e]
    datasets = [tuple(int(v) for v in d.lower().split("x")) for d in args.datasets.split(",") if d]
    t0 = time.time()
    notes = []
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        sys.exit(f"{sys.executable}: this Python's sqlite3 cannot load extensions; use /usr/bin/python3")
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        sys.exit("hnswlib missing: apt install python3-hnswlib")
    ext = resolve(args.ext)
    if not os.path.isfile(ext):
        sys.exit(f"vecgraph extension not found: {ext}")
    skip = {s for s in args.skip_peers.split(",") if s}
    peers = {}
    for p in ("vectorlite", "sqlite-vec"):
        so = os.path.join(args.peers_dir, "node_modules", PEERS[p][0])
        if p in skip:
            notes.append(f"{p}: skipped (--skip-peers)")
        elif not os.path.isfile(so):
            notes.append(f"{p}: absent ({so}; run bench/install_peers.sh) — skipped")
        else:
            peers[p] = so
    log(f"vecgraph: {ext}; peers: {peers}; load {loadavg()}")

    results = []
    first_cost = first_wall = None
    for n, dim in datasets:
        name = f"{n // 1000}k×{dim}"
        if first_cost is not None:
            est = first_wall * cost_units(n, dim) / first_cost
            elapsed = time.time() - t0
            if elapsed + est > args.budget_min * 60:
                msg = (f"{name} skipped: estimated {est / 60:.1f} min (scaled by n·log n·(dim+32) from the first "
                       f"dataset's {first_wall / 60:.1f} min) after {elapsed / 60:.1f} min elapsed exceeds the "
                       f"{args.budget_min:g}-minute budget")
                notes.append(msg)
                log(msg)
                continue
        ts = time.time()
        res = bench_dataset(n, dim, args, ext, peers, notes)
        data = datagen.ensure(n, dim, args.seed, verbose=False)
        _, X = datagen.load_vectors(data, "t")
        _, Q = datagen.load_vectors(data, "q")
        refs = reference_topk(X, Q, args.k)
        del X
        res["refs_n"] = len(refs)
        analyse(res, args, refs)
        del refs
        if first_cost is None:
            first_cost, first_wall = cost_units(n, dim), time.time() - ts
        results.append(res)

    t_total = time.time() - t0
    text = summarise(results, args, notes, t_total)
    print(text)

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    slim = json.loads(json.dumps(results))
    for r in slim:  # ids are bulky; the curves are what the plot needs
        for d in r.get("sweep", {}).get("sys", {}).values():
            for v in d.values():
                v.pop("ids", None)
        for v in r.get("sweep", {}).get("exact", {}).values():
            v.pop("ids", None)
    with open(args.json, "w") as f:
        json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "machine": cpu_model(),
                   "target_recall": args.target_recall, "results": slim}, f, indent=1)
    log(f"raw results: {args.json}")
    if not args.no_plot and any("curves" in r for r in results):
        cmd = [sys.executable, os.path.join(BENCH_DIR, "plot_recall_qps.py"), args.json, "--out-dir", BENCH_DIR]
        p = subprocess.run(cmd, capture_output=True, text=True)
        log(p.stdout.strip() or p.stderr.strip())

    if args.write_results:
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = shlex.join([sys.executable] + sys.argv)
        with open(args.write_results, "a") as f:
            f.write(f"\n## hnsw_knn SQL benchmark, {date}\n\n`{cmd}`\n\n{text}\n")
        log(f"appended to {args.write_results}")


if __name__ == "__main__":
    main()
