"""The convolution engine: exact scipy.ndimage semantics, three methods, one planner.

No I/O and no CLI here: arrays in, float32 arrays out. See :func:`convolve`.
"""
import numpy as np

from imgconv.engine.boundary import MODES, check_mode
from imgconv.engine.operands import as_kernel, oriented, real_array
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
    a = real_array(image, "image")
    if a.ndim not in (2, 3):
        raise EngineError(f"image must be H x W or H x W x C (got shape {a.shape})")
    return a


def explain(image, kernel, *, method="auto", correlate=False, volume=None):
    """The :class:`MethodPlan` :func:`convolve` would follow: chosen method, rank, estimated costs.

    ``image`` may be an array or just its shape. For a volume (see :func:`convolve`), the
    plan of :func:`imgconv.engine.volume.explain_volume`.

    Examples
    --------
    >>> import numpy as np
    >>> plan = explain((1080, 1920, 3), np.ones((5, 5)) / 25)
    >>> plan.rank, sorted(plan.costs)
    (1, ['direct', 'fft', 'separable'])
    """
    from imgconv.engine.volume import explain_volume, wants_volume

    if wants_volume(image, kernel, volume):
        return explain_volume(image, kernel, method=method, correlate=correlate)
    shape = tuple(image) if isinstance(image, tuple) else _as_image(image).shape
    k, _ = oriented(as_kernel(kernel, 2), correlate)
    return plan_method(shape, k, method)


def convolve(image, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False, volume=None):
    """Convolve (or correlate) an image or a volume with a kernel, exactly as scipy.ndimage does.

    Parameters
    ----------
    image : array_like, H x W or H x W x C; or a volume Z x Y x X [x C]
        Any real dtype; channels are filtered independently.
    kernel : array_like, h x w, or kz x ky x kx for a volume
        Any size, odd or even; the anchor is ``(h // 2, w // 2)`` as in SciPy (origin 0).
        The kernel decides: a 3-D kernel makes a 3-D ``image`` Z x Y x X and a 4-D one
        Z x Y x X x C; a 2-D kernel filters each plane of a 4-D ``image`` (Z x Y x X x C) or,
        with ``volume=True``, of a 3-D one (Z x Y x X); otherwise a 3-D ``image`` is H x W x C.
    mode : {'reflect', 'mirror', 'nearest', 'wrap', 'constant'}
        How the image is extended past its border (scipy.ndimage's meanings).
    cval : float
        The value outside the image for ``mode='constant'``.
    method : {'auto', 'direct', 'separable', 'fft'}
        ``auto`` asks the cost model (:func:`explain`) for the fastest. All agree within 1e-4.
    correlate : bool
        Apply the kernel as written (correlation) instead of flipped (true convolution).
    volume : bool or None
        True: a 3-D ``image`` is a volume Z x Y x X even for a 2-D kernel (filtered plane by
        plane). None (default): decided by the kernel and the array as above.

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
    >>> convolve(np.ones((4, 5, 6)), np.ones((3, 3, 3)) / 27).shape   # a 3-D kernel: a volume
    (4, 5, 6)
    """
    from imgconv.engine.volume import convolve_volume, wants_volume

    if wants_volume(image, kernel, volume):
        with np.errstate(over="ignore", invalid="ignore"):
            return convolve_volume(image, kernel, mode=mode, cval=cval, method=method, correlate=correlate)
    img = _as_image(image)
    return convolver(img.shape, kernel, mode=mode, cval=cval, method=method, correlate=correlate)(img)


def convolver(shape, kernel, *, mode="reflect", cval=0.0, method="auto", correlate=False):
    """:func:`convolve` for many images of one ``shape`` (H x W or H x W x C; volumes go through
    :func:`convolve`): the kernel is checked, factored and planned once, and the returned
    function applies that plan to each image it is given (what an iterative method such as
    Richardson-Lucy calls many times).

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
    if len(shape) not in (2, 3):
        raise EngineError(f"a convolver takes H x W or H x W x C images (got shape {shape})")
    check_mode(mode)
    k, anchor = oriented(as_kernel(kernel, 2), correlate)
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
        with np.errstate(over="ignore", invalid="ignore"):  # float overflow gives infinity, as in SciPy: no warning
            if plan.method == "direct":
                out = correlate_direct(x, k, anchor, mode, cval, plan.compiled)
            elif plan.method == "separable":
                out = correlate_separable(x, factors, anchor, mode, cval, plan.compiled)
            else:
                out = correlate_fft(x, k, anchor, mode, cval, plan.tile)
        return out[..., 0] if grey else out

    return apply
