"""Describing kernels for people: ``imgconv kernels SPEC`` and the preset listing.

A matrix is printed with exact values (integers, short decimals, simple fractions
such as ``1/16``) when every value shown has such a form, otherwise with every
value as a decimal of 5 significant digits: one printout never mixes exact
fractions with rounded decimals (``1/9`` beside ``0.072483``).

Examples
--------
>>> import numpy as np
>>> print("\\n".join(_format_matrix(np.array([[1 / 16, 1 / 8], [0.25, 0]]))))
  1/16  1/8
   1/4    0
>>> print("\\n".join(_format_matrix(np.array([[1 / 9, 0.07248333], [0, 1]]))))
   0.11111 0.072483
         0        1
"""

from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType

import numpy as np

from imgconv.kernels.model import Kernel, separable_rank

#: The most rows and columns of a matrix shown; larger ones are cut to their centre.
_SHOW_MAX = 15

_COMBINE_TEXT = MappingProxyType(
    {
        "single": "single matrix",
        "magnitude": "magnitude: sqrt of the sum of the squared results",
        "sum": "sum of the results",
        "max": "element-wise maximum of the results",
    }
)


def list_presets() -> list:
    """All preset names with one-line descriptions, sorted by name.

    Returns
    -------
    list of (str, str)
        Static presets (the TOML files of ``imgconv.presets``) and parametric
        ones; a parametric description ends with its parameters and their
        defaults.

    Examples
    --------
    >>> names = [name for name, _ in list_presets()]
    >>> {"gaussian", "sobel", "identity"} <= set(names)
    True
    """
    from imgconv.kernels.presets import preset_descriptions

    return preset_descriptions()


def _exact_text(v):
    """The shortest exact form of ``v`` (integer, decimal of at most 7 characters or n/d), else None."""
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    exact = [text for text in (repr(float(v)),) if len(text) <= 7]
    frac = Fraction(v).limit_denominator(1024)
    if float(frac) == v:
        exact.append(f"{frac.numerator}/{frac.denominator}")
    return min(exact, key=len) if exact else None


def _decimal_text(v):
    """``v`` as a decimal of 5 significant digits (``0`` for zero)."""
    return "0" if v == 0 else f"{v:.5g}"


def _format_value(v):
    """A number for display: the shortest exact form (integer, short decimal or n/d), else 5 digits."""
    exact = _exact_text(v)
    return _decimal_text(v) if exact is None else exact


def _format_matrix(m):
    """The lines showing matrix ``m`` (its centre when larger than ``_SHOW_MAX``), one style for all values."""
    rows, cols = m.shape
    r0 = max(0, rows // 2 - _SHOW_MAX // 2) if rows > _SHOW_MAX else 0
    c0 = max(0, cols // 2 - _SHOW_MAX // 2) if cols > _SHOW_MAX else 0
    shown = m[r0 : r0 + _SHOW_MAX, c0 : c0 + _SHOW_MAX]
    cells = [[_exact_text(float(v)) for v in row] for row in shown]
    if any(text is None for row in cells for text in row):
        cells = [[_decimal_text(float(v)) for v in row] for row in shown]
    width = max(len(c) for row in cells for c in row)
    lines = ["  " + " ".join(c.rjust(width) for c in row) for row in cells]
    if shown.shape != m.shape:
        lines.insert(
            0,
            f"  (centre {shown.shape[1]}x{shown.shape[0]} of {cols}x{rows} shown: "
            f"rows {r0}-{r0 + shown.shape[0] - 1}, columns {c0}-{c0 + shown.shape[1] - 1})",
        )
    return lines


def _matrix_lines(m):
    """The indented lines showing a matrix, or a 3-D kernel plane by plane (its centre planes when many)."""
    if m.ndim == 2:
        return ["  " + line for line in _format_matrix(m)]
    z0 = max(0, m.shape[0] // 2 - _SHOW_MAX // 2) if m.shape[0] > _SHOW_MAX else 0
    lines = []
    if m.shape[0] > _SHOW_MAX:
        lines.append(f"  (planes {z0}-{z0 + _SHOW_MAX - 1} of {m.shape[0]} shown)")
    for z in range(z0, min(m.shape[0], z0 + _SHOW_MAX)):
        lines.append(f"  plane z={z}:")
        lines.extend("    " + line for line in _format_matrix(m[z]))
    return lines


def describe_kernel(kernel: Kernel) -> str:
    """A readable description of a kernel, as printed by ``imgconv kernels SPEC``.

    For each matrix: the values (exact where every value shown is exact,
    otherwise all as decimals; a 3-D kernel plane by plane), size ``W x H`` (or
    ``W x H x D``), sum and whether it is separable (the engine's rank rule); then how
    the results combine, scale, offset and normalize.

    Parameters
    ----------
    kernel : Kernel

    Returns
    -------
    str
        Several lines, no trailing newline.

    Examples
    --------
    >>> from imgconv.kernels import load_kernel
    >>> print(describe_kernel(load_kernel("laplacian")))  # doctest: +ELLIPSIS
    laplacian: ...
    <BLANKLINE>
    3x3 (W x H), sum 0, separable: no (rank 2: 2 separable pairs)
         0  1  0
         1 -4  1
         0  1  0
    <BLANKLINE>
    combine: single matrix
    scale: 1, offset: 0, normalize: no
    """
    lines = [f"{kernel.name}: {kernel.description}" if kernel.description else kernel.name]
    n = len(kernel.matrices)
    for i, m in enumerate(kernel.matrices, 1):
        total = float(m.sum())
        if abs(total) <= 1e-12 * float(np.abs(m).sum()):
            total = 0.0
        head = f"matrix {i} of {n}: " if n > 1 else ""
        rank = separable_rank(m)
        sep = "yes" if rank == 1 else (f"no (rank {rank}: {rank} separable pairs)" if rank < min(m.shape) else "no")
        size = "x".join(str(side) for side in m.shape[::-1]) + (" (W x H x D)" if m.ndim == 3 else " (W x H)")
        lines.append("")
        lines.append(f"{head}{size}, sum {_format_value(total)}, separable: {sep}")
        lines.extend(_matrix_lines(m))
    lines.append("")
    combine = _COMBINE_TEXT[kernel.combine]
    lines.append(f"combine: {combine}" + (f" ({n} matrices)" if n > 1 else ""))
    norm = "yes (each matrix is divided by its sum when applied)" if kernel.normalize else "no"
    lines.append(f"scale: {kernel.scale:g}, offset: {kernel.offset:g}, normalize: {norm}")
    return "\n".join(lines)
