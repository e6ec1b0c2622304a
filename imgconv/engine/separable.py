"""The separable method: a kernel of numerical rank r as r pairs of 1-D passes.

A rank-1 kernel (box, Gaussian, Sobel) costs ``h + w`` multiply-adds per pixel
instead of ``h * w``; a low-rank one (a disc, a LoG, a sharpen) ``r * (h + w)``.
The factors come from the SVD; components are dropped only while the error they
could cause stays below 1e-7 of the kernel's absolute sum.
"""
import numpy as np

from imgconv.engine import _compiled
from imgconv.engine.boundary import interleaved_operands, row_blocks


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

    ``compiled`` chooses the numba loops (default: when available) or NumPy's matrix products
    (:func:`imgconv.engine.plain.correlate_banded`); ``rows`` as for
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
    from imgconv.engine.plain import correlate_banded

    return correlate_banded(image, factors, anchor, mode, cval, rows)
