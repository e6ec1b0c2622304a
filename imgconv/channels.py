"""Which channels are filtered: grey from colour (ITU-R 601-2 luma), and YCbCr for ``luma``.

Examples
--------
>>> import numpy as np
>>> to_gray(np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]))
array([[0.299, 0.114]], dtype=float32)
>>> rgb = np.array([[[0.2, 0.5, 0.9]]], np.float32)
>>> bool(np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-5))
True
"""
import numpy as np

from imgconv.errors import ImgconvError

#: ITU-R 601-2 luma weights, as Pillow's ``convert("L")``
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def to_gray(pixels):
    """Grey from colour pixels with ITU-R 601-2 luma (Pillow's ``convert("L")``).

    H x W is returned as float32; H x W x 1 or 2 gives the first channel; with C >= 3,
    ``0.299 R + 0.587 G + 0.114 B`` (further channels, such as alpha, are ignored).

    Examples
    --------
    >>> to_gray(np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]))
    array([[0.299, 0.114]], dtype=float32)
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        return pixels.astype(np.float32, copy=False)
    if pixels.ndim != 3:
        raise ImgconvError(f"pixels of shape {pixels.shape} are not an image")
    if pixels.shape[2] < 3:
        return pixels[:, :, 0].astype(np.float32)
    return (pixels[:, :, :3].astype(np.float32, copy=False) @ LUMA).astype(np.float32, copy=False)


def rgb_to_ycbcr(rgb):
    """Full-range YCbCr (JPEG/Pillow convention), on [0, 1] data with chroma centred at 0.5."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    ycc = rgb @ m.T
    ycc[..., 1:] += 0.5
    return ycc


def ycbcr_to_rgb(ycc):
    """The inverse of :func:`rgb_to_ycbcr`."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 0.5, ycc[..., 2] - 0.5
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1).astype(np.float32)
