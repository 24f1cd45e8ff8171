#!/usr/bin/python3
"""Plots the executor's per-batch decisions written by vecgraph_dispatch_accuracy.

    /usr/bin/python3 bench/plot_dispatch.py dispatch.csv [bench/dispatch_decisions.png]

One panel per scenario: x = batch index, y = batch size (log), colour = where the batch ran
(cpu / device / split), a red x on each decision that was not within 5 % of the cheaper backend.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "dispatch.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else "bench/dispatch_decisions.png"
    rows = defaultdict(list)
    with open(src) as f:
        for r in csv.DictReader(f):
            rows[r["scenario"]].append(r)
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 2.4 * len(rows)), sharex=True)
    colours = {"cpu": "tab:blue", "device": "tab:orange", "split": "tab:green"}
    for ax, (name, rs) in zip(axes, rows.items()):
        for choice, colour in colours.items():
            xs = [int(r["batch"]) for r in rs if r["choice"] == choice]
            ys = [float(r["work"]) for r in rs if r["choice"] == choice]
            ax.scatter(xs, ys, s=4, c=colour, label=choice)
        bad = [r for r in rs if r["correct"] == "0"]
        ax.scatter([int(r["batch"]) for r in bad], [float(r["work"]) for r in bad], s=18, marker="x", c="red",
                   label="not the cheaper backend")
        acc = 100.0 * sum(r["correct"] == "1" for r in rs[20:]) / max(1, len(rs[20:]))
        ax.set_yscale("log")
        ax.set_ylabel("work units")
        ax.set_title(f"{name}: {acc:.1f} % correct after 20 warm-up batches", fontsize=9)
        if "drift" in name:
            ax.axvline(500, color="grey", linestyle="--", linewidth=1)
    axes[0].legend(loc="upper right", fontsize=7, ncol=4)
    axes[-1].set_xlabel("batch")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
