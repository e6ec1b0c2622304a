"""The direct and separable methods in NumPy and its BLAS: what runs without the compiled loops.

A one-off command that does not load numba (loading it costs about half a second), or a
machine without it, runs these. Both read one block of the image extended by the boundary
mode (:func:`imgconv.engine.boundary.gather_block`: the band's rows and the padded columns),
then:

* ``direct`` (:func:`correlate_taps`): one multiply-add of a shifted view per non-zero tap,
  in row blocks that stay in the cache;
* ``separable`` (:func:`correlate_banded`): each rank component as two matrix products with
  banded Toeplitz matrices, one down the columns (blocks of :data:`BAND_ROWS` output rows)
  and one along the interleaved rows (blocks of :data:`BAND_COLS` pixels). The zero entries of
  a band add exact zeros, so every output is the sum of its taps in tap order: a block's
  position does not change the arithmetic, and a band of rows is bit-identical to the same
  rows of the whole image. Rows where an infinity or a NaN met a zero entry (which would
  spread NaN where no tap reaches) are redone by ``direct``, as is a kernel too tall for
  :func:`banded_fits`.

Examples
--------
>>> img = np.arange(20, dtype=np.float32).reshape(4, 5, 1)
>>> k = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
>>> from imgconv.engine.separable import low_rank_factors
>>> a = correlate_banded(img, low_rank_factors(k), (1, 1), "reflect", 0.0)
>>> b = correlate_taps(img, k, (1, 1), "reflect", 0.0)
>>> bool(np.allclose(a, b))
True
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from imgconv.engine.boundary import distinct, gather_block, source_index

#: output rows of one product down the columns (and of one block of ``direct``)
BAND_ROWS = 16
#: output pixels of one product along the rows
BAND_COLS = 16
#: the most bytes of extended rows one block of :func:`correlate_banded` reads
BLOCK_BYTES = 64 * 2**20


def _maps(shape, kernel_shape, anchor, mode, rows):
    """The row map (a band's, or the whole image's) and the column map of the extended block."""
    H, W = shape[:2]
    h, w = kernel_shape
    if rows is None:
        rows = source_index(H, anchor[0], h - 1 - anchor[0], mode)
    return np.asarray(rows), source_index(W, anchor[1], w - 1 - anchor[1], mode)


def _block(image, rows, cols, cval):
    """Rows ``rows`` by columns ``cols`` of the extended image, contiguous float32 (a view of
    the image where both are plain runs of it): the rows first, so that only they are copied."""
    cval = np.float32(cval)
    block = gather_block(image, rows, np.arange(image.shape[1]), cval)
    if cols is not None:
        block = gather_block(block, np.arange(len(block)), cols, cval)
    return np.ascontiguousarray(block, dtype=np.float32)


def _distinct(window):
    """``(ids, pos, run)`` of a window of a row map: :func:`~imgconv.engine.boundary.distinct`
    (-1, a cval row, first), and whether the window is one plain run of rows (then ``pos`` is
    ``0, 1, 2, ...``). A kernel taller than the image repeats rows: each is read once.

    Examples
    --------
    >>> ids, pos, run = _distinct(np.array([1, 0, 0, 1, 2]))
    >>> ids.tolist(), pos.tolist(), run
    ([0, 1, 2], [1, 0, 0, 1, 2], False)
    """
    window = np.asarray(window)
    if window.size and window[0] >= 0 and np.array_equal(window, np.arange(window[0], window[0] + window.size)):
        return window, np.arange(window.size), True
    return *distinct(window), False


def _row_blocks(n, work):
    """Run ``work(a, b)`` over blocks of :data:`BAND_ROWS` of ``n`` rows, in this thread (a
    strip pipeline's other threads encode meanwhile; more threads here measured no faster).
    Overflow and NaN arise silently, as in the compiled loops."""
    with np.errstate(all="ignore"):
        for a in range(0, n, BAND_ROWS):
            work(a, min(n, a + BAND_ROWS))


def correlate_taps(image, kernel, anchor, mode, cval, rows=None):
    """Correlate ``image`` (H, W, C) float32 with ``kernel`` (h, w) anchored at ``anchor``, one
    shifted view per non-zero tap; ``rows`` as for :func:`imgconv.engine.direct.correlate_direct`."""
    W, C = image.shape[1:]
    h, w = kernel.shape
    rows, cols = _maps(image.shape, (h, w), anchor, mode, rows)
    n = len(rows) - h + 1
    taps = [(int(i), int(j), np.float32(kernel[i, j])) for i, j in zip(*np.nonzero(kernel))]
    out = np.empty((n, W, C), np.float32)
    if not taps:  # an all-zero kernel: zero everywhere, as scipy.ndimage gives it
        out[...] = 0
        return out

    def work(a, b):
        m = b - a
        ids, pos, run = _distinct(rows[a:b + h - 1])
        block = _block(image, ids, cols, cval)  # each row once

        def view(i, j):
            return block[i:i + m, j:j + W] if run else block[pos[i:i + m], j:j + W]

        result, scratch = out[a:b], np.empty((m, W, C), np.float32)
        i, j, weight = taps[0]
        np.multiply(view(i, j), weight, out=result)
        for i, j, weight in taps[1:]:
            np.multiply(view(i, j), weight, out=scratch)
            result += scratch

    _row_blocks(n, work)
    return out


def _down_band(factor, n):
    """The n x (n + h - 1) Toeplitz matrix whose row i holds ``factor`` from column i."""
    h = len(factor)
    band = np.zeros((n, n + h - 1), np.float32)
    i = np.arange(n)[:, None]
    band[i, i + np.arange(h)] = factor
    return band


def _along_band(factor, pixels, channels):
    """The ((pixels + w - 1) * C) x (pixels * C) matrix that correlates interleaved rows of
    ``channels`` samples per pixel with ``factor`` along the row."""
    w = len(factor)
    band = np.zeros(((pixels + w - 1) * channels, pixels * channels), np.float32)
    x, j, c = np.meshgrid(np.arange(pixels), np.arange(w), np.arange(channels), indexing="ij")
    band[((x + j) * channels + c).ravel(), (x * channels + c).ravel()] = np.broadcast_to(
        np.asarray(factor, np.float32)[None, :, None], x.shape).ravel()
    return band


def _kernel(cols_f, rows_f):
    """The kernel ``sum_r outer(col[r], row[r])`` of separable factors, in float64."""
    return np.einsum("ri,rj->ij", cols_f.astype(np.float64), rows_f.astype(np.float64))


def banded_fits(h, width, channels):
    """Whether a block of :func:`correlate_banded` (:data:`BAND_ROWS` + h - 1 extended rows of
    ``width`` x ``channels`` samples, read in order: the sums stay those of the taps) stays
    within :data:`BLOCK_BYTES`; a taller kernel runs :func:`correlate_taps`, which reads each
    row of a block once."""
    return (BAND_ROWS + h - 1) * width * channels * 4 <= BLOCK_BYTES


def correlate_banded(image, factors, anchor, mode, cval, rows=None):
    """Correlate ``image`` (H, W, C) with ``sum_r outer(col[r], row[r])`` anchored at ``anchor``
    by banded matrix products; ``rows`` as for :func:`imgconv.engine.direct.correlate_direct`.

    Every product has the same shape (the last block of rows is padded to a full one), so each
    output's arithmetic is the same wherever its block starts. A kernel too tall for
    :func:`banded_fits` runs by its taps instead. Each block is multiplied down
    the columns of the image as they are; the columns the boundary mode adds are then copied
    from the product (or, in ``constant`` mode, are the product of cval columns): the same
    arithmetic as on an extended block, without building one.
    """
    cols_f, rows_f = (np.asarray(f, np.float32) for f in factors)
    W, C = image.shape[1:]
    h, w = cols_f.shape[1], rows_f.shape[1]
    if not banded_fits(h, W, C):
        return correlate_taps(image, _kernel(cols_f, rows_f), anchor, mode, cval, rows)
    rows, cols = _maps(image.shape, (h, w), anchor, mode, rows)
    n, left, wide, m = len(rows) - h + 1, anchor[1], (W + w - 1) * C, BAND_ROWS
    pads = np.concatenate([np.arange(left), np.arange(left + W, W + w - 1)])
    pad_samples = (pads[:, None] * C + np.arange(C)).ravel()
    from_samples = ((cols[pads] + left)[:, None] * C + np.arange(C)).ravel()
    out = np.empty((n, W, C), np.float32)
    full = W // BAND_COLS
    split = full * BAND_COLS * C
    down = [_down_band(u, m) for u in cols_f]
    edges = [band @ np.full((m + h - 1, C), np.float32(cval)) for band in down]
    along = [_along_band(v, BAND_COLS, C) for v in rows_f]
    rest = [_along_band(v, W - full * BAND_COLS, C) for v in rows_f] if W % BAND_COLS else None

    def work(a, b):
        source = _block(image, rows[a:b + h - 1], None, cval).reshape(b - a + h - 1, W * C)
        if b - a < m:  # the last rows: a full block, its surplus rows zero
            source = np.concatenate([source, np.zeros((m - (b - a), W * C), np.float32)])
        result = out[a:b].reshape(b - a, W * C)
        columns = np.empty((m, wide), np.float32)
        part = result if len(cols_f) == 1 and b - a == m else np.empty((m, W * C), np.float32)
        for r in range(len(cols_f)):
            np.matmul(down[r], source, out=columns[:, left * C:(left + W) * C])
            if pads.size:
                columns[:, pad_samples] = np.tile(edges[r], len(pads)) if mode == "constant" \
                    else columns[:, from_samples]
            if full:
                pieces = as_strided(columns, (m, full, along[r].shape[0]), (columns.strides[0], BAND_COLS * C * 4, 4))
                target = as_strided(part, (m, full, BAND_COLS * C), (part.strides[0], BAND_COLS * C * 4, 4))
                np.matmul(pieces, along[r], out=target)
            if rest is not None:
                np.matmul(columns[:, split:], rest[r], out=part[:, split:])
            if part is not result:
                if r == 0:
                    result[...] = part[:b - a]
                else:
                    result += part[:b - a]

    _row_blocks(n, work)
    bad = np.flatnonzero(~np.isfinite(out).all(axis=(1, 2))) if out.size else []
    if len(bad):  # an infinity or NaN met a zero of a band: those rows from their taps alone
        kernel = _kernel(cols_f, rows_f)
        for r in bad:
            out[r] = correlate_taps(image, kernel, anchor, mode, cval, rows[r:r + h])[0]
    return out
