"""The direct method: every kernel tap, for every pixel.

With numba this runs a compiled loop over interleaved rows, blocks of rows on
several threads (see ``_compiled``); without it, NumPy adds one shifted view per tap
(:func:`imgconv.engine.plain.correlate_taps`).
"""
import numpy as np

from imgconv.engine import _compiled
from imgconv.engine.boundary import interleaved_operands, row_blocks


def correlate_direct(image, kernel, anchor, mode, cval, compiled=None, rows=None):
    """Correlate ``image`` (H, W, C) float32 with ``kernel`` (h, w) anchored at ``anchor``.

    ``compiled`` chooses the numba loops (default: when available) or NumPy. ``rows``: the row
    map of a band (see :mod:`imgconv.engine.rows`): only the band's rows are returned, computed
    as in the whole image.

    Examples
    --------
    >>> img = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    >>> correlate_direct(img, np.eye(1), (0, 0), "reflect", 0.0)[..., 0][0]
    array([0., 1., 2., 3.], dtype=float32)
    """
    H, W, C = image.shape
    h, w = kernel.shape
    if compiled is None:
        compiled = _compiled.enabled()
    if compiled:
        loops = _compiled.loops()
        src, rows, cols, out = interleaved_operands(image, (h, w), anchor, mode, rows)
        tap_rows, tap_cols = np.nonzero(kernel)
        if tap_rows.size == 0:  # an all-zero kernel: skip nothing, the result is zero
            tap_rows, tap_cols = np.zeros(1, np.intp), np.zeros(1, np.intp)
        loops.correlate_direct(src, tap_rows.astype(np.int64), tap_cols.astype(np.int64),
                                   kernel[tap_rows, tap_cols].astype(np.float32), h, rows, cols, anchor[1], C,
                                   np.float32(cval), row_blocks(out.shape[0]), out)
        return out.reshape(-1, W, C)
    from imgconv.engine.plain import correlate_taps

    return correlate_taps(image, kernel, anchor, mode, cval, rows)
