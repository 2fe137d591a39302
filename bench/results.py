"""Pieces shared by bench/table.py and bench/plot.py (paisparse_bench JSON results).

Both scripts are run as `python3 bench/<script>.py`, which puts bench/ first on
the import path whatever the working directory, so they import this module by
its plain name. Standard library only.
"""

# Google Benchmark's run-name parts that are not part of a case's name.
NAME_SUFFIXES = ("iterations:", "manual_time", "real_time", "repeats:", "threads:", "min_time:", "min_warmup_time:")


def beats_from(points):
    """points: {sparsity: [speedup, ...]}; the lowest sparsity at and above which every speedup > 1, or None."""
    best = None
    for s in sorted(points, reverse=True):
        if all(x > 1 for x in points[s]):
            best = s
        else:
            break
    return best
