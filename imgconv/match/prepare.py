"""Pictures made ready to match: alpha dropped, grey and colour reconciled, the mask chosen.

Examples
--------
>>> import numpy as np
>>> rgb, grey = np.zeros((4, 5, 3), np.float32), np.zeros((2, 2), np.float32)
>>> image, template, mask, notes = prepare_match(rgb, grey)
>>> image.shape, template.shape, mask, notes
((4, 5), (2, 2), None, ['the template is grey: matching it against the image converted to grey'])
"""
from typing import NamedTuple

import numpy as np

from imgconv.filtering import to_gray


class MatchInputs(NamedTuple):
    """What :func:`prepare_match` returns (a tuple: ``image, template, mask, notes``)."""

    #: H x W or H x W x C pixels of the image, no alpha
    image: np.ndarray
    #: h x w or h x w x C pixels of the template, as many channels as the image
    template: np.ndarray
    #: the mask values (non-zero counts), or None
    mask: np.ndarray | None
    #: remarks for the user about conversions made (text, no prefix)
    notes: list


def prepare_match(image, template, *, mask=None, gray=False):
    """The pixels to give :func:`imgconv.match.match_template` for a picture and a template.

    What ``imgconv match`` does with what it reads: alpha is dropped (grey + alpha
    becomes H x W); with ``gray`` both are converted to grey (ITU-R 601-2 luma);
    otherwise, when one is colour and the other grey, the colour one is converted
    to grey and a note says so.  The mask is the mask picture's alpha channel when
    it has one, else its pixels; its size is checked by the matching itself.

    Parameters
    ----------
    image, template : Picture or array_like
        A :class:`imgconv.Picture` (its ``has_alpha`` says whether the last channel
        is alpha) or an H x W (x C) array, taken as colour channels only.
    mask : Picture or array_like, optional
        Template mask: a Picture (alpha if it has one, else its pixels) or an array.
    gray : bool
        Convert both image and template to grey.

    Returns
    -------
    MatchInputs
        ``(image, template, mask, notes)``: pixels ready for ``match_template`` and
        ``match_multiscale``, and a list of remarks (empty when nothing was converted).

    Examples
    --------
    >>> from imgconv.imageio import Picture
    >>> logo = Picture(np.ones((3, 3, 4), np.float32), has_alpha=True)
    >>> inputs = prepare_match(np.ones((6, 6, 3)), logo, mask=logo, gray=True)
    >>> inputs.image.shape, inputs.template.shape, inputs.mask.shape, inputs.notes
    ((6, 6), (3, 3), (3, 3), [])
    """
    pixels, tpixels = _without_alpha(image), _without_alpha(template)
    mask_pixels = None if mask is None else _mask_values(mask)
    notes = []
    if gray:
        pixels, tpixels = to_gray(pixels), to_gray(tpixels)
    elif pixels.ndim != tpixels.ndim:
        colour, grey = ("image", "template") if pixels.ndim == 3 else ("template", "image")
        notes.append(f"the {grey} is grey: matching it against the {colour} converted to grey")
        pixels, tpixels = to_gray(pixels), to_gray(tpixels)
    return MatchInputs(pixels, tpixels, mask_pixels, notes)


def _is_picture(source):
    from imgconv.imageio import Picture

    return isinstance(source, Picture)


def _without_alpha(source):
    """The pixels without alpha; grey+alpha (or any single channel) becomes H x W."""
    if _is_picture(source):
        pixels = source.pixels[:, :, :-1] if source.has_alpha else source.pixels
    else:
        pixels = np.asarray(source)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return pixels


def _mask_values(source):
    """Mask values: a picture's alpha channel when it has one, else its pixels."""
    if _is_picture(source):
        return source.pixels[:, :, -1] if source.has_alpha else source.pixels
    return np.asarray(source)
