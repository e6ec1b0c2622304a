#!/usr/bin/env python3
"""Volumes: imgconv beside scipy.ndimage and scikit-image on real-photograph stacks, in one run.

Rows (medians of --runs runs after a warm-up run; the machine is shared, so compare the
ratios of one run, never times across runs):

1. 3-D Gaussian sigma=2 on a 128 x 512 x 512 float32 volume: ``imgconv.convolve`` with
   ``gaussian:sigma=2,size=17,dims=3`` (17 taps = scipy's default truncate=4) against
   ``scipy.ndimage.gaussian_filter(volume, 2)``; time and largest difference.
2. Richardson-Lucy, 30 iterations, 64 x 256 x 256 float32, 3-D Gaussian PSF sigma=2
   (13 x 13 x 13): ``imgconv.deconvolve(method="richardson-lucy")`` against
   ``skimage.restoration.richardson_lucy(num_iter=30)``; time and PSNR against the sharp
   volume (Gaussian noise sigma=0.005 added to the blurred one, seeded).
3. Peak memory above the input (tracemalloc) of both imgconv calls, in multiples of the
   float32 volume.

The volumes come from ``samples/camera.png`` (CC0): row 1 is a through-focus series of
the photograph (``samples/make_stack.py``'s rule at 128 planes of 512 x 512), row 2 a
stack of 64 overlapping 256 x 256 crops of it, each shifted by (2, 3) pixels from the last
(a sharp volume with real texture in every plane).

    python benchmarks/bench_volume.py              # the three rows (about 2 minutes on 2 cores)
    python benchmarks/bench_volume.py --calibrate  # the 3-D loops' constants for nd_planner.py
"""
import argparse
import importlib.util
import time
import tracemalloc
from pathlib import Path

import numpy as np

import imgconv

ROOT = Path(__file__).resolve().parent.parent


def _make_stack():
    spec = importlib.util.spec_from_file_location("make_stack", ROOT / "samples" / "make_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gaussian_volume():
    """128 x 512 x 512: the through-focus series of the full-size photograph."""
    make = _make_stack()
    return make.through_focus(make.camera(scale_steps=0), planes=128, focus=64, growth=0.08)


def sharp_volume():
    """64 x 256 x 256: shifted crops of the photograph."""
    photo = _make_stack().camera(scale_steps=0).astype(np.float32)
    return np.stack([photo[2 * z:2 * z + 256, 3 * z:3 * z + 256] for z in range(64)])


def timed(fn, runs):
    fn()  # warm-up: compiled loops loaded, memory pages touched once
    wall, cpu, out = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return out, float(np.median(wall)), float(np.median(cpu))


def peak(fn, nbytes):
    tracemalloc.start()
    fn()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top / nbytes


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


def gaussian_row(runs):
    from scipy import ndimage

    volume = gaussian_volume()
    kernel = imgconv.load_kernel("gaussian:sigma=2,size=17,dims=3").matrices[0]
    ours, t_ours, c_ours = timed(lambda: imgconv.convolve(volume, kernel), runs)
    ref, t_ref, c_ref = timed(lambda: ndimage.gaussian_filter(volume, 2), runs)
    diff = float(np.abs(ours - ref).max())
    memory = peak(lambda: imgconv.convolve(volume, kernel), volume.nbytes)
    print(f"| 3-D Gaussian sigma=2, 128x512x512 float32 | {t_ours:.2f} ({c_ours:.2f}) | scipy.ndimage.gaussian_filter "
          f"{t_ref:.2f} ({c_ref:.2f}) | {t_ref / t_ours:.1f}x ({c_ref / c_ours:.1f}x) | max difference {diff:.1e} "
          f"| {memory:.2f}x the volume |", flush=True)


def richardson_lucy_row(runs):
    from scipy import ndimage
    from skimage import restoration

    sharp = sharp_volume()
    psf = imgconv.load_kernel("gaussian:sigma=2,dims=3").matrices[0]
    blurred = ndimage.convolve(sharp, psf, mode="reflect")
    observed = (blurred + np.random.default_rng(0).normal(0, 0.005, blurred.shape)).astype(np.float32)

    from imgconv.deconvolve import deconvolve

    def ours():
        return deconvolve(observed, psf, method="richardson-lucy", iterations=30)

    mine, t_ours, c_ours = timed(ours, runs)
    theirs, t_sk, c_sk = timed(lambda: restoration.richardson_lucy(observed, psf.astype(np.float32),
                                                                     num_iter=30), runs)
    memory = peak(ours, observed.nbytes)
    print(f"| Richardson-Lucy 30 it., 64x256x256, Gaussian PSF 13x13x13 | {t_ours:.2f} ({c_ours:.2f}) "
          f"| skimage.restoration.richardson_lucy {t_sk:.2f} ({c_sk:.2f}) | {t_sk / t_ours:.1f}x "
          f"({c_sk / c_ours:.1f}x) | PSNR {psnr(mine, sharp):.1f} dB vs {psnr(theirs, sharp):.1f} dB "
          f"(blurred {psnr(observed, sharp):.1f} dB) | {memory:.2f}x the volume |", flush=True)


def main_rows(runs):
    print("| task | imgconv s (CPU s) | peer s (CPU s) | speed-up wall (CPU) | quality | imgconv peak memory |")
    print("|---|---|---|---|---|---|")
    gaussian_row(runs)
    richardson_lucy_row(runs)


def cpu_ms(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return float(np.median(ts)) * 1e3


def calibrate(runs):
    """The 3-D loops' constants: every method forced, one thread, CPU time, least squares.

    direct:    t = vox * (a + b * taps)      separable: t = vox * (a * components + b * taps)
    """
    from imgconv.engine.nd_separable import axis_factors
    from imgconv.settings import enter

    enter(threads=1)
    volume = sharp_volume()
    vox = volume.size
    rng = np.random.default_rng(5)
    rows = {"direct": [], "separable": []}
    print(f"\n### calibration, one thread, CPU ms, {'x'.join(map(str, volume.shape[::-1]))}\n")
    print("| kernel | method | ms | ns per voxel |\n|---|---|---|---|")
    for k in (3, 5, 7):
        m = rng.random((k, k, k))
        t = cpu_ms(lambda: imgconv.convolve(volume, m, method="direct"), runs)
        rows["direct"].append((1.0, k ** 3, t))
        print(f"| dense {k}^3 | direct | {t:.0f} | {t * 1e6 / vox:.2f} |", flush=True)
    for k in (3, 9, 15):
        for r in (1, 2):
            m = sum(np.einsum("i,j,k->ijk", *(rng.random(k) for _ in range(3))) for _ in range(r))
            f = axis_factors(m)
            t = cpu_ms(lambda: imgconv.convolve(volume, m, method="separable"), runs)
            rows["separable"].append((f.rank, f.taps, t))
            print(f"| {r} triple(s) {k}^3 | separable | {t:.0f} | {t * 1e6 / vox:.2f} |", flush=True)
    for name, data in rows.items():
        a = np.array([[fixed, taps] for fixed, taps, _ in data], float) * vox
        t = np.array([ms for *_, ms in data]) * 1e6
        (c0, c1), *_ = np.linalg.lstsq(a, t, rcond=None)
        print(f"{name}: {c0:.3f} ns per voxel{' per component' if name == 'separable' else ''}, "
              f"{c1:.4f} ns per voxel per tap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calibrate", action="store_true", help="fit the 3-D planner constants")
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.runs)
    else:
        main_rows(args.runs)


if __name__ == "__main__":
    main()
