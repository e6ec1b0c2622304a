"""The FFT method for volumes: correlation by the convolution theorem, in 3-D overlap-save tiles.

As in 2-D (:mod:`imgconv.engine.fft`): the volume is extended by the boundary mode as far
as the kernel reaches, cut into tiles whose transform lengths are fast lengths, and each
tile is multiplied by the kernel's spectrum (computed once); tiles run on the cores.
Memory is one padded copy of the volume, the output, and one tile per thread.

Examples
--------
>>> from scipy import ndimage
>>> v = np.random.default_rng(0).random((9, 10, 11, 1), dtype=np.float32)
>>> k = np.random.default_rng(1).random((3, 4, 2))
>>> ref = ndimage.correlate(v[..., 0].astype(float), k, mode="mirror")
>>> bool(np.abs(correlate_fft_volume(v, k, (1, 2, 1), "mirror", 0.0)[..., 0] - ref).max() < 1e-5)
True
"""
import functools
import itertools

import numpy as np

from imgconv.engine.fft import TILE_OVERHEAD, fft_shape, run_tiles
from imgconv.engine.nd_boundary import pad_volume

#: candidate tile sides (output voxels per axis); the planner picks the cheapest combination
TILE_SIDES_3D = (32, 64, 128, 256)


@functools.lru_cache(maxsize=256)
def tile_plan_volume(shape, kshape):
    """Choose output tile sides ``(tz, ty, tx)`` minimising total transform work.

    Returns ``(tz, ty, tx, work)``, ``work`` in units of ``n log2 n`` per channel. A pure
    function of the two shapes (tuples), remembered: Richardson-Lucy asks 60 times.

    Examples
    --------
    >>> tile_plan_volume((16, 40, 40), (3, 3, 3))[:3]
    (16, 40, 40)
    """
    def axis_options(n, k):
        opts = {min(n, t) for t in TILE_SIDES_3D} | {min(n, m * k) for m in (1, 2, 4)} | {n}
        return [(t, fft_shape(t, k), -(-n // t)) for t in sorted(opts)]

    best = None
    for choice in itertools.product(*(axis_options(n, k) for n, k in zip(shape, kshape))):
        size = float(np.prod([c[1] for c in choice]))
        tiles = int(np.prod([c[2] for c in choice]))
        cache = 1 + 0.25 * np.log2(max(1.0, size / 2**19))  # as measured in 2-D
        work = tiles * (size * np.log2(max(size, 2)) * cache + TILE_OVERHEAD)
        if best is None or work < best[3]:
            best = (choice[0][0], choice[1][0], choice[2][0], work)
    return best


def correlate_fft_volume(volume, kernel, anchor, mode, cval, tile=None, out=None):
    """Correlate ``volume`` (Z, Y, X, C) float32 with ``kernel`` (kz, ky, kx) anchored at ``anchor``, via FFT
    (into ``out``, a float32 array of the volume's shape, when given)."""
    from scipy import fft as sfft

    Z, Y, X, C = volume.shape
    shape = kernel.shape
    sides = tile[:3] if tile is not None else tile_plan_volume((Z, Y, X), shape)[:3]
    lengths = tuple(fft_shape(t, k) for t, k in zip(sides, shape))
    ctype = np.float32 if np.abs(kernel).sum() <= 64 else np.float64
    after = tuple(k - 1 - a for k, a in zip(shape, anchor))
    padded = pad_volume(volume, anchor, after, mode, cval, dtype=ctype)
    spectrum = sfft.rfftn(kernel[::-1, ::-1, ::-1].astype(ctype), s=lengths)[..., None]
    out = np.empty(volume.shape, np.float32) if out is None else out
    kz, ky, kx = shape

    def one_tile(origin):
        z0, y0, x0 = origin
        oz, oy, ox = min(sides[0], Z - z0), min(sides[1], Y - y0), min(sides[2], X - x0)
        block = padded[z0:z0 + oz + kz - 1, y0:y0 + oy + ky - 1, x0:x0 + ox + kx - 1]
        prod = sfft.rfftn(block, s=lengths, axes=(0, 1, 2))
        prod *= spectrum
        res = sfft.irfftn(prod, s=lengths, axes=(0, 1, 2), overwrite_x=True)
        out[z0:z0 + oz, y0:y0 + oy, x0:x0 + ox] = res[kz - 1:kz - 1 + oz, ky - 1:ky - 1 + oy, kx - 1:kx - 1 + ox]

    run_tiles(one_tile, list(itertools.product(range(0, Z, sides[0]), range(0, Y, sides[1]), range(0, X, sides[2]))))
    return out
