"""The alpha channel: split and join, premultiply, composite over a background.

Blurring straight (unassociated) colour lets the colour hidden under transparent pixels
bleed into the visible ones: a white disc on transparent black gets a dark fringe.
``premultiply`` filters colour x alpha and alpha alike, then divides back (colour 0 where
the filtered alpha is 0), as GIMP, Photoshop and ImageMagick do; ``keep`` filters the
straight colour and leaves alpha as it is. ``auto`` chooses ``premultiply`` for averaging
kernels (every tap >= 0) and ``keep`` for the others (an edge detector's alpha would be
meaningless).

Formats without alpha (JPEG, BMP) get the picture composited over a background colour
(:func:`composite`) instead of the hidden colours.

Examples
--------
>>> import numpy as np
>>> colour, alpha = split_alpha(np.ones((2, 2, 4), np.float32), has_alpha=True)
>>> colour.shape, alpha.shape, join_alpha(colour, alpha).shape
((2, 2, 3), (2, 2), (2, 2, 4))
>>> composite(np.array([[[0.0, 0.0, 0.0, 0.25]]]), (1.0, 1.0, 1.0)).tolist()   # 25% black on white
[[[0.75, 0.75, 0.75]]]
"""
import numpy as np

from imgconv.choices import ALPHA_MODES
from imgconv.errors import ImgconvError

#: Filtered alpha at or below this counts as 0 when dividing back (its colour is 0): well
#: under half a 16-bit level, well above the FFT's rounding noise.
ALPHA_FLOOR = 1e-6
#: Output extensions whose format cannot hold alpha (Pillow drops it; BMP readers ignore it).
NO_ALPHA_EXTENSIONS = (".jpg", ".jpeg", ".bmp")
#: The default ``--background``.
WHITE = (1.0, 1.0, 1.0)


def split_alpha(pixels, has_alpha):
    """``(colour, alpha)`` of H x W x C ``pixels``; alpha is the last channel when ``has_alpha``
    (else None). Colour keeps its channel axis (H x W x 1 for grey + alpha)."""
    pixels = np.asarray(pixels)
    if has_alpha and pixels.ndim == 3 and pixels.shape[-1] >= 2:
        return pixels[..., :-1], pixels[..., -1]
    return pixels, None


def join_alpha(colour, alpha):
    """Colour (H x W or H x W x C) with ``alpha`` (H x W, or None) appended as the last channel,
    float32."""
    colour = np.asarray(colour, np.float32)
    if alpha is None:
        return colour
    planes = colour if colour.ndim == 3 else colour[..., None]
    return np.concatenate([planes, np.asarray(alpha, np.float32)[..., None]], axis=-1)


def resolve_alpha_mode(alpha, matrices):
    """``"premultiply"`` or ``"keep"``: ``auto`` premultiplies when every matrix is non-negative.

    Examples
    --------
    >>> resolve_alpha_mode("auto", [np.ones((3, 3))]), resolve_alpha_mode("auto", [[[1, -1]]])
    ('premultiply', 'keep')
    """
    if alpha not in ALPHA_MODES:
        raise ImgconvError(f"unknown --alpha {alpha!r} (choose from {', '.join(ALPHA_MODES)})")
    if alpha != "auto":
        return alpha
    return "premultiply" if all((np.asarray(m) >= 0).all() for m in matrices) else "keep"


def premultiply(colour, alpha):
    """Colour (H x W or H x W x C) times alpha (H x W), float32."""
    colour = np.asarray(colour, np.float32)
    a = np.asarray(alpha, np.float32)
    return colour * (a if colour.ndim == 2 else a[..., None])


def unpremultiply(colour, alpha, floor=ALPHA_FLOOR):
    """Divide premultiplied colour by alpha; colour 0 where alpha <= ``floor``.

    Examples
    --------
    >>> unpremultiply(np.array([[0.25, 0.0]]), np.array([[0.5, 0.0]])).tolist()
    [[0.5, 0.0]]
    """
    colour = np.asarray(colour, np.float32)
    a = np.asarray(alpha, np.float32)
    a = a if colour.ndim == 2 else a[..., None]
    seen = a > floor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(seen, colour / np.where(seen, a, 1), np.float32(0)).astype(np.float32)


def composite(pixels, background=WHITE):
    """Straight-alpha pixels (grey+alpha or RGBA, alpha last) over an opaque ``background``.

    ``background`` is an RGB triple in [0, 1] (grey pictures take its ITU-R 601-2 luma).
    Colour is clipped to [0, 1] first, as it would be written. Returns grey or RGB, float32.
    """
    pixels = np.asarray(pixels, np.float32)
    colour, alpha = np.clip(pixels[..., :-1], 0, 1), np.clip(pixels[..., -1:], 0, 1)
    bg = np.asarray(background, np.float32)
    if colour.shape[-1] == 1:
        bg = np.float32(bg @ np.array([0.299, 0.587, 0.114], np.float32))
    out = colour * alpha + bg * (1 - alpha)
    return out[..., 0] if out.shape[-1] == 1 else out


def keeps_alpha(extension):
    """Whether an output extension (``".jpg"``, ``"png"``) can hold alpha.

    Examples
    --------
    >>> keeps_alpha(".png"), keeps_alpha("JPG")
    (True, False)
    """
    ext = "." + str(extension).lower().lstrip(".")
    return ext not in NO_ALPHA_EXTENSIONS and ext != ".mpo"


def parse_background(text):
    """An RGB triple in [0, 1] from a colour name or ``#rgb``/``#rrggbb`` (Pillow's names).

    Examples
    --------
    >>> parse_background("white"), parse_background("#000")
    ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    """
    text = str(text).strip()
    if text.lower() in ("white", "black"):  # the usual ones, without importing Pillow's colour table
        return (1.0, 1.0, 1.0) if text.lower() == "white" else (0.0, 0.0, 0.0)
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise ImgconvError(f"unknown colour {text!r} (a name such as white or black, or #rrggbb)") from None
    return tuple(v / 255 for v in rgb[:3])
