"""Compiled inner loops for volumes (numba): 3-D direct correlation and the pass along Z.

Imported only through :func:`imgconv.engine._compiled.loops3d`, on first use, like the
2-D loops of :mod:`imgconv.engine._loops`, whose inner accumulation (four taps per pass
over L1-sized strips) these reuse. A volume is stored as ``(Z, Y, X * C)`` float32 rows
of interleaved channels, so one loop serves grey and colour alike.
"""
import contextlib

import numba
import numpy as np
from numba import njit, prange

from imgconv.engine._loops import CHUNK, _accumulate, lowrank_rows, set_threads

__all__ = ["correlate_direct3d", "correlate_planes", "correlate_z_inplace", "dynamic_blocks", "set_threads"]


@contextlib.contextmanager
def dynamic_blocks():
    """Let the threads of the loops below take their blocks one at a time (numba's chunk size 1,
    restored after): a static split waits for its slowest thread, which on a busy machine is
    measured at 0.53-0.64 s against 0.41-0.54 s for a 128 x 512 x 512 Gaussian."""
    previous = numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(previous)


@njit(cache=True, parallel=True, fastmath={"contract"})
def correlate_direct3d(padded, tap_z, tap_y, tap_offsets, tap_weights, nblocks, out):  # pragma: no cover
    """out[z, y, x] = sum_t tap_weights[t] * padded[z + tap_z[t], y + tap_y[t], x + tap_offsets[t]].

    ``padded`` is the volume extended by the boundary mode, ``(Z + kz - 1, Y + ky - 1,
    (X + kx - 1) * C)``; the taps are the kernel's non-zero entries, their column
    offsets already multiplied by C. Output rows are split into ``nblocks`` blocks.
    """
    Z, Y, XC = out.shape
    rows = Z * Y
    ntaps = tap_z.shape[0]
    for blk in prange(nblocks):
        start = blk * rows // nblocks
        stop = (blk + 1) * rows // nblocks
        acc = np.empty(CHUNK, np.float32)
        lines = [padded[0, 0]] * ntaps
        offs = np.empty(ntaps, np.int64)
        for r in range(start, stop):
            z = r // Y
            y = r - z * Y
            for t in range(ntaps):
                lines[t] = padded[z + tap_z[t], y + tap_y[t]]
            for x0 in range(0, XC, CHUNK):
                n = min(CHUNK, XC - x0)
                for t in range(ntaps):
                    offs[t] = x0 + tap_offsets[t]
                acc[:n] = 0.0
                _accumulate(acc, n, lines, offs, tap_weights, ntaps)
                out[z, y, x0:x0 + n] = acc[:n]


@njit(cache=True, parallel=True, fastmath={"contract"})
def correlate_z_inplace(volume, rows, weights, zmap, cval, nblocks):  # pragma: no cover - compiled
    """volume[z, y] = sum_a weights[a] * volume[zmap[z + a], y] for y < rows, in place (zmap -1 = cval).

    ``volume`` is (Z, S, X * C) with S >= rows (rows past ``rows`` are left alone). Blocks of
    rows ``y`` run in parallel; each copies the column of rows one ``y`` holds (Z rows) to
    a buffer that stays in cache while all taps read it, so every row is loaded once and
    the pass needs no second volume.
    """
    Z, _, XC = volume.shape
    k = weights.shape[0]
    for blk in prange(nblocks):
        start = blk * rows // nblocks
        stop = (blk + 1) * rows // nblocks
        acc = np.empty(CHUNK, np.float32)
        column = np.empty((Z, XC), np.float32)
        fill = np.full(XC, cval, np.float32)
        lines = [fill] * k
        offs = np.empty(k, np.int64)
        for y in range(start, stop):
            for z in range(Z):
                column[z] = volume[z, y]
            for z in range(Z):
                for a in range(k):
                    s = zmap[z + a]
                    lines[a] = fill if s < 0 else column[s]
                for x0 in range(0, XC, CHUNK):
                    n = min(CHUNK, XC - x0)
                    offs[:] = x0
                    acc[:n] = 0.0
                    _accumulate(acc, n, lines, offs, weights, k)
                    volume[z, y, x0:x0 + n] = acc[:n]


@njit(cache=True, parallel=True, fastmath={"contract"})
def correlate_planes(src, col_factors, row_factors, rows, cols, left, C, cval, nblocks, out):  # pragma: no cover
    """The 2-D low-rank correlation of :func:`imgconv.engine._loops.correlate_lowrank` on every
    plane of ``src`` (Z, Y, X * C) into ``out``: one parallel loop over (plane, block of rows)."""
    Z, Y, _ = out.shape
    for job in prange(Z * nblocks):
        z = job // nblocks
        blk = job - z * nblocks
        lowrank_rows(src[z], col_factors, row_factors, rows, cols, left, C, cval,
                     blk * Y // nblocks, (blk + 1) * Y // nblocks, out[z])
