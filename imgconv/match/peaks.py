"""Matches from a score map: local maxima, suppression of near duplicates, sub-pixel centres.

``docs/match.md`` describes the suppression rule and the measured sub-pixel accuracy.

Examples
--------
>>> import numpy as np
>>> s = np.zeros((20, 20), np.float32); s[5, 6] = 0.9; s[15, 15] = 0.8
>>> [(m.x, m.y, round(m.score, 2), m.cx, m.cy) for m in find_matches(s, (8, 8), max_matches=2)]
[(6, 5, 0.9, 9.5, 8.5), (15, 15, 0.8, 18.5, 18.5)]
"""
from dataclasses import dataclass

import numpy as np

from imgconv.errors import MatchError

#: Half-size of the score neighbourhood used for sub-pixel refinement (9 x 9).
SUBPIXEL_RADIUS = 4


@dataclass(frozen=True)
class Match:
    """One match of the template in the image.

    Attributes
    ----------
    x, y : int
        Top-left pixel of the matched window.
    score : float
        ZNCC score (Pearson r) of that window, in [-1, 1].
    cx, cy : float
        Sub-pixel centre of the match: ``x + dx + (w - 1) / 2`` with ``dx`` the
        sub-pixel refinement (a quintic spline through the 9x9 scores) in [-0.5, 0.5], likewise ``cy``.
    scale : float
        Size of the matched template relative to the given one (multi-scale search).
    width, height : int
        Size of the matched window (the template at ``scale``).
    """

    x: int
    y: int
    score: float
    cx: float
    cy: float
    scale: float = 1.0
    width: int = 0
    height: int = 0

    def as_dict(self, *, with_scale=None):
        """The fields ``imgconv match --json`` prints per match: x, y, score, cx, cy (and scale).

        Parameters
        ----------
        with_scale : bool, optional
            Add ``"scale"``.  Default: only when the scale is not 1, so a plain
            single-scale search gives exactly the five fields.

        Examples
        --------
        >>> Match(3, 4, 0.9, 10.5, 11.5).as_dict()
        {'x': 3, 'y': 4, 'score': 0.9, 'cx': 10.5, 'cy': 11.5}
        >>> Match(3, 4, 0.9, 10.5, 11.5, scale=1.2).as_dict()["scale"]
        1.2
        """
        out = {"x": int(self.x), "y": int(self.y), "score": round(float(self.score), 6),
               "cx": round(float(self.cx), 4), "cy": round(float(self.cy), 4)}
        if with_scale or (with_scale is None and self.scale != 1.0):
            out["scale"] = round(float(self.scale), 6)
        return out


def find_matches(scores, template_shape, *, max_matches=1, threshold=0.5, min_distance=None,
                 scale=1.0):
    """The best peaks of a score map, refined to sub-pixel centres.

    Parameters
    ----------
    scores : array_like
        2-D score map from :func:`imgconv.match.match_template`, indexed by window top-left.
    template_shape : tuple
        ``(h, w)`` or ``(h, w, C)`` of the template that made ``scores``.
    max_matches : int
        At most this many matches (default 1).
    threshold : float
        Only peaks scoring at least this much (default 0.5).
    min_distance : float, optional
        A peak closer than this to a better accepted one, in both x and y (Chebyshev
        distance, pixels), is suppressed.  Default: half the template's smaller side.
        0 keeps every local maximum.
    scale : float
        Recorded in each :class:`Match` (``template_shape`` is already the scaled size).

    Returns
    -------
    list of Match
        Sorted by score, best first (ties: top to bottom, left to right).

    Examples
    --------
    >>> s = np.zeros((20, 20), np.float32); s[5, 6] = 0.9; s[5, 7] = 0.6; s[15, 15] = 0.8
    >>> [(m.x, m.y, round(m.score, 2)) for m in find_matches(s, (8, 8), max_matches=5)]
    [(6, 5, 0.9), (15, 15, 0.8)]
    """
    _check_peak_options(max_matches, threshold, min_distance)
    scores = np.asarray(scores)
    if scores.ndim != 2 or 0 in scores.shape:
        raise MatchError(f"scores must be a non-empty 2-D map, not shape {scores.shape}")
    h, w = (int(v) for v in tuple(template_shape)[:2])
    finite = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float64)
    ys, xs = _local_maxima(finite, threshold)
    peaks = [Match(int(x), int(y), float(finite[y, x]), float(x + (w - 1) / 2),
                   float(y + (h - 1) / 2), float(scale), w, h) for y, x in zip(ys, xs)]
    chosen = _suppress(peaks, max_matches, min_distance)
    refined = []
    for m in chosen:
        dy, dx = _subpixel_offset(finite, m.y, m.x)
        refined.append(Match(m.x, m.y, m.score, float(m.cx + dx), float(m.cy + dy), m.scale, w, h))
    return refined


def _check_peak_options(max_matches, threshold, min_distance):
    if not isinstance(max_matches, (int, np.integer)) or max_matches < 1:
        raise MatchError(f"max_matches must be a positive integer, not {max_matches!r}")
    if not np.isfinite(threshold):
        raise MatchError(f"threshold must be a finite number, not {threshold!r}")
    if min_distance is not None and not (np.isfinite(min_distance) and min_distance >= 0):
        raise MatchError(f"min_distance must be a number >= 0, not {min_distance!r}")


def _local_maxima(scores, threshold):
    """(ys, xs) of 3 x 3 local maxima at or above the threshold, best first.

    Ties in score are broken top to bottom, then left to right.
    """
    from scipy import ndimage

    peak = (scores >= threshold) & (scores >= ndimage.maximum_filter(
        scores, size=3, mode="constant", cval=-np.inf))
    ys, xs = np.nonzero(peak)
    order = np.lexsort((xs, ys, -scores[ys, xs]))
    return ys[order], xs[order]


def _suppress(peaks, max_matches, min_distance):
    """Greedy non-maximum suppression over window centres, best first (Chebyshev).

    ``peaks`` are :class:`Match` objects sorted best first.  Each accepted peak removes the
    remaining ones whose centre lies closer than ``min_distance`` (default: half the
    smaller side of the accepted peak's window) in both x and y.  At most
    ``max_matches`` are returned.  Used by :func:`find_matches` and, across scales, by
    :func:`imgconv.match.match_multiscale`.

    Examples
    --------
    >>> peaks = [Match(0, 0, 0.9, 4.5, 4.5, 1.0, 10, 10), Match(2, 0, 0.8, 6.5, 4.5, 1.0, 10, 10),
    ...          Match(20, 0, 0.7, 24.5, 4.5, 1.0, 10, 10)]
    >>> [m.x for m in _suppress(peaks, 5, None)], [m.x for m in _suppress(peaks, 5, 1)]
    ([0, 20], [0, 2, 20])
    """
    if not peaks:
        return []
    cx = np.array([p.cx for p in peaks])
    cy = np.array([p.cy for p in peaks])
    alive = np.ones(len(peaks), bool)
    chosen = []
    while len(chosen) < max_matches:
        best = int(np.argmax(alive))
        if not alive[best]:
            break
        chosen.append(peaks[best])
        alive[best] = False
        p = peaks[best]
        radius = min(p.width, p.height) / 2 if min_distance is None else min_distance
        if radius > 0:
            alive &= ~((np.abs(cy - cy[best]) < radius) & (np.abs(cx - cx[best]) < radius))
    return chosen


# --------------------------------------------------------------------------- sub-pixel


def _subpixel_offset(scores, y, x):
    """Sub-pixel (dy, dx) of the peak at (y, x), each in [-0.5, 0.5].

    A quintic spline through the 9 x 9 scores around the peak is maximised on a
    0.1 px grid, then a 0.01 px grid.  A separable parabola through 3 x 3 scores
    follows the shape of a correlation peak less well (pixel locking: mean errors
    0.13-0.28 px in the measurement in ``docs/match.md``, against 0.03-0.10
    for the spline); it is used where the peak is too close to the map's border
    for the 9 x 9 neighbourhood.
    """
    r = SUBPIXEL_RADIUS
    patch = scores[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
    if patch.shape == (2 * r + 1, 2 * r + 1) and np.isfinite(patch).all():
        return _spline_maximum(patch, r)
    return (_parabola_vertex(scores, y, x, 1, 0), _parabola_vertex(scores, y, x, 0, 1))


def _spline_maximum(patch, r):
    """(dy, dx) in [-0.5, 0.5] maximising the quintic spline through ``patch`` about its centre."""
    from scipy import ndimage

    coefficients = ndimage.spline_filter(patch, order=5, mode="mirror")
    best = np.zeros(2)
    for step in (0.1, 0.01):
        grid = np.arange(-5, 6) * step
        gy, gx = np.meshgrid(best[0] + grid, best[1] + grid, indexing="ij")
        gy, gx = np.clip(gy, -0.5, 0.5).ravel(), np.clip(gx, -0.5, 0.5).ravel()
        values = ndimage.map_coordinates(coefficients, [gy + r, gx + r], order=5,
                                         prefilter=False, mode="mirror")
        k = int(np.argmax(values))
        best = np.array([gy[k], gx[k]])
    return float(best[0]), float(best[1])


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
