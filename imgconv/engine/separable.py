"""The separable method: a kernel of numerical rank r as r pairs of 1-D passes.

A rank-1 kernel (box, Gaussian, Sobel) costs ``h + w`` multiply-adds per pixel
instead of ``h * w``; a low-rank one (a disc, a LoG, a sharpen) ``r * (h + w)``.
The factors come from the SVD; components are dropped only while the error they
could cause stays below 1e-7 of the kernel's absolute sum.
"""
import numpy as np

from imgconv.engine import _compiled
from imgconv.engine.boundary import interleaved_operands, mapped_rows, row_blocks


def low_rank_factors(kernel, rtol=1e-7):
    """Split ``kernel`` into ``(col_factors (r, h), row_factors (r, w))`` with ``sum_r outer == kernel``.

    Examples
    --------
    >>> u, v = low_rank_factors(np.outer([1, 2, 1], [-1, 0, 1]))
    >>> u.shape, v.shape
    ((1, 3), (1, 3))
    >>> np.allclose(np.outer(u[0], v[0]), np.outer([1, 2, 1], [-1, 0, 1]))
    True
    """
    k = np.asarray(kernel, np.float64)
    u, s, vt = np.linalg.svd(k, full_matrices=False)
    # worst-case error of dropping component i on [0,1] data: s_i * |u_i|_1 * |v_i|_1
    bound = s * np.abs(u).sum(0) * np.abs(vt).sum(1)
    dropped = np.cumsum(bound[::-1])[::-1]  # dropped[i] = error if components i.. are dropped
    budget = rtol * max(np.abs(k).sum(), np.finfo(float).tiny)
    rank = next((i for i in range(len(s)) if dropped[i] <= budget), len(s))
    rank = max(rank, 1)
    root = np.sqrt(s[:rank])
    return (u[:, :rank] * root).T.copy(), (vt[:rank] * root[:, None]).copy()


def correlate_separable(image, factors, anchor, mode, cval, compiled=None, rows=None):
    """Correlate ``image`` (H, W, C) with ``sum_r outer(col[r], row[r])`` anchored at ``anchor``.

    ``compiled`` chooses the numba loops (default: when available) or SciPy; ``rows`` as for
    :func:`imgconv.engine.direct.correlate_direct` (the row map of a band).
    """
    cols_f, rows_f = factors
    H, W, C = image.shape
    h, w = cols_f.shape[1], rows_f.shape[1]
    if compiled is None:
        compiled = _compiled.enabled()
    if compiled:
        loops = _compiled.loops()
        src, rows, cols, out = interleaved_operands(image, (h, w), anchor, mode, rows)
        loops.correlate_lowrank(src, cols_f.astype(np.float32), rows_f.astype(np.float32), rows, cols,
                                anchor[1], C, np.float32(cval), row_blocks(out.shape[0]), out)
        return out.reshape(-1, W, C)
    if rows is None:
        return _correlate_separable_scipy(image, cols_f, rows_f, anchor, mode, cval)
    block, first = mapped_rows(image, rows, anchor[0])
    return _correlate_separable_scipy(block, cols_f, rows_f, anchor, mode, cval)[first:first + len(rows) - h + 1]


def _correlate_separable_scipy(image, cols_f, rows_f, anchor, mode, cval):
    """Fallback without numba: two ``scipy.ndimage.correlate1d`` passes per rank component."""
    from scipy import ndimage

    h, w = cols_f.shape[1], rows_f.shape[1]
    o0, o1 = anchor[0] - h // 2, anchor[1] - w // 2
    x = image.astype(np.float32, copy=False)
    if mode == "constant" and cval != 0:
        # the second pass would see cval where the 2-D filter sees cval too: shift it to zero
        x = x - np.float32(cval)
    out = np.zeros(image.shape, np.float32)
    tmp = np.empty(image.shape, np.float32)
    for u, v in zip(cols_f, rows_f):
        ndimage.correlate1d(x, u, axis=0, output=tmp, mode=mode, cval=0.0, origin=o0)
        out += ndimage.correlate1d(tmp, v, axis=1, mode=mode, cval=0.0, origin=o1)
    if mode == "constant" and cval != 0:
        out += np.float32(cval * (cols_f.sum(1) * rows_f.sum(1)).sum())
    return out
