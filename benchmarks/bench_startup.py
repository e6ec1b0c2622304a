#!/usr/bin/env python3
"""What a one-off command pays before it filters: start-up and the compiled loops' first use.

Each figure is the median over fresh processes (``--runs``) of:

* ``imgconv --help`` and ``imgconv kernels``, whole processes;
* loading the compiled loops in a process that has NumPy and SciPy already: importing numba
  and ``imgconv.engine._loops`` and the first call of each loop (machine code from numba's
  on-disk cache). This is what :data:`imgconv.settings.LOAD_MS` should hold; then the
  volume loops (``imgconv.engine._loops3d``) after them;
* the same into an empty numba cache (``NUMBA_CACHE_DIR`` a new folder): the first
  compilation after an install, :data:`imgconv.settings.COMPILE_MS` (wall and CPU seconds);
* the first command after an install (an empty cache), ``imgconv filter`` of a 1920x1080
  photograph with a Gaussian, beside the same command with ``IMGCONV_NO_NUMBA=1`` (SciPy
  only), and how long after that first command started the background compilation it
  launched had filled the cache (the next command then loads the loops).

    python benchmarks/bench_startup.py [--runs 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = r"""
import time
import numpy as np, scipy.ndimage, scipy.fft
t0, c0 = time.perf_counter(), time.process_time()
from imgconv.engine import _loops, convolve
from imgconv.settings import use
img = np.zeros((16, 16, 3), np.float32)
with use(compiled=True):
    convolve(img, np.ones((3, 3)), method="direct")
    convolve(img, np.ones((3, 3)), method="separable")
print((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
t0, c0 = time.perf_counter(), time.process_time()
from imgconv.engine import _loops3d
with use(compiled=True):
    convolve(np.zeros((4, 16, 16)), np.ones((3, 3, 3)), method="direct")
    convolve(np.zeros((4, 16, 16)), np.ones((3, 3, 3)), method="separable")
print((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
"""


def wall(args, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load_ms(env=None):
    """(wall ms, CPU ms) of LOAD in a fresh process: the 2-D loops, then the volume loops after them."""
    out = subprocess.run([sys.executable, "-c", LOAD], check=True, capture_output=True, text=True, env=env).stdout
    wall_2d, cpu_2d, wall_3d, cpu_3d = map(float, out.split())
    return wall_2d, cpu_2d, wall_3d, cpu_3d


def first_command(photo, folder, runs):
    """Median wall seconds of the first command on an empty cache, of the SciPy-only command, and
    of the time from the first command's start until its background compilation filled the cache."""
    from imgconv.loopcache import marker_name

    first, scipy_only, filled = [], [], []
    for i in range(runs):
        cache = Path(folder) / f"cache{i}"
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        args = [sys.executable, "-m", "imgconv", "filter", str(photo), "-k", "gaussian:sigma=2", "-q", "--overwrite"]
        t0 = time.perf_counter()
        subprocess.run(args + ["-o", str(Path(folder) / "a.png")], check=True, env=env)
        first.append(time.perf_counter() - t0)
        while not list(cache.glob("*/" + marker_name())) and time.perf_counter() - t0 < 300:
            time.sleep(0.05)
        filled.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(args + ["-o", str(Path(folder) / "b.png")], check=True, env=dict(env, IMGCONV_NO_NUMBA="1"))
        scipy_only.append(time.perf_counter() - t0)
    return statistics.median(first), statistics.median(scipy_only), statistics.median(filled)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    load_ms()  # fill numba's cache
    loads = [load_ms() for _ in range(a.runs)]
    with tempfile.TemporaryDirectory() as folder:
        compiles = [load_ms(dict(os.environ, NUMBA_CACHE_DIR=str(Path(folder) / f"c{i}"))) for i in range(a.runs)]
        from PIL import Image

        photo = Path(folder) / "photo.png"
        Image.open(Path(__file__).resolve().parent.parent / "samples" / "coffee.png").convert("RGB").resize(
            (1920, 1080), Image.LANCZOS).save(photo)
        first, scipy_only, filled = first_command(photo, folder, a.runs)
    print("| what | median |")
    print("|---|---|")
    print(f"| `imgconv --help` | {wall([sys.executable, '-m', 'imgconv', '--help'], a.runs):.2f} s |")
    print(f"| `imgconv kernels` | {wall([sys.executable, '-m', 'imgconv', 'kernels'], a.runs):.2f} s |")
    for name, runs in (("import + first calls (cached)", loads), ("first compilation (empty cache)", compiles)):
        for what, at in (("compiled loops", 0), ("then the volume loops", 2)):
            print(f"| {what}: {name}, wall / CPU | {statistics.median(c[at] for c in runs):.0f} ms / "
                  f"{statistics.median(c[at + 1] for c in runs):.0f} ms |")
    print(f"| first `imgconv filter` 1920x1080 after an install (empty cache) | {first:.2f} s |")
    print(f"| the same with IMGCONV_NO_NUMBA=1 (SciPy only) | {scipy_only:.2f} s |")
    print(f"| from that first command's start to the loops compiled in the background | {filled:.2f} s |")


if __name__ == "__main__":
    main()
