"""Deconvolution: undo a known blur (point-spread function) in an image.

Two methods, both through real FFTs of the reflect-extended image: ``wiener`` (a regularised
inverse filter with a gradient prior, one pass) and ``richardson-lucy`` (iterative,
non-negative). The formulas, the border treatment and how the balance is chosen are in
``docs/deconvolve.md``.

Examples
--------
>>> import numpy as np
>>> restored = deconvolve(np.full((16, 16), 0.5), [[1, 2, 1]])
>>> bool(np.allclose(restored, 0.5, atol=1e-5))
True
"""
import numpy as np

from imgconv.alpha import join_alpha, split_alpha
from imgconv.choices import DECONVOLUTION_METHODS as METHODS
from imgconv.deconvolve.extension import Extension
from imgconv.deconvolve.richardson_lucy import richardson_lucy
from imgconv.deconvolve.wiener import wiener
from imgconv.errors import ImgconvError, KernelError

__all__ = ["METHODS", "deconvolve", "deconvolve_picture", "check_psf", "load_psf"]


def deconvolve(image, psf, *, method="wiener", balance=None, iterations=30, progress=None):
    """Undo a blur by a known point-spread function.

    Parameters
    ----------
    image : array_like
        H x W or H x W x C pixels (float, normally in [0, 1]); every channel is
        restored independently. Alpha is the caller's business: pass colour
        channels only.
    psf : array_like
        2-D point-spread function (blur kernel) with a positive sum; it is
        normalised to sum 1 and placed with its anchor at ``(h // 2, w // 2)``
        as :func:`imgconv.convolve` uses it. Must not be larger than the image.
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

    Returns
    -------
    numpy.ndarray
        float32 array of the image's shape. Wiener results are not clipped
        (a little over/undershoot at edges is normal); Richardson-Lucy results
        are non-negative.

    Raises
    ------
    KernelError
        The PSF is not 2-D, not finite, has a sum <= 0, is larger than the
        image, or (Richardson-Lucy) has negative entries.
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
    if img.ndim not in (2, 3) or img.shape[0] < 1 or img.shape[1] < 1 or img.size == 0:
        raise ImgconvError(f"image must be H x W or H x W x C, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.number) or np.iscomplexobj(img):
        raise ImgconvError(f"image must be real numbers, got {img.dtype}")
    img = img.astype(np.float32, copy=False)
    if not np.all(np.isfinite(img)):
        raise ImgconvError("image contains NaN or infinite values")
    kernel = check_psf(psf, img.shape[:2], nonnegative=method == "richardson-lucy")
    if balance is not None:
        balance = float(balance)
        if not np.isfinite(balance) or balance < 0:
            raise ImgconvError(f"balance must be a number >= 0, got {balance}")
    iterations = int(iterations)
    if method == "richardson-lucy" and iterations < 1:
        raise ImgconvError(f"iterations must be >= 1, got {iterations}")

    planes = img[..., None] if img.ndim == 2 else img
    out = np.empty(planes.shape, np.float32)
    if _is_identity(kernel):
        out[...] = planes
        if progress is not None and method == "richardson-lucy":
            total = iterations * planes.shape[2]
            progress(total, total)
        return out.reshape(img.shape)

    plan = Extension(img.shape[:2], kernel)
    channels = planes.shape[2]
    if method == "wiener":
        for c in range(channels):
            out[..., c] = wiener(plan, planes[..., c], balance)
    else:  # all channels at once: each iteration is one convolution of the interleaved channels

        def step(i):
            if progress is not None:
                progress(i * channels, iterations * channels)

        out[...] = richardson_lucy(plan, planes, iterations, balance or 0.0, step)
    return out.reshape(img.shape)


def load_psf(spec, nonnegative=False):
    """Resolve a PSF spec (anything ``load_kernel`` takes) to one validated matrix with sum 1.

    Raises KernelError naming the spec for a multi-kernel preset or an invalid PSF.

    Examples
    --------
    >>> load_psf("box:size=3").sum().round(6)
    np.float64(1.0)
    """
    from imgconv.kernels import load_kernel

    kernel = load_kernel(spec)
    if len(kernel.matrices) != 1:
        raise KernelError(f"--psf {spec}: a PSF must be one matrix, this kernel has {len(kernel.matrices)}")
    try:
        return check_psf(kernel.matrices[0], nonnegative=nonnegative)
    except KernelError as exc:
        raise KernelError(f"--psf {spec}: {exc.message}") from None


def check_psf(psf, image_shape=None, *, nonnegative=False):
    """Validate a point-spread function and return it normalised to sum 1.

    Parameters
    ----------
    psf : array_like
        Candidate PSF.
    image_shape : tuple of int, optional
        ``(H, W)`` of the image it will be applied to; a larger PSF is refused.
    nonnegative : bool
        Also refuse negative entries (Richardson-Lucy needs them >= 0).

    Returns
    -------
    numpy.ndarray
        float64 2-D array with sum 1.

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
    if k.ndim != 2 or k.size == 0:
        raise KernelError(f"PSF must be a non-empty 2-D matrix, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise KernelError("PSF contains NaN or infinite values")
    total = k.sum()
    if not total > 1e-12 * max(1.0, np.abs(k).sum()):
        raise KernelError(f"PSF must have a positive sum to be normalised, its sum is {total:.6g}")
    if nonnegative and (k < 0).any():
        raise KernelError("richardson-lucy needs a PSF without negative entries")
    if image_shape is not None and (k.shape[0] > image_shape[0] or k.shape[1] > image_shape[1]):
        raise KernelError(
            f"PSF ({k.shape[1]}x{k.shape[0]}) is larger than the image "
            f"({image_shape[1]}x{image_shape[0]})"
        )
    return k / total


def _is_identity(kernel):
    """True for a PSF whose only non-zero tap is its anchor (deconvolution is a no-op)."""
    anchor = (kernel.shape[0] // 2, kernel.shape[1] // 2)
    return np.count_nonzero(kernel) == 1 and kernel[anchor] != 0


def deconvolve_picture(pixels, psf, *, has_alpha=False, **options):
    """Deconvolve an image's colour channels and carry its alpha channel through unchanged.

    Parameters
    ----------
    pixels : numpy.ndarray
        H x W or H x W x C, alpha last when ``has_alpha`` (as
        :attr:`imgconv.imageio.Picture.pixels`).
    psf : array_like
        The point-spread function (see :func:`deconvolve`).
    has_alpha : bool
        Whether the last channel is alpha.
    **options
        ``method``, ``balance``, ``iterations``, ``progress`` for :func:`deconvolve`.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``pixels``.

    Examples
    --------
    >>> rgba = np.ones((8, 8, 4), np.float32); rgba[..., 3] = 0.5
    >>> out = deconvolve_picture(rgba, [[1.0]], has_alpha=True)
    >>> float(out[0, 0, 3])
    0.5
    """
    colour, alpha = split_alpha(pixels, has_alpha)
    return join_alpha(deconvolve(colour, psf, **options), alpha)
