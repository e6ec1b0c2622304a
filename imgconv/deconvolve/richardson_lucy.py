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


def richardson_lucy(plan, channel, iterations, tv_weight, step):
    """Richardson-Lucy on one channel with the border treatment of ``plan`` (an Extension).

    A volume with a mirror-symmetric PSF runs on the volume itself with the engine in
    reflect mode: a mirror-symmetric PSF keeps the iterates of the reflect-extended volume
    mirror-symmetric about every face, so this is the same computation as on the unbounded
    reflection that the extension approximates -- without its margin (about 3x the voxels of
    a 64 x 256 x 256 volume with a 13-voxel PSF) and without a seam to fade. Memory: three
    volumes (estimate, blurred, correction).
    """
    eps = np.float32(_RL_EPS)
    if plan.kernel.ndim == 3 and plan.mirror_symmetric and plan.mode in ("reflect", "mirror"):
        from imgconv.engine.volume import convolve_volume

        def blur(x, out, correlate=False):
            return convolve_volume(x, plan.kernel, mode=plan.mode, correlate=correlate, out=out)

        def clipped(out):  # the observed data >= eps, into a free buffer
            return np.maximum(channel, eps, out=out)

        return _iterate(clipped(None), clipped, blur, None, iterations, tv_weight, step)
    observed = plan.extend(np.maximum(channel, 0.0).astype(np.float32))
    np.maximum(observed, _RL_EPS, out=observed)
    estimate = observed.copy()
    reach = None if plan.consistent else _margin_reach(plan, observed)
    return plan.crop(_iterate(estimate, lambda out: observed, _blur(plan), reach, iterations, tv_weight, step))


def _iterate(estimate, observed, blur, reach, iterations, tv_weight, step):
    """The iterations: ``observed(buffer)`` gives the data (it may fill the free buffer it gets)."""
    eps = np.float32(_RL_EPS)
    blurred = correction = None
    for i in range(iterations):
        blurred = blur(estimate, blurred)
        np.maximum(blurred, eps, out=blurred)
        ratio = np.divide(observed(correction), blurred, out=blurred)
        correction = blur(ratio, correction, correlate=True)
        if reach is not None:
            correction *= reach
        if tv_weight > 0:
            correction /= np.maximum(1.0 - tv_weight * _tv_curvature(estimate), np.float32(0.1))
        estimate *= correction
        np.maximum(estimate, 0.0, out=estimate)
        step(i + 1)
    return estimate


def _margin_reach(plan, observed):
    """For a PSF that is not mirror-symmetric: zero the observed margin and return 1 / the reach
    of the flipped PSF into the image, which divides each correction.

    The reflected margin is not consistent data for such a PSF: the margin is left free
    (Bertero & Boccacci 2005), the ratio is taken inside the image only.
    """
    import scipy.fft as sf

    shape = plan.padded
    otf_flip = np.conj(plan.otf.astype(np.complex64))  # transform of the flipped PSF: the adjoint of the blur
    inside = np.zeros(shape, np.float32)
    plan.crop(inside)[...] = 1
    observed *= inside
    reach = sf.irfftn(sf.rfftn(inside, workers=current().threads) * otf_flip, shape, workers=current().threads)
    np.maximum(reach, np.float32(0.05), out=reach)
    np.reciprocal(reach, out=reach)
    return reach


def _blur(plan):
    """``blur(x, out, correlate=False)``: ``x`` blurred (or correlated) by the PSF, circularly.

    The two convolutions of each step go through the engine in wrap mode, which is the same
    circular convolution as the transforms of the extension; its planner picks separable or
    direct loops for the usual PSFs (a Gaussian is rank 1, a motion line sparse), FFT
    otherwise. For a volume the result goes into ``out`` when given (a buffer reused by every
    step: fresh volumes cost their page faults each time).
    """
    from imgconv.engine import convolve
    from imgconv.engine.volume import convolve_volume

    if plan.kernel.ndim == 3:
        return lambda x, out, correlate=False: convolve_volume(x, plan.kernel, mode="wrap", correlate=correlate,
                                                               out=out)
    return lambda x, out, correlate=False: convolve(x, plan.kernel, mode="wrap", correlate=correlate)


def _tv_curvature(u):
    """div(grad u / |grad u|) with forward/backward differences (total-variation term), in 2-D or 3-D."""
    grads = [np.diff(u, axis=a, append=np.take(u, [-1], axis=a)) for a in range(u.ndim)]
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
