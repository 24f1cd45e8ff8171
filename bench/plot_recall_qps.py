#!/usr/bin/python3
"""Recall@k vs QPS (log scale) curves from bench/hnsw_sql_bench.py's raw results.

    /usr/bin/python3 bench/plot_recall_qps.py [bench/.data/hnsw_sql_bench.json] [--out-dir bench]

Writes one PNG per dataset: recall_qps_<slug>.png (100k×128 → recall_qps_100k.png, 50k×768 →
recall_qps_50k_d768.png). Each curve is one system, one point per ef (labelled); hnswlib's batched
knn_query (no per-query Python call) is drawn dashed, for reference; the SQL systems' "join" runs
(all queries in one statement, no Python call per query) dotted.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
STYLE = {
    "vecgraph": dict(color="tab:blue", marker="o", ls="-", label="vecgraph hnsw_knn (SQL)"),
    "vectorlite": dict(color="tab:orange", marker="s", ls="-", label="vectorlite (SQL)"),
    "hnswlib": dict(color="tab:green", marker="^", ls="-", label="hnswlib, knn_query per query (Python)"),
    "hnswlib-batch": dict(color="tab:green", marker="^", ls="--", alpha=0.5, mfc="none",
                          label="hnswlib, batched knn_query, 10 queries per call (reference)"),
    "vecgraph-join": dict(color="tab:blue", marker="o", ls=":", mfc="none",
                          label="vecgraph, all queries in one SQL statement (join)"),
    "vectorlite-join": dict(color="tab:orange", marker="s", ls=":", mfc="none",
                            label="vectorlite, all queries in one SQL statement (join)"),
}


def plot(res, out_dir, target, machine):
    curves = res.get("curves")
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name in ("vecgraph", "vectorlite", "vecgraph-join", "vectorlite-join", "hnswlib", "hnswlib-batch"):
        pts = curves.get(name)
        if not pts:
            continue
        st = dict(STYLE[name])
        ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], **st)
        if name in ("vecgraph", "vectorlite", "hnswlib"):
            for p in pts:
                ax.annotate(str(p["ef"]), (p["recall"], p["qps"]), textcoords="offset points", xytext=(3, 3),
                            fontsize=7, color=st["color"])
    ax.axvline(target, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10 (vs exact cosine brute force)")
    ax.set_ylabel("queries per second, 1 thread (log)")
    la = res.get("sweep", {}).get("loadavg", {}).get("sweep", "?")
    ax.set_title(f"{res['dataset']} clustered, k=10, M=16, ef_construction=200 — points labelled with ef\n"
                 f"{machine}; load avg {la}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path = os.path.join(out_dir, f"recall_qps_{res['slug']}.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="?", default=os.path.join(BENCH_DIR, ".data", "hnsw_sql_bench.json"))
    ap.add_argument("--out-dir", default=BENCH_DIR)
    a = ap.parse_args()
    with open(a.json) as f:
        doc = json.load(f)
    written = [p for r in doc["results"] if (p := plot(r, a.out_dir, doc.get("target_recall", 0.95),
                                                        doc.get("machine", "")))]
    if not written:
        sys.exit("no recall/QPS curves in " + a.json)
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()
