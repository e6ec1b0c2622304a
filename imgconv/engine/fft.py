"""The FFT method: correlation by the convolution theorem, in overlap-save tiles.

The image is cut into tiles whose transform length is a fast length
(``scipy.fft.next_fast_len``); each tile's block, extended by the boundary mode as
far as the kernel reaches, is gathered on its own (the padded image is never built:
for a 1 x 100000 picture under a 4097-tall kernel it would be 4097 x 100000) and
multiplied by the kernel's spectrum (computed once).  A band of rows with its row map
(:mod:`imgconv.engine.rows`) runs on the whole image's tiles.  Tiles keep memory bounded
(the output plus one block and its transform per thread, a block at most
``MAX_TILE_POINTS`` transform points unless the kernel itself needs more) and caches warm.
Transforms run in float32 when the kernel is small in absolute sum (error well
under 1e-5 on [0, 1] data), otherwise in float64.
"""
import numpy as np

from imgconv.engine.boundary import gather_block, source_index
from imgconv.settings import current

#: candidate tile sides (output pixels); the planner picks the cheapest. Measured
#: (benchmarks/bench_engine.py --calibrate): tiles of 256-768 run at 0.55-0.9 ns per
#: n log2 n unit, smaller ones pay per-tile overhead, larger ones miss the caches.
TILE_SIDES = (256, 384, 512, 768)
#: per-tile overhead, in n log2 n units (Python dispatch, copies, small-transform setup)
TILE_OVERHEAD = 4e5
#: largest tile transform (points) unless the kernel needs more: 2**24 points are 128 MiB of
#: float64 block and as much of spectrum per thread (a whole 11585 x 11585 picture under a
#: 4097 x 4097 kernel would be 2 GiB each); the measured-fastest plans stay below it
MAX_TILE_POINTS = 2**24
#: images of more pixels get no tile spanning their whole height, so that strips of whole tiles
#: can stream them (:mod:`imgconv.stream`; measured: a few per cent more transform work on a 4K
#: picture); smaller ones gain nothing from streaming and keep the cheapest plan
WHOLE_HEIGHT_PIXELS = 2**20


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

    rows, cols = axis_options(H, h, whole=H * W <= WHOLE_HEIGHT_PIXELS), axis_options(W, w, whole=True)
    smallest = rows[0][1] * cols[0][1]
    best = None
    for ty, ny, nty in rows:
        for tx, nx, ntx in cols:
            size = ny * nx
            if size > max(MAX_TILE_POINTS, 2 * smallest):
                continue
            # transforms beyond ~0.5 Mpx leave the caches: measured 0.6 -> 0.85 ns/unit at 1 Mpx
            cache = 1 + 0.25 * np.log2(max(1.0, size / 2**19))
            work = nty * ntx * (size * np.log2(max(size, 2)) * cache + TILE_OVERHEAD)
            if best is None or work < best[2]:
                best = (ty, tx, work)
    return best


def correlate_fft(image, kernel, anchor, mode, cval, tile=None, rows=None):
    """Correlate ``image`` (H, W, C) with ``kernel`` (h, w) anchored at ``anchor``, via FFT.

    ``rows``: the row map of a band (see :mod:`imgconv.engine.rows`): for each row of the band
    extended by the kernel's reach, the row of ``image`` it is (-1: cval); only the band's rows
    are returned. A band starting on a tile boundary of the whole image, with the whole image's
    ``tile`` plan, gets the very tiles (and so the very values) of the whole-image result; each
    tile's block is gathered alone, so a band never holds its rows extended whole.

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
    if rows is None:  # padded position -> image row (-1: cval)
        rows = source_index(H, anchor[0], h - 1 - anchor[0], mode)
    cols = source_index(W, anchor[1], w - 1 - anchor[1], mode)
    out_rows = len(rows) - h + 1

    def block(y0, x0, oy, ox):
        return gather_block(image, rows[y0:y0 + oy + h - 1], cols[x0:x0 + ox + w - 1], cval)

    tile = tile if tile is not None else tile_plan((out_rows, W), (h, w))
    return _correlate_tiles(block, (out_rows, W, C), kernel, tile)


def transform_dtype(kernel):
    """float32 transforms for a kernel of small absolute sum (error well under 1e-5), else float64."""
    return np.float32 if np.abs(kernel).sum() <= 64 else np.float64


def correlate_padded(padded, kernel, tile):
    """The valid correlation of ``padded`` ((H + h - 1, W + w - 1, C), the image already extended
    by its boundary mode) with ``kernel``: (H, W, C) float32, in the tiles ``tile`` gives
    (``(ty, tx, work)`` of :func:`tile_plan`), from ``padded``'s first row and column on.

    The same tiles over the same samples give the same bits as :func:`correlate_fft`: a part
    of an image whose first row and column fall on tile corners of the whole image's plan,
    with its margins, gives exactly the whole image's values there (``imgconv.batch.huge``
    relies on it).
    """
    h, w = kernel.shape
    shape = (padded.shape[0] - h + 1, padded.shape[1] - w + 1, padded.shape[2])

    def block(y0, x0, oy, ox):
        return padded[y0:y0 + oy + h - 1, x0:x0 + ox + w - 1]

    return _correlate_tiles(block, shape, kernel, tile)


def _correlate_tiles(block, shape, kernel, tile):
    """The tile loop of :func:`correlate_fft`: ``block(y0, x0, oy, ox)`` gives the extended
    samples an ``oy`` x ``ox`` tile at ``(y0, x0)`` reads (its rows and columns plus the kernel's)."""
    from scipy import fft as sfft

    H, W, C = shape
    h, w = kernel.shape
    ty, tx, _ = tile
    ny, nx = fft_shape(ty, h), fft_shape(tx, w)
    ctype = transform_dtype(kernel)
    spectrum = sfft.rfft2(kernel[::-1, ::-1].astype(ctype), s=(ny, nx))[:, :, None]
    out = np.empty((H, W, C), np.float32)

    def one_tile(origin):
        y0, x0 = origin
        oy, ox = min(ty, H - y0), min(tx, W - x0)
        samples = block(y0, x0, oy, ox)
        prod = sfft.rfft2(samples.astype(ctype, copy=False), s=(ny, nx), axes=(0, 1))  # channels interleaved
        prod *= spectrum
        res = sfft.irfft2(prod, s=(ny, nx), axes=(0, 1), overwrite_x=True)
        out[y0:y0 + oy, x0:x0 + ox] = res[h - 1:h - 1 + oy, w - 1:w - 1 + ox]

    run_tiles(one_tile, [(y0, x0) for y0 in range(0, H, ty) for x0 in range(0, W, tx)])
    return out


def run_tiles(one_tile, origins):
    """Call ``one_tile(origin)`` for every origin, on the current settings' threads."""
    from concurrent.futures import ThreadPoolExecutor

    threads = min(current().threads, len(origins))
    if threads == 1:
        for origin in origins:
            one_tile(origin)
    else:  # pocketfft releases the GIL: one tile per thread beats threads inside one transform
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one_tile, origins))
