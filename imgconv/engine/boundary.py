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

from imgconv.choices import MODES
from imgconv.errors import EngineError


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


def pad(planes, before, after, mode, cval=0.0, dtype=None):
    """Pad the last two axes of ``planes`` by ``before=(top, left)``, ``after=(bottom, right)``.

    Copies the image once into a new array and fills only the border strips from
    :func:`source_index`, which matches scipy.ndimage for every mode and for pads
    longer than the image. ``dtype`` converts on the way (default: the input's).

    Examples
    --------
    >>> pad(np.array([[1, 2, 3]]), (0, 2), (0, 2), "reflect")
    array([[2, 1, 1, 2, 3, 3, 2]])
    """
    h, w = planes.shape[-2:]
    out = np.empty(planes.shape[:-2] + (h + before[0] + after[0], w + before[1] + after[1]),
                   dtype or planes.dtype)
    _fill_padded(out, planes, before, after, mode, cval)
    return out


def pad_interleaved(image, before, after, mode, cval=0.0, dtype=None):
    """:func:`pad` for an H x W x C image, keeping the channels interleaved (no transposed copy)."""
    H, W, C = image.shape
    out = np.empty((H + before[0] + after[0], W + before[1] + after[1], C), dtype or image.dtype)
    _fill_padded(np.moveaxis(out, -1, 0), np.moveaxis(image, -1, 0), before, after, mode, cval)
    return out


def _fill_padded(out, planes, before, after, mode, cval):
    """Write ``planes`` into the middle of ``out`` (last two axes) and extend it by ``mode``."""
    h, w = planes.shape[-2:]
    (top, left), (bottom, right) = before, after
    out[..., top:top + h, left:left + w] = planes
    if mode == "constant":
        out[..., top:top + h, :left] = cval
        out[..., top:top + h, left + w:] = cval
        out[..., :top, :] = cval
        out[..., top + h:, :] = cval
        return
    cols = source_index(w, left, right, mode)
    rows = source_index(h, top, bottom, mode)
    if left:
        out[..., top:top + h, :left] = planes[..., :, cols[:left]]
    if right:
        out[..., top:top + h, left + w:] = planes[..., :, cols[left + w:]]
    if top:
        out[..., :top, :] = out[..., rows[:top] + top, :]
    if bottom:
        out[..., top + h:, :] = out[..., rows[top + h:] + top, :]


def interleaved_operands(image, kernel_shape, anchor, mode, halo=None):
    """What the compiled loops take: the (H, W, C) image as (H, W*C) interleaved rows, the row
    and column index maps of the border (``-1`` = cval), and an empty output.

    ``halo=(above, below)``: the image is a band of rows of a larger one with ``above`` and
    ``below`` rows of context (:func:`band_rows`); the output then has only the band's rows."""
    H, W, C = image.shape
    h, w = kernel_shape
    src = np.ascontiguousarray(image, dtype=np.float32).reshape(H, W * C)
    rows = source_index(H, anchor[0], h - 1 - anchor[0], mode) if halo is None else band_rows(H, h, anchor, halo)
    cols = source_index(W, anchor[1], w - 1 - anchor[1], mode)
    return src, rows, cols, np.empty((len(rows) - h + 1, W * C), np.float32)


def band_rows(H, h, anchor, halo):
    """The row map of a band: ``H`` rows holding ``halo = (above, below)`` rows around the band.

    Rows the kernel reaches beyond the context given are ``-1`` (cval): only ``constant`` mode
    leaves them out (the others give every row of the halo, extended at the image's border).

    Examples
    --------
    >>> band_rows(6, 3, (1, 1), (1, 1)), band_rows(5, 3, (1, 1), (0, 1))
    (array([0, 1, 2, 3, 4, 5]), array([-1,  0,  1,  2,  3,  4]))
    """
    above, below = halo
    rows = np.arange(-anchor[0], H - above - below + h - 1 - anchor[0]) + above
    rows[(rows < 0) | (rows >= H)] = -1
    return rows


def row_blocks(H):
    """How many row blocks the compiled loops split H rows into: enough to balance the
    current settings' threads, each block a few rows at least."""
    from imgconv.settings import current

    return max(1, min(H, 8 * current().threads, H // 4 or 1))
