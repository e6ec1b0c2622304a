"""Applying kernels to pictures: chains, multi-kernel combination, colour handling.

This is the layer between the kernel model (``kernels``) and the engine: it
knows about alpha, grey/luma processing, ``scale``/``offset``/``normalize`` and
how a multi-kernel preset such as ``sobel`` combines its results. It does no I/O.

Examples
--------
>>> import numpy as np
>>> img = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (6, 1))
>>> out = filter_image(img, ["sobel:direction=x"], mode="nearest")
>>> bool(out[3, 3] > 0)
True
"""
import numpy as np

from imgconv.alpha import join_alpha, split_alpha
from imgconv.choices import CHANNELS
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


def _rgb_to_ycbcr(rgb):
    """Full-range YCbCr (JPEG/Pillow convention), on [0, 1] data with chroma centred at 0.5."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    ycc = rgb @ m.T
    ycc[..., 1:] += 0.5
    return ycc


def _ycbcr_to_rgb(ycc):
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 0.5, ycc[..., 2] - 0.5
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1).astype(np.float32)


def resolve_kernels(kernels):
    """Turn specs (strings, arrays, Kernels) into a list of :class:`imgconv.kernels.Kernel`."""
    from imgconv.kernels import load_kernel

    if isinstance(kernels, (str, np.ndarray)) or hasattr(kernels, "matrices"):
        kernels = [kernels]
    out = [load_kernel(k) for k in kernels]
    if not out:
        raise ImgconvError("no kernel given (use -k/--kernel SPEC)")
    return out


def apply_kernel(pixels, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False, normalize=False):
    """Filter colour planes ``pixels`` (H x W or H x W x C) with one Kernel: combine, scale, offset.

    ``method`` is one method for every matrix of the kernel, or a list of one per matrix.
    """
    from imgconv.engine import convolve

    if normalize or kernel.normalize:
        kernel = kernel.normalized()
    methods = [method] * len(kernel.matrices) if isinstance(method, str) else method
    results = [convolve(pixels, m, mode=mode, cval=cval, method=how, correlate=correlate)
               for m, how in zip(kernel.matrices, methods, strict=True)]
    return combine(kernel, results)


def combine(kernel, results):
    """One Kernel's result from those of its matrices: its combine rule, then scale and offset."""
    if kernel.combine == "magnitude":
        out = np.sqrt(sum(r * r for r in results))
    elif kernel.combine == "max":
        out = np.maximum.reduce(results)
    else:  # "single" or "sum"
        out = results[0] if len(results) == 1 else sum(results)
    if kernel.scale != 1:
        out *= np.float32(kernel.scale)
    if kernel.offset:
        out += np.float32(kernel.offset)
    return out.astype(np.float32, copy=False)


def filter_image(image, kernels, *, mode="reflect", cval=0.0, method="auto", correlate=False,
                 normalize=False, scale=1.0, offset=0.0, channels="all", has_alpha=None):
    """Apply a chain of kernels to an image, as ``imgconv filter`` does.

    Parameters
    ----------
    image : array_like or imgconv.Picture
        float data in [0, 1], H x W or H x W x C (C = 1..4).
    kernels : spec, Kernel, array, or a list of them
        Applied in order (a chain); each may be a multi-kernel preset.
    mode, cval, method, correlate
        As for :func:`imgconv.convolve`; ``method`` may also be a list with one entry per
        kernel of the chain (each a method, or a list of one per matrix of that kernel).
    normalize : bool
        Divide each kernel by its sum where the sum is not ~0.
    scale, offset : float
        ``result * scale + offset`` after the chain (offset in full-scale units: 0.5 = mid grey).
    channels : {'all', 'gray', 'luma'}
        ``all`` filters every colour channel; ``gray`` converts to grey (ITU-R 601-2) first;
        ``luma`` filters only Y of YCbCr and keeps the chroma.
    has_alpha : bool, optional
        Whether the last channel is alpha (carried through unchanged). Defaults to
        ``image.has_alpha`` for a Picture, else True for 2 or 4 channels.

    Returns
    -------
    numpy.ndarray
        float32; the input's shape, except ``channels='gray'`` which returns grey (+ alpha).
    """
    from imgconv.engine.oneoff import charged_once

    colour, alpha, ycc = planes_to_filter(image, channels, has_alpha)
    opts = dict(mode=mode, cval=cval, correlate=correlate, normalize=normalize)
    chain = resolve_kernels(kernels)
    methods = [method] * len(chain) if isinstance(method, str) else method
    # one load of the compiled loops serves the whole chain: charged once, not per kernel
    with charged_once(colour.shape, chain_matrices(chain), method=method, correlate=correlate):
        for kernel, how in zip(chain, methods, strict=True):
            colour = apply_kernel(colour, kernel, method=how, **opts)
    return finish_filtered(colour, alpha, ycc, scale, offset)


def chain_matrices(chain):
    """Every matrix a chain of Kernels convolves with, in order."""
    return [m for kernel in chain for m in kernel.matrices]


def planes_to_filter(image, channels="all", has_alpha=None):
    """What :func:`filter_image` filters: ``(colour, alpha or None, ycc or None)``.

    ``colour`` is H x W or H x W x C float32 (grey for ``channels='gray'``, luma for
    ``'luma'``, whose full YCbCr ``ycc`` is kept for :func:`finish_filtered`).
    """
    if has_alpha is None:
        has_alpha = getattr(image, "has_alpha", None)
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if has_alpha is None:
        has_alpha = pixels.ndim == 3 and pixels.shape[-1] in (2, 4)
    if channels not in CHANNELS:
        raise ImgconvError(f"unknown --channels {channels!r} (choose from {', '.join(CHANNELS)})")
    colour, alpha = split_alpha(pixels, has_alpha)
    if colour.ndim == 3 and colour.shape[-1] == 1:
        colour = colour[..., 0]
    is_rgb = colour.ndim == 3 and colour.shape[-1] >= 3
    ycc = None
    if channels == "gray" and is_rgb:
        colour = to_gray(colour)
    elif channels == "luma" and is_rgb:
        ycc = _rgb_to_ycbcr(colour[..., :3])
        colour = np.ascontiguousarray(ycc[..., 0])
    return colour, alpha, ycc


def finish_filtered(colour, alpha, ycc, scale=1.0, offset=0.0):
    """The result of :func:`filter_image` from the filtered ``colour`` and the planes
    :func:`planes_to_filter` kept: scale, offset, back from YCbCr, alpha joined."""
    if scale != 1:
        colour = colour * np.float32(scale)
    if offset:
        colour = colour + np.float32(offset)
    if ycc is not None:
        ycc = ycc if ycc.flags.writeable else ycc.copy()
        ycc[..., 0] = colour
        colour = _ycbcr_to_rgb(ycc)
    return join_alpha(colour, alpha)


def explain_filter(shape, kernels, *, method="auto", correlate=False, channels="all"):
    """One line per kernel matrix: the method the engine would use on an image of ``shape``."""
    from imgconv.engine import explain
    from imgconv.engine.oneoff import charged_once

    h, w = shape[:2]
    c = 1 if channels in ("gray", "luma") or len(shape) == 2 else shape[2]
    chain = resolve_kernels(kernels)
    lines = []
    with charged_once((h, w, c), chain_matrices(chain), method=method, correlate=correlate):
        for kernel in chain:
            for i, m in enumerate(kernel.matrices):
                label = kernel.name if len(kernel.matrices) == 1 else f"{kernel.name}[{i}]"
                lines.append(f"{label}: {explain((h, w, c), m, method=method, correlate=correlate)}")
    return lines
