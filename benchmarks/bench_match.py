#!/usr/bin/env python3
"""Time ``imgconv.match_template`` beside OpenCV and scikit-image, in one run.

The case is the shared peer harness's (``shared/bench/peers.py --only match``): a
1920x1080 smoothed random image, square templates of 16, 64 and 256 px cut from
it, grey and RGB.  Printed as a markdown table; ratios are imgconv / peer (below
1 means imgconv is faster), medians of ``--runs`` timed calls after a warm-up.
``--no-numba`` times the NumPy fallback (sets ``IMGCONV_NO_NUMBA=1``).  Also
prints imgconv's largest difference from OpenCV on windows with variance.

    python benchmarks/bench_match.py [--quick] [--runs N] [--no-numba]
"""
import argparse
import os
import time

import numpy as np


def timeit(fn, runs):
    """Median wall time of ``fn()`` in ms over ``runs`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def optional(name):
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="960x540 image")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-numba", action="store_true", help="time the NumPy fallback")
    parser.add_argument("--skimage-runs", type=int, default=1)
    args = parser.parse_args()
    if args.no_numba:
        os.environ["IMGCONV_NO_NUMBA"] = "1"
    from scipy import ndimage

    import imgconv

    cv2 = optional("cv2")
    skf = optional("skimage.feature")
    rng = np.random.default_rng(2)
    h, w = (540, 960) if args.quick else (1080, 1920)
    grey = ndimage.gaussian_filter(rng.random((h, w), dtype=np.float32), 2)
    rgb = np.stack([grey, np.roll(grey, 5, 0), np.roll(grey, 7, 1)], -1)
    print(f"### ZNCC template matching, image {w}x{h} float32 (ms, median of {args.runs})\n")
    print("| case | imgconv | OpenCV | scikit-image | imgconv/OpenCV | imgconv/skimage | max diff vs OpenCV |")
    print("|---|---|---|---|---|---|---|")
    for size in (16, 64, 256):
        for label, image in (("grey", grey), ("rgb", rgb)):
            template = image[100:100 + size, 200:200 + size].copy()
            t_ic = timeit(lambda: imgconv.match_template(image, template), args.runs)
            t_cv = t_sk = None
            diff = "—"
            if cv2 is not None:
                t_cv = timeit(lambda: cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED),
                              args.runs)
                ours = imgconv.match_template(image, template)
                theirs = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
                diff = f"{np.abs(ours - theirs).max():.1e}"
            if skf is not None:
                # scikit-image scores an RGB array as a 3-D volume (one output plane)
                t_sk = timeit(lambda: skf.match_template(image, template), args.skimage_runs)
            cells = [f"{label} {size}px", fmt(t_ic), fmt(t_cv), fmt(t_sk),
                     ratio(t_ic, t_cv), ratio(t_ic, t_sk), diff]
            print("| " + " | ".join(cells) + " |", flush=True)


def fmt(ms):
    return "—" if ms is None else f"{ms:.1f}"


def ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}"


if __name__ == "__main__":
    main()
