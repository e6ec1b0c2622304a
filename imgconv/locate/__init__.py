"""Find a template at any angle and size: rotation- and scale-invariant location, coarse to fine.

:func:`locate` searches rotated and scaled copies of the template.  Each copy
(a *hypothesis*: one angle, one scale) is scored by masked ZNCC, the Pearson r of
:func:`imgconv.match_template`, inside the template's rotated outline only (and
the user's mask, if any), so the corners of the rotated box never count.

How (the modules of this package):

1. ``hypotheses``: the angle and scale grids.  Without a step, the step moves the
   template's farthest corner by one pixel at the level searched: at full
   resolution ``1 / R`` radians and a factor ``1 + 1 / R`` in scale, ``R`` the
   distance from the template's centre to its corner at the largest scale; ``f``
   times that at a level whose pixels are ``f`` times larger.
2. ``warp``: the template turned, scaled and blurred as the level is, sampled on
   the level's grid with its outline mask (eroded at coarse levels).
3. ``pyramid``: a Gaussian pyramid (``cv2.pyrDown``'s filter).  At the coarsest
   level every hypothesis is scored at every position by FFTs that share the
   image's spectra; the best local maxima of each scale's best score (over the
   angles) are the candidates.
4. ``refine``: each candidate is re-scored one level finer in a window of a few
   pixels and one step of angle and of scale (the steps halving from level to
   level; the window moves while the best lies on its edge), the duplicates are
   dropped (near in position, angle and scale) and the best kept; at full
   resolution centre, angle and scale are refined together below the step
   (Nelder-Mead on the template posed at the sub-pixel centre).  Final matches
   are suppressed across positions, angles and scales (Chebyshev distance between
   centres below ``min_distance``).

Multi-channel images are searched on their luma (RGB; else the channels' mean)
at the coarser levels, which only propose candidates; full resolution scores all
channels jointly, as :func:`imgconv.match_template` does.

``levels=1`` is the exhaustive search at full resolution (every hypothesis on the
full-resolution grid at every position), then the same full-resolution
refinement.

Examples
--------
>>> import numpy as np
>>> from scipy import ndimage
>>> rng = np.random.default_rng(0)
>>> image = ndimage.gaussian_filter(rng.random((120, 160)), 1.5)
>>> template = ndimage.rotate(image[40:80, 60:100], 30, reshape=False)[8:32, 8:32]
>>> m = locate(image, template, angles=(-90, 90))[0]
>>> round(m.angle), round(m.cx), round(m.cy), m.score > 0.95
(-30, 79, 59, True)
"""
import dataclasses
import sys
import types

import numpy as np

from imgconv.errors import MatchError
from imgconv.match import Match

__all__ = ["Located", "Result", "locate", "search"]

#: Candidates kept from the coarsest level (at least; more with ``max_matches``).
COARSE_CANDIDATES = 48
#: Candidates screened at full resolution beyond ``max_matches`` (``refine.screen``),
#: then polished if they score at least ``threshold - POLISH_MARGIN`` there and no
#: less than the ``max_matches``-th polished one minus that margin.
SPARE_CANDIDATES = 3
POLISH_MARGIN = 0.1


@dataclasses.dataclass(frozen=True)
class Located(Match):
    """A match found by :func:`locate`: a :class:`imgconv.match.Match` with an angle.

    Attributes
    ----------
    cx, cy : float
        Sub-pixel position of the template's centre in the image.
    angle : float
        Degrees, counter-clockwise as seen on screen, in (-180, 180]: the template
        appears turned by this much.
    scale : float
        Size of the template in the image relative to the given one.
    x, y : int
        Top-left pixel of the axis-aligned box of the *un-rotated* template at
        this centre and scale: ``round(cx - (scale * w - 1) / 2)``, likewise y
        (the window's top-left at angle 0 and scale 1).
    width, height : int
        ``round(scale * w)``, ``round(scale * h)``: that box's size.
    score : float
        Masked ZNCC inside the rotated outline at the best integer position.

    Examples
    --------
    >>> Located(3, 4, 0.9, 10.5, 11.5, 1.5, 12, 12, angle=30.0).as_dict()
    {'x': 3, 'y': 4, 'score': 0.9, 'cx': 10.5, 'cy': 11.5, 'angle': 30.0, 'scale': 1.5}
    """

    angle: float = 0.0

    def as_dict(self, *, with_scale=True):
        """JSON fields: x, y, score, cx, cy, angle, scale (always both)."""
        out = Match.as_dict(self, with_scale=False)
        out["angle"] = round(float(self.angle), 4)
        if with_scale:
            out["scale"] = round(float(self.scale), 6)
        return out

    def corners(self, template_shape=None):
        """The rotated outline's corners (x, y): the template's top-left, top-right,
        bottom-right and bottom-left, turned and scaled about the centre.

        ``template_shape`` is the given template's (h, w); without it the box's
        rounded ``height / scale, width / scale``.

        Examples
        --------
        >>> [tuple(round(v, 1) for v in p) for p in Located(0, 0, 1, 5, 5, 1, 4, 2).corners()]
        [(3.0, 4.0), (7.0, 4.0), (7.0, 6.0), (3.0, 6.0)]
        """
        from imgconv.locate.warp import cos_sin

        h, w = (self.height / self.scale, self.width / self.scale) if template_shape is None \
            else template_shape[:2]
        c, s = cos_sin(self.angle)
        hw, hh = self.scale * w / 2, self.scale * h / 2
        return [(self.cx + c * dx + s * dy, self.cy - s * dx + c * dy)
                for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]


@dataclasses.dataclass
class Result:
    """What :func:`search` found and how.

    Attributes
    ----------
    matches : list of Located
        Best first.
    score_map : numpy.ndarray
        (H, W) float32: at each pixel, the best score over all hypotheses of the
        coarsest level searched of a window centred there (each level pixel
        covers its ``f x f`` block; with ``levels=1`` the full-resolution map);
        NaN where no hypothesis has a window.
    levels : int
        Levels used (1: exhaustive at full resolution).
    hypotheses : int
        Hypotheses scored at every position of the coarsest level.
    """

    matches: list
    score_map: np.ndarray
    levels: int
    hypotheses: int


class _Context:
    """One search: its pyramid, axes and templates (nothing outlives the call).

    ``levels[0]`` holds every channel; coarser levels of a multi-channel image hold one
    (luma for RGB, else the channels' mean): they only propose candidates, which are
    scored jointly over the channels at full resolution.
    """

    def __init__(self, levels, angle_axis, scale_axis, templates, coarse_templates):
        self.levels = levels
        self.mean_squares = [float(np.mean(np.sum(np.square(x, dtype=np.float64), axis=0)))
                             for x in levels]
        self.angle_axis, self.scale_axis = angle_axis, scale_axis
        self._templates = (templates, coarse_templates)

    @property
    def templates(self):
        """The full-resolution (all channels) templates."""
        return self._templates[0]

    def templates_at(self, level):
        return self._templates[0] if level == 0 else self._templates[1]


def locate(image, template, *, angles=None, scales=None, mask=None, max_matches=1, threshold=0.5,
           min_distance=None, levels="auto"):
    """Find ``template`` in ``image`` at any angle and scale.

    Parameters
    ----------
    image : array_like
        H x W or H x W x C, any real dtype.
    template : array_like
        h x w or h x w x C (same C).
    angles : None, float, "full", (min, max) or (min, max, step)
        Degrees, counter-clockwise as seen on screen, each in -360..360, a range of
        at most 360 (``"full"`` = (-180, 180)).  None: 0 only.  Without a step it
        moves the template's corner by one pixel at the level searched.
    scales : None, float, (min, max) or (min, max, step)
        Size factors in 0.01..100.  None: 1 only.  Without a step: geometric, a
        factor that moves the corner by one pixel.
    mask : array_like, optional
        h x w: only template pixels where it is non-zero count (with the outline).
    max_matches, threshold, min_distance
        As for :func:`imgconv.find_matches`; ``min_distance`` (default: half the
        smaller side of the better match's box) applies across all angles and scales.
    levels : "auto" or int
        Pyramid levels (1: exhaustive search at full resolution).  ``"auto"``
        keeps the template at least ``pyramid.MIN_COARSE_SIDE`` px at the
        coarsest level.

    Returns
    -------
    list of Located
        Best first, each with ``x, y, cx, cy, score, angle, scale``.

    Raises
    ------
    MatchError
        Bad arguments, a flat template, channels that differ, a template larger
        than the image at every angle and scale.
    """
    return search(image, template, angles=angles, scales=scales, mask=mask, max_matches=max_matches,
                  threshold=threshold, min_distance=min_distance, levels=levels).matches


def search(image, template, *, angles=None, scales=None, mask=None, max_matches=1, threshold=0.5,
           min_distance=None, levels="auto"):
    """:func:`locate`, returning a :class:`Result` (the matches, the score map, the levels used)."""
    from imgconv.locate import hypotheses, inputs, pyramid, refine, warp

    inputs.check_options(max_matches, threshold, min_distance)
    pixels, tmpl, user_mask = inputs.prepare(image, template, mask)
    C, H, W = pixels.shape
    h, w = tmpl.shape[1:]
    angle_axis, scale_axis = hypotheses.make_axes(angles, scales, (h, w))
    count = _level_count(levels, (h, w), (H, W), scale_axis.low)
    full = warp.WarpedTemplates(tmpl, user_mask)
    if C > 1 and count > 1:
        pyr = [pixels] + pyramid.build(inputs.one_channel(pixels), count)[1:]
        coarse = warp.WarpedTemplates(inputs.one_channel(tmpl), user_mask)
    else:
        pyr, coarse = pyramid.build(pixels, count), full
    context = _Context(pyr, angle_axis, scale_axis, full, coarse)

    coarsest = count - 1
    grid = [(a, s) for a in angle_axis.grid(coarsest) for s in scale_axis.grid(coarsest)]
    if len(grid) > hypotheses.MAX_HYPOTHESES:
        raise MatchError(f"{len(grid)} angle/scale hypotheses at the coarsest level; at most "
                         f"{hypotheses.MAX_HYPOTHESES} (give larger steps or more levels)")
    warps = context.templates_at(coarsest).warp(grid, 2 ** coarsest)
    Hc, Wc = pyr[coarsest].shape[1:]
    if not any(wp.shape[0] <= Hc and wp.shape[1] <= Wc and wp.norm2 > 0 for wp in warps):
        if not any(wp.norm2 > 0 for wp in warps):
            raise MatchError(f"the template ({w}x{h}) has no variance at any searched angle and scale")
        raise MatchError(f"the template ({w}x{h}) is larger than the image ({W}x{H}) at every "
                         "searched angle and scale" + (" at this level" if coarsest else ""))
    scored = pyramid.search(pyr[coarsest], warps)
    keep = max(COARSE_CANDIDATES, 12 * max_matches)
    candidates = [refine.Candidate(score, pyramid.level_centre_to_full(cy, coarsest),
                                   pyramid.level_centre_to_full(cx, coarsest), a, s)
                  for score, cy, cx, a, s in scored.candidates(keep)]
    for level in range(coarsest - 1, -1, -1):
        keep = max(max_matches + SPARE_CANDIDATES, keep // 3)
        candidates = refine.deduplicate(refine.refine_level(context, level, candidates), context,
                                        level, keep)
    if coarsest == 0:  # exhaustive: the grid's best, re-scored exactly in its window
        candidates = refine.deduplicate(refine.refine_level(context, 0, candidates), context, 0, keep)
    spare = _suppress(candidates, (h, w), max_matches + SPARE_CANDIDATES, min_distance)
    # the full-resolution grid puts centres on whole or half pixels: a fine texture 0.4 px
    # off scored 0.73 there and 0.97 posed exactly, so candidates are ranked (and skipped)
    # by their posed score on a sub-pixel grid first, and only then polished
    screened = sorted((s for s in (refine.screen(context, c) for c in spare) if s is not None),
                      key=lambda c: -c.score)
    polished = []
    for cand in screened:
        if cand.score < threshold - POLISH_MARGIN:
            break  # polishing gains a few hundredths: this one cannot reach the threshold
        if len(polished) >= max_matches:
            kth = sorted(p.score for p in polished)[-max_matches]
            if cand.score < kth - POLISH_MARGIN:
                break  # nor overtake the matches already polished
        found = refine.polish(context, cand)
        if found is not None:
            polished.append(found)
    final = _suppress(polished, (h, w), max_matches, min_distance)
    matches = [_as_match(c, (h, w)) for c in final if c.score >= threshold]
    return Result(matches, pyramid.upsample_best(scored.best, coarsest, (H, W)), count, len(grid))


def _suppress(candidates, shape, keep, min_distance):
    """Best first; a candidate whose centre is closer than the radius to a kept one (in x and y) goes."""
    kept = []
    for cand in sorted(candidates, key=lambda c: (-c.score, c.cy, c.cx)):
        if any(abs(cand.cy - k.cy) < _radius(k, shape, min_distance)
               and abs(cand.cx - k.cx) < _radius(k, shape, min_distance) for k in kept):
            continue
        kept.append(cand)
        if len(kept) >= keep:
            break
    return kept


def _radius(cand, shape, min_distance):
    return min(shape) * cand.scale / 2 if min_distance is None else min_distance


def _as_match(cand, shape):
    from imgconv.locate.hypotheses import wrap_angle

    h, w = shape
    s = cand.scale
    return Located(round(cand.cx - (s * w - 1) / 2), round(cand.cy - (s * h - 1) / 2),
                   cand.score, cand.cx, cand.cy, s, max(1, round(s * w)), max(1, round(s * h)),
                   angle=wrap_angle(cand.angle))


def _level_count(levels, template_shape, image_shape, min_scale):
    from imgconv.locate import pyramid

    if isinstance(levels, str) and levels.strip().lower() == "auto":
        return pyramid.auto_levels(template_shape, image_shape, min_scale)
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise MatchError(f"levels must be 'auto' or an integer >= 1, not {levels!r}")
    most = pyramid.max_levels(template_shape, image_shape, min_scale)
    if levels > most:
        raise MatchError(f"{levels} levels would shrink the template ({template_shape[1]}x"
                         f"{template_shape[0]} at scale {min_scale:g}) below "
                         f"{pyramid.MIN_LEVEL_SIDE:g} px; at most {most} here")
    return int(levels)


# ``imgconv.locate`` is this function (the lazy API) or this package (once a submodule is
# imported): either way ``imgconv.locate.search`` and ``.Located`` are there.
locate.search, locate.Located, locate.Result = search, Located, Result


class _CallableModule(types.ModuleType):
    """``imgconv.locate`` is both this package and the function: calling the module calls
    :func:`locate` (importing a submodule would otherwise shadow the function on ``imgconv``)."""

    def __call__(self, *args, **kwargs):
        return locate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
