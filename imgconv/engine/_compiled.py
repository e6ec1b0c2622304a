"""Compiled inner loops (numba, optional): direct and low-rank separable correlation.

Both work on an image stored as rows of interleaved channels, ``src`` of shape
``(H, W * C)`` float32, so one loop serves grey and colour alike: a kernel tap
``b`` columns to the right is ``b * C`` floats along the row. The boundary is
applied through index maps (``rows``, ``cols`` from ``boundary.source_index``,
``-1`` = cval), so no padded copy of the image is ever made: each worker keeps a
ring of ``h`` padded rows and pads every source row once.

Importing this module imports numba; callers check :data:`AVAILABLE` first.
"""
import os

import numpy as np

try:  # numba is the optional "fast" extra
    import numba
    from numba import njit, prange

    AVAILABLE = os.environ.get("IMGCONV_NO_NUMBA", "") == ""
except ImportError:  # pragma: no cover - exercised when the extra is absent
    AVAILABLE = False

CHUNK = 512  # floats per accumulator strip: stays in L1 across all taps


def set_threads(n):
    """Let the compiled loops use at most ``n`` threads."""
    if AVAILABLE:
        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))

if AVAILABLE:

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

    @njit(cache=True, parallel=True)
    def correlate_direct(src, kernel, rows, cols, left, C, cval, nblocks, out):
        """out[i, x] = sum_ab kernel[a, b] * padded[i + a, x + b*C]  (all taps, any kernel)."""
        H, WC = out.shape
        W = WC // C
        h, w = kernel.shape
        for blk in prange(nblocks):
            start = blk * H // nblocks
            stop = (blk + 1) * H // nblocks
            ring = np.empty((h, cols.shape[0] * C), np.float32)
            acc = np.empty(CHUNK, np.float32)
            for p in range(start, start + h - 1):
                _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
            for i in range(start, stop):
                p = i + h - 1
                _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
                for x0 in range(0, WC, CHUNK):
                    n = min(CHUNK, WC - x0)
                    acc[:n] = 0.0
                    for a in range(h):
                        line = ring[(i + a) % h]
                        for b in range(w):
                            k = kernel[a, b]
                            if k != 0.0:
                                seg = line[x0 + b * C:x0 + b * C + n]
                                for x in range(n):
                                    acc[x] += k * seg[x]
                    out[i, x0:x0 + n] = acc[:n]

    @njit(cache=True, parallel=True)
    def correlate_lowrank(src, col_factors, row_factors, rows, cols, left, C, cval, nblocks, out):
        """out = sum_r  (col_factors[r] down the rows) then (row_factors[r] along them).

        ``col_factors`` is (rank, h), ``row_factors`` (rank, w): the kernel is
        ``sum_r outer(col_factors[r], row_factors[r])``. Cost per pixel: rank*(h+w).
        Rows are processed in strips of CHUNK floats so the intermediate stays in L1.
        """
        H, WC = out.shape
        W = WC // C
        rank, h = col_factors.shape
        w = row_factors.shape[1]
        WpC = cols.shape[0] * C
        halo = (w - 1) * C
        for blk in prange(nblocks):
            start = blk * H // nblocks
            stop = (blk + 1) * H // nblocks
            ring = np.empty((h, WpC), np.float32)
            tmp = np.empty(CHUNK + halo, np.float32)
            acc = np.empty(CHUNK, np.float32)
            for p in range(start, start + h - 1):
                _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
            for i in range(start, stop):
                p = i + h - 1
                _pad_row(src, rows[p], cols, left, W, C, cval, ring[p % h])
                for x0 in range(0, WC, CHUNK):
                    n = min(CHUNK, WC - x0)
                    m = n + halo
                    acc[:n] = 0.0
                    for r in range(rank):
                        tmp[:m] = 0.0
                        for a in range(h):
                            k = col_factors[r, a]
                            if k != 0.0:
                                seg = ring[(i + a) % h, x0:x0 + m]
                                for x in range(m):
                                    tmp[x] += k * seg[x]
                        for b in range(w):
                            k = row_factors[r, b]
                            if k != 0.0:
                                seg = tmp[b * C:b * C + n]
                                for x in range(n):
                                    acc[x] += k * seg[x]
                    out[i, x0:x0 + n] = acc[:n]
