"""Checking what the engine is given: real arrays, kernels of a dimension, their orientation.

Examples
--------
>>> k, anchor = oriented(as_kernel([[1, 2]], ndim=2), correlate=False)
>>> k.tolist(), anchor
([[2.0, 1.0]], (0, 0))
"""
import numpy as np

from imgconv.errors import EngineError


def real_array(values, what):
    """``values`` as an array of real numbers (booleans become float32), else EngineError."""
    a = np.asarray(values)
    if a.dtype == bool:
        a = a.astype(np.float32)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise EngineError(f"{what} must be a real numeric array (got dtype {a.dtype})")
    return a


def as_kernel(kernel, ndim):
    """A kernel (an array, or an imgconv.Kernel of one matrix) as a finite, non-empty float64
    array of ``ndim`` dimensions (a 1-D kernel is one row when ``ndim`` is 2)."""
    if hasattr(kernel, "matrices"):  # an imgconv.Kernel
        if len(kernel.matrices) != 1:
            raise EngineError("a multi-kernel preset needs imgconv.filter_image, which combines the results")
        kernel = kernel.matrices[0]
    k = real_array(kernel, "kernel")
    if k.ndim == 1 and ndim == 2:
        k = k[None, :]
    if k.ndim != ndim or k.size == 0:
        what = "kernel must be a non-empty 2-D array" if ndim == 2 else "a volume kernel must be a non-empty 3-D array"
        raise EngineError(f"{what} (got shape {k.shape})")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise EngineError("kernel contains NaN or infinity")
    return k


def oriented(kernel, correlate):
    """The kernel as correlated, and its anchor: convolution flips every axis (scipy's even-size
    rule for the anchor)."""
    if correlate:
        return kernel, tuple(n // 2 for n in kernel.shape)
    return np.flip(kernel), tuple(n - 1 - n // 2 for n in kernel.shape)
