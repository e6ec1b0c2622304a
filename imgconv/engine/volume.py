"""Convolving volumes: Z x Y x X [x C] arrays with 3-D kernels, or with 2-D kernels plane by plane.

The rule :func:`imgconv.convolve` follows, decided by the *kernel* first:

* a 3-D kernel (kz, ky, kx) means a volume: a 3-D array is Z x Y x X, a 4-D one Z x Y x X x C
  (channels filtered independently); the result equals ``scipy.ndimage.convolve`` /
  ``correlate`` on the volume (per channel), for every mode and method, within 1e-4;
* a 1-D or 2-D kernel on a 4-D array (Z x Y x X x C), or on a 3-D array with ``volume=True``
  (Z x Y x X), filters each plane with the 2-D engine;
* a 1-D or 2-D kernel on a 2-D or 3-D array without ``volume=True`` is an H x W [x C] image,
  as always.

The 3-D methods: direct (:mod:`~imgconv.engine.nd_direct`), separable along the axes
(:mod:`~imgconv.engine.nd_separable`), tiled FFT (:mod:`~imgconv.engine.nd_fft`), chosen by
the cost model of :mod:`~imgconv.engine.nd_planner`.

Examples
--------
>>> v = np.zeros((5, 5, 5), np.float32); v[2, 2, 2] = 1
>>> out = convolve_volume(v, np.ones((3, 3, 3)) / 27, mode="constant")
>>> float(out[1:4, 1:4, 1:4].sum().round(6)), out.shape
(1.0, (5, 5, 5))
"""
import numpy as np

from imgconv.engine.boundary import check_mode
from imgconv.engine.operands import as_kernel, oriented, real_array
from imgconv.errors import EngineError


def kernel_ndim(kernel):
    """The number of dimensions of a kernel: an array, nested lists or a one-matrix Kernel."""
    if hasattr(kernel, "matrices"):
        return kernel.matrices[0].ndim
    return np.ndim(kernel)


def wants_volume(image, kernel, volume=None):
    """Whether ``convolve(image, kernel, volume=volume)`` treats ``image`` as a volume.

    ``image`` may be an array or its shape. ``volume=False`` with a 3-D kernel or a 4-D
    array is refused.

    Examples
    --------
    >>> wants_volume((8, 8, 3), np.ones((3, 3))), wants_volume((8, 8, 3), np.ones((3, 3, 3)))
    (False, True)
    >>> wants_volume((4, 8, 8), np.ones((3, 3)), volume=True), wants_volume((4, 8, 8, 2), np.ones((3, 3)))
    (True, True)
    """
    ndim = len(image) if isinstance(image, tuple) else np.ndim(image)
    implied = kernel_ndim(kernel) == 3 or ndim == 4
    if volume is False and implied:
        raise EngineError("a 3-D kernel or a 4-D array is a volume: volume=False cannot apply")
    return bool(volume) or implied


def _as_volume(volume):
    """The volume as Z x Y x X x C float32 (a view when it already is one), and whether it had no C."""
    a = real_array(volume, "volume")
    if a.ndim not in (3, 4):
        raise EngineError(f"a volume must be Z x Y x X or Z x Y x X x C (got shape {a.shape})")
    grey = a.ndim == 3
    x = a[..., None] if grey else a
    return x.astype(np.float32, copy=False), grey


def explain_volume(volume, kernel, *, method="auto", correlate=False):
    """The plan :func:`convolve_volume` would follow (``volume`` an array or its shape).

    A 3-D kernel gives a :class:`~imgconv.engine.nd_planner.VolumePlan`; a 2-D one the
    2-D plan for one plane.

    Examples
    --------
    >>> print(explain_volume((64, 128, 128), np.ones((3, 3, 3)) / 27))  # doctest: +ELLIPSIS
    3x3x3 kernel (W x H x D), 1 component along Z, 1 separable pair: ...
    """
    from imgconv.engine.nd_planner import plan_volume

    shape = tuple(volume) if isinstance(volume, tuple) else np.shape(volume)
    shape = shape + (1,) if len(shape) == 3 else shape
    if kernel_ndim(kernel) < 3:
        from imgconv.engine import explain

        return explain(shape[1:], kernel, method=method, correlate=correlate)
    k, _ = oriented(as_kernel(kernel, 3), correlate)
    return plan_volume(shape, k, method)


def convolve_volume(volume, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False, out=None):
    """Convolve (or correlate) a volume with a 3-D kernel, or each of its planes with a 2-D one.

    Parameters are those of :func:`imgconv.convolve`; ``volume`` is Z x Y x X or
    Z x Y x X x C of any real dtype. Returns float32 of the volume's shape, equal to
    ``scipy.ndimage.convolve(volume, kernel, mode=mode, cval=cval)`` per channel (for a 2-D
    kernel: per plane). ``out``, a C-contiguous float32 array of that shape (not the volume
    itself), receives the result of a 3-D kernel when given.
    """
    from imgconv.engine.nd_direct import correlate_direct_volume
    from imgconv.engine.nd_fft import correlate_fft_volume
    from imgconv.engine.nd_planner import plan_volume
    from imgconv.engine.nd_separable import axis_factors, correlate_separable_volume

    x, grey = _as_volume(volume)
    check_mode(mode)
    if kernel_ndim(kernel) < 3:
        out = _plane_by_plane(x, kernel, mode=mode, cval=cval, method=method, correlate=correlate)
        return out[..., 0] if grey else out
    k, anchor = oriented(as_kernel(kernel, 3), correlate)
    cval = float(cval)
    if x.size == 0:
        return np.zeros(x.shape[:3] if grey else x.shape, np.float32)
    factors = axis_factors(k)
    plan = plan_volume(x.shape, k, method, factors)
    if out is not None:
        out = out.reshape(x.shape)
    if plan.method == "direct":
        out = correlate_direct_volume(x, k, anchor, mode, cval, plan.compiled, out)
    elif plan.method == "separable":
        out = correlate_separable_volume(x, factors, anchor, mode, cval, plan.compiled, out)
    else:
        out = correlate_fft_volume(x, k, anchor, mode, cval, plan.tile, out)
    return out[..., 0] if grey else out


def _plane_by_plane(x, kernel, **options):
    """Each Y x X x C plane of ``x`` through the 2-D engine."""
    from imgconv.engine import convolve

    out = np.empty(x.shape, np.float32)
    for z in range(x.shape[0]):
        out[z] = convolve(x[z], kernel, **options)
    return out
