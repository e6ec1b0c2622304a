#!/usr/bin/env python3
"""Deconvolution quality and speed: imgconv beside scikit-image on the same inputs, in one run.

Real photographs (scikit-image's astronaut, RGB) at 1920x1080, made two ways:

* ``astronaut-up``: rows 112-399 of the 512x512 picture (a 16:9 crop) enlarged 3.75x
  with Pillow's Lanczos filter; smooth, as a defocused 1080p photo is;
* ``astronaut-tiled``: the picture mirror-tiled (``np.pad(mode="symmetric")``) to
  1920x1080, keeping its native fine detail;

and scikit-image's ``coffee`` (600x400) as it is. Each is blurred with
``scipy.ndimage.convolve(mode="reflect")`` by a Gaussian sigma=2 (13x13), a disc of
radius 5 (11x11) and a 15 px motion line at 30 degrees, then Gaussian noise
sigma=0.005 is added (seeded). Every method restores the same noisy input; PSNR is
against the sharp original over the whole image (borders included).

Peers: ``skimage.restoration.wiener(image, psf, balance=0.01)`` and
``richardson_lucy(image, psf, num_iter=30)``, channel by channel (they take 2-D
PSFs for 2-D images). imgconv: ``deconvolve`` with default settings (Wiener,
automatic balance) and ``method="richardson-lucy"`` with 30 iterations.

The last table is the Richardson-Lucy speed target alone: 30 iterations on astronaut-up
at 960x540 RGB with the Gaussian sigma=2 PSF, medians of ``--runs`` runs, beside
scikit-image fed float64 (as in the table above) and float32 (its fastest here).

    python benchmarks/bench_deconvolve.py            # all images (about 5 minutes on 2 cores)
    python benchmarks/bench_deconvolve.py --quick    # astronaut-up only
    python benchmarks/bench_deconvolve.py --rl-only  # the Richardson-Lucy target only
"""
import argparse
import time

import numpy as np
from scipy import ndimage


def gaussian_psf(sigma=2.0, size=13):
    x = np.arange(size) - size // 2
    g = np.exp(-x * x / (2 * sigma * sigma))
    return np.outer(g, g) / g.sum() ** 2


def disc_psf(radius=5):
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    d = (xx * xx + yy * yy <= radius * radius).astype(float)
    return d / d.sum()


def motion_psf(length=15, angle=30):
    k = np.zeros((length, length))
    c = length // 2
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c - t * np.sin(np.radians(angle)))), int(round(c + t * np.cos(np.radians(angle))))] = 1
    return k / k.sum()


PSFS = {"gaussian s=2 13x13": gaussian_psf(), "disc r=5": disc_psf(), "motion 15px 30deg": motion_psf()}


def images(quick):
    from PIL import Image
    from skimage import data

    astro = data.astronaut()
    up = Image.fromarray(astro[112:400]).resize((1920, 1080), Image.LANCZOS)
    yield "astronaut-up 1920x1080", np.asarray(up, np.float64) / 255
    if quick:
        return
    tiled = np.pad(astro, ((0, 1080 - 512), (0, 1920 - 512), (0, 0)), mode="symmetric")
    yield "astronaut-tiled 1920x1080", tiled.astype(np.float64) / 255
    yield "coffee 600x400", data.coffee().astype(np.float64) / 255


def per_channel(fn, image):
    return np.stack([fn(image[..., c]) for c in range(image.shape[2])], axis=-1)


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def median_seconds(fn, runs):
    fn()
    return float(np.median([timed(fn)[1] for _ in range(runs)]))


def richardson_lucy_target(runs):
    """Richardson-Lucy, 30 iterations, 960x540 RGB, Gaussian sigma=2: imgconv beside scikit-image."""
    from PIL import Image
    from skimage import data, restoration

    import imgconv

    up = Image.fromarray(data.astronaut()[112:400]).resize((960, 540), Image.LANCZOS)
    sharp = np.asarray(up, np.float64) / 255
    psf = PSFS["gaussian s=2 13x13"]
    observed = per_channel(lambda c: ndimage.convolve(c, psf, mode="reflect"), sharp)
    observed = observed + np.random.default_rng(0).normal(0, 0.005, observed.shape)
    obs32 = observed.astype(np.float32)
    ours = median_seconds(lambda: imgconv.deconvolve(obs32, psf, method="richardson-lucy", iterations=30), runs)
    theirs = {dtype: median_seconds(lambda d=dtype: per_channel(
        lambda c: restoration.richardson_lucy(c, psf.astype(d), num_iter=30), observed.astype(d)), runs)
        for dtype in (np.float64, np.float32)}
    print("\n| Richardson-Lucy 30 it, 960x540 RGB, Gaussian s=2 | imgconv s | skimage float64 s "
          "| skimage float32 s | speed-up (vs float64 / float32) |")
    print("|---|---|---|---|---|")
    print(f"| astronaut-up | {ours:.3f} | {theirs[np.float64]:.2f} | {theirs[np.float32]:.2f} "
          f"| {theirs[np.float64] / ours:.1f}x / {theirs[np.float32] / ours:.1f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="astronaut-up only")
    parser.add_argument("--rl-only", action="store_true", help="only the Richardson-Lucy target")
    parser.add_argument("--runs", type=int, default=3, help="runs per timing of the Richardson-Lucy target")
    args = parser.parse_args()
    if args.rl_only:
        richardson_lucy_target(args.runs)
        return

    from skimage import restoration

    import imgconv

    rng = np.random.default_rng(0)
    print("| image | PSF | blurred dB | imgconv wiener dB (s) | skimage wiener dB (s) "
          "| imgconv RL-30 dB (s) | skimage RL-30 dB (s) | RL speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for name, sharp in images(args.quick):
        for pname, psf in PSFS.items():
            blurred = per_channel(lambda c: ndimage.convolve(c, psf, mode="reflect"), sharp)
            observed = blurred + rng.normal(0, 0.005, blurred.shape)
            obs32 = observed.astype(np.float32)
            ours_w, t_ow = timed(lambda: imgconv.deconvolve(obs32, psf))
            sk_w, t_sw = timed(lambda: per_channel(lambda c: restoration.wiener(c, psf, 0.01), observed))
            ours_rl, t_orl = timed(lambda: imgconv.deconvolve(obs32, psf, method="richardson-lucy", iterations=30))
            sk_rl, t_srl = timed(lambda: per_channel(
                lambda c: restoration.richardson_lucy(c, psf, num_iter=30), observed))
            print(f"| {name} | {pname} | {psnr(observed, sharp):.1f} "
                  f"| {psnr(ours_w, sharp):.1f} ({t_ow:.2f}) | {psnr(sk_w, sharp):.1f} ({t_sw:.2f}) "
                  f"| {psnr(ours_rl, sharp):.1f} ({t_orl:.1f}) | {psnr(sk_rl, sharp):.1f} ({t_srl:.1f}) "
                  f"| {t_srl / t_orl:.1f}x |", flush=True)
    richardson_lucy_target(args.runs)


if __name__ == "__main__":
    main()
