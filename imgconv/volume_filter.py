"""Filtering and deconvolving volumes: Z x Y x X [x C] voxels through kernel chains and PSFs.

* A chain of 2-D kernels filters each plane exactly as :func:`imgconv.filter_image` filters
  an image, with all its options.
* A chain holding a 3-D kernel runs in 3-D (its 2-D kernels still plane by plane) with the
  options ``mode``, ``cval``, ``method``, ``correlate``, ``normalize``, ``scale``, ``offset``
  and ``channels``; other options of :func:`imgconv.filter_image`, if any, apply to
  plane-by-plane filtering only.
* Alpha (the last channel, when ``has_alpha``) is carried through unchanged.

Examples
--------
>>> import numpy as np
>>> v = np.zeros((5, 6, 7), np.float32); v[2, 3, 3] = 1
>>> out = filter_volume(v, ["box:size=3,dims=3"], mode="constant")
>>> out.shape, round(float(out.sum()), 6)
((5, 6, 7), 1.0)
>>> explain_volume_filter((64, 256, 256), ["gaussian:sigma=1,1,2"])[0]  # doctest: +ELLIPSIS
'gaussian:sigma=1,1,2: 7x7x13 kernel (W x H x D), 1 component along Z, 1 separable pair: separable ...'
"""
import numpy as np

from imgconv.channels import LUMA, rgb_to_ycbcr, ycbcr_to_rgb
from imgconv.engine.oneoff import charged_once
from imgconv.errors import ImgconvError
from imgconv.filtering import applied_matrices, apply_kernel, filter_image, resolve_kernels

#: The options of the 3-D path (those of :func:`imgconv.filter_image` it honours).
VOLUME_OPTIONS = ("mode", "cval", "method", "correlate", "normalize", "scale", "offset", "channels")


def has_volume_kernel(kernels):
    """Whether a chain (specs or Kernels) holds a 3-D kernel."""
    return any(k.ndim == 3 for k in resolve_kernels(kernels))


def _split(voxels, has_alpha):
    """``(colour Z x Y x X x C, alpha Z x Y x X or None)`` of float32 voxels."""
    x = voxels if voxels.ndim == 4 else voxels[..., None]
    if has_alpha and x.shape[-1] >= 2:
        return x[..., :-1], x[..., -1:]
    return x, None


def _join(colour, alpha, grey):
    out = colour if alpha is None else np.concatenate([colour, alpha], axis=-1)
    return out[..., 0] if grey and out.shape[-1] == 1 else out


def filter_volume(volume, kernels, *, has_alpha=None, **options):
    """Apply a chain of kernels to a volume, as ``imgconv filter`` does to a volume.

    Parameters
    ----------
    volume : array_like or imgconv.imageio.volume.Volume
        float voxels, Z x Y x X or Z x Y x X x C.
    kernels : spec, Kernel, array, or a list of them
        2-D kernels filter each plane; 3-D kernels the volume.
    has_alpha : bool, optional
        Whether the last channel is alpha (default: the Volume's, else False).
    **options
        Those of :func:`imgconv.filter_image` (see the module notes).

    Returns
    -------
    numpy.ndarray
        float32 of the volume's shape (``channels='gray'``: grey, plus alpha).
    """
    chain = resolve_kernels(kernels)
    if has_alpha is None:
        has_alpha = bool(getattr(volume, "has_alpha", False))
    voxels = np.asarray(volume, dtype=np.float32)
    if voxels.ndim not in (3, 4):
        raise ImgconvError(f"a volume must be Z x Y x X or Z x Y x X x C (got shape {voxels.shape})")
    once = dict(method=options.get("method", "auto"), correlate=options.get("correlate", False))
    matrices = applied_matrices(chain, options.get("normalize", False))
    if all(k.ndim == 2 for k in chain):
        out = None
        # one load of the compiled loops serves every plane (charged once: charged_once)
        with charged_once(voxels.shape[1:], matrices, repeat=len(voxels), **once):
            for z, plane in enumerate(voxels):
                result = filter_image(plane, chain, has_alpha=has_alpha, **options)
                out = np.empty((len(voxels),) + result.shape, np.float32) if out is None else out
                out[z] = result
        return out
    opts = {k: options[k] for k in VOLUME_OPTIONS if k in options}
    channels = opts.pop("channels", "all")
    scale, offset = opts.pop("scale", 1.0), opts.pop("offset", 0.0)
    colour, alpha = _split(voxels, has_alpha)
    ycc = None
    if channels == "gray" and colour.shape[-1] >= 3:
        colour = (colour[..., :3] @ LUMA)[..., None]
    elif channels == "luma" and colour.shape[-1] >= 3:
        ycc = rgb_to_ycbcr(colour[..., :3])
        colour = np.ascontiguousarray(ycc[..., :1])
    with charged_once(colour.shape, matrices, **once):  # one load for the chain
        for kernel in chain:
            colour = apply_kernel(colour, kernel, **opts)
    if scale != 1:
        colour = colour * np.float32(scale)
    if offset:
        colour = colour + np.float32(offset)
    if ycc is not None:
        ycc[..., :1] = colour
        colour = ycbcr_to_rgb(ycc)
    return _join(colour.astype(np.float32, copy=False), alpha, voxels.ndim == 3)


def deconvolve_volume(volume, psf, *, has_alpha=False, **options):
    """Deconvolve a volume's colour channels (a 3-D PSF in 3-D, a 2-D one plane by plane) and carry
    its alpha through; ``options`` are those of :func:`imgconv.deconvolve`."""
    from imgconv.deconvolve import deconvolve

    voxels = np.asarray(volume, dtype=np.float32)
    colour, alpha = _split(voxels, has_alpha)
    restored = deconvolve(colour, psf, volume=True, **options)
    return _join(restored, alpha, voxels.ndim == 3)


def explain_volume_filter(shape, kernels, *, method="auto", correlate=False, channels="all"):
    """One line per kernel matrix: the plan on a volume of ``shape`` (Z, Y, X[, C])."""
    from imgconv.engine.volume import explain_volume

    c = 1 if channels == "gray" or len(shape) == 3 else shape[3]

    def plan(m):
        text = str(explain_volume(tuple(shape[:3]) + (c,), m, method=method, correlate=correlate))
        return text + (" (each plane)" if m.ndim == 2 else "")

    return [f"{kernel.name if len(kernel.matrices) == 1 else f'{kernel.name}[{i}]'}: {plan(m)}"
            for kernel in resolve_kernels(kernels) for i, m in enumerate(kernel.matrices)]
