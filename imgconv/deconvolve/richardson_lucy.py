"""Richardson-Lucy deconvolution, with optional total-variation damping (Dey et al. 2006), in 2-D or 3-D.

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
    """Richardson-Lucy on all channels of one image at once, ``planes`` (spatial axes x C), with
    the border treatment of ``plan`` (an Extension); ``step(i)`` after each iteration. Returns
    float32 of ``planes``' shape.

    The channels stay interleaved, so each step is one convolution of all of them, planned
    once for the whole run (:func:`_blur`); one load of the compiled loops serves all
    ``2 * iterations`` convolutions (:func:`imgconv.engine.oneoff.charged_once`).

    A volume with a mirror-symmetric PSF runs on the volume itself with the engine in
    reflect mode: a mirror-symmetric PSF keeps the iterates of the reflect-extended volume
    mirror-symmetric about every face, so this is the same computation as on the unbounded
    reflection that the extension approximates -- without its margin (about 3x the voxels of
    a 64 x 256 x 256 volume with a 13-voxel PSF) and without a seam to fade. Memory: three
    volumes (estimate, blurred, correction).
    """
    from imgconv.engine.oneoff import charged_once

    eps = np.float32(_RL_EPS)
    spatial = plan.kernel.ndim
    if spatial == 3 and plan.mirror_symmetric and plan.mode in ("reflect", "mirror"):
        from imgconv.engine.volume import convolve_volume

        def blur(x, out, correlate=False):
            return convolve_volume(x, plan.kernel, mode=plan.mode, correlate=correlate, out=out)

        def clipped(out):  # the observed data >= eps, into a free buffer
            return np.maximum(planes, eps, out=out)

        with charged_once(planes.shape, [plan.kernel] * 2, repeat=iterations):  # one load, 2n uses
            return _iterate(clipped(None), clipped, blur, None, iterations, tv_weight, step)
    observed = _extended(plan, planes)
    np.maximum(observed, _RL_EPS, out=observed)
    estimate = observed.copy()
    reach = None if plan.consistent else _margin_reach(plan, observed)
    with charged_once(estimate.shape, [plan.kernel] * 2, repeat=iterations):
        blur = _blur(plan, estimate.shape)
        return plan.crop(_iterate(estimate, lambda out: observed, blur, reach, iterations, tv_weight, step))


def _extended(plan, planes):
    """Every channel of ``planes`` extended by ``plan`` (non-negative first), channels interleaved."""
    channels = planes.shape[-1]
    first = plan.extend(np.maximum(planes[..., 0], 0.0).astype(np.float32))
    if channels == 1:
        return first[..., None]
    out = np.empty(first.shape + (channels,), np.float32)
    out[..., 0] = first
    for c in range(1, channels):
        out[..., c] = plan.extend(np.maximum(planes[..., c], 0.0).astype(np.float32))
    return out


def _iterate(estimate, observed, blur, reach, iterations, tv_weight, step):
    """The iterations: ``observed(buffer)`` gives the data (it may fill the free buffer it gets)."""
    eps = np.float32(_RL_EPS)
    spatial = estimate.ndim - 1  # the last axis holds the channels
    blurred = correction = None
    for i in range(iterations):
        blurred = blur(estimate, blurred)
        np.maximum(blurred, eps, out=blurred)
        ratio = np.divide(observed(correction), blurred, out=blurred)
        correction = blur(ratio, correction, correlate=True)
        if reach is not None:
            correction *= reach
        if tv_weight > 0:
            correction /= np.maximum(1.0 - tv_weight * _tv_curvature(estimate, spatial), np.float32(0.1))
        estimate *= correction
        np.maximum(estimate, 0.0, out=estimate)
        step(i + 1)
    return estimate


def _margin_reach(plan, observed):
    """For a PSF that is not mirror-symmetric: zero the observed margin (spatial axes x C) and
    return 1 / the reach of the flipped PSF into the image, which divides each correction.

    The reflected margin is not consistent data for such a PSF: the margin is left free
    (Bertero & Boccacci 2005), the ratio is taken inside the image only.
    """
    import scipy.fft as sf

    shape = plan.padded
    otf_flip = np.conj(plan.otf.astype(np.complex64))  # transform of the flipped PSF: the adjoint of the blur
    inside = np.zeros(shape, np.float32)
    plan.crop(inside)[...] = 1
    observed *= inside[..., None]
    reach = sf.irfftn(sf.rfftn(inside, workers=current().threads) * otf_flip, shape, workers=current().threads)
    np.maximum(reach, np.float32(0.05), out=reach)
    np.reciprocal(reach, out=reach)
    return reach[..., None]


def _blur(plan, shape):
    """``blur(x, out, correlate=False)``: ``x`` (``shape``, channels last) blurred (or correlated)
    by the PSF, circularly.

    The two convolutions of each step go through the engine in wrap mode, which is the same
    circular convolution as the transforms of the extension; its planner picks separable or
    direct loops for the usual PSFs (a Gaussian is rank 1, a motion line sparse), FFT
    otherwise. In 2-D both are planned once (:func:`imgconv.engine.convolver`). For a volume
    the result goes into ``out`` when given (a buffer reused by every step: fresh volumes
    cost their page faults each time).
    """
    from imgconv.engine import convolver
    from imgconv.engine.volume import convolve_volume

    if plan.kernel.ndim == 3:
        return lambda x, out, correlate=False: convolve_volume(x, plan.kernel, mode="wrap", correlate=correlate,
                                                               out=out)
    forward = convolver(shape, plan.kernel, mode="wrap")
    adjoint = convolver(shape, plan.kernel, mode="wrap", correlate=True)
    return lambda x, out, correlate=False: (adjoint if correlate else forward)(x)


def _tv_curvature(u, spatial=None):
    """div(grad u / |grad u|) with forward/backward differences (total-variation term), along the
    first ``spatial`` axes of ``u`` (default: all; 2 or 3, a channel axis after them)."""
    spatial = u.ndim if spatial is None else spatial
    grads = [np.diff(u, axis=a, append=np.take(u, [-1], axis=a)) for a in range(spatial)]
    squares = grads[-1] * grads[-1]
    for g in grads[-2::-1]:
        squares += g * g
    squares += np.float32(1e-6)
    norm = np.sqrt(squares, out=squares)
    curvature = 0
    for a, g in enumerate(grads):
        g /= norm
        curvature = curvature + np.diff(g, axis=a, prepend=np.take(g, [0], axis=a) * 0)
    return curvature
