#!/usr/bin/env python3
"""Peak finding on a noise score map: the k-d tree suppression against the former quadratic loop.

``imgconv match noise.png t.png -t -1 -n 100000000`` keeps every local maximum, so on noise a
2000 x 2000 map gives hundreds of thousands of peaks.  For maps of growing size this prints,
in one process, the seconds of:

* the former greedy suppression, one pass over all peaks for each accepted one (the
  reference of ``tests/test_hostile_cli.py``), and of the k-d tree one now in
  :func:`imgconv.match.peaks._greedy_suppression`, on the same peaks (same results);
* all of :func:`imgconv.match.find_matches` (local maxima, suppression, the batched
  sub-pixel refinement).

    python benchmarks/bench_peaks.py [--sizes 250 500 1000 2000] [--template 4]

The quadratic loop is skipped above ``--quadratic-max`` peaks (it grows as n^2).
"""
import argparse
import time

import numpy as np


def quadratic_suppression(cx, cy, radius, max_matches):
    alive = np.ones(len(cx), bool)
    kept = []
    while len(kept) < max_matches and alive.any():
        best = int(np.argmax(alive))
        kept.append(best)
        alive[best] = False
        alive &= ~((np.abs(cy - cy[best]) < radius[best]) & (np.abs(cx - cx[best]) < radius[best]))
    return kept


def seconds(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000])
    p.add_argument("--template", type=int, default=4)
    p.add_argument("--quadratic-max", type=int, default=500_000)
    a = p.parse_args()
    from imgconv.match import find_matches
    from imgconv.match.peaks import _greedy_suppression, _local_maxima

    rng = np.random.default_rng(0)
    _greedy_suppression(np.zeros(2), np.zeros(2), np.ones(2), 2)  # imports SciPy's k-d tree, untimed
    print(f"template {a.template} x {a.template} (suppression radius {a.template / 2:g} px)")
    print("| score map | peaks | kept | quadratic loop | k-d tree | ratio | find_matches |")
    print("|---|---|---|---|---|---|---|")
    for n in a.sizes:
        scores = rng.uniform(-1, 1, (n, n))
        ys, xs = _local_maxima(scores, -1.0)
        half = (a.template - 1) / 2
        cx, cy, radius = xs + half, ys + half, np.full(len(xs), a.template / 2)
        fast, kept = seconds(_greedy_suppression, cx, cy, radius, 10**8)
        if len(xs) <= a.quadratic_max:
            slow, reference = seconds(quadratic_suppression, cx, cy, radius, 10**8)
            assert kept.tolist() == reference
            slow_text, ratio = f"{slow:.2f} s", f"{slow / fast:.0f}x"
        else:
            slow_text, ratio = "(skipped)", "-"
        total, _ = seconds(lambda: find_matches(scores, (a.template, a.template), max_matches=10**8, threshold=-1))
        print(f"| {n} x {n} | {len(xs)} | {len(kept)} | {slow_text} | {fast:.2f} s | {ratio} | {total:.2f} s |")


if __name__ == "__main__":
    main()
