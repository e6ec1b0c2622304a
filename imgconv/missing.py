"""Missing pixels: NaN (or invalid in a ``--valid`` mask), for every convolution method.

Two policies (``--nan``):

``propagate`` (default)
    SciPy's behaviour: an output pixel is NaN when a *non-zero* tap of its window
    (``scipy.ndimage`` skips zero taps) falls on a missing pixel, the boundary mode
    included. The FFT alone would spread one NaN over the whole image and a separable
    pass over the kernel's whole box, so the image is filtered with its missing pixels
    set to 0 and NaN is put back exactly where SciPy puts it (:func:`footprint`).
``ignore``
    Normalised convolution: ``conv(x * m, k) / conv(m, k) * sum(k)``, with ``m`` the
    validity (1 = valid) and ``x * m`` zero where invalid; NaN where no valid pixel lies
    under a non-zero tap. Only averaging kernels (every tap >= 0, positive sum) make
    sense here (:func:`check_averaging`). With ``mode="constant"`` the outside of the
    image holds valid ``cval`` pixels, so an image without missing pixels filters exactly
    as with ``propagate``.

Infinite values count as missing too.

Examples
--------
>>> x = np.ones((5, 5), np.float32); x[2, 2] = np.nan
>>> int(np.isnan(convolve_missing(x, np.ones((3, 3)) / 9)).sum())       # the 3x3 around it
9
>>> float(convolve_missing(x, np.ones((3, 3)) / 9, nan="ignore")[2, 2])  # its 8 neighbours
1.0
"""
import numpy as np

from imgconv.choices import NAN_MODES
from imgconv.errors import ImgconvError, KernelError


def has_missing(planes):
    """Whether any value is NaN or infinite. A plain sum answers first (any NaN or infinity
    makes it non-finite; it is several times faster than a mask); only a sum that overflowed
    asks the mask.

    Examples
    --------
    >>> has_missing(np.ones((2, 2))), has_missing(np.array([1.0, np.inf]))
    (False, True)
    """
    a = np.asarray(planes)
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(a)):
            return False
    return not np.isfinite(a).all()


def is_averaging(matrix):
    """Whether every tap is >= 0 and the sum is positive (a blur, box, Gaussian, disc, ...).

    Examples
    --------
    >>> is_averaging([[1, 2, 1]]), is_averaging([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    (True, False)
    """
    m = np.asarray(matrix, np.float64)
    return bool((m >= 0).all() and m.sum() > 0)


def check_averaging(matrices, name, why="--nan ignore"):
    """Raise :class:`KernelError` unless every matrix is averaging (see :func:`is_averaging`)."""
    for m in matrices:
        if not is_averaging(m):
            what = "has negative taps" if (np.asarray(m) < 0).any() else "does not have a positive sum"
            raise KernelError(f"{why} needs averaging kernels (every tap >= 0, positive sum); "
                              f"kernel {name!r} {what}")


def check_nan_mode(nan):
    """Return ``nan`` if it is one of :data:`imgconv.choices.NAN_MODES`."""
    if nan not in NAN_MODES:
        raise ImgconvError(f"unknown --nan {nan!r} (choose from {', '.join(NAN_MODES)})")
    return nan


def footprint(mask, matrix, *, mode="reflect", correlate=False, outside=False):
    """The output pixels whose window holds a pixel of ``mask`` under a non-zero tap.

    ``mask`` is a boolean H x W (x C) array; the result has its shape. The boundary
    ``mode`` extends the mask as it extends the image (``constant``: ``outside`` past the
    border). For a mask of missing pixels this is exactly where ``scipy.ndimage.convolve``
    (``correlate``) returns NaN.

    Examples
    --------
    >>> m = np.zeros((1, 6), bool); m[0, 0] = True
    >>> footprint(m, [[1, 0, 1]], mode="constant").astype(int).tolist()
    [[0, 1, 0, 0, 0, 0]]
    """
    from imgconv.engine import convolve

    support = (np.asarray(matrix) != 0).astype(np.float32)
    counts = convolve(mask.astype(np.float32), support, mode=mode, cval=float(outside), correlate=correlate)
    return counts > 0.5  # whole counts: 0.5 is far from any rounding error of any method


def convolve_missing(planes, matrix, *, nan="propagate", mode="reflect", cval=0.0, method="auto",
                     correlate=False):
    """:func:`imgconv.convolve` with missing pixels treated by ``nan`` (see the module notes).

    Without missing pixels this is :func:`imgconv.convolve` itself.
    """
    from imgconv.engine import convolve

    check_nan_mode(nan)
    planes = np.asarray(planes, np.float32)
    if not has_missing(planes):
        return convolve(planes, matrix, mode=mode, cval=cval, method=method, correlate=correlate)
    bad = ~np.isfinite(planes)
    zeroed = np.where(bad, np.float32(0), planes)
    if nan == "propagate":
        out = convolve(zeroed, matrix, mode=mode, cval=cval, method=method, correlate=correlate)
        out[footprint(bad, matrix, mode=mode, correlate=correlate)] = np.nan
        return out
    k = np.asarray(matrix, np.float64)
    check_averaging([k], "array")
    valid = (~bad).astype(np.float32)
    # ratios of small sums: the FFT's float32 rounding is absolute, so it runs in float64 here
    fft = _plans_fft(planes.shape, k, method, correlate)
    conv = _convolve64 if fft else convolve
    num = conv(zeroed, k, mode=mode, cval=cval, method=method, correlate=correlate)
    den = conv(valid, k, mode=mode, cval=1.0, method=method, correlate=correlate)
    empty = ~footprint(~bad, k, mode=mode, correlate=correlate, outside=True)  # outside: valid cval
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (num / den * k.sum()).astype(np.float32)
    out[empty] = np.nan
    return out


def _plans_fft(shape, kernel, method, correlate):
    from imgconv.engine import explain

    return explain(tuple(shape), kernel, method=method, correlate=correlate).method == "fft"


def _convolve64(planes, kernel, *, mode, cval, method=None, correlate=False):
    """Convolution (correlation) in float64 by FFT, scipy.ndimage's anchor and boundary modes."""
    from scipy.signal import fftconvolve

    from imgconv.engine.boundary import pad

    grey = planes.ndim == 2
    x = planes[..., None] if grey else planes
    h, w = kernel.shape
    k = kernel if correlate else kernel[::-1, ::-1]
    anchor = (h // 2, w // 2) if correlate else (h - 1 - h // 2, w - 1 - w // 2)
    padded = np.moveaxis(pad(np.moveaxis(x, -1, 0), anchor, (h - 1 - anchor[0], w - 1 - anchor[1]), mode, cval,
                             dtype=np.float64), 0, -1)
    out = fftconvolve(padded, k[::-1, ::-1, None], mode="valid", axes=(0, 1))
    return out[..., 0] if grey else out
