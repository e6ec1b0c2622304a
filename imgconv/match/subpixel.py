"""Sub-pixel centres of matches: the maximum of a quintic spline through the scores around each peak.

The spline and its search are SciPy's (``spline_filter`` and ``map_coordinates``, order 5,
mirror), written as matrix products so that all peaks are refined together; ``docs/match.md``
gives the measured accuracy.

Examples
--------
>>> import numpy as np
>>> y, x = np.mgrid[:20, :20]
>>> scores = np.exp(-((y - 9.3) ** 2 + (x - 10.2) ** 2) / 8)
>>> dy, dx = subpixel_offsets(scores, [9], [10])
>>> round(float(dy[0]), 1), round(float(dx[0]), 1)
(0.3, 0.2)
"""
import numpy as np

#: Half-size of the score neighbourhood used for sub-pixel refinement (9 x 9).
SUBPIXEL_RADIUS = 4
#: Peaks refined at once (bounds the memory: about 2 kB each).
_CHUNK = 32768


def subpixel_offsets(scores, ys, xs):
    """Sub-pixel ``(dy, dx)`` of the peaks at ``(ys, xs)`` of the 2-D map ``scores``, arrays in [-0.5, 0.5].

    A quintic spline through the 9 x 9 scores around each peak is maximised on a
    0.1 px grid, then a 0.01 px grid.  A separable parabola through 3 x 3 scores
    follows the shape of a correlation peak less well (pixel locking: mean errors
    0.13-0.28 px in the measurement in ``docs/match.md``, against 0.03-0.10 for the
    spline); it is used where the peak is too close to the map's border for the 9 x 9
    neighbourhood, or the neighbourhood holds a non-finite score.
    """
    r = SUBPIXEL_RADIUS
    scores = np.asarray(scores, np.float64)
    H, W = scores.shape
    ys, xs = np.asarray(ys, np.intp), np.asarray(xs, np.intp)
    dy, dx = np.zeros(len(ys)), np.zeros(len(xs))
    parabola = ~((ys >= r) & (ys < H - r) & (xs >= r) & (xs < W - r))
    windows = np.lib.stride_tricks.sliding_window_view(scores, (2 * r + 1, 2 * r + 1)) if H > 2 * r and W > 2 * r \
        else None
    inside = np.flatnonzero(~parabola)
    for start in range(0, len(inside), _CHUNK):
        chunk = inside[start:start + _CHUNK]
        patches = windows[ys[chunk] - r, xs[chunk] - r]  # (n, 9, 9), centred on the peaks
        finite = np.isfinite(patches).all(axis=(1, 2))
        dy[chunk[finite]], dx[chunk[finite]] = _spline_maxima(patches[finite], r)
        parabola[chunk[~finite]] = True
    for k in np.flatnonzero(parabola):
        dy[k] = _parabola_vertex(scores, ys[k], xs[k], 1, 0)
        dx[k] = _parabola_vertex(scores, ys[k], xs[k], 0, 1)
    return dy, dx


def _quintic_weights(t):
    """The quintic B-spline at ``t`` (any shape): the weights SciPy's order-5 interpolation uses."""
    a = np.abs(t)
    p3, p2, p1 = np.maximum(3 - a, 0), np.maximum(2 - a, 0), np.maximum(1 - a, 0)
    return (p3**2 * p3**2 * p3 - 6 * (p2**2 * p2**2 * p2) + 15 * (p1**2 * p1**2 * p1)) / 120


def _grid_values(left, patches, right):
    """``left @ P @ right.T`` for every patch ``P`` of ``patches`` (n, s, s): two large matrix products."""
    n, side, _ = patches.shape
    half = (patches.reshape(n * side, side) @ right.T).reshape(n, side, len(right))
    full = left @ half.transpose(1, 0, 2).reshape(side, -1)  # (len(left), n * len(right))
    return full.reshape(len(left), n, len(right)).transpose(1, 0, 2)


def _spline_maxima(patches, r):
    """(dy, dx) arrays in [-0.5, 0.5] maximising the quintic spline through each (9, 9) patch about its centre.

    On a 9-sample line SciPy's spline filter (mirror) is a fixed 9 x 9 matrix ``M``, and the
    points searched lie within half a pixel of the centre, so their support (3 px each way)
    never reaches the patch border: the spline on a grid is ``(B M) P (B M).T`` for the patch
    ``P`` and the grid's B-spline weights ``B``.  The grids are the same for every patch
    (0.1 px steps about the centre, then 0.01 px steps about one of those 11 points), so each
    ``B M`` is computed once, and the patches that share a fine grid are searched together.
    """
    from scipy import ndimage

    side = 2 * r + 1
    prefilter = ndimage.spline_filter1d(np.eye(side), order=5, axis=0, mode="mirror")  # the matrix M
    taps = np.arange(side) - r
    coarse = np.clip(np.arange(-5, 6) * 0.1, -0.5, 0.5)  # 11 points
    fine = np.clip(coarse[:, None] + np.arange(-5, 6) * 0.01, -0.5, 0.5)  # 11 grids of 11 about each
    coarse_rows = _quintic_weights(coarse[:, None] - taps) @ prefilter  # (11, 9)
    fine_rows = _quintic_weights(fine[:, :, None] - taps) @ prefilter  # (11, 11, 9)
    n = len(patches)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    k = _grid_values(coarse_rows, patches, coarse_rows).reshape(n, -1).argmax(axis=1)
    iy, ix = k // 11, k % 11
    dy, dx = np.empty(n), np.empty(n)
    for group in np.unique(iy * 11 + ix):
        members = np.flatnonzero(iy * 11 + ix == group)
        gy, gx = divmod(int(group), 11)
        k = _grid_values(fine_rows[gy], patches[members], fine_rows[gx]).reshape(len(members), -1).argmax(axis=1)
        dy[members], dx[members] = fine[gy, k // 11], fine[gx, k % 11]
    return dy, dx


def _parabola_vertex(s, y, x, dy, dx):
    """Vertex offset of the parabola through s at (y, x) and its neighbours along (dy, dx)."""
    H, W = s.shape
    if not (0 <= y - dy and y + dy < H and 0 <= x - dx and x + dx < W):
        return 0.0
    lo, mid, hi = s[y - dy, x - dx], s[y, x], s[y + dy, x + dx]
    curvature = lo - 2 * mid + hi
    if not (np.isfinite(curvature) and curvature < 0):
        return 0.0
    return float(np.clip(0.5 * (lo - hi) / curvature, -0.5, 0.5))
