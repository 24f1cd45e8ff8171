#!/usr/bin/python3
"""What the hnsw_knn quantizer buys: the query walk on float vectors vs on 8-bit codes, against
vectorlite, in one process with interleaved passes.

Run with Debian's /usr/bin/python3 (numpy; peers from bench/install_peers.sh):

    /usr/bin/python3 bench/quantizer_bench.py --ext build/release/vecgraph.so \
        --datasets 50000x768,50000x768:noise=1.5,glove:100000 --passes 3

Per dataset (k = 10, cosine, M = 16, ef_construction = 200; one thread for queries):
  build   vecgraph   CREATE VIRTUAL TABLE idx USING hnsw_knn(dim=D, metric=cosine, m=16,
                     ef_construction=200, quantizer=Q) for Q in --quantizers (default none,int8;
                     `int8/R` adds rescore=R),
                     each in its own database file, INSERT ... SELECT from the dataset, 2 threads.
                     The build reads the float vectors whatever Q is, so every Q gets the same graph
                     (checked: the sha256 of the node records must agree).
          vectorlite vectorlite(e float32[D] cosine, hnsw(max_elements=n, ef_construction=200, M=16)),
                     built in this process (its index lives in the connection).
  sweep   every (system, ef) runs the 100 held-out queries, one SQL statement per query:
            vecgraph   SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = 10 AND ef = EF
            vectorlite SELECT rowid, distance FROM x WHERE knn_search(e, knn_param(?1, 10, EF))
          one warm-up pass first (its answers give recall@10 against a numpy float64 brute force),
          then --passes timed passes, interleaved per (pass, ef, system) so background load hits
          every system alike. QPS = 100 / Σ over queries of each query's best latency.
  result  recall and QPS per ef; QPS at recall 0.95 and 0.99 interpolated between the two efs
          around the target (log QPS linear in recall); a system whose smallest ef already
          exceeds the target is reported at that ef, marked "≥" (the sweep starts too high to
          interpolate). Ratios only between systems of the same run. Memory: vecgraph's
          memory_bytes from vecgraph_index_info (vectors, graph, codes); vectorlite's RSS growth
          while building.

Datasets: NxD is bench/datagen.py's clustered, L2-normalised data (1000 centres, noise 0.5;
`NxD:noise=Z` and `:clusters=C` change the generator's parameters: more noise is harder);
`glove:N` the GloVe 6B 100-d word vectors (bench/hnsw_filter_bench.py fetches them from npm).
The markdown summary goes to stdout (and is appended, with machine, date and command, to
--write-results FILE).
"""
import argparse
import datetime
import math
import os
import platform
import shlex
import sys
import time

sys.dont_write_bytecode = True
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import numpy as np  # noqa: E402

import datagen  # noqa: E402
from hnsw_filter_bench import ensure_glove  # noqa: E402
from hnsw_sql_bench import (VECGRAPH_ENTRY, _sql_runner, build_vectorlite, loadavg, log, query_blobs,  # noqa: E402
                            w_vg_build)
from sql_topk_bench import PEERS, cpu_model, ext_connect, prewarm_file, reference_topk, resolve  # noqa: E402

K = 10
DEFAULT_EFS = "10,12,16,20,24,32,40,48,64,80,96,128,192,256"
DATA_DIR = os.path.join(BENCH_DIR, ".data")


def dataset(spec, seed):
    """(label, path of a datagen-layout database with tables t and q)."""
    s = spec.strip().lower()
    if s.startswith("glove"):
        n = int(s.split(":", 1)[1]) if ":" in s else None
        path = ensure_glove(n, 100, seed)
        return f"GloVe-100 {n // 1000}k" if n else "GloVe-100", path
    head, *opts = s.split(":")
    n, dim = (int(v) for v in head.split("x"))
    kw = {}
    for o in opts:
        key, val = o.split("=")
        kw[key] = float(val) if key == "noise" else int(val)
    path = datagen.ensure(n, dim, seed, **kw)
    label = f"{n // 1000}k×{dim} clustered" + "".join(f" {k}={v:g}" for k, v in kw.items())
    return label, path


def build_vecgraph(ext, data, out, dim, variant, threads):
    """hnsw_sql_bench's build worker, in this process, with `quantizer=Q[, rescore=R]` (variant Q/R)."""
    quantizer, _, rescore = variant.partition("/")
    options = f"quantizer={quantizer}" + (f", rescore={rescore}" if rescore else "")
    return w_vg_build({"ext": ext, "data": data, "out": out, "threads": threads, "dim": dim, "options": options})


def interpolate(points, target):
    """points: [(recall, qps)] by ef. (qps at target, note)."""
    pts = sorted(points, key=lambda p: p[0])
    above = [p for p in pts if p[0] >= target]
    if not above:
        return None, f"never reaches {target}"
    if pts[0][0] >= target:
        best = max(above, key=lambda p: p[1])
        return best[1], f"≥ (recall {best[0]:.3f} at the smallest ef)"
    # the fastest crossing: among consecutive (by ef order, which is QPS order) pairs
    best = None
    for lo, hi in zip(points, points[1:]):
        (r0, q0), (r1, q1) = lo, hi
        if r0 < target <= r1 and r1 > r0:
            t = (target - r0) / (r1 - r0)
            q = math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
            best = q if best is None else max(best, q)
    if best is None:  # recall not monotone in ef: the fastest ef that reaches the target
        best = max(above, key=lambda p: p[1])[1]
    return best, ""


def bench(spec, args, ext, vl_ext):
    label, data = dataset(spec, args.seed)
    prewarm_file(data)
    ids, X = datagen.load_vectors(data, "t")
    _, Q = datagen.load_vectors(data, "q")
    qb = query_blobs(data)
    n, dim = X.shape
    log(f"== {label}: {data} (n={n}, dim={dim}), load {loadavg()}")
    refs = reference_topk(X, Q, K)  # 1-based row numbers, distances, all distances
    truth = [set(int(ids[i - 1]) for i in r[0]) for r in refs]
    del X
    work = os.path.join(DATA_DIR, "quantizer")
    os.makedirs(work, exist_ok=True)
    out = {"label": label, "n": n, "dim": dim, "build": {}, "sys": {}, "memory": {}, "load": {"start": loadavg()}}

    cons = {}
    for qz in args.quantizers:
        path = os.path.join(work, f"{os.path.basename(data)}.{qz.replace('/', '_r')}.db")
        b = build_vecgraph(ext, data, path, dim, qz, args.build_threads)
        out["build"][f"vecgraph {qz}"] = b
        log(f"   vecgraph quantizer={qz}: build {b['build_s']:.1f}s")
        con = ext_connect(f"file:{path}", ext, VECGRAPH_ENTRY, uri=True)
        con.execute("SELECT vecgraph_config('threads', 1)")
        con.execute(f"SELECT rowid FROM idx WHERE vector MATCH ?1 AND k = {K}", (qb[0],)).fetchall()  # load
        info = con.execute("SELECT json_extract(vecgraph_index_info('idx'), '$.memory_bytes')").fetchone()[0]
        out["memory"][f"vecgraph {qz}"] = info
        cons[f"vecgraph {qz}"] = con
    shas = {b["graph_sha256"] for b in out["build"].values()}
    out["same_graph"] = len(shas) == 1

    if vl_ext:
        vl_db = os.path.join(work, f"{os.path.basename(data)}.vectorlite.db")
        vl, built = build_vectorlite(vl_ext, vl_db, data, dim, n)
        out["build"]["vectorlite"] = {"build_s": built["build_s"]}
        out["memory"]["vectorlite"] = {"rss_growth": built["rss_delta"]}
        out["vectorlite_version"] = built["version"]
        log(f"   vectorlite: build {out['build']['vectorlite']['build_s']:.1f}s")
        cons["vectorlite"] = vl

    runners, lats = {}, {}
    for ef in args.efs:
        for name, con in cons.items():
            lats[(name, ef)] = []
            sql = (f"SELECT rowid, distance FROM x WHERE knn_search(e, knn_param(?1, {K}, {ef}))" if name == "vectorlite"
                   else f"SELECT rowid, distance FROM idx WHERE vector MATCH ?1 AND k = {K} AND ef = {ef}")
            runners[(name, ef)] = _sql_runner(con, sql, lats[(name, ef)])
    results = {key: fn(qb) for key, fn in runners.items()}  # warm-up pass: answers for recall
    for v in lats.values():
        v.clear()
    for p in range(args.passes):
        for ef in args.efs:
            for name in cons:
                runners[(name, ef)](qb)
        log(f"   pass {p + 1}/{args.passes} (load {loadavg()})")
    out["load"]["end"] = loadavg()
    nq = len(qb)
    for (name, ef), lat in lats.items():
        per_q = [min(lat[i::nq]) for i in range(nq)]
        rec = float(np.mean([len(truth[i] & {rowid for rowid, _ in results[(name, ef)][i][:K]}) / K for i in range(nq)]))
        out["sys"].setdefault(name, {})[ef] = {"recall": rec, "qps": nq / sum(per_q)}
    for con in cons.values():
        con.close()
    return out


def summarise(res, args):
    lines = []
    for r in res:
        names = list(r["sys"])
        lines.append(f"### {r['label']} (n = {r['n']}, dim = {r['dim']})\n")
        lines.append("| ef | " + " | ".join(f"{s}: recall / QPS" for s in names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for ef in args.efs:
            cells = [f"{r['sys'][s][ef]['recall']:.3f} / {r['sys'][s][ef]['qps']:,.0f}".replace(",", " ") for s in names]
            lines.append(f"| {ef} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("| QPS at recall@10 | " + " | ".join(names) +
                     (" | " + " | ".join(f"{s} / vectorlite" for s in names if s != "vectorlite")
                      if "vectorlite" in names else "") + " |")
        lines.append("|---|" + "---|" * (len(names) + (len(names) - 1 if "vectorlite" in names else 0)))
        for target in (0.95, 0.99):
            q = {s: interpolate([(r["sys"][s][ef]["recall"], r["sys"][s][ef]["qps"]) for ef in args.efs], target)
                 for s in names}
            cells = [("—" if q[s][0] is None else f"{q[s][0]:,.0f}".replace(",", " ") + (f" {q[s][1]}" if q[s][1] else ""))
                     for s in names]
            if "vectorlite" in names and q["vectorlite"][0]:
                cells += [("—" if q[s][0] is None else f"**{q[s][0] / q['vectorlite'][0]:.2f}**")
                          for s in names if s != "vectorlite"]
            lines.append(f"| {target} | " + " | ".join(cells) + " |")
        lines.append("")
        mem = []
        for s, m in r["memory"].items():
            if s == "vectorlite":
                mem.append(f"vectorlite RSS growth while building {m['rss_growth'] / 2**20:.1f} MiB")
            else:
                import json
                d = json.loads(m)
                mem.append(f"{s}: {d['total'] / 2**20:.1f} MiB (vectors {d['vectors'] / 2**20:.1f}, graph "
                           f"{d['graph'] / 2**20:.1f}, codes {d['codes'] / 2**20:.1f})")
        lines.append("Memory: " + "; ".join(mem) + ".")
        builds = ", ".join(f"{s} {b['build_s']:.1f} s" for s, b in r["build"].items())
        lines.append(f"Builds: {builds}; vecgraph graphs identical across quantizers: {r['same_graph']}. "
                     f"Load average {r['load']['start']} → {r['load']['end']}.")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default="build/release/vecgraph.so")
    ap.add_argument("--peers-dir", default=os.path.join(BENCH_DIR, ".peers"))
    ap.add_argument("--datasets", default="50000x768,glove:100000")
    ap.add_argument("--quantizers", default="none,int8")
    ap.add_argument("--efs", default=DEFAULT_EFS)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-vectorlite", action="store_true")
    ap.add_argument("--write-results", metavar="FILE")
    args = ap.parse_args()
    args.efs = [int(e) for e in args.efs.split(",")]
    args.quantizers = [q.strip() for q in args.quantizers.split(",")]
    ext = resolve(args.ext)
    vl = os.path.join(args.peers_dir, "node_modules", PEERS["vectorlite"][0])
    vl = None if args.no_vectorlite or not os.path.exists(vl) else vl
    if vl is None and not args.no_vectorlite:
        log("vectorlite not installed (bench/install_peers.sh): vecgraph only")
    t0 = time.time()
    res = [bench(spec, args, ext, vl) for spec in args.datasets.split(",")]
    md = summarise(res, args)
    print(md)
    if args.write_results:
        with open(args.write_results, "a") as f:
            f.write(f"\n<!-- quantizer_bench.py {datetime.datetime.now().isoformat(timespec='minutes')}, "
                    f"{cpu_model()}, {platform.platform()}, {time.time() - t0:.0f} s -->\n")
            f.write("```sh\n/usr/bin/python3 " + " ".join(shlex.quote(a) for a in sys.argv) + "\n```\n\n" + md + "\n")


if __name__ == "__main__":
    main()
