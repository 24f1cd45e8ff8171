#!/usr/bin/env python3
"""bench/compare_builds.py — unfiltered k-NN of one table form, two builds of vecgraph.so.

Answers "is this build slower than that one on the same query?" (e.g. the current tree against
the release before a change), which a peer benchmark in one process cannot: two builds of the
same extension export the same symbols, so they cannot share a process. Instead:

  1. each build creates its own database from the same vectors (a datagen.py file: tables t, q)
     with the same DDL (default: the 0.1 form `hnsw_knn(dim=D, metric=M)`), in a fresh process;
  2. then --rounds rounds; each round runs one fresh process per build, in alternating order
     (A B, B A, A B, ...). A process loads its build, opens its database, runs every query once
     (warm-up: the index is loaded, caches are warm), then --passes timed passes;
  3. a query's latency for a build is its best over every pass of every round; QPS = queries /
     sum of those bests. Recall@k is against a float64 brute force (numpy), and the rows of the
     two builds are compared query by query.

  /usr/bin/python3 bench/compare_builds.py --a build/release/vecgraph.so --a-label current \\
      --b /tmp/vg-old/build/vecgraph.so --b-label 0.1 --data bench/.data/clustered_n100000_d128_s1.db

Prints a Markdown table (and --json). Run on a quiet machine; the load average is reported.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def connect(ext, path):
    con = sqlite3.connect(path)
    con.enable_load_extension(True)
    con.load_extension(ext)
    return con


def child_build(a):
    con = connect(a.ext, a.db)
    con.execute(f"ATTACH ? AS d", (a.data,))
    con.execute(f"CREATE VIRTUAL TABLE idx USING {a.ddl}")
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.execute("INSERT INTO idx(rowid, vector) SELECT id, e FROM d.t WHERE id <= ?", (a.n,))
    con.execute("COMMIT")
    print(json.dumps({"build_s": time.perf_counter() - t0}))


def child_run(a):
    con = connect(a.ext, a.db)
    con.execute("ATTACH ? AS d", (a.data,))
    qs = [r[0] for r in con.execute("SELECT e FROM d.q ORDER BY id LIMIT ?", (a.queries,))]
    sql = f"SELECT rowid, distance FROM idx WHERE vector MATCH ? AND k = {a.k}"
    rows = [[r[0] for r in con.execute(sql, (q,))] for q in qs]  # warm-up (loads the index)
    best = [float("inf")] * len(qs)
    pass_s = []
    for _ in range(a.passes):
        total = 0.0
        for i, q in enumerate(qs):
            t0 = time.perf_counter()
            con.execute(sql, (q,)).fetchall()
            dt = time.perf_counter() - t0
            total += dt
            best[i] = min(best[i], dt)
        pass_s.append(total)
    print(json.dumps({"best": best, "pass_s": pass_s, "rows": rows}))


def run_child(mode, ext, db, a):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--ext", ext, "--db", db,
           "--data", a.data, "--n", str(a.n), "--queries", str(a.queries), "--k", str(a.k),
           "--passes", str(a.passes), "--ddl", a.ddl]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{mode} with {ext} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def truth(a):
    import numpy as np
    con = sqlite3.connect(a.data)
    meta = dict(con.execute("SELECT key, value FROM meta"))
    dim = int(meta.get("dim", 0)) or None
    base = np.array([np.frombuffer(r[0], dtype=np.float32) for r in
                     con.execute("SELECT e FROM t WHERE id <= ? ORDER BY id", (a.n,))], dtype=np.float64)
    ids = np.array([r[0] for r in con.execute("SELECT id FROM t WHERE id <= ? ORDER BY id", (a.n,))])
    qs = np.array([np.frombuffer(r[0], dtype=np.float32) for r in
                   con.execute("SELECT e FROM q ORDER BY id LIMIT ?", (a.queries,))], dtype=np.float64)
    if a.metric == "cosine":
        base = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-300)
        qs = qs / np.maximum(np.linalg.norm(qs, axis=1, keepdims=True), 1e-300)
        d = -qs @ base.T
    else:
        d = (qs * qs).sum(1)[:, None] - 2 * qs @ base.T + (base * base).sum(1)[None, :]
    return [set(ids[np.argsort(row, kind="stable")[:a.k]].tolist()) for row in d], dim


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a"), p.add_argument("--b")
    p.add_argument("--a-label", default="A"), p.add_argument("--b-label", default="B")
    p.add_argument("--data", required=True, help="datagen.py database (tables t, q, meta)")
    p.add_argument("--n", type=int, default=10**9, help="rows of t (ids 1..n)")
    p.add_argument("--metric", default="l2", choices=["l2", "cosine"])
    p.add_argument("--ddl", default=None, help="USING clause (default: hnsw_knn(dim=D, metric=M))")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--work", default=None, help="folder for the two databases (default: a temp dir)")
    p.add_argument("--json", default=None)
    # internal
    p.add_argument("--child"), p.add_argument("--ext"), p.add_argument("--db")
    a = p.parse_args()
    if a.child == "build":
        return child_build(a)
    if a.child == "run":
        return child_run(a)
    want, dim = truth(a)
    if dim is None:
        con = sqlite3.connect(a.data)
        dim = len(con.execute("SELECT e FROM t LIMIT 1").fetchone()[0]) // 4
    if a.ddl is None:
        a.ddl = f"hnsw_knn(dim={dim}, metric={a.metric})"
    work = a.work or tempfile.mkdtemp(prefix="vg-compare-")
    os.makedirs(work, exist_ok=True)
    builds = [(a.a_label, os.path.abspath(a.a)), (a.b_label, os.path.abspath(a.b))]
    res = {}
    for label, ext in builds:
        db = os.path.join(work, f"{label}.db")
        if os.path.exists(db):
            os.remove(db)
        b = run_child("build", ext, db, a)
        res[label] = {"ext": ext, "db": db, "build_s": b["build_s"], "best": None, "round_qps": []}
        print(f"built {label}: {b['build_s']:.1f} s (load {loadavg()})", file=sys.stderr)
    for r in range(a.rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        for label, ext in order:
            out = run_child("run", ext, res[label]["db"], a)
            s = res[label]
            s["best"] = out["best"] if s["best"] is None else [min(x, y) for x, y in zip(s["best"], out["best"])]
            s["round_qps"].append(len(out["best"]) / min(out["pass_s"]))
            s["rows"] = out["rows"]
            print(f"round {r + 1} {label}: {s['round_qps'][-1]:.0f} QPS (load {loadavg()})", file=sys.stderr)
    lines = [f"| build | recall@{a.k} | QPS (best per query over {a.rounds} rounds × {a.passes} passes) | "
             f"QPS per round (best pass) |", "|---|---|---|---|"]
    for label, _ in builds:
        s = res[label]
        s["qps"] = len(s["best"]) / sum(s["best"])
        s["recall"] = statistics.mean(len(set(r) & w) / len(w) for r, w in zip(s["rows"], want))
        lines.append(f"| {label} | {s['recall']:.3f} | {s['qps']:.0f} | "
                     f"{', '.join(f'{x:.0f}' for x in s['round_qps'])} |")
    A, B = res[a.a_label], res[a.b_label]
    same = sum(x == y for x, y in zip(A["rows"], B["rows"]))
    lines.append("")
    lines.append(f"- {a.a_label} ÷ {a.b_label} QPS: {A['qps'] / B['qps']:.3f}; identical rows on {same} of "
                 f"{len(A['rows'])} queries; load at the end {loadavg()}")
    print("\n".join(lines))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in res.items()}, f, indent=1)


if __name__ == "__main__":
    main()
