"""Deconvolution: undo a known blur (point-spread function) in an image.

Two methods, both through real FFTs of the image extended by the border model (``mode``,
reflect by default): ``wiener`` (a regularised inverse filter with a gradient prior, one
pass) and ``richardson-lucy`` (iterative, non-negative). The formulas, the border
treatment and how the balance is chosen are in ``docs/deconvolve.md``.
:func:`deconvolve_picture` adds what ``imgconv filter`` does to pixels (alpha, linear
light, channels, missing pixels; :mod:`imgconv.pixels`).

Examples
--------
>>> import numpy as np
>>> restored = deconvolve(np.full((16, 16), 0.5), [[1, 2, 1]])
>>> bool(np.allclose(restored, 0.5, atol=1e-5))
True
"""
import numpy as np

from imgconv.choices import DECONVOLUTION_METHODS as METHODS
from imgconv.deconvolve.extension import Extension
from imgconv.deconvolve.richardson_lucy import richardson_lucy
from imgconv.deconvolve.wiener import wiener
from imgconv.errors import ImgconvError, KernelError

__all__ = ["MAX_BALANCE", "METHODS", "check_balance", "check_psf", "deconvolve", "deconvolve_picture", "load_psf"]


def deconvolve(image, psf, *, method="wiener", balance=None, iterations=30, progress=None, mode="reflect",
               cval=0.0, volume=None):
    """Undo a blur by a known point-spread function, in an image or a volume.

    Parameters
    ----------
    image : array_like
        H x W or H x W x C pixels (float, normally in [0, 1]); every channel is
        restored independently. Alpha is the caller's business: pass colour
        channels only. A volume, Z x Y x X or Z x Y x X x C, with a 3-D PSF (or
        ``volume=True``, or as a 4-D array: then a 2-D PSF restores each plane).
    psf : array_like
        2-D point-spread function (blur kernel), or 3-D (Z x Y x X) for a volume, with a
        positive sum; it is normalised to sum 1 and placed with its anchor at
        ``(h // 2, w // 2)`` (``(d // 2, h // 2, w // 2)``) as :func:`imgconv.convolve`
        uses it. Must not be larger than the image.
    method : {"wiener", "richardson-lucy"}
        Regularised inverse filter (one pass, fast) or Richardson-Lucy
        iterations (non-negative, slower).
    balance : float or None
        Regularisation weight, >= 0. Wiener: the weight of the gradient prior
        (larger = smoother, less noise; ``None`` estimates it per channel from
        the noise level, see docs/deconvolve.md). Richardson-Lucy: the weight of
        total-variation damping (``None`` or 0 = plain Richardson-Lucy;
        0.001-0.01 keeps noise down over many iterations).
    iterations : int
        Richardson-Lucy iterations (ignored by Wiener).
    progress : callable or None
        Called as ``progress(done, total)`` after each Richardson-Lucy
        iteration, which restores every channel (``done`` counts iterations x
        channels, ``total = iterations * channels``).
    mode : {'reflect', 'mirror', 'nearest', 'wrap', 'constant'}
        The border model: how the sharp picture went on past its border when it was
        blurred (scipy.ndimage's meanings; ``cval`` for ``constant``). The image is
        extended that way before the transforms (``wrap``: not at all).
    volume : bool or None
        As for :func:`imgconv.convolve`: True makes a 3-D ``image`` Z x Y x X for a 2-D
        PSF (restored plane by plane); None decides by the PSF and the array.

    Returns
    -------
    numpy.ndarray
        float32 array of the image's shape. Wiener results are not clipped
        (a little over/undershoot at edges is normal); Richardson-Lucy results
        are non-negative.

    Raises
    ------
    KernelError
        The PSF is not 2-D (or 3-D for a volume), not finite, has a sum <= 0, is
        larger than the image, or (Richardson-Lucy) has negative entries.
    ImgconvError
        Bad image, method, balance or iterations.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage as ndi
    >>> rng = np.random.default_rng(0)
    >>> sharp = ndi.zoom(rng.random((16, 16)), 4, order=1)
    >>> psf = np.array([[1, 2, 1], [2, 12, 2], [1, 2, 1]]) / 24
    >>> blurred = ndi.convolve(sharp, psf, mode="reflect")
    >>> restored = deconvolve(blurred, psf, balance=0)
    >>> bool(np.abs(restored - sharp).max() < 1e-4)
    True
    """
    if method not in METHODS:
        raise ImgconvError(f"unknown deconvolution method {method!r} (use {' or '.join(METHODS)})")
    img = np.asarray(image)
    spatial = _spatial_dims(img, psf, volume)
    if spatial is None:
        return _plane_by_plane(img, psf, method=method, balance=balance, iterations=iterations, progress=progress,
                               mode=mode, cval=cval)
    if spatial == 3 and img.ndim == 2:
        check_psf(psf, img.shape)  # refuses the 3-D PSF for a 2-D image
    if img.ndim not in (spatial, spatial + 1) or img.size == 0:
        raise ImgconvError(f"image must be H x W or H x W x C, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.number) or np.iscomplexobj(img):
        raise ImgconvError(f"image must be real numbers, got {img.dtype}")
    img = img.astype(np.float32, copy=False)
    if not np.all(np.isfinite(img)):
        raise ImgconvError("image contains NaN or infinite values")
    kernel = check_psf(psf, img.shape[:spatial], nonnegative=method == "richardson-lucy")
    balance = check_balance(method, balance)
    iterations = int(iterations)
    if method == "richardson-lucy" and iterations < 1:
        raise ImgconvError(f"iterations must be >= 1, got {iterations}")

    planes = img[..., None] if img.ndim == spatial else img
    if _is_identity(kernel):
        out = planes.astype(np.float32, copy=True)
        if progress is not None and method == "richardson-lucy":
            total = iterations * planes.shape[-1]
            progress(total, total)
        return out.reshape(img.shape)

    plan = Extension(img.shape[:spatial], kernel, mode, cval)
    channels = planes.shape[-1]
    if method == "richardson-lucy":  # all channels at once: each step convolves the interleaved channels once

        def step(i):
            if progress is not None:
                progress(i * channels, iterations * channels)

        restored = richardson_lucy(plan, planes, iterations, balance or 0.0, step)
        return np.ascontiguousarray(restored, dtype=np.float32).reshape(img.shape)
    out = np.empty(planes.shape, np.float32) if channels > 1 else None  # one channel: its result itself
    for c in range(channels):
        restored = wiener(plan, planes[..., c], balance)
        if out is None:
            return np.ascontiguousarray(restored, dtype=np.float32).reshape(img.shape)
        out[..., c] = restored
    return out.reshape(img.shape)


#: The largest balance of each method. Wiener: larger ones only flatten the result further, and
#: balance * |D|^2 must stay well inside float32. Richardson-Lucy: total-variation weights beyond
#: this make its damping factor hit its floor everywhere (0.001-0.01 is the useful range).
MAX_BALANCE = {"wiener": 1e6, "richardson-lucy": 1.0}


def check_balance(method, balance):
    """``balance`` as a float (or None) when ``method`` can use it, else ImgconvError.

    Examples
    --------
    >>> check_balance("wiener", 0.01)
    0.01
    >>> check_balance("wiener", 1e39)
    Traceback (most recent call last):
    ...
    imgconv.errors.ImgconvError: balance must be a number from 0 to 1e+06 for wiener, not 1e+39
    """
    if balance is None:
        return None
    limit = MAX_BALANCE.get(method, 0.0)
    try:
        value = float(balance)
    except (TypeError, ValueError):
        raise ImgconvError(f"balance must be a number, not {type(balance).__name__}") from None
    if not 0 <= value <= limit:
        raise ImgconvError(f"balance must be a number from 0 to {limit:g} for {method}, not {value:g}")
    return value


def load_psf(spec, nonnegative=False):
    """Resolve a PSF spec (anything ``load_kernel`` takes, or a TIFF) to one validated matrix with sum 1.

    Raises KernelError naming the spec for a multi-kernel preset or an invalid PSF.

    Examples
    --------
    >>> load_psf("box:size=3").sum().round(6)
    np.float64(1.0)
    """
    from imgconv.kernels import load_kernel

    kernel = _tiff_psf(spec) or load_kernel(spec)
    if len(kernel.matrices) != 1:
        raise KernelError(f"--psf {spec}: a PSF must be one matrix, this kernel has {len(kernel.matrices)}")
    try:
        return check_psf(kernel.matrices[0], nonnegative=nonnegative)
    except KernelError as exc:
        raise KernelError(f"--psf {spec}: {exc.message}") from None


def _tiff_psf(spec):
    """A measured PSF stored as a TIFF (one page: 2-D, a stack: 3-D) as a Kernel, or None for other specs."""
    import os

    if not isinstance(spec, (str, os.PathLike)) or not str(spec).lower().endswith((".tif", ".tiff")):
        return None
    from imgconv.imageio.volume import read_volume
    from imgconv.kernels import Kernel

    voxels = read_volume(spec).voxels
    if voxels.ndim == 4:
        raise KernelError(f"a PSF must have one channel, this one has {voxels.shape[3]}", path=spec)
    return Kernel(str(spec), (voxels[0] if voxels.shape[0] == 1 else voxels,), description=f"measured PSF {spec}")


def check_psf(psf, image_shape=None, *, nonnegative=False):
    """Validate a point-spread function and return it normalised to sum 1.

    Parameters
    ----------
    psf : array_like
        Candidate PSF.
    image_shape : tuple of int, optional
        ``(H, W)`` of the image (``(Z, Y, X)`` of the volume) it will be applied to; a
        larger PSF is refused, and so is a 3-D PSF for a 2-D image.
    nonnegative : bool
        Also refuse negative entries (Richardson-Lucy needs them >= 0).

    Returns
    -------
    numpy.ndarray
        float64 2-D (or 3-D) array with sum 1.

    Raises
    ------
    KernelError
        With a one-line message saying what is wrong.

    Examples
    --------
    >>> check_psf([[1, 2, 1]]).tolist()
    [[0.25, 0.5, 0.25]]
    """
    try:
        k = np.asarray(psf, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelError(f"PSF is not a numeric matrix ({exc})") from None
    if k.ndim not in (2, 3) or k.size == 0:
        raise KernelError(f"PSF must be a non-empty 2-D matrix (or 3-D, for a volume), got shape {k.shape}")
    if image_shape is not None and k.ndim != len(image_shape):
        raise KernelError(f"a {k.ndim}-D PSF cannot restore a {len(image_shape)}-D image "
                          "(a 3-D PSF needs a volume: Z x Y x X [x C])")
    if not np.all(np.isfinite(k)):
        raise KernelError("PSF contains NaN or infinite values")
    total = k.sum()
    if not total > 1e-12 * max(1.0, np.abs(k).sum()):
        raise KernelError(f"PSF must have a positive sum to be normalised, its sum is {total:.6g}")
    if nonnegative and (k < 0).any():
        raise KernelError("richardson-lucy needs a PSF without negative entries")
    if image_shape is not None and any(p > n for p, n in zip(k.shape, image_shape)):
        raise KernelError(
            f"PSF ({'x'.join(str(n) for n in k.shape[::-1])}) is larger than the image "
            f"({'x'.join(str(n) for n in image_shape[::-1])})"
        )
    return k / total


def _is_identity(kernel):
    """True for a PSF whose only non-zero tap is its anchor (deconvolution is a no-op)."""
    anchor = tuple(n // 2 for n in kernel.shape)
    return np.count_nonzero(kernel) == 1 and kernel[anchor] != 0


def _spatial_dims(image, psf, volume):
    """How many leading axes of ``image`` are spatial (2 or 3), or None for a 2-D PSF applied to
    each plane of a volume (the rule of :func:`imgconv.convolve`)."""
    from imgconv.engine.volume import kernel_ndim

    psf_ndim = kernel_ndim(psf)
    if psf_ndim == 3:
        return 3
    if (volume or image.ndim == 4) and volume is not False:
        return None
    return 2


def _plane_by_plane(volume, psf, progress=None, **options):
    """A volume (Z x Y x X [x C]) restored plane by plane with a 2-D PSF."""
    if volume.ndim not in (3, 4) or volume.size == 0:
        raise ImgconvError(f"a volume must be Z x Y x X or Z x Y x X x C, got shape {volume.shape}")
    planes = volume.shape[0]

    def plane_progress(z):
        if progress is None:
            return None
        return lambda done, total: progress(z * total + done, planes * total)

    out = np.empty(volume.shape, np.float32)
    for z in range(planes):
        out[z] = deconvolve(volume[z], psf, progress=plane_progress(z), volume=False, **options)
    return out


def deconvolve_picture(pixels, psf, *, has_alpha=None, alpha="auto", linear=False, channels="all",
                       nan="propagate", valid=None, absolute=False, mode="reflect", cval=0.0, notes=None,
                       **options):
    """Deconvolve a picture as ``imgconv deconvolve`` does: alpha, linear light, channels, missing pixels.

    Parameters
    ----------
    pixels : numpy.ndarray or imgconv.Picture
        H x W or H x W x C, alpha last when ``has_alpha`` (default: the Picture's, else True
        for 2 or 4 channels).
    psf : array_like
        The point-spread function (see :func:`deconvolve`).
    alpha : {'auto', 'premultiply', 'keep'}
        ``premultiply`` deconvolves colour x alpha and alpha alike and divides back (alpha
        clipped to [0, 1]); ``keep`` deconvolves the straight colour and leaves alpha as it
        is; ``auto`` premultiplies when the PSF has no negative tap.
    linear, channels, valid, absolute
        As for :func:`imgconv.filter_image`.
    nan : {'propagate', 'ignore'}
        Missing pixels (NaN, 0 in ``valid``) are filled by normalised convolution with the
        PSF before the transforms (which would spread them everywhere); then ``propagate``
        makes NaN the pixels whose PSF window holds a missing pixel, ``ignore`` only those
        without any valid pixel under the PSF.
    mode, cval
        The border model (see :func:`deconvolve`).
    notes : list, optional
        Remarks for the user are appended here.
    **options
        ``method``, ``balance``, ``iterations``, ``progress`` for :func:`deconvolve`.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``pixels`` (grey + alpha for ``channels="gray"``).

    Examples
    --------
    >>> rgba = np.ones((8, 8, 4), np.float32); rgba[..., 3] = 0.5
    >>> out = deconvolve_picture(rgba, [[1.0]], has_alpha=True)
    >>> float(out[0, 0, 3])
    0.5
    """
    from imgconv.alpha import resolve_alpha_mode
    from imgconv.missing import check_averaging, check_nan_mode
    from imgconv.pixels import process_pixels

    check_nan_mode(nan)
    kernel = check_psf(psf)
    if nan == "ignore":
        check_averaging([kernel], "psf")

    def operate(planes):
        return _deconvolve_missing(planes, kernel, nan, mode=mode, cval=cval, **options)

    return process_pixels(pixels, operate, has_alpha=has_alpha, alpha=resolve_alpha_mode(alpha, [kernel]),
                          linear=linear, channels=channels, nan=nan, valid=valid, absolute=absolute,
                          notes=notes, window="PSF")


def _deconvolve_missing(planes, kernel, nan, *, mode, cval, **options):
    """:func:`deconvolve` of planes that may hold missing pixels (see :func:`deconvolve_picture`)."""
    from imgconv.missing import convolve_missing, footprint, has_missing

    if not has_missing(planes):
        return deconvolve(planes, kernel, mode=mode, cval=cval, **options)
    bad = ~np.isfinite(planes)
    average = np.abs(kernel) / np.abs(kernel).sum()
    filled = convolve_missing(planes, average, nan="ignore", mode=mode, cval=cval)
    x = np.where(bad, filled, planes)
    still = ~np.isfinite(x)
    if still.any():  # no valid pixel under the PSF: the mean of the valid ones
        x3, holes3 = (x[..., None], still[..., None]) if x.ndim == 2 else (x, still)
        for plane, holes in zip(np.moveaxis(x3, -1, 0), np.moveaxis(holes3, -1, 0)):
            plane[holes] = plane[~holes].mean() if (~holes).any() else 0.0
    out = deconvolve(x, kernel, mode=mode, cval=cval, **options)
    if nan == "propagate":
        out[footprint(bad, kernel, mode=mode)] = np.nan
    else:
        out[~footprint(~bad, kernel, mode=mode, outside=True)] = np.nan
    return out
