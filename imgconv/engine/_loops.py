"""Compiled inner loops (numba): direct and low-rank separable correlation, ZNCC normalisation.

Imported only through :mod:`imgconv.engine._compiled`, on first use: importing numba and
loading these functions from its on-disk cache costs :data:`imgconv.settings.LOAD_MS`;
compiling them into an empty cache, :data:`imgconv.settings.COMPILE_MS` (about 3 s of CPU,
``benchmarks/bench_startup.py``). To keep that first compilation short, every loop has one
explicit signature (compiled once, at import), none uses numba's ``parallel=True`` (whose
compilation alone took 4-7 s per loop), and none calls NumPy or assigns slices (each pulls
in library code to compile): each compiled function runs one block of rows with the GIL
released, its scratch arrays given, and the Python wrappers below spread the blocks over
``current().threads`` plain threads. The volume loops of :mod:`imgconv.engine._loops3d`
reuse the accumulation, the low-rank rows and the threads of this module.

The correlations work on an image stored as rows of interleaved channels, ``src`` of shape
``(H, W * C)`` float32, so one loop serves grey and colour alike: a kernel tap ``b`` columns
to the right is ``b * C`` floats along the row. The boundary is applied through index maps
(``rows``, ``cols`` from ``boundary.source_index``, ``-1`` = cval), so no padded copy of the
image is ever made: each block keeps a ring of ``h`` padded rows and pads every source row once.

Examples
--------
>>> import numpy as np
>>> src = np.arange(6, dtype=np.float32).reshape(2, 3)
>>> idx = np.array([0, 1], np.int64), np.array([0, 1, 2], np.int64)
>>> out = np.empty((2, 3), np.float32)
>>> correlate_direct(src, np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32),
...                  1, idx[0], idx[1], 0, 1, np.float32(0), 2, out)
>>> out.tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""
import numpy as np
from numba import float32, float64, int64, njit, void

CHUNK = 512  # floats per accumulator strip: stays in L1 across all taps

_F2 = float32[:, ::1]  # C-contiguous float32 rows
_F1 = float32[::1]
_I1 = int64[::1]


@njit(void(_F2, int64, _I1, int64, int64, int64, float32, _F1), nogil=True, cache=True, error_model="numpy")
def _pad_row(src, r, cols, left, width, C, cval, dst):
    """Write source row ``r`` padded by the column map into ``dst`` (length len(cols)*C).

    Element loops throughout, no slice assignment or NumPy call: each of those would add
    numba library code (shape checks, error messages) to compile.
    """
    n = cols.shape[0]
    if r < 0:
        for k in range(n * C):
            dst[k] = cval
        return
    row = src[r]
    middle = dst[left * C:(left + width) * C]  # views indexed from 0 by a loop: vectorised copies
    for k in range(width * C):
        middle[k] = row[k]
    for xp in range(left):
        c = cols[xp]
        for ch in range(C):
            dst[xp * C + ch] = cval if c < 0 else row[c * C + ch]
    for xp in range(left + width, n):
        c = cols[xp]
        for ch in range(C):
            dst[xp * C + ch] = cval if c < 0 else row[c * C + ch]


@njit(void(_F1, int64, _F2, _I1, _I1, _F1, int64), nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _accumulate(acc, n, lines, which, offs, weights, count):
    """acc[:n] += sum_j weights[j] * lines[which[j], offs[j]:offs[j] + n], four terms per pass.

    Four taps per pass halve the loads and stores of ``acc`` against one tap per pass.
    """
    j = 0
    while j + 4 <= count:
        s0 = lines[which[j], offs[j]:offs[j] + n]
        s1 = lines[which[j + 1], offs[j + 1]:offs[j + 1] + n]
        s2 = lines[which[j + 2], offs[j + 2]:offs[j + 2] + n]
        s3 = lines[which[j + 3], offs[j + 3]:offs[j + 3] + n]
        k0, k1, k2, k3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
        for x in range(n):
            acc[x] += k0 * s0[x] + k1 * s1[x] + k2 * s2[x] + k3 * s3[x]
        j += 4
    while j < count:
        s0 = lines[which[j], offs[j]:offs[j] + n]
        k0 = weights[j]
        for x in range(n):
            acc[x] += k0 * s0[x]
        j += 1


@njit(void(_F2, _I1, _I1, _F1, _I1, _I1, int64, int64, float32, int64, int64, _F2, _F2, _F1, _I1, _I1),
      nogil=True, cache=True, error_model="numpy")
def _direct_rows(src, tap_rows, tap_cols, tap_weights, rows, cols, left, C, cval, start, stop, out,
                 ring, acc, which, offs):
    """Rows ``start:stop`` of :func:`correlate_direct`; ``ring`` (h, len(cols)*C), ``acc``
    (CHUNK,), ``which`` and ``offs`` (taps,) are this block's scratch."""
    WC = out.shape[1]
    W = WC // C
    h = ring.shape[0]
    ntaps = tap_rows.shape[0]
    for p in range(start, start + h - 1):
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
    for i in range(start, stop):
        p = i + h - 1
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
        for t in range(ntaps):  # the ring rows each tap reads, once per output row
            which[t] = (i + tap_rows[t]) % h
        for x0 in range(0, WC, CHUNK):
            n = min(CHUNK, WC - x0)
            for t in range(ntaps):
                offs[t] = x0 + tap_cols[t] * C
            for x in range(n):
                acc[x] = 0.0
            _accumulate(acc, n, ring, which, offs, tap_weights, ntaps)
            strip = out[i, x0:x0 + n]
            for x in range(n):
                strip[x] = acc[x]


@njit(void(_F2, _F2, _F2, _I1, _I1, int64, int64, float32, int64, int64, _F2, _F2, _F2, _F1, _I1, _I1, _I1, _I1),
      nogil=True, cache=True, error_model="numpy")
def _lowrank_rows(src, col_factors, row_factors, rows, cols, left, C, cval, start, stop, out,
                  ring, tmp, acc, vwhich, voffs, hwhich, hoffs):
    """Rows ``start:stop`` of :func:`correlate_lowrank`; ``ring`` (h, len(cols)*C), ``tmp``
    (1, CHUNK + (w-1)*C), ``acc`` (CHUNK,), ``vwhich`` and ``voffs`` (h,) are this block's
    scratch; ``hwhich`` (w,) zeros and ``hoffs`` (w,) ``arange(w) * C`` read ``tmp`` along the row."""
    WC = out.shape[1]
    W = WC // C
    rank, h = col_factors.shape
    w = row_factors.shape[1]
    halo = (w - 1) * C
    for p in range(start, start + h - 1):
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
    for i in range(start, stop):
        p = i + h - 1
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
        for a in range(h):
            vwhich[a] = (i + a) % h
        for x0 in range(0, WC, CHUNK):
            n = min(CHUNK, WC - x0)
            for a in range(h):
                voffs[a] = x0
            for x in range(n):
                acc[x] = 0.0
            for r in range(rank):
                for x in range(n + halo):
                    tmp[0, x] = 0.0
                _accumulate(tmp[0], n + halo, ring, vwhich, voffs, col_factors[r], h)
                _accumulate(acc, n, tmp, hwhich, hoffs, row_factors[r], w)
            strip = out[i, x0:x0 + n]
            for x in range(n):
                strip[x] = acc[x]


# No "reassoc": the running sums keep their order; the rest may use fast sqrt/div.
@njit(void(float32[:, :, ::1], float32[:, :], _F2, int64, int64, float64, float64, int64, int64,
           float64[:, ::1], float64[:, ::1], float64[::1], _F1),
      nogil=True, cache=True, error_model="numpy", fastmath={"nnan", "ninf", "nsz", "arcp", "afn", "contract"})
def _zncc_rows(x, num, out, h, w, tnorm2, flat, start, stop, col1, col2, varsum, inv):  # pragma: no cover
    """Rows ``start:stop`` of :func:`normalise_zncc`; ``col1``, ``col2`` (C, W) zeros,
    ``varsum`` (Wo,) and ``inv`` (Wo,) are this block's scratch."""
    C, _, W = x.shape
    Wo = out.shape[1]
    inv_n = 1.0 / (h * w)
    one = np.float32(1.0)
    for c in range(C):
        for r in range(start, start + h):
            for j in range(W):
                v = np.float64(x[c, r, j])
                col1[c, j] += v
                col2[c, j] += v * v
    for i in range(start, stop):
        if i > start:
            for c in range(C):
                for j in range(W):
                    a = np.float64(x[c, i + h - 1, j])
                    b = np.float64(x[c, i - 1, j])
                    col1[c, j] += a - b
                    col2[c, j] += a * a - b * b
        for j in range(Wo):
            varsum[j] = 0.0
        for c in range(C):
            t1 = 0.0
            t2 = 0.0
            for j in range(w):
                t1 += col1[c, j]
                t2 += col2[c, j]
            varsum[0] += t2 - t1 * t1 * inv_n
            for j in range(1, Wo):
                t1 += col1[c, j + w - 1] - col1[c, j - 1]
                t2 += col2[c, j + w - 1] - col2[c, j - 1]
                varsum[j] += t2 - t1 * t1 * inv_n
        for j in range(Wo):
            inv[j] = one / np.sqrt(np.float32(max(varsum[j], flat) * tnorm2))
        for j in range(Wo):
            if varsum[j] <= flat:
                inv[j] = 0.0
        for j in range(Wo):
            out[i, j] = min(one, max(-one, num[i, j] * inv[j]))


def _in_blocks(rows_of, nrows, nblocks):
    """Call ``rows_of(start, stop)`` for ``nblocks`` even blocks of ``nrows`` rows, spread over
    the current settings' threads (the compiled functions release the GIL). Each thread, this
    one included, takes the next block until none is left (a thread that the machine's other
    work slows down takes fewer); a call costs one thread start per extra thread, less than a
    pool's queue."""
    import threading

    from imgconv.settings import current

    nblocks = max(1, min(int(nblocks), nrows))
    bounds = [(b * nrows // nblocks, (b + 1) * nrows // nblocks) for b in range(nblocks)]
    threads = min(current().threads, nblocks)
    pending = iter(bounds)  # a list iterator's next() is atomic: the threads share it
    failures = []

    def run():
        try:
            for start, stop in pending:
                rows_of(start, stop)
        except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
            failures.append(exc)

    helpers = [threading.Thread(target=run, daemon=True) for _ in range(threads - 1)]
    for helper in helpers:
        helper.start()
    run()
    for helper in helpers:
        helper.join()
    if failures:
        raise failures[0]


def correlate_direct(src, tap_rows, tap_cols, tap_weights, h, rows, cols, left, C, cval, nblocks, out):
    """out[i, x] = sum_t tap_weights[t] * padded[i + tap_rows[t], x + tap_cols[t]*C].

    The taps are the kernel's non-zero entries (a sparse motion line costs only its taps);
    ``h`` is the kernel's height. ``src`` and ``out`` are (H, W*C) float32, C-contiguous;
    ``rows`` and ``cols`` the border's index maps, ``left`` the anchor's column.
    """
    taps = len(tap_rows)
    args = (src, _ints(tap_rows), _ints(tap_cols), np.ascontiguousarray(tap_weights, np.float32),
            _ints(rows), _ints(cols), int(left), int(C), np.float32(cval))

    def rows_of(start, stop):
        scratch = (np.empty((int(h), len(cols) * C), np.float32), np.empty(CHUNK, np.float32),
                   np.empty(taps, np.int64), np.empty(taps, np.int64))
        _direct_rows(*args, start, stop, out, *scratch)

    _in_blocks(rows_of, out.shape[0], nblocks)


def correlate_lowrank(src, col_factors, row_factors, rows, cols, left, C, cval, nblocks, out):
    """out = sum_r  (col_factors[r] down the rows) then (row_factors[r] along them).

    ``col_factors`` is (rank, h), ``row_factors`` (rank, w): the kernel is
    ``sum_r outer(col_factors[r], row_factors[r])``. Cost per pixel: rank*(h+w).
    Rows are processed in strips of CHUNK floats so the intermediate stays in L1.
    """
    h, w = col_factors.shape[1], row_factors.shape[1]
    args = (src, np.ascontiguousarray(col_factors, np.float32), np.ascontiguousarray(row_factors, np.float32),
            _ints(rows), _ints(cols), int(left), int(C), np.float32(cval))
    along = (np.zeros(w, np.int64), np.arange(w, dtype=np.int64) * C)

    def rows_of(start, stop):
        scratch = (np.empty((h, len(cols) * C), np.float32), np.empty((1, CHUNK + (w - 1) * C), np.float32),
                   np.empty(CHUNK, np.float32), np.empty(h, np.int64), np.empty(h, np.int64))
        _lowrank_rows(*args, start, stop, out, *scratch, *along)

    _in_blocks(rows_of, out.shape[0], nblocks)


def normalise_zncc(x, num, out, h, w, tnorm2, flat, nblocks):
    """Window variances of ``x`` (C, H, W) by running float64 sums (down, then along), then
    ``out = clip(num / sqrt(variance sum * tnorm2), -1, 1)``, 0 where the variance is flat."""
    x = np.ascontiguousarray(x, np.float32)
    args = (x, np.asarray(num, np.float32), out, int(h), int(w), float(tnorm2), float(flat))
    C, _, W = x.shape

    def rows_of(start, stop):
        scratch = (np.zeros((C, W)), np.zeros((C, W)), np.empty(out.shape[1]), np.empty(out.shape[1], np.float32))
        _zncc_rows(*args, start, stop, *scratch)

    _in_blocks(rows_of, out.shape[0], nblocks)


def _ints(values):
    return np.ascontiguousarray(values, np.int64)


#: the compiled functions of this module (:mod:`imgconv.engine._loops3d` marks the cache filled
#: once they and its own are loaded)
COMPILED = (_pad_row, _accumulate, _direct_rows, _lowrank_rows, _zncc_rows)
