"""The alpha channel: split it from the colour channels and join it back.

Examples
--------
>>> import numpy as np
>>> colour, alpha = split_alpha(np.ones((2, 2, 4), np.float32), has_alpha=True)
>>> colour.shape, alpha.shape, join_alpha(colour, alpha).shape
((2, 2, 3), (2, 2), (2, 2, 4))
"""
import numpy as np


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
