"""Bad-but-legal shapes (issue 11, items 20-22): peak memory and seconds of whole ``imgconv`` runs.

Each case runs ``python -m imgconv`` in a fresh process and reads that process's peak
resident memory (``VmHWM``) at exit. ``--baseline DIR`` runs the same cases with another
checkout's ``imgconv`` first on the path (e.g. a clone of ``main``) and prints the ratios.

Usage::

    python benchmarks/bench_thin_shapes.py [--baseline /path/to/other/checkout] [--workdir DIR]

Cases: ``deconvolve`` of a 100 x 5000 grey picture with a 1 x 2049 PSF; forced
``--method fft`` (and ``direct``, ``auto``) on a 1 x 100000 row with a 4097 x 1 kernel;
a TOML kernel of 64 ``[[kernels]]`` on a 200 x 150 picture.  Not part of the test suite.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_MEASURED = """
import atexit, runpy, sys

def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\nPEAK_KIB {peak}\\n")

atexit.register(report)
sys.argv[0] = "imgconv"
runpy.run_module("imgconv", run_name="__main__", alter_sys=True)
"""


def make_inputs(folder):
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (100, 5000), dtype=np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 256, (1, 100000), dtype=np.uint8)).save(folder / "row.png")
    Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(folder / "small.png")
    np.save(folder / "line.npy", np.ones((1, 2049)))
    np.save(folder / "column.npy", np.ones((4097, 1)) / 4097)
    tables = "".join(f"[[kernels]]\nmatrix = [[{i % 5}, -1], [0, 1]]\n" for i in range(64))
    (folder / "many.toml").write_text('combine = "magnitude"\n' + tables)


CASES = {
    "deconvolve 100x5000, PSF 1x2049": ["deconvolve", "wide.png", "--psf", "line.npy"],
    "filter 1x100000, 4097x1, --method fft": ["filter", "row.png", "-k", "column.npy", "--method", "fft"],
    "filter 1x100000, 4097x1, --method direct": ["filter", "row.png", "-k", "column.npy", "--method", "direct"],
    "filter 1x100000, 4097x1, --method auto": ["filter", "row.png", "-k", "column.npy"],
    "filter 200x150 RGB, 64 [[kernels]]": ["filter", "small.png", "-k", "many.toml"],
}


def run(case, folder, path_first):
    env = dict(os.environ, PYTHONPATH=str(path_first))
    args = [*CASES[case], "-o", str(folder / "out.npy"), "--overwrite", "--depth", "float", "-q"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURED, *args], cwd=folder, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KIB ")]
    if done.returncode != 0 or not peak:
        return None, seconds, done.stderr.strip().splitlines()[:1]
    return int(peak[-1].split()[1]) / 1024, seconds, []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--workdir", type=Path)
    options = parser.parse_args()
    folder = options.workdir or Path(tempfile.mkdtemp(prefix="bench-thin-"))
    folder.mkdir(parents=True, exist_ok=True)
    make_inputs(folder)
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs\n")
    header = "| case | peak MiB | s |" + (" baseline peak MiB | baseline s | peak ratio |" if options.baseline else "")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for case in CASES:
        peak, seconds, error = run(case, folder, ROOT)
        row = f"| {case} | {peak:.0f} | {seconds:.1f} |" if peak else f"| {case} | failed {error} | |"
        if options.baseline:
            base_peak, base_seconds, base_error = run(case, folder, options.baseline.resolve())
            if base_peak and peak:
                row += f" {base_peak:.0f} | {base_seconds:.1f} | {base_peak / peak:.1f}x |"
            else:
                row += f" failed {base_error} | | |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
