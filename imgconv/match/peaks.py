"""Matches from a score map: local maxima, suppression of near duplicates, sub-pixel centres.

``docs/match.md`` describes the suppression rule and the measured sub-pixel accuracy; the
refinement itself is :mod:`imgconv.match.subpixel`.

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
from imgconv.match.subpixel import SUBPIXEL_RADIUS, subpixel_offsets

__all__ = ["SUBPIXEL_RADIUS", "Match", "find_matches"]



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
    cx, cy = xs + (w - 1) / 2, ys + (h - 1) / 2
    radius = min(w, h) / 2 if min_distance is None else float(min_distance)
    keep = _greedy_suppression(cx, cy, np.full(len(ys), radius), max_matches)
    ys, xs, cx, cy = ys[keep], xs[keep], cx[keep], cy[keep]
    dy, dx = subpixel_offsets(finite, ys, xs)
    columns = (xs.tolist(), ys.tolist(), finite[ys, xs].tolist(), (cx + dx).tolist(), (cy + dy).tolist())
    return [Match(x, y, score, mx, my, float(scale), w, h) for x, y, score, mx, my in zip(*columns)]


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
    ``max_matches`` are returned.  Used by :func:`find_matches` (on arrays, through
    :func:`_greedy_suppression`) and, across scales, by :func:`imgconv.match.match_multiscale`.

    Examples
    --------
    >>> peaks = [Match(0, 0, 0.9, 4.5, 4.5, 1.0, 10, 10), Match(2, 0, 0.8, 6.5, 4.5, 1.0, 10, 10),
    ...          Match(20, 0, 0.7, 24.5, 4.5, 1.0, 10, 10)]
    >>> [m.x for m in _suppress(peaks, 5, None)], [m.x for m in _suppress(peaks, 5, 1)]
    ([0, 20], [0, 2, 20])
    """
    if not peaks:
        return []
    cx = np.array([p.cx for p in peaks], np.float64)
    cy = np.array([p.cy for p in peaks], np.float64)
    if min_distance is None:
        radius = np.array([min(p.width, p.height) / 2 for p in peaks], np.float64)
    else:
        radius = np.full(len(peaks), float(min_distance))
    return [peaks[i] for i in _greedy_suppression(cx, cy, radius, max_matches)]


def _greedy_suppression(cx, cy, radius, max_matches):
    """Indices of the peaks kept by greedy suppression, in order (the peaks come best first).

    Peak ``i``, once accepted, removes every later peak whose centre is closer than
    ``radius[i]`` in both x and y.  A k-d tree (Chebyshev metric) finds those neighbours, so
    the cost is O(n log n) plus the neighbours visited, instead of a pass over all peaks
    for each accepted one.

    Examples
    --------
    >>> _greedy_suppression(np.array([0.0, 1.0, 5.0]), np.zeros(3), np.full(3, 2.0), 10).tolist()
    [0, 2]
    """
    count = len(cx)
    if count == 0 or max_matches < 1:
        return np.zeros(0, np.intp)
    if not (radius > 0).any():
        return np.arange(min(count, max_matches))
    from scipy.spatial import cKDTree

    centres = np.column_stack([cx, cy])
    tree = cKDTree(centres)
    # distance <= nextafter(r, 0) is distance < r: closer than r, as the rule says
    reach = np.nextafter(radius, 0.0)
    # a peak with no other within the largest radius neither suppresses nor is suppressed
    crowded = tree.query_ball_point(centres, reach.max(), p=np.inf, return_length=True) > 1
    suppresses = (crowded & (radius > 0)).tolist()
    alive = np.ones(count, bool)
    kept = []
    for i in range(count):
        if not alive[i]:
            continue
        kept.append(i)
        if len(kept) >= max_matches:
            break
        if suppresses[i]:
            alive[tree.query_ball_point(centres[i], reach[i], p=np.inf)] = False
    return np.array(kept, np.intp)
