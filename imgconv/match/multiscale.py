"""Multi-scale search: the template resized over a range of scales, matches competing across them.

Examples
--------
>>> scale_steps(0.8, 1.2, 0.2)
[0.8, 1.0, 1.2]
"""
import numpy as np

from imgconv.errors import MatchError
from imgconv.match.peaks import _check_peak_options, _suppress, find_matches
from imgconv.match.scores import (
    _as_channels,
    _as_mask,
    _check_channels,
    _check_mask_size,
    _prepare_image,
    _scores_on_prepared,
    match_template,
)

#: The smallest and largest template scale that can be searched.
SCALE_RANGE = (1e-4, 1e4)
#: The most scales one search may take.
MAX_SCALES = 1000


def scale_steps(start, stop, step):
    """Scales ``start, start + step, ...`` up to ``stop`` inclusive (``MIN:MAX:STEP``).

    Every number must be finite, the scales within :data:`SCALE_RANGE`, and at most
    :data:`MAX_SCALES` of them.

    Examples
    --------
    >>> scale_steps(0.5, 1.0, 0.25)
    [0.5, 0.75, 1.0]
    >>> scale_steps(0.5, 2, 1e-300)
    Traceback (most recent call last):
    ...
    imgconv.errors.MatchError: 0.5:2:1e-300 gives about 1.5e+300 scales; at most 1000
    """
    lo, hi = SCALE_RANGE
    given = f"{start:g}:{stop:g}:{step:g}"
    if not all(np.isfinite(v) for v in (start, stop, step)):
        raise MatchError(f"scales must be finite numbers, not {given}")
    if not (start > 0 and stop >= start and step > 0):
        raise MatchError(f"scales need 0 < MIN <= MAX and STEP > 0, not {given}")
    if not (lo <= start and stop <= hi):
        raise MatchError(f"scales must lie between {lo:g} and {hi:g}, not {given}")
    span = (stop - start) / step + 1e-9  # finite or +inf; never NaN here
    if not span < MAX_SCALES:
        about = f"about {span + 1:.4g}" if np.isfinite(span) else "more than 1e+308"
        raise MatchError(f"{given} gives {about} scales; at most {MAX_SCALES}")
    count = int(np.floor(span)) + 1
    return [round(start + k * step, 10) for k in range(count)]


def scaled_size(shape, scale):
    """``(rows, columns)`` of a template of ``shape`` resized by ``scale`` (at least 1 each).

    Examples
    --------
    >>> scaled_size((40, 44), 0.5), scaled_size((40, 44), 1e-4)
    ((20, 22), (1, 1))
    """
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def _usable(shape, scale, image_shape):
    """Whether the template resized by ``scale`` is at least 3 px and fits the image (checked before
    resizing: a scale of 1e4 would make a template of billions of pixels)."""
    h, w = scaled_size(shape, scale)
    return min(h, w) >= 3 and h <= image_shape[0] and w <= image_shape[1]


def resize_template(template, scale, mask=None):
    """The template (and mask) resized by ``scale`` with Pillow (bicubic; mask: nearest).

    Parameters
    ----------
    template : array_like
        h x w or h x w x C.
    scale : float
        Size factor; the result is ``round(h * scale) x round(w * scale)``.
    mask : array_like, optional
        h x w mask, resized with nearest neighbour.

    Returns
    -------
    tuple
        ``(template, mask)`` as float32 (mask: bool or None).

    Examples
    --------
    >>> template, mask = resize_template(np.ones((10, 20)), 0.5, np.ones((10, 20)))
    >>> template.shape, mask.shape, mask.dtype
    ((5, 10), (5, 10), dtype('bool'))
    """
    from PIL import Image

    template = np.asarray(template, np.float32)
    h, w = template.shape[:2]
    size = scaled_size((h, w), scale)[::-1]  # Pillow's (width, height)
    if size == (w, h):
        return template, None if mask is None else np.asarray(mask) != 0
    planes = template[..., None] if template.ndim == 2 else template
    resized = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[:, :, c]), "F")
                                   .resize(size, Image.Resampling.BICUBIC))
                        for c in range(planes.shape[2])], axis=2)
    resized = resized[:, :, 0] if template.ndim == 2 else resized
    if mask is not None:
        m = Image.fromarray((np.asarray(mask) != 0).astype(np.uint8) * 255, "L")
        mask = np.asarray(m.resize(size, Image.Resampling.NEAREST)) != 0
    return resized, mask


def match_multiscale(image, template, scales, *, mask=None, max_matches=1, threshold=0.5,
                     min_distance=None):
    """Search the template resized at several scales; matches compete across scales.

    Parameters
    ----------
    image, template, mask : array_like
        As for :func:`imgconv.match.match_template`.
    scales : iterable of float
        Template size factors (e.g. ``scale_steps(0.5, 2, 0.1)``).  Scales at which
        the template would be smaller than 3 px or larger than the image are skipped.
    max_matches, threshold, min_distance
        As for :func:`imgconv.match.find_matches`; the default ``min_distance`` is half
        the smaller side of the better (accepted) match's window, and suppression compares
        window centres, so a peak at one scale suppresses nearby ones at others.

    Returns
    -------
    list of Match
        Best first; ``scale``, ``width`` and ``height`` say which template size matched.

    Raises
    ------
    MatchError
        As :func:`imgconv.match.match_template`, or no scale leaves a usable template.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> from scipy import ndimage
    >>> image = ndimage.gaussian_filter(rng.random((120, 160)), 2)
    >>> template, _ = resize_template(image[30:70, 50:100], 0.8)
    >>> match_multiscale(image, template, [1.0, 1.25])[0].scale
    1.25
    """
    _check_peak_options(max_matches, threshold, min_distance)
    prepared = _prepare_image(image)
    template = np.asarray(template)
    base = _as_channels(template, "template")
    _check_channels(prepared.pixels.shape[0], base.shape[0])
    mask = _as_mask(mask, template)
    if mask is not None:
        _check_mask_size(mask.shape, template.shape[:2])
    H, W = prepared.pixels.shape[1:]
    scales = sorted({float(s) for s in scales})
    if not scales:
        raise MatchError("no scales given")
    found = []
    searched = False
    for scale in scales:
        if not scale > 0:
            raise MatchError(f"scales must be positive, not {scale}")
        if not _usable(template.shape[:2], scale, (H, W)):
            continue
        resized, scaled_mask = resize_template(template, scale, mask)
        h, w = resized.shape[:2]
        scores = _scores_on_prepared(prepared, _as_channels(resized, "template"), scaled_mask)
        found += find_matches(scores, (h, w), max_matches=max_matches, threshold=threshold,
                              min_distance=min_distance, scale=scale)
        searched = True
    if not searched:
        raise MatchError(f"no scale in {scales[0]}..{scales[-1]} gives a template between "
                         f"3 px and the image size ({W}x{H})", subject="template")
    found.sort(key=lambda m: (-m.score, m.y, m.x, m.scale))
    return _suppress(found, max_matches, min_distance)


def scores_at_best_scale(image, template, scales, matches, *, mask=None):
    """The score map of a multi-scale search at the scale of its best match.

    With no match, at the scale in ``scales`` closest to 1.  This is the map
    ``imgconv match --scales`` writes with ``--scores`` and ``--heatmap``.

    Parameters
    ----------
    image, template, mask : array_like
        As given to :func:`match_multiscale`.
    scales : iterable of float
        The scales searched.
    matches : list of Match
        What :func:`match_multiscale` found (best first).

    Returns
    -------
    tuple
        ``(scores, template_shape)``: the float32 map and the shape of the resized
        template that made it.

    Examples
    --------
    >>> image = np.random.default_rng(0).random((40, 50))
    >>> scores, shape = scores_at_best_scale(image, image[5:25, 10:30], [0.5, 0.9, 1.5], [])
    >>> shape, scores.shape
    ((18, 18), (23, 33))
    """
    if matches:
        best = matches[0].scale
    else:  # the searchable scale closest to 1
        image_shape = np.asarray(image).shape[:2]
        usable = [s for s in scales if _usable(np.asarray(template).shape[:2], s, image_shape)]
        if not usable:
            raise MatchError("no scale gives a template between 3 px and the image size", subject="template")
        best = min(usable, key=lambda s: abs(s - 1))
    resized, resized_mask = resize_template(template, best, mask)
    return match_template(image, resized, mask=resized_mask), resized.shape
