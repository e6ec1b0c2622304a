"""Pictures of matching results: score heatmaps and annotated images.

The colour map is viridis (perceptually uniform, readable in grey and by the
colour-blind), rebuilt from 17 anchors of the published 256-entry table
(matplotlib's ``_cm_listed.py``, CC0: entries 0, 16, ..., 240 and 255) with
linear interpolation (``np.interp``); the largest difference from the full table
is below 0.01 per channel.

Examples
--------
>>> colormap(np.array([0.0, 1.0])).round(3)
array([[0.267, 0.005, 0.329],
       [0.993, 0.906, 0.144]], dtype=float32)
"""
import numpy as np

#: (position in [0, 1], R, G, B): viridis entries 0, 16, ..., 240, 255 of 255.
VIRIDIS_ANCHORS = np.array([
    (0 / 255, 0.267004, 0.004874, 0.329415),
    (16 / 255, 0.282327, 0.094955, 0.417331),
    (32 / 255, 0.278826, 0.175490, 0.483397),
    (48 / 255, 0.258965, 0.251537, 0.524736),
    (64 / 255, 0.229739, 0.322361, 0.545706),
    (80 / 255, 0.199430, 0.387607, 0.554642),
    (96 / 255, 0.172719, 0.448791, 0.557885),
    (112 / 255, 0.149039, 0.508051, 0.557250),
    (128 / 255, 0.127568, 0.566949, 0.550556),
    (144 / 255, 0.120638, 0.625828, 0.533488),
    (160 / 255, 0.157851, 0.683765, 0.501686),
    (176 / 255, 0.246070, 0.738910, 0.452024),
    (192 / 255, 0.369214, 0.788888, 0.382914),
    (208 / 255, 0.515992, 0.831158, 0.294279),
    (224 / 255, 0.678489, 0.863742, 0.189503),
    (240 / 255, 0.845561, 0.887322, 0.099702),
    (255 / 255, 0.993248, 0.906157, 0.143936),
])

BOX_COLOUR = (255, 48, 48)


def colormap(values):
    """Viridis colours of values in [0, 1] (clipped), float32 with a trailing RGB axis.

    Parameters
    ----------
    values : array_like
        Any shape; NaN maps to the lowest colour.

    Returns
    -------
    numpy.ndarray
        float32, ``values.shape + (3,)``, in [0, 1].
    """
    v = np.nan_to_num(np.clip(np.asarray(values, np.float64), 0.0, 1.0), nan=0.0)
    x = VIRIDIS_ANCHORS[:, 0]
    return np.stack([np.interp(v, x, VIRIDIS_ANCHORS[:, k]) for k in (1, 2, 3)],
                    axis=-1).astype(np.float32)


def heatmap(scores, image_size, template_size):
    """The score map as a viridis picture the size of the image, to lay over it.

    Parameters
    ----------
    scores : array_like
        (H - h + 1, W - w + 1) scores indexed by window top-left.
    image_size : tuple
        ``(H, W)`` of the image.
    template_size : tuple
        ``(h, w)`` of the template.

    Returns
    -------
    numpy.ndarray
        float32 H x W x 3 in [0, 1]: the score of the window with top-left
        ``(y, x)`` is drawn at its centre pixel ``(y + h // 2, x + w // 2)`` (the
        anchor of ``scipy.ndimage``'s filters), scores mapped linearly from [0, 1]
        (negative scores and the border no window centre reaches get the lowest
        colour).

    Examples
    --------
    >>> heatmap(np.ones((1, 1)), (3, 3), (3, 3))[1, 1].round(3)
    array([0.993, 0.906, 0.144], dtype=float32)
    """
    scores = np.asarray(scores)
    H, W = image_size[:2]
    h, w = template_size[:2]
    canvas = np.zeros((H, W), np.float32)
    canvas[h // 2:h // 2 + scores.shape[0], w // 2:w // 2 + scores.shape[1]] = scores
    return colormap(canvas)


def annotate(pixels, matches):
    """The picture with a box and the score drawn for each match.

    Parameters
    ----------
    pixels : array_like
        H x W or H x W x 3 float in [0, 1] (drop alpha first).
    matches : list of Match
        From :func:`imgconv.match.find_matches` or ``match_multiscale``; ``width``
        and ``height`` give each box's size.

    Returns
    -------
    numpy.ndarray
        uint8 H x W x 3 RGB.

    Examples
    --------
    >>> from imgconv.match import Match
    >>> out = annotate(np.zeros((20, 20)), [Match(2, 3, 0.9, 5.5, 6.5, width=8, height=8)])
    >>> out.shape, out[3, 5].tolist()
    ((20, 20, 3), [255, 48, 48])
    """
    from PIL import Image, ImageDraw, ImageFont

    values = np.asarray(pixels, np.float64)
    if values.ndim == 2:
        values = values[:, :, None]
    values = np.repeat(values, 3, axis=2) if values.shape[2] == 1 else values[:, :, :3]
    picture = Image.fromarray(np.clip(np.rint(values * 255), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    H, W = values.shape[:2]
    line = max(1, round(min(H, W) / 300))
    font = ImageFont.load_default(size=max(10, round(min(H, W) / 40)))
    for match in matches:
        x0, y0 = match.x, match.y
        x1, y1 = x0 + max(match.width, 1) - 1, y0 + max(match.height, 1) - 1
        draw.rectangle((x0, y0, x1, y1), outline=BOX_COLOUR, width=line)
        label = f"{match.score:.2f}" + (f" x{match.scale:.2f}" if match.scale != 1.0 else "")
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tx = min(max(0, x0), max(0, W - (right - left) - 2))
        ty = y0 - (bottom - top) - 4 if y0 - (bottom - top) - 4 >= 0 else y1 + 2
        draw.rectangle((tx, ty, tx + right - left + 2, ty + bottom - top + 3), fill=(0, 0, 0))
        draw.text((tx + 1 - left, ty + 1 - top), label, fill=BOX_COLOUR, font=font)
    return np.asarray(picture)
