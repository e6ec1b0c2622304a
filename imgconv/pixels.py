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
import dataclasses

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
    prepared = prepare_pixels(image, has_alpha=has_alpha, alpha=alpha, linear=linear, channels=channels,
                              valid=valid, notes=notes)
    missing = _count_missing(prepared.stack)
    colour, alpha_plane = _divided(operate(prepared.stack), prepared)
    if missing:
        notes.append(_missing_note(missing, _count_missing(colour), nan, valid is not None, window))
    return _finished(colour, alpha_plane, prepared, absolute, scale, offset)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A picture's pixels ready for ``operate`` (:func:`prepare_pixels`): ``stack``, and what
    :func:`finish_pixels` needs to undo the steps (the alpha plane, the YCbCr planes, whether
    sRGB was decoded and alpha premultiplied)."""

    stack: np.ndarray
    alpha: np.ndarray = None
    ycc: np.ndarray = None
    decoded: bool = False
    premultiplied: bool = False


def prepare_pixels(image, *, has_alpha=None, alpha="keep", linear=False, channels="all", valid=None, notes=None,
                   depth=None):
    """Steps 1-5 of the module notes: the :class:`Prepared` stack ``operate`` receives.

    ``depth`` is the source's (default ``image.depth``: 32 for a float source). Every step
    works pixel by pixel, so a region of a picture prepares to the same region of the whole
    picture's stack (``imgconv.batch.huge`` prepares chunks).
    """
    if channels not in CHANNELS:
        raise ImgconvError(f"unknown --channels {channels!r} (choose from {', '.join(CHANNELS)})")
    notes = [] if notes is None else notes
    if has_alpha is None:
        has_alpha = getattr(image, "has_alpha", None)
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if has_alpha is None:
        has_alpha = pixels.ndim == 3 and pixels.shape[-1] in (2, 4)
    colour, alpha_plane = split_alpha(pixels, has_alpha)
    if colour.ndim == 3 and colour.shape[-1] == 1:
        colour = colour[..., 0]
    depth = getattr(image, "depth", None) if depth is None else depth
    decode = bool(linear) and depth != FLOAT_DEPTH
    if linear and not decode:
        notes.append("--linear: a float picture is taken as linear light already (not decoded)")
    if decode:
        colour = srgb_to_linear(colour)
    ycc = None
    if colour.ndim == 3 and colour.shape[-1] >= 3 and channels == "gray":
        colour = to_gray(colour)
    elif colour.ndim == 3 and colour.shape[-1] >= 3 and channels == "luma":
        ycc = rgb_to_ycbcr(colour[..., :3])
        colour = np.ascontiguousarray(ycc[..., 0])
    mask = None if valid is None else valid_mask(valid, colour.shape)
    if mask is not None:
        colour = np.where(mask if colour.ndim == 2 else mask[..., None], colour, np.float32(np.nan))
    premultiplied = alpha == "premultiply" and alpha_plane is not None
    if premultiplied:
        a = alpha_plane if mask is None else np.where(mask, alpha_plane, np.float32(np.nan))
        stack = join_alpha(premultiply(colour, a), a)
        stack[~np.isfinite(stack).all(-1)] = np.nan
    else:
        stack = np.asarray(colour, np.float32)
    return Prepared(stack, alpha_plane, ycc, decode, premultiplied)


def finish_pixels(out, prepared, *, absolute=False, scale=1.0, offset=0.0):
    """Steps 7-8 of the module notes: the picture from ``operate``'s result ``out`` and the
    :class:`Prepared` it worked on (pixel by pixel, as :func:`prepare_pixels`)."""
    return _finished(*_divided(out, prepared), prepared, absolute, scale, offset)


def _divided(out, prepared):
    """Step 7: ``(colour, alpha plane)`` of ``operate``'s result."""
    if not prepared.premultiplied:
        return out, prepared.alpha
    alpha_plane = np.clip(out[..., -1], 0, 1)
    colour = unpremultiply(out[..., :-1], alpha_plane)
    return (colour[..., 0] if colour.shape[-1] == 1 else colour), alpha_plane


def _finished(colour, alpha_plane, prepared, absolute, scale, offset):
    """Step 8."""
    if absolute:
        colour = np.abs(colour)
    if scale != 1:
        colour = colour * np.float32(scale)
    if offset:
        colour = colour + np.float32(offset)
    if prepared.ycc is not None:
        ycc = prepared.ycc if prepared.ycc.flags.writeable else prepared.ycc.copy()
        ycc[..., 0] = colour
        colour = ycbcr_to_rgb(ycc)
    if prepared.decoded:
        colour = linear_to_srgb(colour)
    return join_alpha(colour, alpha_plane)


def _missing_note(missing, empty, nan, masked, window):
    what = "missing (NaN or 0 in --valid)" if masked else "missing (NaN)"
    if nan == "propagate":
        return (f"{missing} pixels are {what}: with --nan propagate (SciPy's behaviour) they spread to the "
                f"{empty} output pixels whose {window} window holds one; --nan ignore fills them "
                "from their valid neighbours")
    tail = (f"; {empty} output pixels have no valid pixel under the {window}: NaN, or --cval in an "
            "integer output" if empty else "")
    return f"{missing} pixels are {what}: filled from their valid neighbours (normalised convolution){tail}"
