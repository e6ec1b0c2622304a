"""The direct method for volumes: every non-zero kernel tap, for every voxel.

With the compiled loops (numba) the volume is padded once by the boundary mode and a
loop sums the taps over interleaved rows, blocks of rows on several threads
(:mod:`imgconv.engine._loops3d`); without them, ``scipy.ndimage.correlate`` does the same
arithmetic in 3-D, one channel at a time.

Examples
--------
>>> v = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)
>>> k = np.zeros((1, 1, 3)); k[0, 0, 2] = 1   # correlation: take the right neighbour
>>> correlate_direct_volume(v, k, (0, 0, 1), "nearest", 0.0)[0, 0, :, 0]
array([1., 2., 3., 3.], dtype=float32)
"""
import numpy as np

from imgconv.engine import _compiled
from imgconv.engine.nd_boundary import pad_volume


def row_blocks3d(rows):
    """How many blocks the compiled volume loops split ``rows`` output rows into."""
    from imgconv.settings import current

    return max(1, min(rows, 8 * current().threads))


def correlate_direct_volume(volume, kernel, anchor, mode, cval, compiled=None, out=None):
    """Correlate ``volume`` (Z, Y, X, C) float32 with ``kernel`` (kz, ky, kx) anchored at ``anchor``
    (into ``out``, a C-contiguous float32 array of the volume's shape, when given)."""
    Z, Y, X, C = volume.shape
    shape = kernel.shape
    if compiled is None:
        compiled = _compiled.enabled()
    if not compiled:
        from scipy import ndimage

        origin = tuple(a - k // 2 for a, k in zip(anchor, shape))
        out = np.empty(volume.shape, np.float32) if out is None else out
        for c in range(C):
            ndimage.correlate(volume[..., c], kernel, output=out[..., c], mode=mode, cval=cval, origin=origin)
        return out
    loops = _compiled.loops3d()
    after = tuple(k - 1 - a for k, a in zip(shape, anchor))
    padded = pad_volume(volume, anchor, after, mode, cval, np.float32)
    padded = padded.reshape(padded.shape[0], padded.shape[1], -1)
    taps = np.nonzero(kernel)
    if taps[0].size == 0:  # an all-zero kernel: one zero tap gives the zero result
        taps = tuple(np.zeros(1, np.intp) for _ in range(3))
    out = np.empty((Z, Y, X * C), np.float32) if out is None else out.reshape(Z, Y, X * C)
    loops.correlate_direct3d(padded, taps[0].astype(np.int64), taps[1].astype(np.int64),
                             (taps[2] * C).astype(np.int64), kernel[taps].astype(np.float32),
                             row_blocks3d(Z * Y), out)
    return out.reshape(Z, Y, X, C)
