#!/usr/bin/env python3
"""Plots paisparse_bench results (Google Benchmark JSON) as PNG files.

    python3 bench/plot.py out/bench.json [more.json ...] -o out/plots

Writes, for whatever the inputs contain (missing sets are skipped):
  speedup_vs_cusparse.png  paisparse speedup over the best cuSPARSE CSR
                           algorithm vs sparsity, one subplot per shape, one
                           line per N (colour; N = 1 is SpMV), value type
                           (marker), row distribution and SpMM layout (line
                           style), log y
  speedup_vs_cublas.png    the same over dense cuBLAS
  floor_fraction.png       achieved fraction of the 16-bit-index byte floor
                           vs sparsity, one subplot per shape
  breakeven_vs_cublas.png  per N, the sparsity from which paisparse beats
                           dense cuBLAS (at it and every higher sparsity
                           measured), one line per shape and one for all
                           shapes; also printed as a table
  real_weights_scatter.png DLMC, N = 1: paisparse vs cuSPARSE time per
                           matrix, log-log with the y = x line
  real_weights_scatter_n<N>.png  the same for DLMC SpMM cases (N > 1)
Times are CUDA-graph replay unless --mode stream. Needs python3, numpy and
matplotlib only.
"""

import argparse
import json
import math
import os
import re
import sys
from collections import defaultdict

from results import NAME_SUFFIXES, beats_from


def load_runs(paths):
    """Every successful per-iteration run of the given JSON files, as dicts."""
    runs = []
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)  # Python's json reads NaN / Infinity as Google Benchmark writes them
        except (OSError, ValueError) as e:
            print(f"plot.py: skipping {path}: {e}", file=sys.stderr)
            continue
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            run = parse_run(b)
            if run is not None:
                run["source"] = path
                runs.append(run)
    return runs


def counter(b, key):
    v = b.get(key)
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


LAYOUTS = ("llm", "row")


def parse_run(b):
    """Splits a benchmark name into fields: spmv/fp16/lognormal/12288x12288/s0.99,
    spmm/fp16/lognormal/12288x12288/s0.99/n32/llm, spmv/fp16/dlmc/<path>,
    spmm/fp16/dlmc/<path>/n32/llm."""
    name = b.get("run_name") or b.get("name", "")
    parts = [p for p in name.split("/") if p and not p.startswith(NAME_SUFFIXES)]
    if len(parts) < 3 or parts[0] not in ("spmv", "spmm"):
        return None
    run = {
        "name": "/".join(parts),
        "op": parts[0],
        "type": parts[1],
        "kind": parts[2],  # uniform, lognormal, dlmc, file
        "N": int(counter(b, "N") or 1),
        "layout": "",
        "sparsity": counter(b, "sparsity"),
        "shape": None,
        "path": None,
    }
    rest = parts[3:]
    if run["op"] == "spmm" and len(rest) >= 2 and rest[-1] in LAYOUTS and re.fullmatch(r"n\d+", rest[-2]):
        run["layout"] = rest[-1]
        if counter(b, "N") is None:
            run["N"] = int(rest[-2][1:])
        rest = rest[:-2]
    if run["kind"] in ("uniform", "lognormal") and len(rest) >= 2:
        run["shape"] = rest[0]
        if run["sparsity"] is None and rest[1].startswith("s"):
            try:
                run["sparsity"] = float(rest[1][1:])
            except ValueError:
                pass
    elif run["kind"] in ("dlmc", "file"):
        run["path"] = "/".join(rest)
    for key in ("paisparse_us", "paisparse_graph_us", "cusparse_us", "cusparse_graph_us", "cublas_us",
                "cublas_graph_us", "floor_us", "nnz", "rows", "cols"):
        run[key] = counter(b, key)
    if run["shape"] is None and run["rows"] and run["cols"]:
        run["dims"] = f"{int(run['rows'])}x{int(run['cols'])}"
    return run


def ratio(num, den):
    if num is None or den is None or den <= 0:
        return None
    return num / den


def metric(run, what, mode):
    """speedup_cusparse, speedup_cublas, floor_fraction, paisparse_us, cusparse_us for a timing mode."""
    sfx = "_graph_us" if mode == "graph" else "_us"
    ps = run.get("paisparse" + sfx)
    if what == "speedup_cusparse":
        return ratio(run.get("cusparse" + sfx), ps)
    if what == "speedup_cublas":
        return ratio(run.get("cublas" + sfx), ps)
    if what == "floor_fraction":
        return ratio(run.get("floor_us"), ps)
    if what == "paisparse_us":
        return ps
    if what == "cusparse_us":
        return run.get("cusparse" + sfx)
    raise ValueError(what)


def geomean(values):
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def shape_key(shape):
    try:
        r, c = (int(x) for x in shape.lower().split("x"))
        return (r * c, r, c)
    except ValueError:
        return (0, 0, 0)


N_COLORS = ["tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink"]
TYPE_MARKERS = {"fp16": "o", "bf16": "s", "fp32": "^"}
LINE_STYLES = {("lognormal", ""): "-", ("uniform", ""): "--", ("lognormal", "llm"): "-", ("uniform", "llm"): "--",
               ("lognormal", "row"): ":", ("uniform", "row"): "-."}
N_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def readable_log_axis(axis, plt):
    """Log axis ticks at 1, 2, 5 x 10^k written as plain numbers."""
    from matplotlib import ticker
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def plot_per_shape(runs, what, mode, out_path, ylabel, title, log_y, plt, np, ref_line=None):
    synthetic = [r for r in runs if r["shape"] and r["sparsity"] is not None]
    series = defaultdict(lambda: defaultdict(list))  # shape -> (N, type, dist, layout) -> [(sparsity, value)]
    for r in synthetic:
        v = metric(r, what, mode)
        if v is not None:
            series[r["shape"]][(r["N"], r["type"], r["kind"], r["layout"])].append((r["sparsity"], v))
    if not series:
        print(f"plot.py: no synthetic cases with {what} ({mode}): {os.path.basename(out_path)} not written")
        return False
    shapes = sorted(series, key=shape_key)
    ncols = min(4, len(shapes))
    nrows = (len(shapes) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False, sharey=log_y)
    all_n = sorted({k[0] for s in series.values() for k in s})
    layouts = {k[3] for s in series.values() for k in s if k[3]}
    handles = {}
    for ax, shape in zip(axes.flat, shapes):
        for key in sorted(series[shape]):
            n, typ, dist, layout = key
            pts = defaultdict(list)
            for s, v in series[shape][key]:
                pts[s].append(v)
            xs = np.array(sorted(pts))
            ys = np.array([geomean(pts[s]) for s in xs])
            label = f"N={n} {typ} {dist}" + (f" {layout}" if layout and len(layouts) > 1 else "")
            (line,) = ax.plot(xs, ys, LINE_STYLES.get((dist, layout), ":"), color=N_COLORS[all_n.index(n) % len(N_COLORS)],
                              marker=TYPE_MARKERS.get(typ, "x"), markersize=4, label=label)
            handles[label] = line
        if ref_line is not None:
            ax.axhline(ref_line, color="black", linewidth=0.8, alpha=0.6)
        if log_y:
            ax.set_yscale("log")
            readable_log_axis(ax.yaxis, plt)
        ax.set_title(shape, fontsize=10)
        ax.set_xlabel("sparsity")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.flat[len(shapes):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(ylabel)
    fig.suptitle(f"{title} ({mode} timing)")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
               ncol=min(6, len(handles)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * ((len(handles) - 1) // 6), 1, 0.96))
    fig.savefig(out_path, dpi=130)
    plt.close(fig)
    print(f"plot.py: wrote {out_path}")
    return True


def plot_breakeven(runs, mode, out_path, plt, np):
    """Per N, the sparsity from which paisparse beats dense cuBLAS; also printed."""
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # (type, dist, layout) -> shape -> s -> [x]
    for r in runs:
        if not r["shape"] or r["sparsity"] is None:
            continue
        x = metric(r, "speedup_cublas", mode)
        if x is not None:
            data[(r["type"], r["kind"], r["layout"] or "llm")][r["shape"]][(r["N"], round(r["sparsity"], 4))].append(x)
    if not data:
        print(f"plot.py: no synthetic cases with cuBLAS times: {os.path.basename(out_path)} not written")
        return False
    keys = sorted(data)
    ncols = min(3, len(keys))
    nrows = (len(keys) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(7.0, 5.2 * ncols), 4.2 * nrows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    print(f"plot.py: sparsity from which paisparse beats dense cuBLAS ({mode} timing; '<=': at the lowest measured)")
    for ax, key in zip(axes.flat, keys):
        per_shape = data[key]
        ns = sorted({n for pts in per_shape.values() for n, _ in pts})
        lowest = min(s for pts in per_shape.values() for _, s in pts)
        def curve(pts_of_n):
            ys = []
            for n in ns:
                pts = pts_of_n(n)
                s = beats_from(pts) if pts else None
                ys.append(s if s is not None else (1.0 if pts else float("nan")))
            return ys
        shapes = sorted(per_shape, key=shape_key)
        cmap = plt.get_cmap("tab10")
        for i, shape in enumerate(shapes):
            pts = per_shape[shape]
            ys = curve(lambda n: {s: v for (nn, s), v in pts.items() if nn == n})
            jitter = 1 + 0.04 * (i - (len(shapes) - 1) / 2)  # shapes with equal values stay visible
            ax.plot([n * jitter for n in ns], ys, "-", marker="o", markersize=4, color=cmap(i % 10), label=shape,
                    alpha=0.8)
        merged = defaultdict(list)
        for pts in per_shape.values():
            for k, v in pts.items():
                merged[k].extend(v)
        ys = curve(lambda n: {s: v for (nn, s), v in merged.items() if nn == n})
        ax.plot(ns, ys, "-", color="black", linewidth=2.2, marker="s", label="all shapes", zorder=1)
        for n, y in zip(ns, ys):
            lowest_n = min(s for (nn, s) in merged if nn == n)
            txt = "never" if y == 1.0 else ("<= " if y == lowest_n else "") + f"{y:g}"
            print(f"  {key[0]} {key[1]} {key[2]} N={n}: {txt}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_ylim(min(lowest, 0.5) - 0.02, 1.01)
        ax.axhline(lowest, color="gray", linewidth=0.8, linestyle=":")
        ax.set_xlabel("N (tokens)")
        ax.set_ylabel("sparsity from which paisparse wins")
        ax.set_title(f"{key[0]}, {key[1]} rows, {key[2]} layout\n(1.0: never; dotted: lowest measured)", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Sparsity from which paisparse beats dense cuBLAS ({mode} timing)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(out_path, dpi=130)
    plt.close(fig)
    print(f"plot.py: wrote {out_path}")
    return True


def plot_dlmc(runs, mode, out_path, plt, np, n=1):
    dlmc = [r for r in runs if r["kind"] in ("dlmc", "file") and r["N"] == n]
    pts = [(metric(r, "cusparse_us", mode), metric(r, "paisparse_us", mode), r) for r in dlmc]
    pts = [(x, y, r) for x, y, r in pts if x and y]
    if not pts:
        print(f"plot.py: no DLMC cases: {os.path.basename(out_path)} not written")
        return False

    def group(r):  # e.g. transformer/magnitude_pruning
        p = (r["path"] or "").split("/")
        return "/".join(p[:2]) if len(p) >= 3 else r["kind"]

    groups = sorted({group(r) for _, _, r in pts})
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    for gi, g in enumerate(groups):
        for ti, typ in enumerate(sorted({r["type"] for _, _, r in pts})):
            sel = [(x, y) for x, y, r in pts if group(r) == g and r["type"] == typ]
            if sel:
                a = np.array(sel)
                ax.scatter(a[:, 0], a[:, 1], s=14, alpha=0.75, color=cmap(gi % 10),
                           marker=N_MARKERS[ti % len(N_MARKERS)], label=f"{g} {typ}")
    lo = min(min(x, y) for x, y, _ in pts) / 1.3
    hi = max(max(x, y) for x, y, _ in pts) * 1.3
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, label="y = x (equal time)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    readable_log_axis(ax.xaxis, plt)
    readable_log_axis(ax.yaxis, plt)
    ax.set_xlabel("cuSPARSE best CSR algorithm, us per call")
    ax.set_ylabel("paisparse (tuned), us per call")
    speedups = [x / y for x, y, _ in pts]
    what = "SpMV" if n == 1 else f"SpMM, N = {n}"
    ax.set_title(f"DLMC {what} ({mode} timing): {len(pts)} matrices, geomean speedup {geomean(speedups):.2f}x\n"
                 f"below the line: paisparse faster", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out_path, dpi=130)
    plt.close(fig)
    print(f"plot.py: wrote {out_path}")
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+", help="Google Benchmark JSON files (--benchmark_out=... --benchmark_out_format=json)")
    ap.add_argument("-o", "--out", default="plots", help="output folder (created; default: plots)")
    ap.add_argument("--mode", choices=("graph", "stream"), default="graph",
                    help="which timing the plots use (default: graph replay)")
    ap.add_argument("--types", default="", help="comma-separated value types to keep (default: all)")
    args = ap.parse_args(argv)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:
        print(f"plot.py: needs numpy and matplotlib ({e})", file=sys.stderr)
        return 1

    runs = load_runs(args.json)
    if args.types:
        keep = {t.strip() for t in args.types.split(",") if t.strip()}
        runs = [r for r in runs if r["type"] in keep]
    if not runs:
        print("plot.py: no successful runs in the input", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    wrote = 0
    wrote += plot_per_shape(runs, "speedup_cusparse", args.mode, os.path.join(args.out, "speedup_vs_cusparse.png"),
                            "speedup over cuSPARSE", "paisparse vs best cuSPARSE CSR algorithm", True, plt, np,
                            ref_line=1.0)
    wrote += plot_per_shape(runs, "speedup_cublas", args.mode, os.path.join(args.out, "speedup_vs_cublas.png"),
                            "speedup over cuBLAS", "paisparse vs dense cuBLAS", True, plt, np, ref_line=1.0)
    wrote += plot_per_shape(runs, "floor_fraction", args.mode, os.path.join(args.out, "floor_fraction.png"),
                            "fraction of byte floor", "paisparse: byte floor (16-bit indices) / time", False, plt,
                            np, ref_line=1.0)
    wrote += plot_breakeven(runs, args.mode, os.path.join(args.out, "breakeven_vs_cublas.png"), plt, np)
    for n in sorted({r["N"] for r in runs if r["kind"] in ("dlmc", "file")}) or [1]:
        name = "real_weights_scatter.png" if n == 1 else f"real_weights_scatter_n{n}.png"
        wrote += plot_dlmc(runs, args.mode, os.path.join(args.out, name), plt, np, n)
    print(f"plot.py: {len(runs)} runs, {wrote} figure(s) in {args.out}")
    return 0 if wrote else 1


if __name__ == "__main__":
    sys.exit(main())
