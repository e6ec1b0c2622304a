"""The builders of the parametric presets: box, gaussian, unsharp, log, motion, disc.

Each ``build_NAME(**parameters)`` returns ``(matrices, description)``; the
parameters and their defaults are listed in :mod:`imgconv.kernels.presets`, which
imports this module only when such a kernel is built. Matrices are written for true
convolution; angles (``motion:angle=``) are in degrees, counter-clockwise from +x as
seen on screen (rows grow downwards).

Examples
--------
>>> (m,), description = build_box(size=2)
>>> m.tolist()
[[0.25, 0.25], [0.25, 0.25]]
"""

from __future__ import annotations

import math

import numpy as np

from imgconv.errors import KernelError
from imgconv.kernels.model import MAX_KERNEL_ELEMENTS, MAX_KERNEL_SIDE, _check_shape, _count


def _gaussian_1d(sigma, size):
    x = np.arange(size, dtype=np.float64) - size // 2
    with np.errstate(over="ignore", under="ignore"):
        g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _auto_size(preset, sigma, size, reach):
    """The given odd size, or ``2 * ceil(reach * sigma) + 1``; bounded."""
    if size is None:
        half = math.ceil(reach * sigma)
        if half > MAX_KERNEL_SIDE:
            raise KernelError(
                f"{preset}: kernel too large (sigma={sigma:g} needs {_count(2 * half + 1)}x{_count(2 * half + 1)}; "
                f"at most {MAX_KERNEL_SIDE} rows or columns and {MAX_KERNEL_ELEMENTS} elements)"
            )
        size = 2 * half + 1
    _check_shape(size, size, preset)
    return size


def build_box(size=3):
    m = np.full((size, size), 1.0 / (size * size))
    note = "" if size % 2 else "; even size: the anchor is (size//2, size//2), shifting by half a pixel"
    return (m,), f"Box (mean) filter {size}x{size}, sum 1, separable{note}"


def build_gaussian(sigma=1.0, size=None):
    size = _auto_size("gaussian", sigma, size, 3.0)
    g = _gaussian_1d(sigma, size)
    return (np.outer(g, g),), f"Gaussian blur sigma={sigma:g}, {size}x{size}, normalised to sum 1, separable, symmetric"


def build_unsharp(sigma=1.0, amount=1.0, size=None):
    size = _auto_size("unsharp", sigma, size, 3.0)
    g = _gaussian_1d(sigma, size)
    m = -amount * np.outer(g, g)
    m[size // 2, size // 2] += 1.0 + amount
    return (m,), (
        f"Unsharp mask (1+amount)*identity - amount*gaussian, sigma={sigma:g}, amount={amount:g}, "
        f"{size}x{size}, sum 1, symmetric"
    )


def build_log(sigma=1.0, size=None):
    size = _auto_size("log", sigma, size, 4.0)
    if size < 3:
        raise KernelError(f"log: size must be >= 3 (got {size})")
    x = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(x, x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        q = (xx * xx + yy * yy) / (sigma * sigma)
        m = (q - 2.0) * np.exp(-0.5 * q)
    m -= m.mean()
    moment = float((m * xx * xx).sum())
    if not (np.isfinite(m).all() and moment > 1e-12 * float(np.abs(m).sum())):
        raise KernelError(f"log: sigma={sigma:g} cannot be sampled on a {size}x{size} grid")
    m *= 2.0 / moment
    return (m,), (
        f"Laplacian of Gaussian sigma={sigma:g}, {size}x{size}, sum 0, centre negative like 'laplacian', "
        "scaled so that x^2 gives 2, symmetric"
    )


def _exact_cos_sin(angle):
    a = angle % 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if a in exact:
        return exact[a]
    t = math.radians(a)
    return math.cos(t), math.sin(t)


def build_motion(length=9.0, angle=0.0):
    # The kernel is the pixel coverage of a 1-pixel-wide segment of the given length centred
    # on the anchor: |u| <= length/2 along the direction (cos a, -sin a) (rows grow downwards)
    # and |v| <= 1/2 across it, estimated with S x S samples in each pixel near the segment.
    # Every pixel sees the same sample pattern, so equal geometry gives equal weights, and an
    # odd integer length at 0/90/180/270 degrees gives exactly a 1 x length box.
    c, s = _exact_cos_sin(angle)
    half_len = length / 2.0
    reach = max(half_len * abs(c) + 0.5 * abs(s), half_len * abs(s) + 0.5 * abs(c))
    half = max(0, math.ceil(reach - 0.5))
    size = 2 * half + 1
    if size > MAX_KERNEL_SIDE or size * size > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"motion: kernel too large (length={length:g} needs {_count(size)}x{_count(size)}; at most "
            f"{MAX_KERNEL_SIDE} rows or columns and {MAX_KERNEL_ELEMENTS} elements)"
        )
    samples = 16 if size <= 257 else 4
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    rows, cols = np.nonzero(np.ones((size, size), dtype=bool))
    yc, xc = rows - half, cols - half
    uc, vc = xc * c - yc * s, xc * s + yc * c
    near = (np.abs(uc) <= half_len + 0.75) & (np.abs(vc) <= 1.25)
    rows, cols, yc, xc = rows[near], cols[near], yc[near], xc[near]
    m = np.zeros((size, size))
    for dy in offsets:
        y = (yc + dy)[:, None]
        x = xc[:, None] + offsets[None, :]
        inside = (np.abs(x * c - y * s) <= half_len) & (np.abs(x * s + y * c) <= 0.5)
        m[rows, cols] += inside.sum(axis=1)
    if not m.any():  # a line far thinner than one sample covers nothing: no blur to describe
        return (np.ones((1, 1)),), f"Motion blur of length {length:g}: shorter than a pixel, identity"
    nz_rows, nz_cols = np.nonzero(m)
    keep = int(max(np.abs(nz_rows - half).max(), np.abs(nz_cols - half).max()))
    m = m[half - keep : half + keep + 1, half - keep : half + keep + 1]
    size = 2 * keep + 1
    m /= m.sum()
    return (m,), (
        f"Motion blur along a line of length {length:g} at {angle:g} degrees counter-clockwise from +x, "
        f"{size}x{size}, sum 1, anti-aliased, symmetric"
    )


def build_disc(radius=3.0):
    half = max(0, math.ceil(radius - 0.5))
    size = 2 * half + 1
    _check_shape(size, size, "disc")
    # Coverage of each pixel by the disc: 8 sub-rows per pixel row, exact overlap along x.
    centres = np.arange(size, dtype=np.float64) - half
    m = np.zeros((size, size))
    for k in range(8):
        yk = centres + (k + 0.5) / 8 - 0.5
        w = np.sqrt(np.clip(radius * radius - yk * yk, 0.0, None))[:, None]
        m += np.clip(np.minimum(w, centres[None, :] + 0.5) - np.maximum(-w, centres[None, :] - 0.5), 0.0, 1.0)
    if not m.any():  # a radius far below one sample: the disc is a point
        return (np.ones((1, 1)),), f"Disc blur radius={radius:g}: smaller than a pixel, identity"
    m = (m + m.T) / m.sum() / 2.0  # the disc is symmetric under transposition; so is the estimate
    return (m,), f"Disc (lens/bokeh) blur radius={radius:g}, {size}x{size}, anti-aliased, sum 1, symmetric"
