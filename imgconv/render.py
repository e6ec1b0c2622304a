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
    picture, draw, line, font = _canvas(pixels)
    W = picture.width
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


# --------------------------------------------------------------------------- score pictures
# Used by every ``--heatmap`` (plain, multi-scale and rotated search) and by rotated boxes.

#: Unscored pixels (no window centred there) are hatched in two neutral greys, which
#: viridis never produces, so they cannot be read as a score of 0 (dark purple).
UNSCORED_GREYS = (0.30, 0.45)
#: Weight of the colours over the picture with ``overlay``.
OVERLAY_ALPHA = 0.6


def centred_scores(scores, image_size, template_size):
    """A (H, W) map with each window's score at its centre pixel, NaN where none is.

    The window with top-left ``(y, x)`` lands on ``(y + h // 2, x + w // 2)``, as in
    :func:`heatmap`.

    Examples
    --------
    >>> centred_scores(np.ones((1, 1)), (3, 3), (3, 3))[:, 1].tolist()
    [nan, 1.0, nan]
    """
    scores = np.asarray(scores, np.float32)
    H, W = image_size[:2]
    h, w = template_size[:2]
    canvas = np.full((H, W), np.nan, np.float32)
    canvas[h // 2:h // 2 + scores.shape[0], w // 2:w // 2 + scores.shape[1]] = scores
    return canvas


def score_heatmap(score_map, picture=None, *, colour_bar=True):
    """A (H, W) score map as a viridis picture with a colour bar; unscored pixels hatched.

    Parameters
    ----------
    score_map : array_like
        (H, W) scores (a window's score at its centre pixel), NaN where unscored.
    picture : array_like, optional
        H x W or H x W x 3 float in [0, 1]: blend the colours over it
        (``OVERLAY_ALPHA``); unscored pixels then show the picture in dimmed grey.
    colour_bar : bool
        Draw the colour bar (scores 0 to 1, and the unscored hatch) in the corner
        whose scores are lowest; pictures under 120 x 60 px get none.

    Returns
    -------
    numpy.ndarray
        uint8 H x W x 3.  Scores are mapped linearly from [0, 1] (negative scores get
        the lowest colour, like 0).

    Examples
    --------
    >>> out = score_heatmap(np.array([[np.nan, 0.0, 1.0]]))
    >>> out[0, 1].tolist(), out[0, 2].tolist(), len(set(out[0, 0].tolist()))
    ([68, 1, 84], [253, 231, 37], 1)
    """
    values = np.asarray(score_map, np.float64)
    H, W = values.shape
    unscored = ~np.isfinite(values)
    colours = colormap(np.where(unscored, 0.0, values)).astype(np.float64)
    yy, xx = np.mgrid[0:H, 0:W]
    hatch = np.where(((yy + xx) // 4) % 2 == 0, *UNSCORED_GREYS)
    if picture is None:
        out = np.where(unscored[..., None], hatch[..., None], colours)
    else:
        grey = _as_grey(picture, (H, W))
        blended = OVERLAY_ALPHA * colours + (1 - OVERLAY_ALPHA) * grey[..., None]
        out = np.where(unscored[..., None], (0.6 * grey)[..., None], blended)
    out = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
    if colour_bar and W >= 120 and H >= 60:
        out = _draw_colour_bar(out, values)
    return out


def _as_grey(picture, shape):
    values = np.asarray(picture, np.float64)
    if values.ndim == 3:
        values = values[..., :3] @ np.array([0.299, 0.587, 0.114]) if values.shape[2] >= 3 \
            else values[..., 0]
    if values.shape != shape:
        raise ValueError(f"picture {values.shape} is not the size of the score map {shape}")
    return np.clip(values, 0.0, 1.0)


def _bar_box(values, width, height, margin):
    """(x0, y0) of the corner panel that hides the lowest scores (ties: bottom-right first)."""
    H, W = values.shape
    corners = [(W - width - margin, H - height - margin), (margin, H - height - margin),
               (W - width - margin, margin), (margin, margin)]

    def covered(corner):
        x0, y0 = corner
        under = values[y0:y0 + height, x0:x0 + width]
        finite = under[np.isfinite(under)]
        return float(finite.max()) if finite.size else -np.inf

    return min(corners, key=covered)


def _draw_colour_bar(rgb, values):
    """The colour bar drawn into a corner panel of an RGB uint8 picture.

    The panel holds the gradient from 0 to 1 with ticks at 0, 0.5 and 1 and, apart
    from it, a hatched swatch labelled "none" (unscored).
    """
    from PIL import Image, ImageDraw, ImageFont

    H, W = values.shape
    width = int(np.clip(W // 3, 110, 320))
    height = int(np.clip(H // 10, 40, 72))
    margin = max(2, min(H, W) // 100)
    x0, y0 = _bar_box(values, width, height, margin)
    picture = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(9, height // 5))

    def text_width(label):
        left, _, right, _ = draw.textbbox((0, 0), label, font=font)
        return right - left

    draw.rectangle((x0, y0, x0 + width - 1, y0 + height - 1), fill=(255, 255, 255), outline=(0, 0, 0))
    pad = max(3, height // 10)
    swatch = max(text_width("none"), width // 9)
    gap = max(2 * pad, text_width("1"))
    bar_x0, bar_x1 = x0 + pad, x0 + width - pad - swatch - gap
    bar_y0, bar_y1 = y0 + pad, y0 + height // 2
    gradient = colormap(np.linspace(0.0, 1.0, bar_x1 - bar_x0))
    strip = np.clip(np.rint(gradient * 255), 0, 255).astype(np.uint8)
    picture.paste(Image.fromarray(np.repeat(strip[None], bar_y1 - bar_y0, axis=0), "RGB"),
                  (bar_x0, bar_y0))
    sx0 = bar_x1 + gap
    yy, xx = np.mgrid[0:bar_y1 - bar_y0, 0:swatch]
    hatch = np.clip(np.rint(np.where(((yy + xx) // 4) % 2 == 0, *UNSCORED_GREYS) * 255), 0, 255)
    picture.paste(Image.fromarray(np.repeat(hatch.astype(np.uint8)[..., None], 3, axis=2), "RGB"),
                  (sx0, bar_y0))
    draw.rectangle((bar_x0 - 1, bar_y0 - 1, bar_x1, bar_y1), outline=(0, 0, 0))
    draw.rectangle((sx0 - 1, bar_y0 - 1, sx0 + swatch, bar_y1), outline=(0, 0, 0))
    text_y = bar_y1 + 4
    for value, label in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
        x = round(bar_x0 + value * (bar_x1 - bar_x0 - 1))
        tx = {0.0: x, 0.5: x - text_width(label) // 2, 1.0: x - text_width(label) + 1}[value]
        draw.line((x, bar_y1, x, bar_y1 + 2), fill=(0, 0, 0))
        draw.text((tx, text_y), label, fill=(0, 0, 0), font=font, anchor="lt")
    draw.text((sx0 + (swatch - text_width("none")) // 2, text_y), "none", fill=(0, 0, 0), font=font,
              anchor="lt")
    return np.asarray(picture)


def annotate_rotated(pixels, matches, template_shape):
    """The picture with each match's rotated outline, a tick to its top edge, and a label.

    Parameters
    ----------
    pixels : array_like
        H x W or H x W x 3 float in [0, 1].
    matches : list of Match
        :class:`imgconv.locate.Located` (with ``angle``) or plain matches (angle 0).
    template_shape : tuple
        ``(h, w)`` of the given template (the outline is that, scaled and turned).

    Returns
    -------
    numpy.ndarray
        uint8 H x W x 3 RGB.  Labels read ``score angle° xscale`` (the default font has no ×).

    Examples
    --------
    >>> from imgconv.locate import Located
    >>> m = Located(4, 4, 0.9, 10.0, 10.0, 1.0, 13, 13, angle=45.0)
    >>> out = annotate_rotated(np.zeros((21, 21)), [m], (13, 13))
    >>> out.shape, out[10, 10].tolist()
    ((21, 21, 3), [0, 0, 0])
    """

    from imgconv.locate.warp import cos_sin

    picture, draw, line, font = _canvas(pixels)
    H, W = picture.height, picture.width
    h, w = template_shape[:2]
    for match in matches:
        angle = float(getattr(match, "angle", 0.0))
        scale = float(match.scale)
        c, s = cos_sin(angle)
        hw, hh = scale * w / 2, scale * h / 2

        def at(dx, dy, cx=match.cx, cy=match.cy, c=c, s=s):
            return (cx + c * dx + s * dy, cy - s * dx + c * dy)

        corners = [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
        draw.line(corners + corners[:1], fill=BOX_COLOUR, width=line, joint="curve")
        draw.line((at(0, 0), at(0, -hh)), fill=BOX_COLOUR, width=line)
        label = f"{match.score:.2f} {angle:.1f}° x{scale:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        xs = [p[0] for p in corners]
        ys = [p[1] for p in corners]
        tx = int(min(max(0, min(xs)), max(0, W - (right - left) - 2)))
        ty = int(min(ys) - (bottom - top) - 4)
        if ty < 0:
            ty = int(min(H - (bottom - top) - 3, max(ys) + 2))
        draw.rectangle((tx, ty, tx + right - left + 2, ty + bottom - top + 3), fill=(0, 0, 0))
        draw.text((tx + 1 - left, ty + 1 - top), label, fill=BOX_COLOUR, font=font)
    return np.asarray(picture)


def _canvas(pixels):
    """(RGB picture of ``pixels``, its ImageDraw, line width, font) for drawing matches on."""
    from PIL import Image, ImageDraw, ImageFont

    values = np.asarray(pixels, np.float64)
    if values.ndim == 2:
        values = values[:, :, None]
    values = np.repeat(values, 3, axis=2) if values.shape[2] == 1 else values[:, :, :3]
    picture = Image.fromarray(np.clip(np.rint(values * 255), 0, 255).astype(np.uint8), "RGB")
    H, W = values.shape[:2]
    line = max(1, round(min(H, W) / 300))
    font = ImageFont.load_default(size=max(10, round(min(H, W) / 40)))
    return picture, ImageDraw.Draw(picture), line, font
