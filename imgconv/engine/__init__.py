"""The convolution engine: exact scipy.ndimage semantics, three methods, one planner.

No I/O and no CLI here: arrays in, float32 arrays out. See :func:`convolve`.
"""
import numpy as np

from imgconv.engine.boundary import MODES, check_mode
from imgconv.engine.planner import METHODS, MethodPlan, plan_method
from imgconv.errors import EngineError

__all__ = ["convolve", "convolver", "explain", "MethodPlan", "MODES", "METHODS", "warm_up"]


def warm_up():
    """Load the compiled loops now when the current settings allow them and charge no more
    than loading them from numba's cache (``load_ms <= LOAD_MS``); True when loaded.

    Batch workers call this once, then run with ``load_ms=0``: the load serves every image.
    While the cache is still empty a command charges the compilation instead, and its
    workers leave the choice to the planner, image by image.
    """
    from imgconv.engine import _compiled
    from imgconv.settings import LOAD_MS, current

    if _compiled.enabled() and current().load_ms <= LOAD_MS:
        _compiled.loops()
        return True
    return False


def _as_image(image):
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.float32)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise EngineError(f"image must be a real numeric array (got dtype {a.dtype})")
    if a.ndim not in (2, 3):
        raise EngineError(f"image must be H x W or H x W x C (got shape {a.shape})")
    return a


def _as_kernel(kernel):
    if hasattr(kernel, "matrices"):  # an imgconv.Kernel
        if len(kernel.matrices) != 1:
            raise EngineError("a multi-kernel preset needs imgconv.filter_image, which combines the results")
        kernel = kernel.matrices[0]
    k = np.asarray(kernel)
    if k.dtype == bool:
        k = k.astype(np.float64)
    if not (np.issubdtype(k.dtype, np.integer) or np.issubdtype(k.dtype, np.floating)):
        raise EngineError(f"kernel must be a real numeric array (got dtype {k.dtype})")
    if k.ndim == 1:
        k = k[None, :]
    if k.ndim != 2 or k.size == 0:
        raise EngineError(f"kernel must be a non-empty 2-D array (got shape {k.shape})")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise EngineError("kernel contains NaN or infinity")
    return k


def _oriented(kernel, correlate):
    """The kernel as correlated, and its anchor: convolution flips it (scipy's even-size rule)."""
    h, w = kernel.shape
    if correlate:
        return kernel, (h // 2, w // 2)
    return kernel[::-1, ::-1], (h - 1 - h // 2, w - 1 - w // 2)


def explain(image, kernel, *, method="auto", correlate=False):
    """The :class:`MethodPlan` :func:`convolve` would follow: chosen method, rank, estimated costs.

    ``image`` may be an array or just its shape.

    Examples
    --------
    >>> import numpy as np
    >>> plan = explain((1080, 1920, 3), np.ones((5, 5)) / 25)
    >>> plan.rank, sorted(plan.costs)
    (1, ['direct', 'fft', 'separable'])
    """
    shape = tuple(image) if isinstance(image, tuple) else _as_image(image).shape
    k, _ = _oriented(_as_kernel(kernel), correlate)
    return plan_method(shape, k, method)


def convolve(image, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False):
    """Convolve (or correlate) an image with a 2-D kernel, exactly as scipy.ndimage does.

    Parameters
    ----------
    image : array_like, H x W or H x W x C
        Any real dtype; channels are filtered independently.
    kernel : array_like, h x w
        Any size, odd or even; the anchor is ``(h // 2, w // 2)`` as in SciPy (origin 0).
    mode : {'reflect', 'mirror', 'nearest', 'wrap', 'constant'}
        How the image is extended past its border (scipy.ndimage's meanings).
    cval : float
        The value outside the image for ``mode='constant'``.
    method : {'auto', 'direct', 'separable', 'fft'}
        ``auto`` asks the cost model (:func:`explain`) for the fastest. All agree within 1e-4.
    correlate : bool
        Apply the kernel as written (correlation) instead of flipped (true convolution).

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``image``; equals ``scipy.ndimage.convolve(image, kernel,
        mode=mode, cval=cval)`` (or ``correlate``) per channel.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(25, dtype=np.float32).reshape(5, 5)
    >>> convolve(img, [[0, 0, 0], [0, 0, 1], [0, 0, 0]])[0]   # flipped: takes the left neighbour
    array([0., 0., 1., 2., 3.], dtype=float32)
    >>> convolve(img, [[0, 0, 0], [0, 0, 1], [0, 0, 0]], correlate=True)[0]
    array([1., 2., 3., 4., 4.], dtype=float32)
    """
    img = _as_image(image)
    return convolver(img.shape, kernel, mode=mode, cval=cval, method=method, correlate=correlate)(img)


def convolver(shape, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False):
    """:func:`convolve` for many images of one ``shape``: the kernel is checked, factored and
    planned once, and the returned function applies that plan to each image it is given
    (what an iterative method such as Richardson-Lucy calls many times).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.arange(20, dtype=np.float32).reshape(4, 5)
    >>> blur = convolver(img.shape, [[1, 2, 1]], mode="wrap")
    >>> bool(np.array_equal(blur(img), convolve(img, [[1, 2, 1]], mode="wrap")))
    True
    """
    from imgconv.engine.direct import correlate_direct
    from imgconv.engine.fft import correlate_fft
    from imgconv.engine.separable import correlate_separable, low_rank_factors

    shape = tuple(int(n) for n in shape)
    check_mode(mode)
    k, anchor = _oriented(_as_kernel(kernel), correlate)
    cval = float(cval)
    grey = len(shape) == 2
    planes = shape + (1,) if grey else shape
    factors = low_rank_factors(k)
    plan = plan_method(planes, k, method, factors) if 0 not in planes else None

    def apply(image):
        img = _as_image(image)
        if img.shape != shape:
            raise EngineError(f"this convolver takes images of shape {shape}, not {img.shape}")
        x = img[..., None] if grey else img
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if plan is None:
            return np.zeros(img.shape, np.float32)
        if plan.method == "direct":
            out = correlate_direct(x, k, anchor, mode, cval, plan.compiled)
        elif plan.method == "separable":
            out = correlate_separable(x, factors, anchor, mode, cval, plan.compiled)
        else:
            out = correlate_fft(x, k, anchor, mode, cval, plan.tile)
        return out[..., 0] if grey else out

    return apply
