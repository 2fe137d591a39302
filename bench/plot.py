#!/usr/bin/env python3
"""Plots paisparse_bench results (Google Benchmark JSON) as PNG files.

    python3 bench/plot.py out/bench_spmv.json [more.json ...] -o out/plots

Writes, for whatever the inputs contain (missing sets are skipped):
  speedup_vs_cusparse.png  paisparse speedup over the best cuSPARSE CSR
                           algorithm vs sparsity, one subplot per shape, one
                           line per (type, N, row distribution), log y
  speedup_vs_cublas.png    the same over dense cuBLAS
  floor_fraction.png       achieved fraction of the 16-bit-index byte floor
                           vs sparsity, one subplot per shape
  real_weights_scatter.png         DLMC: paisparse vs cuSPARSE time per matrix,
                           log-log with the y = x line
Times are CUDA-graph replay unless --mode stream. Needs python3, numpy and
matplotlib only.
"""

import argparse
import json
import math
import os
import sys
from collections import defaultdict

NAME_SUFFIXES = ("iterations:", "manual_time", "real_time", "repeats:", "threads:", "min_time:", "min_warmup_time:")


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


def parse_run(b):
    """Splits a benchmark name like spmv/fp16/lognormal/12288x12288/s0.99 into fields."""
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
        "sparsity": counter(b, "sparsity"),
        "shape": None,
        "path": None,
    }
    if run["kind"] in ("uniform", "lognormal") and len(parts) >= 5:
        run["shape"] = parts[3]
        if run["sparsity"] is None and parts[4].startswith("s"):
            try:
                run["sparsity"] = float(parts[4][1:])
            except ValueError:
                pass
        for p in parts[5:]:  # spmm cases may carry n<N>
            if p.startswith("n") and p[1:].isdigit():
                run["N"] = int(p[1:])
    elif run["kind"] in ("dlmc", "file"):
        run["path"] = "/".join(parts[3:])
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


TYPE_COLORS = {"fp16": "tab:blue", "bf16": "tab:green", "fp32": "tab:red"}
DIST_STYLES = {"lognormal": "-", "uniform": "--"}
N_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def readable_log_axis(axis, plt):
    """Log axis ticks at 1, 2, 5 x 10^k written as plain numbers."""
    from matplotlib import ticker
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def plot_per_shape(runs, what, mode, out_path, ylabel, title, log_y, plt, np, ref_line=None):
    synthetic = [r for r in runs if r["shape"] and r["sparsity"] is not None]
    series = defaultdict(lambda: defaultdict(list))  # shape -> (type, N, dist) -> [(sparsity, value)]
    for r in synthetic:
        v = metric(r, what, mode)
        if v is not None:
            series[r["shape"]][(r["type"], r["N"], r["kind"])].append((r["sparsity"], v))
    if not series:
        print(f"plot.py: no synthetic cases with {what} ({mode}): {os.path.basename(out_path)} not written")
        return False
    shapes = sorted(series, key=shape_key)
    ncols = min(4, len(shapes))
    nrows = (len(shapes) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False, sharey=log_y)
    all_n = sorted({k[1] for s in series.values() for k in s})
    handles = {}
    for ax, shape in zip(axes.flat, shapes):
        for key in sorted(series[shape]):
            typ, n, dist = key
            pts = defaultdict(list)
            for s, v in series[shape][key]:
                pts[s].append(v)
            xs = np.array(sorted(pts))
            ys = np.array([geomean(pts[s]) for s in xs])
            label = f"{typ} N={n} {dist}"
            (line,) = ax.plot(xs, ys, DIST_STYLES.get(dist, ":"), color=TYPE_COLORS.get(typ, "tab:gray"),
                              marker=N_MARKERS[all_n.index(n) % len(N_MARKERS)], markersize=4, label=label)
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


def plot_dlmc(runs, mode, out_path, plt, np):
    dlmc = [r for r in runs if r["kind"] in ("dlmc", "file")]
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
    ax.set_title(f"DLMC SpMV ({mode} timing): {len(pts)} matrices, geomean speedup {geomean(speedups):.2f}x\n"
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
    wrote += plot_dlmc(runs, args.mode, os.path.join(args.out, "real_weights_scatter.png"), plt, np)
    print(f"plot.py: {len(runs)} runs, {wrote} figure(s) in {args.out}")
    return 0 if wrote else 1


if __name__ == "__main__":
    sys.exit(main())
