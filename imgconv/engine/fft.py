"""The FFT method: correlation by the convolution theorem, in overlap-save tiles.

The image is extended by the boundary mode (as much as the kernel reaches), cut
into tiles whose transform length is a fast length (``scipy.fft.next_fast_len``),
and each tile is multiplied by the kernel's spectrum (computed once). Tiles keep
memory bounded (one padded copy of the image plus the output) and caches warm.
Transforms run in float32 when the kernel is small in absolute sum (error well
under 1e-5 on [0, 1] data), otherwise in float64.
"""
import numpy as np

from imgconv.engine.boundary import pad_interleaved
from imgconv.settings import current

#: candidate tile sides (output pixels); the planner picks the cheapest. Measured
#: (benchmarks/bench_engine.py --calibrate): tiles of 256-768 run at 0.55-0.9 ns per
#: n log2 n unit, smaller ones pay per-tile overhead, larger ones miss the caches.
TILE_SIDES = (256, 384, 512, 768)
#: per-tile overhead, in n log2 n units (Python dispatch, copies, small-transform setup)
TILE_OVERHEAD = 4e5


def fft_shape(n_out, k):
    """Fast transform length for ``n_out`` outputs of a ``k``-tap kernel."""
    return next_fast_len(n_out + k - 1)


def next_fast_len(n):
    """The smallest ``2**a * 3**b * 5**c >= n``: ``scipy.fft.next_fast_len(n, real=True)``, without
    importing scipy.fft (a quarter of a second), so that planning a kernel costs nothing.

    Examples
    --------
    >>> next_fast_len(2161), next_fast_len(257)
    (2187, 270)
    """
    best = 1 << max(0, n - 1).bit_length()
    fives = 1
    while fives < best:
        odd = fives
        while odd < best:
            best = min(best, odd << max(0, -(-n // odd) - 1).bit_length())
            odd *= 3
        fives *= 5
    return best


def tile_plan(shape, kshape):
    """Choose output tile sides ``(ty, tx)`` minimising total transform work.

    Returns ``(ty, tx, work)`` with ``work`` in units of ``n log2 n`` per plane.
    """
    H, W = shape
    h, w = kshape

    def axis_options(n, k, whole):
        # fixed sides suit small kernels; a large kernel needs tiles a few times its size
        opts = {min(n, t) for t in TILE_SIDES} | {min(n, m * k) for m in (1, 2, 4)} | ({n} if whole else set())
        return [(t, fft_shape(t, k), -(-n // t)) for t in sorted(opts)]

    best = None
    # tiles never span a tall image's whole height: strips of whole tiles can then stream it
    # (imgconv.stream), at a cost of a few per cent more overlap
    for ty, ny, nty in axis_options(H, h, whole=False):
        for tx, nx, ntx in axis_options(W, w, whole=True):
            size = ny * nx
            # transforms beyond ~0.5 Mpx leave the caches: measured 0.6 -> 0.85 ns/unit at 1 Mpx
            cache = 1 + 0.25 * np.log2(max(1.0, size / 2**19))
            work = nty * ntx * (size * np.log2(max(size, 2)) * cache + TILE_OVERHEAD)
            if best is None or work < best[2]:
                best = (ty, tx, work)
    return best


def correlate_fft(image, kernel, anchor, mode, cval, tile=None, halo=None):
    """Correlate ``image`` (H, W, C) with ``kernel`` (h, w) anchored at ``anchor``, via FFT.

    ``halo=(above, below)``: the image is a band of rows with that many rows of context on each
    side (see :mod:`imgconv.engine.rows`); only the band's rows are returned. A band starting on
    a tile boundary of the whole image, with the whole image's ``tile`` plan, gets the very
    tiles (and so the very values) of the whole-image result.

    Examples
    --------
    >>> img = np.random.default_rng(0).random((40, 50, 1), dtype=np.float32)
    >>> from scipy import ndimage
    >>> k = np.random.default_rng(1).random((7, 4))
    >>> ref = ndimage.correlate(img[..., 0].astype(float), k, mode="wrap")
    >>> bool(np.abs(correlate_fft(img, k, (3, 2), "wrap", 0.0)[..., 0] - ref).max() < 1e-5)
    True
    """
    H, W, C = image.shape
    h, w = kernel.shape
    ctype = np.float32 if np.abs(kernel).sum() <= 64 else np.float64
    above, below = anchor[0], h - 1 - anchor[0]
    if halo is not None:  # only the reach past the context given is extended (constant mode)
        above, below = above - halo[0], below - halo[1]
    padded = pad_interleaved(image, (above, anchor[1]), (below, w - 1 - anchor[1]), mode, cval, dtype=ctype)
    out_rows = padded.shape[0] - h + 1
    return _correlate_padded(padded, kernel, (out_rows, W, C), tile or tile_plan((out_rows, W), (h, w)))


def _correlate_padded(padded, kernel, shape, tile):
    """The tiles of the result of ``shape`` (H, W, C) from the image already extended by the
    kernel's reach (``padded``: (H + h - 1, W + w - 1, C), the transform's dtype)."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy import fft as sfft

    H, W, C = shape
    h, w = kernel.shape
    ty, tx, _ = tile
    ny, nx = fft_shape(ty, h), fft_shape(tx, w)
    spectrum = sfft.rfft2(kernel[::-1, ::-1].astype(padded.dtype), s=(ny, nx))[:, :, None]
    out = np.empty((H, W, C), np.float32)

    def one_tile(origin):
        y0, x0 = origin
        oy, ox = min(ty, H - y0), min(tx, W - x0)
        block = padded[y0:y0 + oy + h - 1, x0:x0 + ox + w - 1]  # channels stay interleaved:
        prod = sfft.rfft2(block, s=(ny, nx), axes=(0, 1))        # no transposed copies
        prod *= spectrum
        res = sfft.irfft2(prod, s=(ny, nx), axes=(0, 1), overwrite_x=True)
        out[y0:y0 + oy, x0:x0 + ox] = res[h - 1:h - 1 + oy, w - 1:w - 1 + ox]

    origins = [(y0, x0) for y0 in range(0, H, ty) for x0 in range(0, W, tx)]
    threads = min(current().threads, len(origins))
    if threads == 1:
        for origin in origins:
            one_tile(origin)
    else:  # pocketfft releases the GIL: one tile per thread beats threads inside one transform
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one_tile, origins))
    return out
