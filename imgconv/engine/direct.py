"""The direct method: every kernel tap, for every pixel.

With the optional numba extra this runs a compiled, multi-threaded loop over
interleaved rows (see ``_compiled``); without it, ``scipy.ndimage.correlate``
does the same arithmetic in C, one channel at a time.
"""
import numpy as np

from imgconv.engine import _compiled
from imgconv.settings import current
from imgconv.engine.boundary import source_index


def correlate_direct(image, kernel, anchor, mode, cval, compiled=None):
    """Correlate ``image`` (H, W, C) float32 with ``kernel`` (h, w) anchored at ``anchor``.

    ``compiled`` chooses the numba loops (default: when available) or SciPy.

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
        src = np.ascontiguousarray(image, dtype=np.float32).reshape(H, W * C)
        rows = source_index(H, anchor[0], h - 1 - anchor[0], mode)
        cols = source_index(W, anchor[1], w - 1 - anchor[1], mode)
        out = np.empty((H, W * C), np.float32)
        tap_rows, tap_cols = np.nonzero(kernel)
        if tap_rows.size == 0:  # an all-zero kernel: skip nothing, the result is zero
            tap_rows, tap_cols = np.zeros(1, np.intp), np.zeros(1, np.intp)
        loops.correlate_direct(src, tap_rows.astype(np.int64), tap_cols.astype(np.int64),
                                   kernel[tap_rows, tap_cols].astype(np.float32), h, rows, cols, anchor[1], C,
                                   np.float32(cval), _blocks(H), out)
        return out.reshape(H, W, C)
    from scipy import ndimage

    origin = (anchor[0] - h // 2, anchor[1] - w // 2)
    out = np.empty((H, W, C), np.float32)
    for c in range(C):
        ndimage.correlate(image[..., c], kernel, output=out[..., c], mode=mode, cval=cval, origin=origin)
    return out


def _blocks(H):
    """Row blocks for the compiled loops: enough to balance threads, each a few rows at least."""
    return max(1, min(H, 8 * current().threads, H // 4 or 1))
