#!/usr/bin/python3
"""Exact scan over typed vector columns: rows/s of vec_topk per element type, and sqlite-vec's
int8 / bit scans on the same rows.

    /usr/bin/python3 bench/typed_scan_bench.py [--ext build/release/vecgraph.so] [--n 50000] [--dims 768]
                                               [--queries 5] [--passes 3] [--write-results FILE]

Data: --n clustered rows (numpy, seeded; 100 Gaussian centres + noise, L2-normalised) stored once
per type in one in-memory table: float32 (`e`), float16 (`vec_f16`), bfloat16 (`vec_bf16`),
int8 (`vec_quantize_int8(e, 0.25)`: the unit vectors' elements are small) and bit
(`vec_quantize_binary`). Each system runs `--queries` held-out queries per pass; a warm-up pass
first, then --passes timed passes with the systems interleaved inside each pass; the best pass
per system is reported as rows/s (rows scanned per second of wall time, one thread:
`vecgraph_config('threads', 1)`). Correctness: every typed vec_topk's ids are compared with
`ORDER BY vec_distance(...) LIMIT 10` over the same typed rows (must be equal, ties by id).

Systems:
  float32   SELECT vec_topk(id, e, ?, 10, 'l2') FROM t
  float16   SELECT vec_topk(id, h, vec_f16(vec_f32(?)), 10, 'l2') FROM t   (rows untagged: the query names the type;
                                                                           vec_f32 tags the float32 query bytes so that
                                                                           vec_f16 converts them)
  bfloat16  SELECT vec_topk(id, b, vec_bf16(vec_f32(?)), 10, 'l2') FROM t
  int8      SELECT vec_topk(id, i8, vec_quantize_int8(?, 0.25), 10, 'l2') FROM t
  bit       SELECT vec_topk(id, bits, vec_quantize_binary(?), 10) FROM t          (hamming)
  sqlite-vec int8  SELECT id FROM t ORDER BY vec_distance_l2(vec_int8(i8), vec_int8(?)) LIMIT 10
  sqlite-vec bit   SELECT id FROM t ORDER BY vec_distance_hamming(vec_bit(bits), vec_bit(?)) LIMIT 10
  (sqlite-vec in its own connection of the same process: it defines functions of the same names,
  and the extension loaded last would win; its query bytes are vecgraph's quantized query)
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import sqlite3
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def data(n, dims, nq, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, dims)).astype(np.float32)
    x = centres[rng.integers(0, 100, n + nq)] + 0.3 * rng.standard_normal((n + nq, dims)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default=os.path.join(HERE, "..", "build", "release", "vecgraph.so"))
    ap.add_argument("--vec0", default=os.path.join(HERE, ".peers", "node_modules", "sqlite-vec-linux-x64", "vec0.so"))
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--dims", type=int, default=768)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--write-results", metavar="FILE")
    a = ap.parse_args()

    base, queries = data(a.n, a.dims, a.queries)
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(os.path.abspath(a.ext))
    db.execute("SELECT vecgraph_config('threads', 1)")
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB, h BLOB, b BLOB, i8 BLOB, bits BLOB)")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO t VALUES (?1, ?2, vec_f16(vec_f32(?2)), vec_bf16(vec_f32(?2)), vec_quantize_int8(?2, 0.25), "
        "vec_quantize_binary(?2))",
        ((i, base[i].tobytes()) for i in range(a.n)))
    db.execute("COMMIT")
    # sqlite-vec defines functions of the same names (vec_f32, vec_int8, vec_quantize_int8, …): the
    # extension loaded last wins, so it gets its own connection with the same int8 / bit bytes.
    have_vec0 = os.path.exists(a.vec0)
    vdb = None
    if have_vec0:
        vdb = sqlite3.connect(":memory:")
        vdb.enable_load_extension(True)
        vdb.load_extension(os.path.abspath(a.vec0))
        vdb.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, i8 BLOB, bits BLOB)")
        vdb.execute("BEGIN")
        vdb.executemany("INSERT INTO t VALUES (?, ?, ?)", db.execute("SELECT id, i8, bits FROM t"))
        vdb.execute("COMMIT")

    systems = [
        ("float32", "SELECT vec_topk(id, e, ?, 10, 'l2') FROM t",
         "SELECT id FROM t ORDER BY vec_distance(e, ?1, 'l2'), id LIMIT 10"),
        ("float16", "SELECT vec_topk(id, h, vec_f16(vec_f32(?)), 10, 'l2') FROM t",
         "SELECT id FROM t ORDER BY vec_distance(vec_f16(h), vec_f16(vec_f32(?1)), 'l2'), id LIMIT 10"),
        ("bfloat16", "SELECT vec_topk(id, b, vec_bf16(vec_f32(?)), 10, 'l2') FROM t",
         "SELECT id FROM t ORDER BY vec_distance(vec_bf16(b), vec_bf16(vec_f32(?1)), 'l2'), id LIMIT 10"),
        ("int8", "SELECT vec_topk(id, i8, vec_quantize_int8(?, 0.25), 10, 'l2') FROM t",
         "SELECT id FROM t ORDER BY vec_distance(vec_int8(i8), vec_quantize_int8(?1, 0.25), 'l2'), id LIMIT 10"),
        ("bit", "SELECT vec_topk(id, bits, vec_quantize_binary(?), 10) FROM t",
         "SELECT id FROM t ORDER BY vec_distance(vec_bit(bits), vec_quantize_binary(?1)), id LIMIT 10"),
    ]
    if have_vec0:
        systems += [
            ("sqlite-vec int8", "SELECT id FROM t ORDER BY vec_distance_l2(vec_int8(i8), vec_int8(?)) LIMIT 10", None),
            ("sqlite-vec bit", "SELECT id FROM t ORDER BY vec_distance_hamming(vec_bit(bits), vec_bit(?)) LIMIT 10", None),
        ]
    # Correctness of the typed vec_topk against ORDER BY vec_distance on the same typed rows.
    for name, sql, ref in systems:
        if ref is None:
            continue
        for q in queries[:2]:
            got = [r[0] for r in json.loads(db.execute(sql, (q.tobytes(),)).fetchone()[0])]
            want = [r[0] for r in db.execute(ref, (q.tobytes(),))]
            if got != want:
                print(f"MISMATCH {name}: {got} vs {want}", file=sys.stderr)
                return 2
    qi8 = [db.execute("SELECT vec_quantize_int8(?, 0.25)", (q.tobytes(),)).fetchone()[0] for q in queries]
    qbit = [db.execute("SELECT vec_quantize_binary(?)", (q.tobytes(),)).fetchone()[0] for q in queries]
    best = {name: float("inf") for name, _, _ in systems}
    load0 = os.getloadavg()
    for p in range(a.passes + 1):  # pass 0 warms up
        for name, sql, _ in systems:
            conn = vdb if name.startswith("sqlite-vec") else db
            params = qi8 if name == "sqlite-vec int8" else qbit if name == "sqlite-vec bit" else [q.tobytes() for q in queries]
            t0 = time.perf_counter()
            for q in params:
                conn.execute(sql, (q,)).fetchall()
            dt = (time.perf_counter() - t0) / len(queries)
            if p > 0:
                best[name] = min(best[name], dt)
    load1 = os.getloadavg()
    f32 = a.n / best["float32"]
    simd = db.execute("SELECT json_extract(vecgraph_info(), '$.simd')").fetchone()[0]
    lines = [f"\n## Typed exact scan, {a.n}×{a.dims}, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC\n",
             "`/usr/bin/python3 bench/typed_scan_bench.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]) + "`\n",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; load {load0[0]:.2f} → {load1[0]:.2f}; "
             f"simd {simd}; one thread; "
             f"{a.queries} queries per pass, best of {a.passes} passes after a warm-up, systems interleaved\n",
             "| system | bytes per row | ms per query | rows/s | ÷ float32 vec_topk |", "|---|---|---|---|---|"]
    row_bytes = {"float32": 4 * a.dims, "float16": 2 * a.dims, "bfloat16": 2 * a.dims, "int8": a.dims,
                 "bit": a.dims // 8, "sqlite-vec int8": a.dims, "sqlite-vec bit": a.dims // 8}
    for name, _, _ in systems:
        rps = a.n / best[name]
        lines.append(f"| {name} | {row_bytes[name]} | {best[name] * 1e3:.2f} | {rps:,.0f} | {rps / f32:.2f} |")
    out = "\n".join(lines) + "\n"
    print(out)
    if a.write_results:
        with open(a.write_results, "a") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
