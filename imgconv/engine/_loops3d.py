"""Compiled inner loops for volumes (numba): 3-D direct correlation, the pass along Z, planes.

Imported only through :func:`imgconv.engine._compiled.loops3d`, on first use, like the 2-D
loops of :mod:`imgconv.engine._loops`, whose inner accumulation (four taps per pass over
L1-sized strips), low-rank row kernel and threads these reuse; written the same way for a
short first compilation (one explicit signature each, no ``parallel=True``, element loops:
see :mod:`imgconv.engine._loops`). A volume is stored as ``(Z, Y, X * C)`` float32 rows of
interleaved channels, so one loop serves grey and colour alike. Importing this module (which
imports the 2-D loops) leaves the marker by which :mod:`imgconv.loopcache` knows that
numba's cache holds all the loops.

Examples
--------
>>> import numpy as np
>>> v = np.arange(8, dtype=np.float32).reshape(2, 1, 4)
>>> correlate_z_inplace(v, 1, np.ones(2, np.float32), np.array([0, 1, -1]), np.float32(0), 1)
>>> v.tolist()   # each plane plus the next (cval 0 past the last)
[[[4.0, 6.0, 8.0, 10.0]], [[4.0, 5.0, 6.0, 7.0]]]
"""
import numpy as np
from numba import float32, int64, njit, void

from imgconv.engine._loops import _F1, _F2, _I1, CHUNK, _accumulate, _in_blocks, _ints, _lowrank_rows

__all__ = ["correlate_direct3d", "correlate_planes", "correlate_z_inplace"]

_F3 = float32[:, :, ::1]


@njit(void(_F2, int64, int64, _I1, _I1, _I1, _F1, int64, int64, _F2, _F1, _I1, _I1),
      nogil=True, cache=True, error_model="numpy")
def _direct3d_rows(padded, Yp, Y, tap_z, tap_y, tap_offsets, tap_weights, start, stop, out, acc, which, offs):
    """Output rows ``start:stop`` (of Z * Y) of :func:`correlate_direct3d`: ``padded`` and ``out``
    are its volumes as rows, ``(Zp * Yp, Xp * C)`` and ``(Z * Y, X * C)``; ``acc`` (CHUNK,),
    ``which`` and ``offs`` (taps,) are this block's scratch."""
    XC = out.shape[1]
    ntaps = tap_z.shape[0]
    for r in range(start, stop):
        z = r // Y
        y = r - z * Y
        for t in range(ntaps):  # the padded row each tap reads
            which[t] = (z + tap_z[t]) * Yp + y + tap_y[t]
        for x0 in range(0, XC, CHUNK):
            n = min(CHUNK, XC - x0)
            for t in range(ntaps):
                offs[t] = x0 + tap_offsets[t]
            for x in range(n):
                acc[x] = 0.0
            _accumulate(acc, n, padded, which, offs, tap_weights, ntaps)
            strip = out[r, x0:x0 + n]
            for x in range(n):
                strip[x] = acc[x]


@njit(void(_F3, _F1, _I1, int64, int64, _F2, _F1, _I1, _I1), nogil=True, cache=True, error_model="numpy")
def _z_rows(volume, weights, zmap, start, stop, column, acc, which, offs):
    """Rows ``y`` in ``start:stop`` of :func:`correlate_z_inplace`; ``column`` (Z + 1, X * C) has
    cval in its last row, ``acc`` (CHUNK,), ``which`` and ``offs`` (taps,) are this block's scratch."""
    Z, _, XC = volume.shape
    k = weights.shape[0]
    for y in range(start, stop):
        for z in range(Z):  # the rows one y holds, kept in cache while every tap reads them
            for x in range(XC):
                column[z, x] = volume[z, y, x]
        for z in range(Z):
            for a in range(k):
                s = zmap[z + a]
                which[a] = Z if s < 0 else s
            for x0 in range(0, XC, CHUNK):
                n = min(CHUNK, XC - x0)
                for a in range(k):
                    offs[a] = x0
                for x in range(n):
                    acc[x] = 0.0
                _accumulate(acc, n, column, which, offs, weights, k)
                for x in range(n):
                    volume[z, y, x0 + x] = acc[x]


def correlate_direct3d(padded, tap_z, tap_y, tap_offsets, tap_weights, nblocks, out):
    """out[z, y, x] = sum_t tap_weights[t] * padded[z + tap_z[t], y + tap_y[t], x + tap_offsets[t]].

    ``padded`` is the volume extended by the boundary mode, ``(Z + kz - 1, Y + ky - 1,
    (X + kx - 1) * C)``, C-contiguous; the taps are the kernel's non-zero entries, their column
    offsets already multiplied by C. Output rows are split into ``nblocks`` blocks.
    """
    Z, Y, XC = out.shape
    Zp, Yp, XpC = padded.shape
    taps = len(tap_z)
    args = (np.ascontiguousarray(padded, np.float32).reshape(Zp * Yp, XpC), int(Yp), int(Y), _ints(tap_z),
            _ints(tap_y), _ints(tap_offsets), np.ascontiguousarray(tap_weights, np.float32))
    rows = out.reshape(Z * Y, XC)

    def rows_of(start, stop):
        _direct3d_rows(*args, start, stop, rows, np.empty(CHUNK, np.float32), np.empty(taps, np.int64),
                       np.empty(taps, np.int64))

    _in_blocks(rows_of, Z * Y, nblocks)


def correlate_z_inplace(volume, rows, weights, zmap, cval, nblocks):
    """volume[z, y] = sum_a weights[a] * volume[zmap[z + a], y] for y < rows, in place (zmap -1 = cval).

    ``volume`` is (Z, S, X * C) float32, C-contiguous, with S >= rows (rows past ``rows`` are
    left alone). Blocks of rows ``y`` run on the current settings' threads; each copies the
    column of rows one ``y`` holds (Z rows) to a buffer that stays in cache while all taps
    read it, so every row is loaded once and the pass needs no second volume.
    """
    Z, _, XC = volume.shape
    k = len(weights)
    args = (volume, np.ascontiguousarray(weights, np.float32), _ints(zmap))

    def rows_of(start, stop):
        column = np.empty((Z + 1, XC), np.float32)
        column[Z] = cval
        _z_rows(*args, start, stop, column, np.empty(CHUNK, np.float32), np.empty(k, np.int64),
                np.empty(k, np.int64))

    _in_blocks(rows_of, int(rows), nblocks)


def correlate_planes(src, col_factors, row_factors, rows, cols, left, C, cval, nblocks, out):
    """The 2-D low-rank correlation of :func:`imgconv.engine._loops.correlate_lowrank` on every
    plane of ``src`` (Z, Y, X * C) into ``out``, ``nblocks`` blocks of rows per plane, all
    planes' blocks shared by the current settings' threads."""
    Z, Y, _ = out.shape
    h, w = col_factors.shape[1], row_factors.shape[1]
    args = (np.ascontiguousarray(col_factors, np.float32), np.ascontiguousarray(row_factors, np.float32),
            _ints(rows), _ints(cols), int(left), int(C), np.float32(cval))
    along = (np.zeros(w, np.int64), np.arange(w, dtype=np.int64) * C)

    def rows_of(start, stop):  # rows of all planes, one after the other: a block may span two planes
        scratch = (np.empty((h, len(cols) * C), np.float32), np.empty((1, CHUNK + (w - 1) * C), np.float32),
                   np.empty(CHUNK, np.float32), np.empty(h, np.int64), np.empty(h, np.int64))
        for z in range(start // Y, (stop - 1) // Y + 1):
            first, last = max(start - z * Y, 0), min(stop - z * Y, Y)
            _lowrank_rows(src[z], *args, first, last, out[z], *scratch, *along)

    _in_blocks(rows_of, Z * Y, Z * max(1, int(nblocks)))


def _mark_cached():
    """Tell later processes that numba's cache holds all the loops, 2-D and 3-D (see
    :mod:`imgconv.loopcache`)."""
    from imgconv import loopcache
    from imgconv.engine import _loops

    functions = _loops.COMPILED + (_direct3d_rows, _z_rows)
    folders = {f.stats.cache_path for f in functions}
    if len(folders) == 1 and None not in folders:  # numba's own choice of folder, where it can cache
        loopcache.mark_cached(folders.pop())


_mark_cached()
