#!/usr/bin/env python3
"""Markdown tables from paisparse_bench JSON (Google Benchmark --benchmark_out).

    python3 bench/table.py out/bench_issue2.json [more.json ...]

Prints one row per case (graph-replay and stream times, speedups, byte floor)
and the geometric-mean speedups per (type, sparsity). Standard library only.
"""
import json
import math
import sys
from collections import defaultdict


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for b in json.load(f).get("benchmarks", []):
                if "paisparse_us" in b or "error_occurred" in b:
                    rows.append(b)
    return rows


def fmt(v, nd=2):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def geomean(v):
    v = [x for x in v if x and x > 0]
    return math.exp(sum(map(math.log, v)) / len(v)) if v else float("nan")


def main():
    rows = load(sys.argv[1:])
    print("| case | nnz | paisparse graph / stream us | no-overlap graph us | cuSPARSE graph / stream us | cuBLAS graph us "
          "| x cuSPARSE (graph) | x cuBLAS (graph) | floor us | floor / time | config |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    groups = defaultdict(lambda: defaultdict(list))
    for b in rows:
        name = b["name"].split("/iterations")[0]
        if b.get("error_occurred"):
            print(f"| {name} | | ERROR: {b.get('error_message', '')} | | | | | | | | |")
            continue
        g = b.get
        print(f"| {name} | {g('nnz', 0) / 1e6:.2f}M | {fmt(g('paisparse_graph_us'))} / {fmt(g('paisparse_us'))} "
              f"| {fmt(g('paisparse_nopdl_graph_us'))} | {fmt(g('cusparse_graph_us'))} / {fmt(g('cusparse_us'))} "
              f"| {fmt(g('cublas_graph_us'), 1)} | {fmt(g('speedup_vs_cusparse'))} | {fmt(g('speedup_vs_cublas'), 1)} "
              f"| {fmt(g('floor_us'))} | {fmt(g('floor_fraction'))} | `{g('label', '')}` |")
        parts = name.split("/")
        key = (parts[1], f"s{g('sparsity', float('nan')):.2f}" if "sparsity" in b else parts[2])
        groups[key]["cusp"].append(g("speedup_vs_cusparse"))
        groups[key]["cusp_s"].append(g("speedup_vs_cusparse_stream"))
        groups[key]["cublas"].append(g("speedup_vs_cublas"))
        if g("paisparse_nopdl_graph_us") and g("cusparse_graph_us"):
            groups[key]["cusp_nopdl"].append(g("cusparse_graph_us") / g("paisparse_nopdl_graph_us"))
        groups[key]["floor"].append(g("floor_fraction"))
    print()
    print("| type | set | cases | x cuSPARSE graph | x cuSPARSE stream | x cuSPARSE, no overlap (graph) "
          "| x cuBLAS graph | floor / time (geomean) |")
    print("|---|---|---|---|---|---|---|---|")
    for (t, s), d in sorted(groups.items()):
        print(f"| {t} | {s} | {len(d['cusp'])} | {fmt(geomean(d['cusp']))} | {fmt(geomean(d['cusp_s']))} "
              f"| {fmt(geomean(d['cusp_nopdl']))} | {fmt(geomean(d['cublas']), 1)} | {fmt(geomean(d['floor']))} |")


if __name__ == "__main__":
    main()
