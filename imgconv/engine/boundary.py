"""Boundary handling: scipy.ndimage's mode names mapped to padding and index maps.

=========  ==========================  ================
imgconv    extension of ``a b c d``    ``numpy.pad`` mode
=========  ==========================  ================
reflect    ``d c b a | a b c d | d c``  ``symmetric``
mirror     ``d c b | a b c d | c b a``  ``reflect``
nearest    ``a a a | a b c d | d d d``  ``edge``
wrap       ``b c d | a b c d | a b c``  ``wrap``
constant   ``k k k | a b c d | k k k``  ``constant``
=========  ==========================  ================

Examples
--------
>>> source_index(4, 2, 2, "reflect")
array([1, 0, 0, 1, 2, 3, 3, 2])
>>> source_index(3, 1, 1, "constant")
array([-1,  0,  1,  2, -1])
"""
import numpy as np

from imgconv.errors import EngineError

MODES = ("reflect", "mirror", "nearest", "wrap", "constant")


def check_mode(mode):
    """Return ``mode`` if it is one of :data:`MODES`, else raise EngineError."""
    if mode not in MODES:
        raise EngineError(f"unknown boundary mode {mode!r} (choose from {', '.join(MODES)})")
    return mode


def source_index(n, before, after, mode):
    """Index into an axis of length ``n`` for each of ``before + n + after`` padded positions.

    Positions outside the axis are folded back as ``mode`` says; ``-1`` marks a
    ``constant`` (cval) position. Works for pads longer than the axis.
    """
    check_mode(mode)
    i = np.arange(-before, n + after)
    if mode == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "nearest":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "reflect":
        i = np.mod(i, 2 * n)
        return np.where(i < n, i, 2 * n - 1 - i)
    # mirror: period 2n - 2; a single sample mirrors onto itself
    if n == 1:
        return np.zeros_like(i)
    i = np.mod(i, 2 * n - 2)
    return np.where(i < n, i, 2 * n - 2 - i)


def pad(planes, before, after, mode, cval=0.0):
    """Pad the last two axes of ``planes`` by ``before=(top, left)``, ``after=(bottom, right)``.

    Uses fancy indexing with :func:`source_index`, which matches scipy.ndimage
    for every mode and for pads longer than the image.
    """
    h, w = planes.shape[-2:]
    rows = source_index(h, before[0], after[0], mode)
    cols = source_index(w, before[1], after[1], mode)
    out = planes[..., np.maximum(rows, 0)[:, None], np.maximum(cols, 0)[None, :]]
    if mode == "constant":
        out[..., rows < 0, :] = cval
        out[..., :, cols < 0] = cval
    return out
