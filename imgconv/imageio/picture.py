"""The :class:`Picture` model and the rules between integer samples and float pixels.

Pixels are float32 in [0, 1]: 8-bit samples are divided by 255, 16-bit samples by
65535, and :func:`to_integer` turns pixels back into samples with
``clip(rint(v * maxval), 0, maxval)``.  Float samples are kept as they are and may lie
outside [0, 1].

Examples
--------
>>> import numpy as np
>>> pixels, depth = pixels_from_samples(np.array([[0, 51, 255]], np.uint8))
>>> pixels, depth
(array([[0. , 0.2, 1. ]], dtype=float32), 8)
>>> to_integer(pixels, 255)
array([[  0,  51, 255]], dtype=uint8)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imgconv.errors import ImageReadError


@dataclass
class Picture:
    """A decoded image with the facts about its source needed to write it back.

    Attributes
    ----------
    pixels : numpy.ndarray
        float32, H x W (grey) or H x W x C with C = 2 (grey+alpha), 3 (RGB) or 4 (RGBA);
        alpha, when present, is the last channel.  In [0, 1] except for float sources.
    depth : int
        Bit depth of the source samples: 8, 16, or 32 for float sources.
    has_alpha : bool
        Whether the last channel is alpha.
    format : str or None
        Pillow's format name of the source (``"PNG"``, ``"JPEG"``, ...; ``"NPY"``).
    icc_profile : bytes or None
        Embedded ICC profile, kept on output where the format allows.
    dpi : tuple of float or None
        Resolution in dots per inch, kept on output where the format allows.
    notes : list of str
        Non-fatal remarks for the user (first frame of an animation read, ...).
    path : str or None
        Where the picture was read from (``"-"`` for stdin).

    Examples
    --------
    >>> import numpy as np
    >>> pic = Picture(np.zeros((2, 3), np.float32), depth=8, has_alpha=False)
    >>> np.asarray(pic).shape
    (2, 3)
    """

    pixels: np.ndarray
    depth: int = 8
    has_alpha: bool = False
    format: str | None = None
    icc_profile: bytes | None = None
    dpi: tuple | None = None
    notes: list[str] = field(default_factory=list)
    path: str | None = None

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.pixels, dtype=dtype, copy=True)
        result = np.asarray(self.pixels, dtype=dtype)
        if copy is False and result is not self.pixels:
            raise ValueError("a copy is needed to convert the pixels to this dtype")
        return result


def decoded_picture(pixels, depth, **facts):
    """A :class:`Picture` of freshly decoded pixels: contiguous, alpha for 2 or 4 channels.

    Examples
    --------
    >>> import numpy as np
    >>> decoded_picture(np.zeros((1, 2, 4), np.float32), 8, format="PNG").has_alpha
    True
    """
    return Picture(np.ascontiguousarray(pixels), depth=depth,
                   has_alpha=pixels.ndim == 3 and pixels.shape[2] in (2, 4), **facts)


def to_integer(pixels, maxval):
    """Quantise float pixels to integers: ``clip(rint(v * maxval), 0, maxval)``.

    Rounding is half to even (``numpy.rint``).  NaN becomes 0.

    Parameters
    ----------
    pixels : array_like
        Float values, nominally in [0, 1].
    maxval : int
        Full-scale integer value, e.g. 255 or 65535.

    Returns
    -------
    numpy.ndarray
        uint8 when ``maxval <= 255``, uint16 when ``<= 65535``, else uint32.

    Examples
    --------
    >>> to_integer([0.0, 0.5, 1.2, -1.0], 255)
    array([  0, 128, 255,   0], dtype=uint8)
    """
    values = np.asarray(pixels)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    with np.errstate(over="ignore"):  # beyond float range: infinity, clipped below
        scaled = np.multiply(values, maxval)  # one new array, then everything in place
    np.rint(scaled, out=scaled)
    np.fmax(scaled, 0, out=scaled)  # NaN becomes 0 here (fmax takes the number)
    np.fmin(scaled, maxval, out=scaled)
    dtype = np.uint8 if maxval <= 255 else np.uint16 if maxval <= 65535 else np.uint32
    return scaled.astype(dtype)


def scale_integers(samples):
    """float32 pixels for bool, uint8 or uint16 samples (divided by 1, 255 or 65535), else None.

    Either byte order: big-endian samples (``>u2``, from a ``.npy`` or a TIFF) count the same.

    Examples
    --------
    >>> import numpy as np
    >>> scale_integers(np.array([65535], np.uint16)), scale_integers(np.array([65535], ">u2"))
    (array([1.], dtype=float32), array([1.], dtype=float32))
    """
    divisor = {np.dtype(np.bool_): 1, np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(
        samples.dtype.newbyteorder("="))
    if divisor is None:
        return None
    if divisor == 1:
        return samples.astype(np.float32)
    return np.divide(samples, np.float32(divisor), dtype=np.float32)  # one pass: cast and divide


def native_samples(samples, label=None):
    """Return ``(samples, depth)``: decoded samples as imgconv keeps them, and their depth.

    bool and uint8 are kept (depth 8), uint16 too (depth 16), floats too (depth 32), all in
    native byte order.  Signed 8-bit samples become uint8 when none is negative; other
    integers (a 32-bit TIFF, ...) become uint16 when every value lies in 0..65535.  Negative
    values, and larger ones, are refused (never wrapped or misread).

    Raises
    ------
    ImageReadError
        Integers outside 0..65535, or samples that are not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> native_samples(np.array([[0, 65535]], np.int32))
    (array([[    0, 65535]], dtype=uint16), 16)
    """
    if not samples.dtype.isnative:
        samples = samples.astype(samples.dtype.newbyteorder("="))
    if samples.dtype in (np.bool_, np.uint8, np.uint16):
        return samples, 16 if samples.dtype == np.uint16 else 8
    if np.issubdtype(samples.dtype, np.floating):
        return samples, 32
    if not np.issubdtype(samples.dtype, np.integer):
        raise ImageReadError(f"unsupported sample type {samples.dtype}", label)
    low, high = (int(samples.min()), int(samples.max())) if samples.size else (0, 0)
    if samples.dtype == np.int8:
        if low < 0:
            raise ImageReadError(f"signed 8-bit pixels ({low}..{high}) below 0 are not supported", label)
        return samples.astype(np.uint8), 8
    if low < 0 or high > 65535:
        raise ImageReadError(f"{samples.dtype.itemsize * 8}-bit integer pixels ({low}..{high}) "
                             "outside 0..65535 are not supported", label)
    return samples.astype(np.uint16), 16


def pixels_from_samples(samples, label=None):
    """Return ``(float32 pixels, depth)`` for decoded samples of any real dtype.

    The samples are first made :func:`native_samples` (either byte order; signed 8-bit samples
    are 8-bit values when none is negative; other integers 16-bit when every value lies in
    0..65535, refused otherwise: never wrapped or misread); bool, uint8 and uint16 are then
    divided by 1, 255 or 65535 and floats kept as they are (element by element: a strip of
    rows converts exactly as the whole image).

    Raises
    ------
    ImageReadError
        Integers outside 0..65535, or samples that are not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> pixels_from_samples(np.array([[0, 65535]], np.int32))
    (array([[0., 1.]], dtype=float32), 16)
    >>> pixels_from_samples(np.array([[0, 51]], np.int8))
    (array([[0. , 0.2]], dtype=float32), 8)
    """
    samples, depth = native_samples(samples, label)
    scaled = scale_integers(samples)
    if np.issubdtype(samples.dtype, np.floating):
        check_float32_range(samples, label)
    return (scaled if scaled is not None else samples.astype(np.float32)), depth


def check_float32_range(samples, label, rows=None):
    """Refuse finite float samples that float32, the precision of every computation, cannot hold.

    ``rows``: look at that many rows at a time (a memory-mapped or streamed source, anything
    sliced by rows); the message names the largest value of all of them either way.
    """
    if samples.dtype.itemsize <= 4:
        return
    limit, largest = np.finfo(np.float32).max, None
    step = rows or max(1, len(samples))
    for a in range(0, len(samples), step):
        part = np.asarray(samples[a:a + step])
        with np.errstate(invalid="ignore"):
            too_large = np.isfinite(part) & (np.abs(part) > limit)
        if too_large.any():
            largest = max(largest or 0.0, float(np.abs(part[too_large]).max()))
    if largest is not None:
        raise ImageReadError(f"float pixel values up to {largest:.3g} do not fit float32 (at most {limit:.3g}), "
                             "the precision imgconv computes in", label)
