"""Frequency response of kernels: the transfer function and a one-screen summary.

Frequencies are in cycles/pixel, ``fy`` along rows (down) and ``fx`` along columns
(right), Nyquist = 0.5. The response is that of true convolution, imgconv's default:
``H(f) = sum_m K[m] exp(-2j*pi*f.(m - c))`` with the anchor ``c = (h // 2, w // 2)``, so a
kernel symmetric about its anchor has a real (zero-phase) response.

Examples
--------
>>> import numpy as np
>>> H = frequency_response(np.array([[1, 2, 1]]) / 4, shape=(1, 4))
>>> np.round(H.real, 3).tolist()   # fx = 0, 0.25, -0.5, -0.25: (1 + cos 2*pi*fx) / 2
[[1.0, 0.5, 0.0, 0.5]]
>>> s = response_summary("gaussian:sigma=2")["matrices"][0]
>>> s["kind"], round(s["cutoff"]["x"][0], 4), s["separable_rank"], s["zero_phase"]
('low-pass', 0.0665, 1, True)
"""
import math

import numpy as np

from imgconv.engine.separable import low_rank_factors
from imgconv.errors import KernelError
from imgconv.kernels import load_kernel

__all__ = ["frequency_response", "response_summary", "format_response", "applied_matrices"]

_HALF_POWER = 1 / math.sqrt(2)  # -3 dB (|H| = peak / sqrt 2)
_PROFILE_POINTS = 2049  # samples of 0..0.5 for the 1-D profiles (crossings are then refined)
_RAYS = 90  # directions (over 180 degrees) for the 2-D kind
_KIND_OF_RAYS = {"low": "low-pass", "high": "high-pass", "all": "all-pass", "band": "band-pass",
                 "band-stop": "band-stop", "stop": "zero"}


def _load(kernel):
    """load_kernel, with a 1-D array taken as a row (as imgconv.convolve takes it)."""
    if isinstance(kernel, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(kernel)
        except (ValueError, TypeError):  # ragged: load_kernel says what is wrong
            return load_kernel(kernel)
        return load_kernel(array[None, :] if array.ndim == 1 else array)
    return load_kernel(kernel)


def applied_matrices(kernel):
    """The matrices of a kernel spec, array or Kernel as they are applied.

    ``normalize`` is applied, and a single matrix's ``scale`` is folded in (the linear
    part of the filter); the offset, and the combine rule of several matrices, are not linear.

    Examples
    --------
    >>> applied_matrices("1 2 1")[0].tolist()
    [[1.0, 2.0, 1.0]]
    """
    k = _load(kernel)
    if k.normalize:
        k = k.normalized()
    if len(k.matrices) == 1:
        return [k.matrices[0] * k.scale]
    return list(k.matrices)


def _one_matrix(kernel):
    mats = applied_matrices(kernel)
    if len(mats) != 1:
        raise KernelError(f"a multi-kernel preset has one response per matrix ({len(mats)} here): "
                          "pass kernel.matrices[i]")
    return mats[0]


def frequency_response(kernel, shape=None):
    """The complex frequency response of a kernel, sampled on an FFT grid.

    Parameters
    ----------
    kernel : array_like, Kernel or spec
        One 2-D matrix (a 1-D array is a row).
    shape : (int, int), optional
        Grid ``(ny, nx)``: entry ``[i, j]`` is the response at ``fy = fftfreq(ny)[i]``,
        ``fx = fftfreq(nx)[j]`` (``numpy.fft.fftshift`` centres it). Default: square, the power
        of two >= max(64, 4 x the kernel's larger side). Any size is exact (no truncation).

    Examples
    --------
    >>> H = frequency_response([[0, 0, 0], [0, 0, 1], [0, 0, 0]], shape=(1, 4))
    >>> np.round(H, 3).tolist()   # the kernel shifts right by one pixel: exp(-2j pi fx)
    [[(1+0j), -1j, (-1+0j), 1j]]
    """
    k = _one_matrix(kernel)
    h, w = k.shape
    if shape is None:
        n = 1 << max(6, math.ceil(math.log2(4 * max(h, w))))
        shape = (n, n)
    ny, nx = (int(s) for s in shape)
    if ny < 1 or nx < 1:
        raise KernelError(f"frequency_response: shape must be positive (got {shape!r})")
    # exact DTFT samples: wrap the kernel, anchor at index 0, onto the grid and transform it
    grid = np.zeros((ny, nx))
    rows = (np.arange(h) - h // 2) % ny
    cols = (np.arange(w) - w // 2) % nx
    np.add.at(grid, (rows[:, None], cols[None, :]), k)
    return np.fft.fft2(grid)


def _profile(k, axis):
    """The kernel projected on one axis (the response along that axis) and its anchor."""
    if axis == "x":
        return k.sum(0), k.shape[1] // 2
    return k.sum(1), k.shape[0] // 2


def _dtft_1d(p, anchor, f):
    n = np.arange(len(p)) - anchor
    return np.exp(-2j * np.pi * np.outer(f, n)) @ p


def _axis_summary(k, axis):
    """Nyquist gain, -3 dB crossings (relative to the profile's peak) and kind along one axis."""
    p, anchor = _profile(k, axis)
    f = np.linspace(0, 0.5, _PROFILE_POINTS)
    mag = np.abs(_dtft_1d(p, anchor, f))
    nyquist = float(_dtft_1d(p, anchor, [0.5])[0].real)  # real for a real kernel
    nyquist = 0.0 if abs(nyquist) <= 1e-12 * float(np.abs(k).sum()) else nyquist
    peak = float(mag.max())
    if peak <= 1e-12 * max(float(np.abs(k).sum()), 1e-300):
        return nyquist, [], "zero"
    thr = peak * _HALF_POWER
    inside = mag >= thr * (1 - 1e-9)
    crossings = []
    for i in np.flatnonzero(inside[1:] != inside[:-1]):
        crossings.append(float(_refine(lambda x: abs(_dtft_1d(p, anchor, [x])[0]) - thr, f[i], f[i + 1])))
    return nyquist, crossings, _KIND_OF_RAYS[_ray_kind(inside)]


def _refine(g, a, b):
    """A root of ``g`` in [a, b] by bisection (g changes sign there)."""
    ga = g(a)
    for _ in range(60):
        m = 0.5 * (a + b)
        gm = g(m)
        if (gm >= 0) == (ga >= 0):
            a, ga = m, gm
        else:
            b = m
    return 0.5 * (a + b)


def _ray_kind(inside):
    """Kind of one line of samples from DC outwards: which ends lie in the -3 dB band."""
    if inside.all():
        return "all"
    if inside[0] and inside[-1]:
        return "band-stop"
    if inside[0]:
        return "low"
    if inside[-1]:
        return "high"
    return "band" if inside.any() else "stop"


def _kind_2d(k):
    """low-pass, high-pass, band-pass, band-stop, all-pass or zero, from rays through DC.

    The -3 dB band is where |H| >= max|H| / sqrt 2 over the whole plane; each ray runs from
    DC to the border of the Nyquist square. DC in the band: all-pass if every ray stays in
    it, band-stop if some ray leaves and comes back, else low-pass (a motion blur's rays
    across the line stay in the band). DC outside: high-pass if the band reaches the
    border of the square, else band-pass.
    """
    from scipy import ndimage

    n = max(256, min(2048, 1 << math.ceil(math.log2(2 * max(k.shape)))))
    mag = np.abs(frequency_response(k, (n, n)))
    peak = float(mag.max())
    if peak <= 1e-12 * max(float(np.abs(k).sum()), 1e-300):
        return "zero"
    theta = np.arange(_RAYS) * np.pi / _RAYS
    t = np.linspace(0, 1, 257)
    reach = 0.5 / np.maximum(np.abs(np.cos(theta)), np.abs(np.sin(theta)))
    fx = np.outer(reach * np.cos(theta), t)
    fy = np.outer(reach * np.sin(theta), t)
    rays = ndimage.map_coordinates(mag, [fy.ravel() * n, fx.ravel() * n], order=1, mode="grid-wrap")
    inside = rays.reshape(fx.shape) >= peak * _HALF_POWER * (1 - 1e-9)
    inside[:, 0] = mag[0, 0] >= peak * _HALF_POWER * (1 - 1e-9)
    kinds = {_ray_kind(row) for row in inside}
    if inside[0, 0]:
        return "all-pass" if kinds == {"all"} else "band-stop" if "band-stop" in kinds else "low-pass"
    return "high-pass" if "high" in kinds else "band-pass"


def _phase(k):
    """zero (symmetric about the anchor), ±90° (antisymmetric), linear (symmetric about
    another point: a shift) or non-linear."""
    scale = float(np.abs(k).max())
    if scale == 0:
        return "zero"
    rows, cols = np.nonzero(np.abs(k) > 1e-12 * scale)
    box = k[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    centred = 2 * (k.shape[0] // 2) == rows.min() + rows.max() and 2 * (k.shape[1] // 2) == cols.min() + cols.max()
    tol = 1e-12 * scale
    if np.abs(box - box[::-1, ::-1]).max() <= tol:
        return "zero" if centred else "linear"
    if np.abs(box + box[::-1, ::-1]).max() <= tol:
        return "±90°" if centred else "linear"
    return "non-linear"


def _matrix_summary(k):
    axes = {axis: _axis_summary(k, axis) for axis in ("x", "y")}
    total = float(k.sum())
    if abs(total) <= 1e-12 * float(np.abs(k).sum()):
        total = 0.0
    phase = _phase(k)
    return {
        "shape": [int(k.shape[0]), int(k.shape[1])],
        "dc_gain": total,
        "nyquist_gain": {axis: v[0] for axis, v in axes.items()},
        "cutoff": {axis: v[1] for axis, v in axes.items()},
        "axis_kind": {axis: v[2] for axis, v in axes.items()},
        "kind": _kind_2d(k),
        "separable_rank": int(low_rank_factors(k)[0].shape[0]),
        "zero_phase": phase == "zero",
        "phase": phase,
    }


def response_summary(kernel):
    """The response summary ``imgconv kernels SPEC --response --json`` prints, as a dict.

    Per matrix (as applied, see :func:`applied_matrices`): ``dc_gain`` (the sum),
    ``nyquist_gain`` per axis (the real response at 0.5 cycles/pixel along x and y),
    ``cutoff`` per axis (the frequencies in cycles/pixel where the profile along that axis
    crosses -3 dB below its own peak: one for a low- or high-pass profile, two for a band),
    ``axis_kind``, ``kind`` (low-pass, high-pass, band-pass, band-stop, all-pass, zero),
    ``separable_rank``, ``zero_phase`` and ``phase``.

    Examples
    --------
    >>> s = response_summary("laplacian")["matrices"][0]
    >>> s["kind"], s["dc_gain"], s["nyquist_gain"], s["phase"]
    ('high-pass', 0.0, {'x': -4.0, 'y': -4.0}, 'zero')
    """
    k = _load(kernel)
    mats = applied_matrices(k)
    return {
        "kernel": k.name,
        "description": k.description,
        "combine": k.combine,
        "scale": k.scale if len(mats) > 1 else 1.0,
        "offset": k.offset,
        "matrices": [dict(_matrix_summary(m), matrix=m.tolist()) for m in mats],
    }


def _freq(values):
    return ", ".join(f"{v:.4f}" for v in values) if values else "none"


def format_response(summary):
    """The readable form of :func:`response_summary` (what ``--response`` prints).

    Examples
    --------
    >>> print(format_response(response_summary("box:size=3")))
    box:size=3: Box (mean) filter 3x3, sum 1, separable
    3x3 (H x W), frequencies in cycles/pixel (x along columns, y along rows)
      DC gain (sum):      1
      Nyquist gain:       x -0.3333, y -0.3333
      -3 dB cutoff:       x 0.1553, y 0.1553 cycles/pixel
      kind:               low-pass (x low-pass, y low-pass)
      separable rank:     1
      zero phase:         yes (symmetric about the anchor)
    """
    lines = [f"{summary['kernel']}: {summary['description']}" if summary["description"] else summary["kernel"]]
    n = len(summary["matrices"])
    phases = {"zero": "yes (symmetric about the anchor)", "±90°": "no: ±90° (antisymmetric about the anchor)",
              "linear": "no: linear phase ((anti)symmetric about another point: a shift)",
              "non-linear": "no (asymmetric)"}
    for i, s in enumerate(summary["matrices"], 1):
        head = f"matrix {i} of {n}, " if n > 1 else ""
        if n > 1 and i > 1:
            lines.append("")
        lines.append(f"{head}{s['shape'][0]}x{s['shape'][1]} (H x W), frequencies in cycles/pixel "
                     "(x along columns, y along rows)")
        ax = s["axis_kind"]
        lines += [
            f"  DC gain (sum):      {s['dc_gain']:.6g}",
            f"  Nyquist gain:       x {s['nyquist_gain']['x']:.4f}, y {s['nyquist_gain']['y']:.4f}",
            f"  -3 dB cutoff:       x {_freq(s['cutoff']['x'])}, y {_freq(s['cutoff']['y'])} cycles/pixel",
            f"  kind:               {s['kind']} (x {ax['x']}, y {ax['y']})",
            f"  separable rank:     {s['separable_rank']}",
            f"  zero phase:         {phases.get(s['phase'], 'yes (zero kernel)')}",
        ]
    if n > 1:
        lines.append(f"combine: {summary['combine']} of the {n} results"
                     + (f", scale {summary['scale']:g}" if summary["scale"] != 1 else ""))
    if summary["offset"]:
        lines.append(f"offset: {summary['offset']:g} (added after filtering)")
    return "\n".join(lines)
