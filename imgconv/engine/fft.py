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
    from scipy.fft import next_fast_len

    return next_fast_len(n_out + k - 1, real=True)


def tile_plan(shape, kshape):
    """Choose output tile sides ``(ty, tx)`` minimising total transform work.

    Returns ``(ty, tx, work)`` with ``work`` in units of ``n log2 n`` per plane.
    """
    H, W = shape
    h, w = kshape

    def axis_options(n, k):
        # fixed sides suit small kernels; a large kernel needs tiles a few times its size
        opts = {min(n, t) for t in TILE_SIDES} | {min(n, m * k) for m in (1, 2, 4)} | {n}
        return [(t, fft_shape(t, k), -(-n // t)) for t in sorted(opts)]

    best = None
    for ty, ny, nty in axis_options(H, h):
        for tx, nx, ntx in axis_options(W, w):
            size = ny * nx
            # transforms beyond ~0.5 Mpx leave the caches: measured 0.6 -> 0.85 ns/unit at 1 Mpx
            cache = 1 + 0.25 * np.log2(max(1.0, size / 2**19))
            work = nty * ntx * (size * np.log2(max(size, 2)) * cache + TILE_OVERHEAD)
            if best is None or work < best[2]:
                best = (ty, tx, work)
    return best


def correlate_fft(image, kernel, anchor, mode, cval, tile=None):
    """Correlate ``image`` (H, W, C) with ``kernel`` (h, w) anchored at ``anchor``, via FFT.

    Examples
    --------
    >>> img = np.random.default_rng(0).random((40, 50, 1), dtype=np.float32)
    >>> from scipy import ndimage
    >>> k = np.random.default_rng(1).random((7, 4))
    >>> ref = ndimage.correlate(img[..., 0].astype(float), k, mode="wrap")
    >>> bool(np.abs(correlate_fft(img, k, (3, 2), "wrap", 0.0)[..., 0] - ref).max() < 1e-5)
    True
    """
    H, W, _ = image.shape
    h, w = kernel.shape
    padded = pad_interleaved(image, anchor, (h - 1 - anchor[0], w - 1 - anchor[1]), mode, cval,
                             dtype=transform_dtype(kernel))
    return correlate_padded(padded, kernel, tile if tile is not None else tile_plan((H, W), (h, w)))


def transform_dtype(kernel):
    """float32 transforms for a kernel of small absolute sum (error well under 1e-5), else float64."""
    return np.float32 if np.abs(kernel).sum() <= 64 else np.float64


def correlate_padded(padded, kernel, tile):
    """The valid correlation of ``padded`` ((H + h - 1, W + w - 1, C), of
    :func:`transform_dtype`) with ``kernel``: (H, W, C) float32, in the tiles ``tile`` gives
    (``(ty, tx, work)`` of :func:`tile_plan`), from ``padded``'s first row and column on.

    The same tiles over the same samples give the same bits: a part of an image whose first
    row and column fall on tile corners of the whole image's plan, with its margins, gives
    exactly the whole image's values there (``imgconv.batch.huge`` relies on it).
    """
    from concurrent.futures import ThreadPoolExecutor

    from scipy import fft as sfft

    h, w = kernel.shape
    H, W, C = padded.shape[0] - h + 1, padded.shape[1] - w + 1, padded.shape[2]
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
