"""Applying kernels to pictures: chains, multi-kernel combination, colour handling.

This is the layer between the kernel model (``kernels``) and the engine: it knows how a
chain runs, ``normalize``, and how a multi-kernel preset such as ``sobel`` combines its
results. Alpha, linear light, grey/luma and missing pixels are the pixel pipeline's
(:mod:`imgconv.pixels`), shared with deconvolution. It does no I/O.

Examples
--------
>>> import numpy as np
>>> img = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (6, 1))
>>> out = filter_image(img, ["sobel:direction=x"], mode="nearest")
>>> bool(out[3, 3] > 0)
True
"""
import numpy as np

from imgconv.channels import LUMA, to_gray  # noqa: F401  (imported from here by imgconv.match)
from imgconv.errors import ImgconvError


def resolve_kernels(kernels):
    """Turn specs (strings, arrays, Kernels) into a list of :class:`imgconv.kernels.Kernel`."""
    from imgconv.kernels import load_kernel

    if isinstance(kernels, (str, np.ndarray)) or hasattr(kernels, "matrices"):
        kernels = [kernels]
    out = [load_kernel(k) for k in kernels]
    if not out:
        raise ImgconvError("no kernel given (use -k/--kernel SPEC)")
    return out


def apply_kernel(pixels, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False, normalize=False,
                 nan="propagate"):
    """Filter colour planes ``pixels`` (H x W or H x W x C) with one Kernel: combine, scale, offset.

    Missing pixels (NaN) are treated by ``nan`` (see :mod:`imgconv.missing`); ``nan=None``
    says there are none (no check).
    """
    from imgconv.engine import convolve
    from imgconv.missing import convolve_missing

    if normalize or kernel.normalize:
        kernel = kernel.normalized()

    def result(m):
        if nan is None:
            return convolve(pixels, m, mode=mode, cval=cval, method=method, correlate=correlate)
        return convolve_missing(pixels, m, nan=nan, mode=mode, cval=cval, method=method, correlate=correlate)

    return combine(kernel, map(result, kernel.matrices))


def combine(kernel, results):
    """One Kernel's result from those of its matrices (an iterable, consumed in order): its
    combine rule, then its scale and offset.

    Combined as they come: one result and the running total in memory, however many matrices;
    element by element, so a strip of rows combines exactly as the whole image
    (:mod:`imgconv.stream.strips`). The results are overwritten.
    """
    out = None
    for result in results:
        if kernel.combine == "magnitude":
            np.multiply(result, result, out=result)
        if out is None:
            out = result
        elif kernel.combine == "max":
            np.maximum(out, result, out=out)
        else:  # "sum", "magnitude" (of squares)
            out += result
    if kernel.combine == "magnitude":
        np.sqrt(out, out=out)
    if kernel.scale != 1:
        out *= np.float32(kernel.scale)
    if kernel.offset:
        out += np.float32(kernel.offset)
    return out.astype(np.float32, copy=False)


def applied_matrices(chain, normalize=False):
    """Every matrix of a resolved chain as it is applied (``normalize`` done)."""
    return [m for k in chain for m in (k.normalized() if normalize or k.normalize else k).matrices]


def check_chain(chain, nan="propagate", normalize=False):
    """Refuse a ``nan`` policy that is not one, or ``ignore`` for kernels that do not average
    (for :func:`filter_image` and the strips of :mod:`imgconv.stream` alike)."""
    from imgconv.missing import check_averaging, check_nan_mode

    check_nan_mode(nan)
    if nan == "ignore":
        for kernel in chain:
            check_averaging(applied_matrices([kernel], normalize), kernel.name)


def filter_image(image, kernels, *, mode="reflect", cval=0.0, method="auto", correlate=False,
                 normalize=False, scale=1.0, offset=0.0, channels="all", has_alpha=None,
                 alpha="auto", linear=False, nan="propagate", valid=None, absolute=False, notes=None):
    """Apply a chain of kernels to an image, as ``imgconv filter`` does.

    Parameters
    ----------
    image : array_like or imgconv.Picture
        float data in [0, 1], H x W or H x W x C (C = 1..4); float sources may hold NaN.
    kernels : spec, Kernel, array, or a list of them
        Applied in order (a chain); each may be a multi-kernel preset.
    mode, cval, method, correlate
        As for :func:`imgconv.convolve`.
    normalize : bool
        Divide each kernel by its sum where the sum is not ~0.
    scale, offset : float
        ``result * scale + offset`` after the chain (offset in full-scale units: 0.5 = mid grey).
    channels : {'all', 'gray', 'luma'}
        ``all`` filters every colour channel; ``gray`` converts to grey (ITU-R 601-2) first;
        ``luma`` filters only Y of YCbCr and keeps the chroma.
    has_alpha : bool, optional
        Whether the last channel is alpha. Defaults to ``image.has_alpha`` for a Picture,
        else True for 2 or 4 channels.
    alpha : {'auto', 'premultiply', 'keep'}
        ``premultiply``: filter colour x alpha and alpha alike, divide back; ``keep``: filter
        straight colour, alpha unchanged; ``auto``: premultiply when every tap of the chain
        is >= 0. See :mod:`imgconv.alpha`.
    linear : bool
        Filter in linear light: decode sRGB first, encode after (not for a float Picture,
        which is linear already). See :mod:`imgconv.colour`.
    nan : {'propagate', 'ignore'}
        Missing pixels: spread as SciPy does, or normalised convolution (averaging kernels
        only). See :mod:`imgconv.missing`.
    valid : array_like or Picture, optional
        A mask of the image's size: 0 = missing.
    absolute : bool
        Take the absolute value of the result before ``scale`` and ``offset``.
    notes : list, optional
        Remarks for the user are appended here.

    Returns
    -------
    numpy.ndarray
        float32; the input's shape, except ``channels='gray'`` which returns grey (+ alpha).

    Examples
    --------
    >>> rgba = np.zeros((9, 9, 4), np.float32); rgba[3:6, 3:6] = 1   # a white square, opaque
    >>> out = filter_image(rgba, "box:size=3")                       # premultiplied: no dark fringe
    >>> [round(float(v), 3) for v in out[2, 2]]
    [1.0, 1.0, 1.0, 0.111]
    """
    from imgconv.alpha import resolve_alpha_mode
    from imgconv.engine.oneoff import charged_once
    from imgconv.missing import has_missing
    from imgconv.pixels import process_pixels

    chain = resolve_kernels(kernels)
    check_chain(chain, nan, normalize)
    opts = dict(mode=mode, cval=cval, method=method, correlate=correlate, normalize=normalize)

    def operate(planes):
        # finite pixels and finite kernels stay finite along the chain: check once
        policy = nan if has_missing(planes) else None
        # one load of the compiled loops serves the whole chain: charged once, not per kernel
        with charged_once(planes.shape, applied_matrices(chain, normalize), method=method, correlate=correlate):
            for kernel in chain:
                planes = apply_kernel(planes, kernel, nan=policy, **opts)
        return planes

    with np.errstate(over="ignore", invalid="ignore"):  # float overflow gives infinity: no warning
        return process_pixels(image, operate, has_alpha=has_alpha,
                              alpha=resolve_alpha_mode(alpha, applied_matrices(chain, normalize)),
                              linear=linear, channels=channels, nan=nan, valid=valid, absolute=absolute,
                              scale=scale, offset=offset, notes=notes)


def filtered_planes(shape, channels="all", alpha="keep"):
    """The shape of the planes the chain filters in a picture of ``shape`` (H x W [x C], alpha
    last for 2 or 4 channels): colour, grey for ``channels='gray'``, luma for ``'luma'``, and
    alpha as one more plane when ``alpha='premultiply'`` (already resolved).

    Examples
    --------
    >>> filtered_planes((20, 30, 4)), filtered_planes((20, 30, 4), "luma", "premultiply")
    ((20, 30, 3), (20, 30, 2))
    """
    h, w = shape[:2]
    c = 1 if len(shape) == 2 else shape[2]
    has_alpha = c in (2, 4)
    colour = c - has_alpha
    if colour >= 3 and channels in ("gray", "luma"):
        colour = 1
    c = colour + (has_alpha and alpha == "premultiply")
    return (h, w) if c == 1 else (h, w, c)


def explain_filter(shape, kernels, *, method="auto", correlate=False, channels="all", alpha="auto", normalize=False):
    """One line per kernel matrix: the method the engine would use on a picture of ``shape``
    (H x W [x C]), for the planes it filters there (:func:`filtered_planes`)."""
    from imgconv.alpha import resolve_alpha_mode
    from imgconv.engine import explain
    from imgconv.engine.oneoff import charged_once

    chain = resolve_kernels(kernels)
    matrices = applied_matrices(chain, normalize)
    planes = filtered_planes(shape, channels, resolve_alpha_mode(alpha, matrices))
    planes = planes if len(planes) == 3 else planes + (1,)
    lines = []
    with charged_once(planes, matrices, method=method, correlate=correlate):  # the chain's one load
        for kernel in chain:
            applied = kernel.normalized() if normalize or kernel.normalize else kernel
            for i, m in enumerate(applied.matrices):
                label = kernel.name if len(kernel.matrices) == 1 else f"{kernel.name}[{i}]"
                lines.append(f"{label}: {explain(planes, m, method=method, correlate=correlate)}")
    return lines
