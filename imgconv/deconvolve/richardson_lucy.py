"""Richardson-Lucy deconvolution, with optional total-variation damping (Dey et al. 2006).

Examples
--------
>>> u = np.zeros((5, 5), np.float32); u[2, 2] = 1
>>> float(np.abs(_tv_curvature(u)).max()) > 0
True
"""
import numpy as np

from imgconv.settings import current

# Smallest value a Richardson-Lucy denominator may take (pixels are in [0, 1]).
_RL_EPS = 1e-6


def richardson_lucy(plan, planes, iterations, tv_weight, step):
    """Richardson-Lucy on the channels ``planes`` (H, W, C) of one image at once, through the
    extension ``plan``; ``step(i)`` after each iteration. Returns (H, W, C) float32."""
    import scipy.fft as sf

    shape = plan.padded
    observed = np.stack([plan.extend(np.maximum(planes[..., c], 0.0).astype(np.float32))
                         for c in range(planes.shape[2])], axis=-1)  # channels interleaved
    np.maximum(observed, _RL_EPS, out=observed)
    estimate = observed.copy()
    reach = None
    if not plan.mirror_symmetric:
        # The reflected margin is not consistent data for this PSF: leave the margin free
        # (Bertero & Boccacci 2005). The ratio is taken inside the image only (the observed
        # margin is zeroed) and the correction divided by the flipped PSF's reach into it.
        otf_flip = np.conj(plan.otf.astype(np.complex64))  # the flipped PSF's: the blur's adjoint
        inside = np.zeros(shape, np.float32)
        plan.crop(inside)[...] = 1
        observed *= inside[..., None]
        reach = sf.irfft2(sf.rfft2(inside, workers=current().threads) * otf_flip, shape, workers=current().threads)
        np.maximum(reach, np.float32(0.05), out=reach)
        np.reciprocal(reach, out=reach)
        reach = reach[..., None]
    eps = np.float32(_RL_EPS)
    # The two convolutions of each step go through the engine in wrap mode, which is the
    # same circular convolution as the transforms above; its planner picks separable or
    # direct loops for the usual PSFs (a Gaussian is rank 1, a motion line sparse), FFT
    # otherwise. Planned once, for all channels of all iterations.
    from imgconv.engine import convolver
    from imgconv.engine.oneoff import charged_once

    with charged_once(estimate.shape, [plan.kernel, plan.kernel], repeat=iterations):  # one load, 2n uses
        blur = convolver(estimate.shape, plan.kernel, mode="wrap")
        adjoint = convolver(estimate.shape, plan.kernel, mode="wrap", correlate=True)
    for i in range(iterations):
        blurred = blur(estimate)
        np.maximum(blurred, eps, out=blurred)
        ratio = np.divide(observed, blurred, out=blurred)
        correction = adjoint(ratio)
        if reach is not None:
            correction *= reach
        if tv_weight > 0:
            correction /= np.maximum(1.0 - tv_weight * _tv_curvature(estimate), np.float32(0.1))
        estimate *= correction
        np.maximum(estimate, 0.0, out=estimate)
        step(i + 1)
    return plan.crop(estimate)


def _tv_curvature(u):
    """div(grad u / |grad u|) with forward/backward differences (total-variation term)."""
    gy = np.diff(u, axis=0, append=u[-1:, :])
    gx = np.diff(u, axis=1, append=u[:, -1:])
    norm = np.sqrt(gx * gx + gy * gy + np.float32(1e-6))
    gy /= norm
    gx /= norm
    return np.diff(gy, axis=0, prepend=gy[:1, :] * 0) + np.diff(gx, axis=1, prepend=gx[:, :1] * 0)
