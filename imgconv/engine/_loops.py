"""Compiled inner loops (numba): direct and low-rank separable correlation, ZNCC normalisation.

Imported only through :mod:`imgconv.engine._compiled`, on first use, because
importing numba and loading these functions from its cache costs about half a
second (the planner counts that cost while they are not loaded yet).

Both work on an image stored as rows of interleaved channels, ``src`` of shape
``(H, W * C)`` float32, so one loop serves grey and colour alike: a kernel tap
``b`` columns to the right is ``b * C`` floats along the row. The boundary is
applied through index maps (``rows``, ``cols`` from ``boundary.source_index``,
``-1`` = cval), so no padded copy of the image is ever made: each worker keeps a
ring of ``h`` padded rows and pads every source row once.
"""
import numba
import numpy as np
from numba import njit, prange

CHUNK = 512  # floats per accumulator strip: stays in L1 across all taps


def set_threads(n):
    """Let the compiled loops use at most ``n`` threads."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


@njit(cache=True, inline="always")
def _pad_row(src, r, cols, left, width, C, cval, dst):
    """Write source row ``r`` padded by the column map into ``dst`` (length len(cols)*C)."""
    n = cols.shape[0]
    if r < 0:
        dst[:] = cval
        return
    row = src[r]
    dst[left * C:(left + width) * C] = row
    for xp in range(left):
        c = cols[xp]
        for ch in range(C):
            dst[xp * C + ch] = cval if c < 0 else row[c * C + ch]
    for xp in range(left + width, n):
        c = cols[xp]
        for ch in range(C):
            dst[xp * C + ch] = cval if c < 0 else row[c * C + ch]


@njit(cache=True, inline="always", fastmath={"contract"})
def _accumulate(acc, n, lines, offs, weights, count):
    """acc[:n] += sum_j weights[j] * lines[j][offs[j]:offs[j] + n], four terms per pass.

    Four taps per pass halve the loads and stores of ``acc`` against one tap per pass.
    """
    j = 0
    while j + 4 <= count:
        s0 = lines[j][offs[j]:offs[j] + n]
        s1 = lines[j + 1][offs[j + 1]:offs[j + 1] + n]
        s2 = lines[j + 2][offs[j + 2]:offs[j + 2] + n]
        s3 = lines[j + 3][offs[j + 3]:offs[j + 3] + n]
        k0, k1, k2, k3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
        for x in range(n):
            acc[x] += k0 * s0[x] + k1 * s1[x] + k2 * s2[x] + k3 * s3[x]
        j += 4
    while j < count:
        s0 = lines[j][offs[j]:offs[j] + n]
        k0 = weights[j]
        for x in range(n):
            acc[x] += k0 * s0[x]
        j += 1


@njit(cache=True, parallel=True, fastmath={"contract"})
def correlate_direct(src, tap_rows, tap_cols, tap_weights, h, rows, cols, left, C, cval, nblocks, out):
    """out[i, x] = sum_t tap_weights[t] * padded[i + tap_rows[t], x + tap_cols[t]*C].

    The taps are the kernel's non-zero entries (a sparse motion line costs only
    its taps); ``h`` is the kernel's height.
    """
    H, WC = out.shape
    W = WC // C
    ntaps = tap_rows.shape[0]
    for blk in prange(nblocks):
        start = blk * H // nblocks
        stop = (blk + 1) * H // nblocks
        ring = np.empty((h, cols.shape[0] * C), np.float32)
        acc = np.empty(CHUNK, np.float32)
        lines = [ring[0]] * ntaps
        offs = np.empty(ntaps, np.int64)
        for p in range(start, start + h - 1):
            _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
        for i in range(start, stop):
            p = i + h - 1
            _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
            for t in range(ntaps):  # the ring rows each tap reads, once per output row
                lines[t] = ring[(i + tap_rows[t]) % h]
            for x0 in range(0, WC, CHUNK):
                n = min(CHUNK, WC - x0)
                for t in range(ntaps):
                    offs[t] = x0 + tap_cols[t] * C
                acc[:n] = 0.0
                _accumulate(acc, n, lines, offs, tap_weights, ntaps)
                out[i, x0:x0 + n] = acc[:n]


@njit(cache=True, parallel=True, fastmath={"contract"})
def correlate_lowrank(src, col_factors, row_factors, rows, cols, left, C, cval, nblocks, out):
    """out = sum_r  (col_factors[r] down the rows) then (row_factors[r] along them).

    ``col_factors`` is (rank, h), ``row_factors`` (rank, w): the kernel is
    ``sum_r outer(col_factors[r], row_factors[r])``. Cost per pixel: rank*(h+w).
    Rows are processed in strips of CHUNK floats so the intermediate stays in L1.
    """
    H = out.shape[0]
    for blk in prange(nblocks):
        lowrank_rows(src, col_factors, row_factors, rows, cols, left, C, cval,
                     blk * H // nblocks, (blk + 1) * H // nblocks, out)


@njit(cache=True, inline="always", fastmath={"contract"})
def lowrank_rows(src, col_factors, row_factors, rows, cols, left, C, cval, start, stop, out):
    """Output rows ``start:stop`` of :func:`correlate_lowrank` (one block, one thread)."""
    WC = out.shape[1]
    W = WC // C
    rank, h = col_factors.shape
    w = row_factors.shape[1]
    WpC = cols.shape[0] * C
    halo = (w - 1) * C
    ring = np.empty((h, WpC), np.float32)
    tmp = np.empty(CHUNK + halo, np.float32)
    acc = np.empty(CHUNK, np.float32)
    vlines = [ring[0]] * h
    voffs = np.empty(h, np.int64)
    hlines = [tmp] * w
    hoffs = np.arange(w) * C
    for p in range(start, start + h - 1):
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
    for i in range(start, stop):
        p = i + h - 1
        _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
        for a in range(h):
            vlines[a] = ring[(i + a) % h]
        for x0 in range(0, WC, CHUNK):
            n = min(CHUNK, WC - x0)
            m = n + halo
            voffs[:] = x0
            acc[:n] = 0.0
            for r in range(rank):
                tmp[:m] = 0.0
                _accumulate(tmp, m, vlines, voffs, col_factors[r], h)
                _accumulate(acc, n, hlines, hoffs, row_factors[r], w)
            out[i, x0:x0 + n] = acc[:n]


# No "reassoc": the running sums keep their order; the rest may use fast sqrt/div.
@njit(cache=True, parallel=True, fastmath={"nnan", "ninf", "nsz", "arcp", "afn", "contract"})
def normalise_zncc(x, num, out, h, w, tnorm2, flat, nblocks):  # pragma: no cover - compiled
    """Window variances by running float64 sums (down, then along), then the ratio."""
    C, _, W = x.shape
    Ho, Wo = out.shape
    inv_n = 1.0 / (h * w)
    for blk in prange(nblocks):
        start = blk * Ho // nblocks
        stop = (blk + 1) * Ho // nblocks
        col1 = np.zeros((C, W))
        col2 = np.zeros((C, W))
        varsum = np.empty(Wo)
        inv = np.empty(Wo, np.float32)
        for c in range(C):
            for r in range(start, start + h):
                row = x[c, r]
                c1 = col1[c]
                c2 = col2[c]
                for j in range(W):
                    v = np.float64(row[j])
                    c1[j] += v
                    c2[j] += v * v
        for i in range(start, stop):
            if i > start:
                for c in range(C):
                    add = x[c, i + h - 1]
                    sub = x[c, i - 1]
                    c1 = col1[c]
                    c2 = col2[c]
                    for j in range(W):
                        a = np.float64(add[j])
                        b = np.float64(sub[j])
                        c1[j] += a - b
                        c2[j] += a * a - b * b
            varsum[:] = 0.0
            for c in range(C):
                c1 = col1[c]
                c2 = col2[c]
                t1 = 0.0
                t2 = 0.0
                for j in range(w):
                    t1 += c1[j]
                    t2 += c2[j]
                varsum[0] += t2 - t1 * t1 * inv_n
                for j in range(1, Wo):
                    t1 += c1[j + w - 1] - c1[j - 1]
                    t2 += c2[j + w - 1] - c2[j - 1]
                    varsum[j] += t2 - t1 * t1 * inv_n
            for j in range(Wo):
                inv[j] = np.float32(1.0) / np.sqrt(np.float32(max(varsum[j], flat) * tnorm2))
            for j in range(Wo):
                if varsum[j] <= flat:
                    inv[j] = 0.0
            src = num[i]
            dst = out[i]
            for j in range(Wo):
                dst[j] = min(np.float32(1.0), max(np.float32(-1.0), src[j] * inv[j]))
