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


def gather_block(image, rows, cols, cval=0.0):
    """The block of the mode-extended H x W x C ``image`` at padded positions ``rows`` x ``cols``.

    ``rows`` and ``cols`` are runs of :func:`source_index` (``-1`` = ``cval``).  A run that
    is a plain range of the image is a slice (no copy); otherwise only the block is gathered,
    never the whole padded image: a 1 x 100000 picture under a 4097-tall kernel pads to
    4097 x 100000, its blocks to 4097 x a tile's width.

    Examples
    --------
    >>> img = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    >>> gather_block(img, source_index(2, 1, 0, "reflect")[:2], np.arange(3))[..., 0]
    array([[0., 1., 2.],
           [0., 1., 2.]], dtype=float32)
    >>> gather_block(img, np.arange(2), source_index(3, 1, 0, "constant")[:3], cval=9)[..., 0]
    array([[9., 0., 1.],
           [9., 3., 4.]], dtype=float32)
    """
    block = image
    for axis, index in ((1, cols), (0, rows)):  # columns first: a long row is never copied whole
        run = _as_run(index)
        if run is not None:
            block = block[(slice(None),) * axis + (run,)]
            continue
        inside = index[index >= 0]
        low, high = (int(inside.min()), int(inside.max()) + 1) if inside.size else (0, 1)
        span = block[(slice(None),) * axis + (slice(low, high),)]
        block = span.take(np.where(index >= 0, index - low, 0), axis=axis)
        if inside.size < index.size:
            block[(slice(None),) * axis + (index < 0,)] = cval
    return block


def distinct(index):
    """``(ids, pos)``: the distinct entries of an index map, sorted, and where each entry is
    among them (``ids[pos] == index``); ``np.unique(index, return_inverse=True)`` without
    importing ``numpy.ma``, which that costs a one-off command.

    Examples
    --------
    >>> ids, pos = distinct(np.array([1, 0, 0, 1, 2]))
    >>> ids.tolist(), pos.tolist()
    ([0, 1, 2], [1, 0, 0, 1, 2])
    """
    index = np.asarray(index)
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    pos = np.empty(index.size, np.int64)
    pos[order] = np.cumsum(first) - 1
    return ordered[first], pos


def _as_run(index):
    """``slice(a, b)`` when ``index`` is ``a, a + 1, ..., b - 1`` (inside the image), else None."""
    start = int(index[0])
    if start >= 0 and int(index[-1]) - start == len(index) - 1 and np.array_equal(
            index, np.arange(start, start + len(index))):
        return slice(start, start + len(index))
    return None


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


def interleaved_operands(image, kernel_shape, anchor, mode, rows=None):
    """What the compiled loops take: the (H, W, C) image as (H, W*C) interleaved rows, the row
    and column index maps of the border (``-1`` = cval), and an empty output.

    ``rows``: the row map of a band of a larger image (:mod:`imgconv.engine.rows`): for each
    row of the band extended by the kernel's reach, the row of ``image`` it is (``-1``: cval);
    the output then has ``len(rows) - h + 1`` rows. Default: ``image`` is the whole image."""
    H, W, C = image.shape
    h, w = kernel_shape
    src = np.ascontiguousarray(image, dtype=np.float32).reshape(H, W * C)
    if rows is None:
        rows = source_index(H, anchor[0], h - 1 - anchor[0], mode)
    cols = source_index(W, anchor[1], w - 1 - anchor[1], mode)
    return src, rows, cols, np.empty((len(rows) - h + 1, W * C), np.float32)


def row_blocks(H):
    """How many row blocks the compiled loops split H rows into: enough to balance the
    current settings' threads, each block a few rows at least."""
    from imgconv.settings import current

    return max(1, min(H, 8 * current().threads, H // 4 or 1))
