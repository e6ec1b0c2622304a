"""The FFT method: correlation by the convolution theorem, in overlap-save tiles.

The image is extended by the boundary mode (as much as the kernel reaches), cut
into tiles whose transform length is a fast length (``scipy.fft.next_fast_len``),
and each tile is multiplied by the kernel's spectrum (computed once). Tiles keep
memory bounded (the image, the output and one extended tile per thread) and caches warm.
Transforms run in float32 when the kernel is small in absolute sum (error well
under 1e-5 on [0, 1] data), otherwise in float64.
"""
import numpy as np

from imgconv.engine.boundary import source_index
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
    above, below = anchor[0], h - 1 - anchor[0]
    if halo is not None:  # only the reach past the context given is extended (constant mode)
        above, below = above - halo[0], below - halo[1]
    rows = source_index(H, above, below, mode)  # of each row and column of the extended image
    cols = source_index(W, anchor[1], w - 1 - anchor[1], mode)
    out_rows = len(rows) - h + 1
    tile = tile or tile_plan((out_rows, W), (h, w))
    ty, tx, _ = tile
    ny, nx = fft_shape(ty, h), fft_shape(tx, w)
    ctype = np.float32 if np.abs(kernel).sum() <= 64 else np.float64
    spectrum = sfft_module().rfft2(kernel[::-1, ::-1].astype(ctype), s=(ny, nx))[:, :, None]
    out = np.empty((out_rows, W, C), np.float32)

    def one_tile(origin):
        y0, x0 = origin
        oy, ox = min(ty, out_rows - y0), min(tx, W - x0)
        block = _extended_block(image, rows[y0:y0 + oy + h - 1], cols[x0:x0 + ox + w - 1], cval, ctype)
        sfft = sfft_module()
        prod = sfft.rfft2(block, s=(ny, nx), axes=(0, 1))  # channels stay interleaved: no transposed copies
        prod *= spectrum
        res = sfft.irfft2(prod, s=(ny, nx), axes=(0, 1), overwrite_x=True)
        out[y0:y0 + oy, x0:x0 + ox] = res[h - 1:h - 1 + oy, w - 1:w - 1 + ox]

    origins = [(y0, x0) for y0 in range(0, out_rows, ty) for x0 in range(0, W, tx)]
    threads = min(current().threads, len(origins))
    if threads == 1:
        for origin in origins:
            one_tile(origin)
    else:  # pocketfft releases the GIL: one tile per thread beats threads inside one transform
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one_tile, origins))
    return out


def sfft_module():
    """scipy.fft, imported on first use (a quarter of a second)."""
    from scipy import fft

    return fft


def _extended_block(image, rows, cols, cval, dtype):
    """One tile's input: the image's ``rows`` and ``cols`` (from ``source_index``: -1 is cval) in
    ``dtype``; a view of the image where they are a plain range, so that no padded copy of the
    whole image is ever made (peak memory: the image, the output and a tile per thread)."""
    r0, c0 = rows[0], cols[0]
    if r0 >= 0 and c0 >= 0 and rows[-1] - r0 == len(rows) - 1 and cols[-1] - c0 == len(cols) - 1 \
            and (np.diff(rows) == 1).all() and (np.diff(cols) == 1).all():
        block = image[r0:rows[-1] + 1, c0:cols[-1] + 1]
        return block if block.dtype == dtype else block.astype(dtype)
    block = image[np.ix_(np.maximum(rows, 0), np.maximum(cols, 0))].astype(dtype, copy=False)
    block[rows < 0] = cval
    block[:, cols < 0] = cval
    return block
