"""Refining candidates: local masked ZNCC, narrowing windows, and sub-step estimates.

Around a candidate only a few positions and hypotheses are scored, so the scores
are computed window by window in float64, every hypothesis of a candidate in one
batch: the image patch's windows form a (positions x pixels) matrix and the
masked zero-mean templates, their masks and the windows' squares are multiplied
with it (BLAS), giving for each hypothesis and position

    r = sum_c <W_c, T0_c> / sqrt( (sum_c <W_c^2, M> - sum_c <W_c, M>^2 / n) * |T0|^2 ),

the same masked Pearson r as :func:`imgconv.match_template` with a mask (a window
whose summed squared deviation is at most ``FLAT`` times the image's mean square
scores 0, as there).

* :func:`refine_level` moves candidates one level finer: positions within
  ``RADIUS`` pixels of the prediction, angles within two steps of the level
  (one step of the coarser level) and scales within one step, keeping the best;
  when the best lies on the edge of that window the window moves and the search
  repeats (at most ``CLIMBS`` times).
* :func:`polish` estimates angle and scale below the step at full resolution:
  three rounds of a parabola through the peak scores at the current estimate and
  half a step (then a quarter, an eighth) either side, each peak score itself
  interpolated (a separable parabola through the 3 x 3 scores around the best
  window), then the centre to sub-pixel by :func:`imgconv.match.find_matches` on
  the 9 x 9 scores at the final angle and scale.
"""
import math

import numpy as np

#: A window scores 0 when its summed squared deviation is at most FLAT * mean square
#: (the image's, summed over channels): imgconv.match's FLAT_TOLERANCE.
FLAT = 1e-5
#: Positions searched either side of a prediction when refining (level pixels).
RADIUS = 2
#: Times a refinement window may move when its best lies on its edge.
CLIMBS = 3
#: Final refinement (Nelder-Mead over centre, angle and scale, in pixels moved by the
#: template's corner): first simplex size, tolerance and most score evaluations.
POLISH_SIMPLEX = 0.5
POLISH_TOLERANCE = 0.05
POLISH_EVALUATIONS = 200


class Candidate:
    """A hypothesis placed in the image: centre (full-resolution pixels), angle, scale, score."""

    __slots__ = ("angle", "cx", "cy", "scale", "score")

    def __init__(self, score, cy, cx, angle, scale):
        self.score, self.cy, self.cx = float(score), float(cy), float(cx)
        self.angle, self.scale = float(angle), float(scale)

    def __repr__(self):
        return (f"Candidate(score={self.score:.4f}, cx={self.cx:.2f}, cy={self.cy:.2f}, "
                f"angle={self.angle:.2f}, scale={self.scale:.4f})")


def local_scores(pixels, warps, centre, radius, mean_square):
    """Masked ZNCC of each warp at the windows whose centre is within ``radius`` of ``centre``.

    Parameters
    ----------
    pixels : numpy.ndarray
        (C, H, W) level pixels (each channel's mean subtracted).
    warps : list of Warp
        Hypotheses at this level (a warp with ``norm2 == 0`` scores -inf).
    centre : tuple
        Predicted (cy, cx) of the template centre, level pixels.
    radius : int
    mean_square : float
        The level's mean of the summed squared channels (flat-window scale).

    Returns
    -------
    scores : numpy.ndarray
        (K, 2r+1, 2r+1) float64; -inf where the window leaves the image.
    origins : numpy.ndarray
        (K, 2) level coordinates of the template centre at window (0, 0) of each
        warp: window ``(j, i)`` of warp ``k`` is centred on ``origins[k] + (j, i)``.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    C, H, W = pixels.shape
    K = len(warps)
    NY = max(wp.shape[0] for wp in warps)
    NX = max(wp.shape[1] for wp in warps)
    r = int(radius)
    top0 = round(centre[0] - (NY - 1) / 2) - r
    left0 = round(centre[1] - (NX - 1) / 2) - r
    span_y, span_x = NY + 2 * r, NX + 2 * r
    patch = np.zeros((C, span_y, span_x), np.float64)
    y0, y1 = max(0, top0), min(H, top0 + span_y)
    x0, x1 = max(0, left0), min(W, left0 + span_x)
    if y1 > y0 and x1 > x0:
        patch[:, y0 - top0:y1 - top0, x0 - left0:x1 - left0] = pixels[:, y0:y1, x0:x1]
        # r does not change when a constant is subtracted; near zero, S2 - S1^2/n cancels less
        inner = patch[:, y0 - top0:y1 - top0, x0 - left0:x1 - left0]
        inner -= inner.mean(axis=(1, 2), keepdims=True)
    Q, N = (2 * r + 1) ** 2, NY * NX
    windows = sliding_window_view(patch, (NY, NX), axis=(1, 2)).reshape(C, Q, N)
    squares = sliding_window_view(np.sum(patch * patch, axis=0), (NY, NX)).reshape(Q, N)
    T = np.zeros((K, C, NY, NX))
    M = np.zeros((K, NY, NX))
    offsets = np.zeros((K, 2), np.int64)
    for k, wp in enumerate(warps):
        ny, nx = wp.shape
        py, px = (NY - ny) // 2, (NX - nx) // 2
        offsets[k] = (py, px)
        if wp.norm2 > 0:
            T[k, :, py:py + ny, px:px + nx] = wp.values
            M[k, py:py + ny, px:px + nx] = wp.mask
    T = T.reshape(K, C, N)
    M = M.reshape(K, N)
    # (K, N) @ (N, Q): OpenBLAS is far faster this way round than (Q, N) @ (N, K) here
    numerator = np.zeros((K, Q))
    sum_sq = np.zeros((K, Q))
    for c in range(C):
        numerator += T[:, c, :] @ windows[c].T
        s1 = M @ windows[c].T
        sum_sq += s1 * s1
    counts = np.array([max(wp.count, 1) for wp in warps], np.float64)[:, None]
    norms = np.array([wp.norm2 for wp in warps], np.float64)[:, None]
    varsum = M @ squares.T - sum_sq / counts
    flat = FLAT * mean_square
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(varsum > flat, numerator / np.sqrt(np.maximum(varsum, flat) * norms), 0.0)
    scores = np.clip(scores, -1.0, 1.0).reshape(K, 2 * r + 1, 2 * r + 1)
    scores[norms[:, 0] <= 0] = -np.inf
    # windows that leave the image
    jj = np.arange(2 * r + 1)
    for k, wp in enumerate(warps):
        ny, nx = wp.shape
        tops = top0 + jj + offsets[k, 0]
        lefts = left0 + jj + offsets[k, 1]
        bad_y = (tops < 0) | (tops + ny > H)
        bad_x = (lefts < 0) | (lefts + nx > W)
        scores[k][bad_y, :] = -np.inf
        scores[k][:, bad_x] = -np.inf
    origins = np.array([(top0 + offsets[k, 0] + (wp.shape[0] - 1) / 2,
                         left0 + offsets[k, 1] + (wp.shape[1] - 1) / 2)
                        for k, wp in enumerate(warps)])
    return scores, origins


def _best(scores):
    k, j, i = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(k), int(j), int(i)


def refine_level(context, level, candidates, angle_offsets=(-1, 0, 1), scale_offsets=(-1, 0, 1)):
    """Each candidate re-scored and moved to its best neighbour at ``level``.

    ``context`` is the search (its pyramid, axes, templates and mean squares).  The
    hypotheses of all candidates are warped together, round by round: a candidate
    whose best lies on the edge of its window (position, angle or scale) moves and
    is searched again, at most ``CLIMBS`` times.
    """
    from imgconv.locate.pyramid import full_to_level, level_centre_to_full

    pixels = context.levels[level]
    f = 2 ** level
    angle_axis, scale_axis = context.angle_axis, context.scale_axis
    states = [{"angle": c.angle, "scale": c.scale, "best": None,
               "centre": (full_to_level(c.cy, level), full_to_level(c.cx, level))} for c in candidates]
    active = list(range(len(states)))
    for _ in range(CLIMBS + 1):
        if not active:
            break
        plans = []
        for n in active:
            st = states[n]
            hyps = [(a, s) for a in angle_axis.around(st["angle"], level, angle_offsets)
                    for s in scale_axis.around(st["scale"], level, scale_offsets)]
            plans.append((n, hyps))
        warps = context.templates_at(level).warp([h for _, hyps in plans for h in hyps], f)
        moving, start = [], 0
        for n, hyps in plans:
            mine, start = warps[start:start + len(hyps)], start + len(hyps)
            st = states[n]
            scores, origins = local_scores(pixels, mine, st["centre"], RADIUS, context.mean_squares[level])
            k, j, i = _best(scores)
            value = scores[k, j, i]
            if not np.isfinite(value) or (st["best"] is not None and value <= st["best"]):
                continue
            moved = (_at_edge(angle_axis, st["angle"], mine[k].angle, level, angle_offsets)
                     or _at_edge(scale_axis, st["scale"], mine[k].scale, level, scale_offsets))
            st.update(angle=mine[k].angle, scale=mine[k].scale, best=float(value),
                      centre=(origins[k, 0] + j, origins[k, 1] + i))
            if moved or j in (0, 2 * RADIUS) or i in (0, 2 * RADIUS):
                moving.append(n)
        active = moving
    return [Candidate(st["best"], level_centre_to_full(st["centre"][0], level),
                      level_centre_to_full(st["centre"][1], level), st["angle"], st["scale"])
            for st in states if st["best"] is not None]


def _at_edge(axis, old, new, level, offsets):
    """Whether ``new`` is the farthest of ``offsets`` from ``old`` (not at a range bound)."""
    if axis.fixed:
        return False
    if not axis.periodic and new in (axis.low, axis.high):
        return False
    return axis.distance(new, old, level) >= max(abs(o) for o in offsets) - 0.01


def deduplicate(candidates, context, level, keep):
    """Best first; drop candidates near a better one in position, angle and scale."""
    f = 2 ** level
    ordered = sorted(candidates, key=lambda c: -c.score)
    kept = []
    for cand in ordered:
        if any(abs(cand.cy - k.cy) <= 1.5 * f and abs(cand.cx - k.cx) <= 1.5 * f
               and context.angle_axis.distance(cand.angle, k.angle, level) <= 1.5
               and context.scale_axis.distance(cand.scale, k.scale, level) <= 1.5 for k in kept):
            continue
        kept.append(cand)
        if len(kept) >= keep:
            break
    return kept


def _peak_height(scores):
    """(value, dj, di) of the best window of a 2-D map, its height and offset interpolated
    by a separable parabola through the 3 x 3 scores around it (integer peak at the border)."""
    j, i = np.unravel_index(int(np.argmax(scores)), scores.shape)
    f0 = scores[j, i]
    height, offset = f0, [0.0, 0.0]
    for axis, (lo, hi) in enumerate((((j - 1, i), (j + 1, i)), ((j, i - 1), (j, i + 1)))):
        if min(lo) < 0 or hi[0] >= scores.shape[0] or hi[1] >= scores.shape[1]:
            continue
        fm, fp = scores[lo], scores[hi]
        c = fp - 2 * f0 + fm
        if not (np.isfinite(c) and c < 0):
            continue
        g = (fp - fm) / 2
        height -= g * g / (2 * c)
        offset[axis] = float(np.clip(-g / c, -0.5, 0.5))
    return float(height), int(j), int(i)


def _vertex(lo, mid, hi):
    """Vertex offset (in units of the spacing) of the parabola through three values, in [-1, 1]."""
    c = lo - 2 * mid + hi
    if not (np.isfinite(c) and c < 0):
        return -1.0 if lo > max(mid, hi) else (1.0 if hi > max(mid, lo) else 0.0)
    return float(np.clip(0.5 * (lo - hi) / c, -1.0, 1.0))


def pose_score(context, cy, cx, angle, scale):
    """Masked ZNCC of the template posed at sub-pixel centre ``(cy, cx)``, full resolution.

    The template is resampled at the pose itself (bicubic), so the score is a
    smooth function of all four parameters; -inf when the outline leaves the image.
    """
    pixels = context.levels[0]
    values, inside, top, left = context.templates.pose(cy, cx, angle, scale)
    H, W = pixels.shape[1:]
    ny, nx = inside.shape
    if top < 0 or left < 0 or top + ny > H or left + nx > W:
        return -np.inf
    count = int(inside.sum())
    if count < 4:
        return -np.inf
    window = pixels[:, top:top + ny, left:left + nx][:, inside].astype(np.float64)
    t = values[:, inside]
    t0 = t - t.mean(axis=1, keepdims=True)
    v0 = window - window.mean(axis=1, keepdims=True)
    tn, vn = float(np.sum(t0 * t0)), float(np.sum(v0 * v0))
    if not (vn > FLAT * context.mean_squares[0] and tn > 0):
        return 0.0
    return float(np.clip(np.sum(t0 * v0) / math.sqrt(tn * vn), -1.0, 1.0))


#: Sub-pixel offsets (px) of the screening grid, in x and y.
SCREEN_OFFSETS = (-1 / 3, 0.0, 1 / 3)


def screen(context, cand):
    """The candidate's best posed score over a 3 x 3 sub-pixel grid about its centre
    (its angle and scale kept): a cheap estimate of what :func:`polish` will reach."""
    best = None
    for dy in SCREEN_OFFSETS:
        for dx in SCREEN_OFFSETS:
            value = pose_score(context, cand.cy + dy, cand.cx + dx, cand.angle, cand.scale)
            if np.isfinite(value) and (best is None or value > best.score):
                best = Candidate(value, cand.cy + dy, cand.cx + dx, cand.angle, cand.scale)
    return best


def polish(context, cand):
    """Centre, angle and scale refined below the grid at full resolution (Nelder-Mead).

    The parameters are expressed in pixels moved by the template's corner (the
    centre in pixels, the angle times the corner radius, the log-scale times it),
    so one tolerance, ``POLISH_TOLERANCE`` px, serves all four.
    """
    from imgconv.locate.hypotheses import corner_radius

    angle_axis, scale_axis = context.angle_axis, context.scale_axis
    radius = max(corner_radius(context.templates.shape, cand.scale), 1.0)
    free_angle, free_scale = not angle_axis.fixed, not scale_axis.fixed

    def unpack(p):
        cy, cx = p[0], p[1]
        k = 2
        angle, scale = cand.angle, cand.scale
        if free_angle:
            angle = angle_axis.clip(cand.angle + math.degrees(p[k] / radius))
            k += 1
        if free_scale:
            scale = scale_axis.clip(cand.scale * math.exp(p[k] / radius))
        return cy, cx, angle, scale

    def cost(p):
        return -pose_score(context, *unpack(p))

    start = np.array([cand.cy, cand.cx] + [0.0] * (free_angle + free_scale))
    x, fx = nelder_mead(cost, start, POLISH_SIMPLEX, POLISH_TOLERANCE, 1e-6, POLISH_EVALUATIONS)
    score = -fx
    if not np.isfinite(score):
        return None
    cy, cx, angle, scale = unpack(x)
    return Candidate(score, cy, cx, angle, scale)


def nelder_mead(f, x0, step, xatol, fatol, maxfev):
    """Minimise ``f`` from ``x0`` by the Nelder-Mead simplex (first simplex: ``x0`` and
    ``x0 + step`` along each axis); stops when every vertex is within ``xatol`` of the
    best in every coordinate and within ``fatol`` in value, or after ``maxfev`` calls.

    (scipy.optimize's version takes 0.37 s to import, a fifth of a command's budget.)

    Examples
    --------
    >>> x, fx = nelder_mead(lambda p: (p[0] - 1) ** 2 + (p[1] + 2) ** 2, np.zeros(2), 0.5,
    ...                     1e-6, 1e-12, 500)
    >>> np.round(x, 4).tolist(), bool(fx < 1e-10)
    ([1.0, -2.0], True)
    """
    n = len(x0)
    points = [np.asarray(x0, np.float64)] + [x0 + step * e for e in np.eye(n)]
    values = [f(p) for p in points]
    calls = n + 1
    while calls < maxfev:
        order = np.argsort(values, kind="stable")
        points = [points[i] for i in order]
        values = [values[i] for i in order]
        spread = max(np.max(np.abs(p - points[0])) for p in points[1:])
        if spread <= xatol and max(abs(v - values[0]) for v in values[1:]) <= fatol:
            break
        centroid = np.mean(points[:-1], axis=0)
        reflected = centroid + (centroid - points[-1])
        fr = f(reflected)
        calls += 1
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - points[-1])
            fe = f(expanded)
            calls += 1
            points[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
            continue
        if fr < values[-2]:
            points[-1], values[-1] = reflected, fr
            continue
        outside = fr < values[-1]
        contracted = centroid + 0.5 * ((reflected if outside else points[-1]) - centroid)
        fc = f(contracted)
        calls += 1
        if fc < (fr if outside else values[-1]):
            points[-1], values[-1] = contracted, fc
            continue
        for i in range(1, n + 1):  # shrink towards the best
            points[i] = points[0] + 0.5 * (points[i] - points[0])
            values[i] = f(points[i])
        calls += n
    best = int(np.argmin(values))
    return points[best], values[best]


def _scale_move(axis, scale, steps):
    """``scale`` moved by a (fractional) number of full-resolution steps, kept in range."""
    step = axis.step(0)
    if axis.user_step is None:
        return axis.clip(scale * math.exp(steps * step))
    return axis.clip(scale + steps * step)
