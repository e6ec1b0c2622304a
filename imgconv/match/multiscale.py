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


def scale_steps(start, stop, step):
    """Scales ``start, start + step, ...`` up to ``stop`` inclusive (``MIN:MAX:STEP``).

    Examples
    --------
    >>> scale_steps(0.5, 1.0, 0.25)
    [0.5, 0.75, 1.0]
    """
    if not (start > 0 and stop >= start and step > 0):
        raise MatchError(f"scales need 0 < MIN <= MAX and STEP > 0, not {start}:{stop}:{step}")
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    if count > 1000:
        raise MatchError(f"{start}:{stop}:{step} gives {count} scales; at most 1000")
    return [round(start + k * step, 10) for k in range(count)]


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
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
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
        resized, scaled_mask = resize_template(template, scale, mask)
        h, w = resized.shape[:2]
        if min(h, w) < 3 or h > H or w > W:
            continue
        scores = _scores_on_prepared(prepared, _as_channels(resized, "template"), scaled_mask)
        found += find_matches(scores, (h, w), max_matches=max_matches, threshold=threshold,
                              min_distance=min_distance, scale=scale)
        searched = True
    if not searched:
        raise MatchError(f"no scale in {scales[0]}..{scales[-1]} gives a template between "
                         f"3 px and the image size ({W}x{H})")
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
    best = matches[0].scale if matches else min(scales, key=lambda s: abs(s - 1))
    resized, resized_mask = resize_template(template, best, mask)
    return match_template(image, resized, mask=resized_mask), resized.shape
