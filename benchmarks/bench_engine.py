#!/usr/bin/env python3
"""Time imgconv.convolve beside scipy.ndimage and OpenCV on one 4K RGB image, in one run.

    python benchmarks/bench_engine.py              # 3840x2160x3, kernels 3..63, ratios
    python benchmarks/bench_engine.py --quick      # 960x540x3
    python benchmarks/bench_engine.py --calibrate  # every method forced: data for planner.py
    python benchmarks/bench_engine.py --memory     # peak memory above the input, per kernel

Ratios are imgconv / peer (below 1 = imgconv faster): medians of --runs runs.
Not part of the test suite: machines here are shared and noisy, so compare
ratios from one run, never times across runs.
"""
import argparse
import time

import numpy as np

import imgconv


def timeit(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def gaussian(k):
    s = (k - 1) / 6
    x = np.arange(k) - k // 2
    g = np.exp(-x * x / (2 * s * s))
    return np.outer(g, g) / g.sum() ** 2


def kernels(sizes):
    rng = np.random.default_rng(1)
    out = {}
    for k in sizes:
        m = rng.random((k, k))
        out[f"dense {k}x{k}"] = (m / m.sum()).astype(np.float32)
    for k in sizes:
        out[f"gaussian {k}x{k}"] = gaussian(k).astype(np.float32)
    return out


def peers():
    try:
        import cv2
    except ImportError:
        cv2 = None
    from scipy import ndimage
    return cv2, ndimage


def compare(img, ks, runs):
    cv2, ndimage = peers()
    h, w, c = img.shape
    print(f"\n### {w}x{h}x{c} float32, mode reflect, correlation (ms, median of {runs})\n")
    print("| kernel | imgconv auto | method | OpenCV filter2D | scipy.ndimage | imgconv/OpenCV | imgconv/ndimage |")
    print("|---|---|---|---|---|---|---|")
    for name, k in ks.items():
        plan = imgconv.explain(img, k, correlate=True)
        t_ic = timeit(lambda: imgconv.convolve(img, k, correlate=True), runs)
        t_cv = timeit(lambda: cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT), runs) if cv2 else None
        t_nd = None
        if k.shape[0] <= 15:  # larger ones take minutes in scipy
            t_nd = timeit(lambda: [ndimage.correlate(img[..., c], k, mode="reflect") for c in range(img.shape[2])], 1)
        r = lambda a, b: "—" if b is None else f"{a / b:.2f}"  # noqa: E731
        f = lambda t: "—" if t is None else f"{t:.0f}"  # noqa: E731
        print(f"| {name} | {t_ic:.0f} | {plan.method} | {f(t_cv)} | {f(t_nd)} | {r(t_ic, t_cv)} | {r(t_ic, t_nd)} |",
              flush=True)


def cpu_ms(fn, runs):
    """Median process CPU time: less sensitive than wall time to other load on a shared machine."""
    fn()
    ts = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return float(np.median(ts)) * 1e3


def calibrate(img, runs):
    """Fit the planner's constants: every method forced, one thread, CPU time, least squares.

    direct:    t = px * (a + b * taps)          separable: t = px * (a + b * rank * (h + w))
    fft:       t = C * work * unit + px * c     (work = tiles * n log2 n, from fft.tile_plan)

    With IMGCONV_NO_NUMBA=1 (NumPy's code, COSTS_PLAIN) separable is fitted per rank component:
    t / rank = px * (pass + tap * (h + C * w)).
    """
    from imgconv.engine.fft import tile_plan
    from imgconv.settings import current, enter

    enter(threads=1)
    H, W, C = img.shape
    px = H * W * C
    rng = np.random.default_rng(5)
    rows = {"direct": [], "separable": [], "fft": []}
    print(f"\n### calibration, one thread, CPU ms, {W}x{H}x{C}\n")
    print("| kernel | method | ms | ns per px |\n|---|---|---|---|")
    for k in (3, 5, 7, 9, 13):
        m = rng.random((k, k))
        t = cpu_ms(lambda: imgconv.convolve(img, m, method="direct"), runs)
        rows["direct"].append((k * k, t))
        print(f"| dense {k} | direct | {t:.0f} | {t * 1e6 / px:.2f} |", flush=True)
    for k in (3, 9, 17, 33, 65):
        for r in (1, 3):
            m = sum(np.outer(rng.random(k), rng.random(k)) for _ in range(r))
            t = cpu_ms(lambda: imgconv.convolve(img, m, method="separable"), runs)
            rows["separable"].append((r * 2 * k, t) if current().compiled else (k + C * k, t / r))
            print(f"| rank {r} {k} | separable | {t:.0f} | {t * 1e6 / px:.2f} |", flush=True)
    for k in (9, 15, 31, 63):
        m = rng.random((k, k))
        work = tile_plan((H, W), (k, k))[2]
        t = cpu_ms(lambda: imgconv.convolve(img, m, method="fft"), runs)
        rows["fft"].append((C * work / px, t))
        print(f"| dense {k} | fft | {t:.0f} | {t * 1e6 / px:.2f} |", flush=True)
    print("\nfitted constants (ns per pixel-channel; paste into imgconv/engine/planner.py):")
    for name, data in rows.items():
        x = np.array([d[0] for d in data], float)
        y = np.array([d[1] for d in data], float) * 1e6 / px
        (b, a), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
        label = {"direct": "per tap", "separable": "per 1-D tap", "fft": "per n log2 n unit"}[name]
        print(f"  {name}: {a:.3f} per px + {b:.4f} {label}")


def memory(img, ks):
    import tracemalloc
    print("\n### peak memory above the input (tracemalloc), in units of the image's size\n")
    print("| kernel | method | peak / image |")
    print("|---|---|---|")
    for name, k in ks.items():
        tracemalloc.start()
        imgconv.convolve(img, k)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"| {name} | {imgconv.explain(img, k).method} | {peak / img.nbytes:.2f} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--calibrate", action="store_true")
    p.add_argument("--memory", action="store_true")
    p.add_argument("--sizes", default="3,5,9,15,31,63")
    a = p.parse_args()
    h, w = (540, 960) if a.quick else (2160, 3840)
    img = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    ks = kernels([int(s) for s in a.sizes.split(",")])
    from imgconv.engine import warm_up
    from imgconv.settings import current
    warm_up()  # a long-running process pays the compiled loops' load once; time the steady state
    print("compiled loops (numba):", "yes" if current().compiled else "no", "| threads:", current().threads)
    if a.calibrate:
        calibrate(img, a.runs)
    elif a.memory:
        memory(img, ks)
    else:
        compare(img, ks, a.runs)


if __name__ == "__main__":
    main()
