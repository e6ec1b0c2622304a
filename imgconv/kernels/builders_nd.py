"""Presets with one value per axis, and 3-D presets for volumes (``dims=3``).

``gaussian:sigma=1,1,3``, ``gaussian:sigma=2,dims=3``, ``box:size=5,5,3``, ``log:sigma=2,dims=3``,
``sobel:dims=3`` (also ``prewitt``, ``scharr``; ``direction=x|y|z|both``) and
``identity:dims=3``. Values per axis are written **x, y, z** (columns, rows, planes), as
sizes are written W x H elsewhere: ``sigma=1,1,3`` is three times wider along Z, the usual
shape of a microscope's PSF in voxels. One value serves every axis. ``dims`` (2 or 3) is the
number of axes; without it, the number of values given. The matrices are Z x Y x X arrays
(Y x X for ``dims=2``), built as products of 1-D factors where the kernel is one, so the
engine runs them as passes along each axis.

Examples
--------
>>> k = build_axes_preset("gaussian", {"sigma": "1,1,2"}, "gaussian:sigma=1,1,2")
>>> k.matrices[0].shape, round(float(k.matrices[0].sum()), 12)
((13, 7, 7), 1.0)
>>> build_axes_preset("sobel", {"dims": "3"}, "sobel:dims=3").combine
'magnitude'
"""

from __future__ import annotations

import functools

import numpy as np

from imgconv.errors import KernelError
from imgconv.kernels.builders import _auto_size, _gaussian_1d
from imgconv.kernels.model import Kernel, _check_volume_shape
from imgconv.kernels.parsing import parse_parameter

#: The presets that take per-axis values or ``dims``, with their parameters and kinds.
AXES_PRESETS = {
    "identity": {},
    "box": {"size": "any_size"},
    "gaussian": {"sigma": "positive", "size": "odd_size"},
    "log": {"sigma": "positive", "size": "odd_size"},
    "sobel": {"direction": None},
    "prewitt": {"direction": None},
    "scharr": {"direction": None},
}
#: The smoothing across the derivative of each gradient preset.
_SMOOTHING = {"sobel": (1.0, 2.0, 1.0), "prewitt": (1.0, 1.0, 1.0), "scharr": (3.0, 10.0, 3.0)}
_AXIS_NAMES = ("x", "y", "z")


def _dims(name, params):
    """The number of axes: ``dims`` if given (2 or 3), else the most values any parameter has."""
    counts = [raw.count(",") + 1 for key, raw in params.items() if key != "dims"]
    if "dims" in params:
        raw = params["dims"]
        if raw not in ("2", "3"):
            raise KernelError(f"{name}: dims must be 2 or 3 (got {raw!r})")
        dims = int(raw)
    else:
        dims = max(counts, default=2)
    for key, raw in params.items():
        n = raw.count(",") + 1
        if key != "dims" and n not in (1, dims):
            raise KernelError(f"{name}: {key} takes 1 or {dims} values (x,y{',z' if dims == 3 else ''}; got {n})")
    if dims not in (2, 3):
        raise KernelError(f"{name}: at most 3 values per parameter (x,y,z)")
    return dims


def _per_axis(name, key, raw, kind, dims, default):
    """One value per axis, x first: parsed from ``raw`` (1 or ``dims`` values) or ``default``."""
    if raw is None:
        return [default] * dims
    values = [parse_parameter(kind, name, key, part.strip()) for part in raw.split(",")]
    return values * dims if len(values) == 1 else values


def _outer(factors_xyz):
    """The product of 1-D factors given x first, as an array indexed (z,) y, x."""
    return functools.reduce(np.multiply.outer, factors_xyz[::-1])


def build_axes_preset(name, params, spec_name):
    """The Kernel of preset ``name`` with per-axis values or ``dims`` (text parameters)."""
    kinds = AXES_PRESETS.get(name)
    if kinds is None:
        raise KernelError(f"{name}: per-axis values and dims are for {', '.join(AXES_PRESETS)} only")
    for key in params:
        if key != "dims" and key not in kinds:
            expected = ", ".join(list(kinds) + ["dims"])
            raise KernelError(f"{name}: unknown parameter {key!r} (expected: {expected})")
    dims = _dims(name, params)
    if name in _SMOOTHING:
        return _gradient(name, params.get("direction", "both").lower(), dims, spec_name)
    if name == "identity":
        matrix = np.ones((1,) * dims)
        return Kernel(spec_name, (matrix,), description=f"Identity {'x'.join(['1'] * dims)}: no change")
    values = {key: params.get(key) for key in kinds}
    if name == "box":
        sizes = _per_axis(name, "size", values["size"], "any_size", dims, 3)
    else:
        sigmas = _per_axis(name, "sigma", values["sigma"], "positive", dims, 1.0)
        given = _per_axis(name, "size", values["size"], "odd_size", dims, None)
        sizes = [_auto_size(name, s, n, 3.0 if name == "gaussian" else 4.0) for s, n in zip(sigmas, given)]
    _check_volume_shape(tuple(sizes[::-1]) + (1,) * (3 - dims), name)  # before anything is allocated
    axes = "(x,y,z)" if dims == 3 else "(x,y)"
    if name == "box":
        matrix, description = _outer([np.full(n, 1.0 / n) for n in sizes]), "Box (mean) filter"
        summary = "sum 1, separable"
    elif name == "gaussian":
        matrix = _outer([_gaussian_1d(s, n) for s, n in zip(sigmas, sizes)])
        description = f"Gaussian blur sigma={','.join(f'{s:g}' for s in sigmas)} {axes}"
        summary = "normalised to sum 1, separable"
    else:
        matrix = _log(sigmas, sizes)
        description = f"Laplacian of Gaussian sigma={','.join(f'{s:g}' for s in sigmas)} {axes}"
        summary = "sum 0, centre negative, scaled so that x^2, y^2" + (" and z^2 give 2" if dims == 3 else " give 2")
    size = "x".join(str(n) for n in matrix.shape[::-1])
    return Kernel(spec_name, (matrix,), description=f"{description}, {size}, {summary}")


def _log(sigmas, sizes):
    """Laplacian of Gaussian as a sum over axes of a second derivative times Gaussians.

    Each 1-D second derivative is zero-sum and scaled so that it gives 2 on x^2, so the
    kernel gives exactly 2 on x^2, y^2 and z^2 and 0 on constants and linear ramps.
    """
    smooth, second = [], []
    for s, n in zip(sigmas, sizes):
        if n < 3:
            raise KernelError(f"log: size must be >= 3 (got {n})")
        x = np.arange(n, dtype=np.float64) - n // 2
        with np.errstate(over="ignore", under="ignore"):
            d = (x * x / s**4 - 1.0 / s**2) * np.exp(-0.5 * (x / s) ** 2)
        d -= d.mean()
        moment = float((d * x * x).sum())
        if not (np.isfinite(d).all() and moment > 1e-12 * float(np.abs(d).sum())):
            raise KernelError(f"log: sigma={s:g} cannot be sampled on {n} taps")
        smooth.append(_gaussian_1d(s, n))
        second.append(d * (2.0 / moment))
    return sum(_outer([second[i] if j == i else smooth[j] for j in range(len(sizes))]) for i in range(len(sizes)))


def _gradient(name, direction, dims, spec_name):
    """Sobel / Prewitt / Scharr in ``dims`` dimensions: per axis the derivative [1, 0, -1] times the
    smoothing along the other axes (true convolution: positive where intensity rises along +axis)."""
    smoothing, derivative = np.array(_SMOOTHING[name]), np.array([1.0, 0.0, -1.0])
    axes = _AXIS_NAMES[:dims]
    matrices = [_outer([derivative if j == i else smoothing for j in range(dims)]) for i in range(dims)]
    title = name.capitalize()
    if direction == "both":
        terms = " + ".join(f"{a}^2" for a in axes)
        return Kernel(spec_name, tuple(matrices), combine="magnitude",
                      description=f"{title} {dims}-D gradient magnitude sqrt({terms}), "
                                  f"{'x'.join(['3'] * dims)}, true convolution")
    if direction not in axes:
        raise KernelError(f"{name}: direction must be one of {'|'.join(axes + ('both',))} (got {direction!r})")
    i = axes.index(direction)
    return Kernel(spec_name, (matrices[i],), description=f"{title} {dims}-D {direction} derivative: positive where "
                                                         f"intensity increases along +{direction} (true convolution)")

