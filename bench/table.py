#!/usr/bin/env python3
"""Markdown tables from paisparse_bench JSON (Google Benchmark --benchmark_out).

    python3 bench/table.py out/bench_issue2.json [more.json ...]

Prints, for whatever the inputs hold:
  - SpMV (N = 1): one row per case (graph-replay and stream times, speedups,
    byte floor);
  - SpMM (N > 1): one row per case, with N, the best cuSPARSE algorithm in the
    same memory layout and in either layout, cuBLAS, GB/s and tuning time;
  - geometric-mean speedups per (type, sparsity, N);
  - for the synthetic sets, the sparsity from which paisparse beats dense
    cuBLAS, per (type, N, layout, row distribution) and shape: the lowest
    sparsity at and above which every measured one is a win (graph replay).
Standard library only.
"""
import json
import math
import re
import sys
from collections import defaultdict

from results import NAME_SUFFIXES, beats_from

SPMM_ALGS = {0: "DEFAULT", 1: "ALG1", 2: "ALG2", 3: "ALG3"}


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for b in json.load(f).get("benchmarks", []):
                if b.get("run_type", "iteration") != "iteration":
                    continue
                if "paisparse_us" in b or "error_occurred" in b:
                    rows.append(b)
    return rows


def case_name(b):
    return "/".join(p for p in b["name"].split("/") if p and not p.startswith(NAME_SUFFIXES))


def fmt(v, nd=2):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def geomean(v):
    v = [x for x in v if x and x > 0]
    return math.exp(sum(map(math.log, v)) / len(v)) if v else float("nan")


def n_of(b, name):
    if b.get("N"):
        return int(b["N"])
    m = re.search(r"/n(\d+)(/|$)", name)
    return int(m.group(1)) if m else 1


def layout_of(name):
    parts = name.split("/")
    return parts[-1] if parts[0] == "spmm" and parts[-1] in ("llm", "row") else ""


def spmv_table(rows):
    print("| case | nnz | paisparse graph / stream us | no-overlap graph us | cuSPARSE graph / stream us | cuBLAS graph us "
          "| x cuSPARSE (graph) | x cuBLAS (graph) | floor us | floor / time | config |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for b in rows:
        name = case_name(b)
        if b.get("error_occurred"):
            print(f"| {name} | | ERROR: {b.get('error_message', '')} | | | | | | | | |")
            continue
        g = b.get
        print(f"| {name} | {g('nnz', 0) / 1e6:.2f}M | {fmt(g('paisparse_graph_us'))} / {fmt(g('paisparse_us'))} "
              f"| {fmt(g('paisparse_nopdl_graph_us'))} | {fmt(g('cusparse_graph_us'))} / {fmt(g('cusparse_us'))} "
              f"| {fmt(g('cublas_graph_us'), 1)} | {fmt(g('speedup_vs_cusparse'))} | {fmt(g('speedup_vs_cublas'), 1)} "
              f"| {fmt(g('floor_us'))} | {fmt(g('floor_fraction'))} | `{g('label', '')}` |")


def spmm_table(rows):
    print("| case | N | nnz | paisparse graph / stream us | no-overlap graph us | cuSPARSE graph / stream us (alg) "
          "| cuSPARSE either layout, graph us | cuBLAS graph / stream us | x cuSPARSE (graph) | x cuBLAS (graph) "
          "| floor us | floor / time | GB/s | config | tune s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in rows:
        name = case_name(b)
        n = n_of(b, name)
        if b.get("error_occurred"):
            print(f"| {name} | {n} | | ERROR: {b.get('error_message', '')} | | | | | | | | | | | |")
            continue
        g = b.get
        alg = g("cusparse_graph_alg")
        alg = SPMM_ALGS.get(int(alg), "?") if alg is not None else "-"
        any_alg = g("cusparse_any_graph_alg")
        any_txt = fmt(g("cusparse_any_graph_us"))
        if any_alg is not None:
            any_txt += f" ({SPMM_ALGS.get(int(any_alg), '?')}, {'row' if g('cusparse_any_graph_row_major') else 'col'})"
        print(f"| {name} | {n} | {g('nnz', 0) / 1e6:.2f}M | {fmt(g('paisparse_graph_us'))} / {fmt(g('paisparse_us'))} "
              f"| {fmt(g('paisparse_nopdl_graph_us'))} | {fmt(g('cusparse_graph_us'))} / {fmt(g('cusparse_us'))} ({alg}) "
              f"| {any_txt} "
              f"| {fmt(g('cublas_graph_us'))} / {fmt(g('cublas_us'))} | {fmt(g('speedup_vs_cusparse'))} "
              f"| {fmt(g('speedup_vs_cublas'))} | {fmt(g('floor_us'))} | {fmt(g('floor_fraction'))} "
              f"| {fmt(g('GB/s'), 0)} | `{g('label', '')}` | {fmt(g('tune_s'), 1)} |")


def geomean_table(rows):
    groups = defaultdict(lambda: defaultdict(list))
    for b in rows:
        if b.get("error_occurred"):
            continue
        name = case_name(b)
        g = b.get
        parts = name.split("/")
        sset = f"s{g('sparsity', float('nan')):.2f}" if "sparsity" in b else ""
        if parts[2] in ("dlmc", "file"):  # real weights apart from the synthetic layers
            sset = f"{parts[2]} {sset}".strip()
        key = (parts[1], sset, n_of(b, name), layout_of(name))
        groups[key]["cusp"].append(g("speedup_vs_cusparse"))
        groups[key]["cusp_s"].append(g("speedup_vs_cusparse_stream"))
        groups[key]["cusp_any"].append(g("speedup_vs_cusparse_any"))
        groups[key]["cublas"].append(g("speedup_vs_cublas"))
        if g("paisparse_nopdl_graph_us") and g("cusparse_graph_us"):
            groups[key]["cusp_nopdl"].append(g("cusparse_graph_us") / g("paisparse_nopdl_graph_us"))
        if g("paisparse_nopdl_graph_us") and g("cublas_graph_us"):
            groups[key]["cublas_nopdl"].append(g("cublas_graph_us") / g("paisparse_nopdl_graph_us"))
        groups[key]["floor"].append(g("floor_fraction"))
    if not groups:
        return
    print()
    print("| type | set | N | layout | cases | x cuSPARSE graph | x cuSPARSE stream | x cuSPARSE, no overlap (graph) "
          "| x cuSPARSE either layout (graph) | x cuBLAS graph | x cuBLAS, no overlap (graph) | floor / time (geomean) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (t, s, n, lay), d in sorted(groups.items()):
        print(f"| {t} | {s} | {n} | {lay or '-'} | {len(d['cusp'])} | {fmt(geomean(d['cusp']))} "
              f"| {fmt(geomean(d['cusp_s']))} | {fmt(geomean(d['cusp_nopdl']))} | {fmt(geomean(d['cusp_any']))} "
              f"| {fmt(geomean(d['cublas']))} | {fmt(geomean(d['cublas_nopdl']))} | {fmt(geomean(d['floor']))} |")


def breakeven_table(rows):
    """Sparsity from which paisparse beats dense cuBLAS, per (type, N, layout, dist) and shape."""
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # key -> shape -> sparsity -> [x]
    for b in rows:
        if b.get("error_occurred"):
            continue
        name = case_name(b)
        parts = name.split("/")
        if len(parts) < 5 or parts[2] not in ("uniform", "lognormal"):
            continue
        x = b.get("speedup_vs_cublas")
        s = b.get("sparsity")
        if x is None or s is None or not math.isfinite(x):
            continue
        data[(parts[1], n_of(b, name), layout_of(name), parts[2])][parts[3]][round(s, 4)].append(x)
    if not data:
        return
    def area(sh):
        r, c = (int(v) for v in sh.split("x"))
        return (r * c, r, c)
    shapes = sorted({sh for d in data.values() for sh in d}, key=area)
    print()
    print("Sparsity from which paisparse is faster than dense cuBLAS (graph replay) at that and every higher "
          "sparsity measured; `<= s`: already at the lowest sparsity measured; `never`: not even at the highest.")
    print()
    print("| type | N | layout | rows | all shapes | " + " | ".join(shapes) + " |")
    print("|---|---|---|---|---|" + "---|" * len(shapes))
    for (t, n, lay, dist), per_shape in sorted(data.items()):
        merged = defaultdict(list)
        for pts in per_shape.values():
            for s, xs in pts.items():
                merged[s].extend(xs)
        def cell(pts):
            if not pts:
                return ""
            s = beats_from(pts)
            if s is None:
                return "never"
            return f"<= {s:g}" if s == min(pts) else f"{s:g}"  # the lowest measured wins already
        print(f"| {t} | {n} | {lay or '-'} | {dist} | {cell(merged)} | "
              + " | ".join(cell(per_shape.get(sh, {})) for sh in shapes) + " |")


def main():
    rows = load(sys.argv[1:])
    spmv = [b for b in rows if case_name(b).startswith("spmv/")]
    spmm = [b for b in rows if case_name(b).startswith("spmm/")]
    if spmv:
        spmv_table(spmv)
    if spmm:
        if spmv:
            print()
        spmm_table(spmm)
    geomean_table(rows)
    breakeven_table(rows)


if __name__ == "__main__":
    main()
