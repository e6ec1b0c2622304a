"""Deconvolution: undo a known blur (point-spread function) in an image.

Examples
--------
>>> import numpy as np
>>> check_psf([[1, 2, 1]]).tolist()
[[0.25, 0.5, 0.25]]
"""
from imgconv.deconvolve.core import (
    MAX_BALANCE,
    METHODS,
    check_balance,
    check_psf,
    deconvolve,
    deconvolve_picture,
    load_psf,
)
from imgconv.deconvolve.wiener import estimate_noise

__all__ = ["MAX_BALANCE", "METHODS", "check_balance", "check_psf", "deconvolve", "deconvolve_picture",
           "estimate_noise", "load_psf"]
