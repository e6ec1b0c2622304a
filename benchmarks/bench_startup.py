#!/usr/bin/env python3
"""What a one-off command pays before it filters: start-up and the compiled loops' first use.

Each figure is the median over fresh processes (``--runs``) of:

* ``imgconv --help`` and ``imgconv kernels``, whole processes;
* loading the compiled loops in a process that has NumPy and SciPy already: importing numba
  and ``imgconv.engine._loops`` and the first call of each loop (machine code from numba's
  on-disk cache). This is what :data:`imgconv.settings.LOAD_MS` should hold.

    python benchmarks/bench_startup.py [--runs 5]
"""
import argparse
import statistics
import subprocess
import sys
import time

LOAD = r"""
import time
import numpy as np, scipy.ndimage, scipy.fft
t0 = time.perf_counter()
from imgconv.engine import _loops, convolve
from imgconv.settings import use
img = np.zeros((16, 16, 3), np.float32)
with use(compiled=True):
    convolve(img, np.ones((3, 3)), method="direct")
    convolve(img, np.ones((3, 3)), method="separable")
print((time.perf_counter() - t0) * 1000)
"""


def wall(args, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    subprocess.run([sys.executable, "-c", LOAD], check=True, capture_output=True)  # fill numba's cache
    loads = [float(subprocess.run([sys.executable, "-c", LOAD], check=True, capture_output=True,
                                  text=True).stdout) for _ in range(a.runs)]
    print("| what | median |")
    print("|---|---|")
    print(f"| `imgconv --help` | {wall([sys.executable, '-m', 'imgconv', '--help'], a.runs):.2f} s |")
    print(f"| `imgconv kernels` | {wall([sys.executable, '-m', 'imgconv', 'kernels'], a.runs):.2f} s |")
    print(f"| compiled loops: import + first calls (cached) | {statistics.median(loads):.0f} ms |")


if __name__ == "__main__":
    main()
