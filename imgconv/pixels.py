"""The pixel pipeline that filtering and deconvolution share.

:func:`process_pixels` takes a picture and an ``operate`` function (the kernel chain, or
the deconvolution) and does, in this order:

1. split alpha off (the last channel when the picture has one);
2. ``linear``: decode 8/16-bit sRGB to linear light (a float picture is linear already);
3. ``channels``: ``gray`` (ITU-R 601-2) or ``luma`` (Y of YCbCr; chroma kept);
4. ``valid``: pixels where the mask is 0 become missing (NaN);
5. ``alpha="premultiply"``: colour x alpha and alpha become one stack, filtered alike;
   a pixel missing in one plane is missing in all;
6. ``operate(stack)``;
7. divide back by the filtered alpha (colour 0 where it is 0);
8. ``absolute``, then ``* scale + offset`` (in the working space: linear light under
   ``linear``), then back from YCbCr, then encode to sRGB.

Notes for the user (missing pixels, a float picture under ``linear``) are appended to
``notes``.

Examples
--------
>>> import numpy as np
>>> rgba = np.zeros((1, 3, 4), np.float32); rgba[0, 1] = 1      # one opaque white pixel
>>> blur = lambda x: (x + np.roll(x, 1, 1) + np.roll(x, -1, 1)) / 3
>>> out = process_pixels(rgba, blur, alpha="premultiply")
>>> [round(float(v), 3) for v in out[0, 0]]                     # white, a third opaque
[1.0, 1.0, 1.0, 0.333]
"""
from dataclasses import dataclass

import numpy as np

from imgconv.alpha import join_alpha, premultiply, split_alpha, unpremultiply
from imgconv.channels import rgb_to_ycbcr, to_gray, ycbcr_to_rgb
from imgconv.choices import CHANNELS
from imgconv.colour import linear_to_srgb, srgb_to_linear
from imgconv.errors import ImgconvError

#: ``Picture.depth`` of float sources (float TIFF, float ``.npy``): linear light already.
FLOAT_DEPTH = 32


def valid_mask(valid, shape):
    """A boolean H x W mask (True = valid) from an image: non-zero in any colour channel.

    ``valid`` is an array or a :class:`imgconv.imageio.Picture` (its alpha is ignored);
    NaN counts as invalid. Its size must be ``shape``'s.

    Examples
    --------
    >>> valid_mask(np.array([[0.0, 0.5], [np.nan, 1.0]]), (2, 2)).tolist()
    [[False, True], [False, True]]
    """
    pixels = np.asarray(valid, np.float32)
    if getattr(valid, "has_alpha", False) and pixels.ndim == 3:
        pixels = pixels[..., :-1]
    if pixels.ndim == 3:
        pixels = np.where(np.isnan(pixels), 0, np.abs(pixels)).max(axis=-1)
    if pixels.ndim != 2:
        raise ImgconvError(f"a --valid mask must be an image, got shape {pixels.shape}")
    if pixels.shape != tuple(shape[:2]):
        (h, w), (H, W) = pixels.shape, shape[:2]
        raise ImgconvError(f"the --valid mask is {w}x{h} but the image is {W}x{H}")
    return np.nan_to_num(pixels, nan=0.0) != 0


def _count_missing(planes):
    from imgconv.missing import has_missing

    if not has_missing(planes):
        return 0
    bad = ~np.isfinite(planes)
    return int((bad.any(-1) if bad.ndim == 3 else bad).sum())


@dataclass(frozen=True)
class PixelSteps:
    """The steps of :func:`process_pixels` resolved for one picture, to run on the whole picture
    or on any rows of it: every step is element by element (per pixel), so rows prepared and
    finished alone equal those rows of the whole (:mod:`imgconv.stream` relies on it).

    ``premultiplied``: alpha is premultiplied (``alpha="premultiply"`` and the picture has
    alpha); ``decode``: sRGB is decoded to linear light and encoded after.
    """

    has_alpha: bool
    premultiplied: bool = False
    decode: bool = False
    channels: str = "all"
    absolute: bool = False
    scale: float = 1.0
    offset: float = 0.0

    def prepare(self, pixels, mask=None):
        """Steps 1-5 on float pixels (H x W [x C]): ``(stack, alpha, ycc)``, the planes ``operate``
        takes, the picture's alpha (None without) and the YCbCr whose luma is filtered (or None).
        ``mask`` (H x W bool, True = valid) makes pixels missing."""
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        colour, alpha_plane = split_alpha(pixels, self.has_alpha)
        if colour.ndim == 3 and colour.shape[-1] == 1:
            colour = colour[..., 0]
        if self.decode:
            colour = srgb_to_linear(colour)
        ycc = None
        if colour.ndim == 3 and colour.shape[-1] >= 3 and self.channels == "gray":
            colour = to_gray(colour)
        elif colour.ndim == 3 and colour.shape[-1] >= 3 and self.channels == "luma":
            ycc = rgb_to_ycbcr(colour[..., :3])
            colour = np.ascontiguousarray(ycc[..., 0])
        if mask is not None:
            colour = np.where(mask if colour.ndim == 2 else mask[..., None], colour, np.float32(np.nan))
        if self.premultiplied:
            a = alpha_plane if mask is None else np.where(mask, alpha_plane, np.float32(np.nan))
            stack = join_alpha(premultiply(colour, a), a)
            stack[~np.isfinite(stack).all(-1)] = np.nan
        else:
            stack = np.asarray(colour, np.float32)
        return stack, alpha_plane, ycc

    def unpremultiplied(self, out, alpha_plane):
        """Step 7 on ``operate``'s result: ``(colour, alpha)``, alpha the filtered one when premultiplied."""
        if not self.premultiplied:
            return out, alpha_plane
        alpha_plane = np.clip(out[..., -1], 0, 1)
        colour = unpremultiply(out[..., :-1], alpha_plane)
        return (colour[..., 0] if colour.shape[-1] == 1 else colour), alpha_plane

    def finish(self, colour, alpha_plane, ycc):
        """Step 8: ``absolute``, ``scale`` and ``offset``, back from YCbCr, to sRGB, alpha joined."""
        if self.absolute:
            colour = np.abs(colour)
        if self.scale != 1:
            colour = colour * np.float32(self.scale)
        if self.offset:
            colour = colour + np.float32(self.offset)
        if ycc is not None:
            ycc[..., 0] = colour
            colour = ycbcr_to_rgb(ycc)
        if self.decode:
            colour = linear_to_srgb(colour)
        return join_alpha(colour, alpha_plane)


def pixel_steps(shape, *, has_alpha=None, depth=None, alpha="keep", linear=False, channels="all",
                absolute=False, scale=1.0, offset=0.0, notes=None):
    """The :class:`PixelSteps` of :func:`process_pixels` for a picture of ``shape`` (H x W [x C])
    and ``depth`` (``Picture.depth``; None for an array), with the note on ``linear`` for a
    float picture appended to ``notes``.

    Examples
    --------
    >>> pixel_steps((4, 4, 4), alpha="premultiply", linear=True, depth=8)
    PixelSteps(has_alpha=True, premultiplied=True, decode=True, channels='all', absolute=False, scale=1.0, offset=0.0)
    """
    if channels not in CHANNELS:
        raise ImgconvError(f"unknown --channels {channels!r} (choose from {', '.join(CHANNELS)})")
    shape = tuple(shape)
    if len(shape) == 3 and shape[-1] == 1:
        shape = shape[:2]
    if has_alpha is None:
        has_alpha = len(shape) == 3 and shape[-1] in (2, 4)
    has_alpha = bool(has_alpha) and len(shape) == 3 and shape[-1] >= 2
    decode = bool(linear) and depth != FLOAT_DEPTH
    if linear and not decode and notes is not None:
        notes.append("--linear: a float picture is taken as linear light already (not decoded)")
    return PixelSteps(has_alpha, alpha == "premultiply" and has_alpha, decode, channels, bool(absolute),
                      scale, offset)


def process_pixels(image, operate, *, has_alpha=None, alpha="keep", linear=False, channels="all",
                   nan="propagate", valid=None, absolute=False, scale=1.0, offset=0.0, notes=None,
                   window="kernel"):
    """Run ``operate`` on a picture's pixels with the steps of the module notes.

    Parameters
    ----------
    image : array_like or imgconv.Picture
        H x W or H x W x C float pixels (C = 1..4). With ``linear``, a Picture of depth 32
        (a float source) is taken as linear light already; anything else is decoded.
    operate : callable
        ``operate(stack) -> stack`` on float32 H x W or H x W x C planes, shape kept.
    has_alpha : bool, optional
        Whether the last channel is alpha; default ``image.has_alpha``, else True for 2 or 4
        channels.
    alpha : {'keep', 'premultiply'}
        Already resolved (``auto`` is the caller's: it depends on the kernels).
    nan : {'propagate', 'ignore'}
        Only for the wording of the note; ``operate`` does the work.
    window : str
        What the note calls a pixel's neighbourhood: ``"kernel"`` or ``"PSF"``.
    """
    notes = [] if notes is None else notes
    if has_alpha is None:
        has_alpha = getattr(image, "has_alpha", None)
    pixels = np.asarray(image, dtype=np.float32)
    steps = pixel_steps(pixels.shape, has_alpha=has_alpha, depth=getattr(image, "depth", None), alpha=alpha,
                        linear=linear, channels=channels, absolute=absolute, scale=scale, offset=offset,
                        notes=notes)
    mask = None if valid is None else valid_mask(valid, pixels.shape)
    stack, alpha_plane, ycc = steps.prepare(pixels, mask)
    missing = _count_missing(stack)
    colour, alpha_plane = steps.unpremultiplied(operate(stack), alpha_plane)
    if missing:
        notes.append(_missing_note(missing, _count_missing(colour), nan, valid is not None, window))
    return steps.finish(colour, alpha_plane, ycc)


def _missing_note(missing, empty, nan, masked, window):
    what = "missing (NaN or 0 in --valid)" if masked else "missing (NaN)"
    if nan == "propagate":
        return (f"{missing} pixels are {what}: with --nan propagate (SciPy's behaviour) they spread to the "
                f"{empty} output pixels whose {window} window holds one; --nan ignore fills them "
                "from their valid neighbours")
    tail = (f"; {empty} output pixels have no valid pixel under the {window}: NaN, or --cval in an "
            "integer output" if empty else "")
    return f"{missing} pixels are {what}: filled from their valid neighbours (normalised convolution){tail}"
