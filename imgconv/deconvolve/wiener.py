"""Wiener deconvolution with a gradient prior, its balance chosen by GCV from a noise estimate.

See ``docs/deconvolve.md`` for the filter and how the balance is chosen.

Examples
--------
>>> rng = np.random.default_rng(1)
>>> round(estimate_noise(0.5 + rng.normal(0, 0.01, (256, 256))), 3)
0.01
"""
import numpy as np

from imgconv.settings import current

# Smallest noise level assumed by the automatic balance: the rounding noise of 8-bit pixels.
_SIGMA_FLOOR = 1e-3
# The GCV search range relative to the noise level, and its number of (log-spaced) steps.
_BALANCE_RANGE = (1.0, 10.0)
_BALANCE_STEPS = 9
# Wiener passes that refill the margin with the blurred estimate (see wiener).
_BOUNDARY_PASSES = 5


def estimate_noise(channel):
    """Estimate the standard deviation of white noise in one image channel.

    Donoho's rule on the finest diagonal Haar wavelet band:
    ``median(|HH|) / 0.6745`` with ``HH = (a - b - c + d) / 2`` over 2 x 2
    blocks (unit gain for white noise, nearly blind to smooth content); for a volume,
    the band ``HHH`` over 2 x 2 x 2 blocks (eight signed voxels over ``sqrt(8)``).

    Parameters
    ----------
    channel : array_like
        2-D array, or 3-D (a volume).

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> round(estimate_noise(0.5 + rng.normal(0, 0.01, (256, 256))), 3)
    0.01
    """
    y = np.asarray(channel, dtype=np.float32)
    if y.ndim == 3:
        return _estimate_noise_volume(y)
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    if h == 0 or w == 0:
        return 0.0
    y = y[:h, :w]
    hh = (y[0::2, 0::2] - y[1::2, 0::2] - y[0::2, 1::2] + y[1::2, 1::2]) * 0.5
    return float(np.median(np.abs(hh)) / 0.6745)


def _estimate_noise_volume(y):
    """:func:`estimate_noise` of a volume: Donoho's rule on the finest band of the 3-D Haar wavelet."""
    even = tuple(slice(0, (n // 2) * 2) for n in y.shape)
    if any(n < 2 for n in y.shape):
        return 0.0
    band = y[even]
    for axis in range(3):
        band = np.take(band, range(0, band.shape[axis], 2), axis) - np.take(band, range(1, band.shape[axis], 2), axis)
    return float(np.median(np.abs(band)) / np.sqrt(8) / 0.6745)


def _rfft_weights(shape):
    """How many times each rfft bin counts in a full-spectrum sum (1 or 2)."""
    weights = np.full(tuple(shape[:-1]) + (shape[-1] // 2 + 1,), 2.0, np.float32)
    weights[..., 0] = 1
    if shape[-1] % 2 == 0:
        weights[..., -1] = 1
    return weights


def _auto_balance(plan, spectrum_power, otf_power, prior, channel):
    """Balance for one channel: the GCV minimiser on a log grid from 1 to 10 x the noise level."""
    sigma = max(estimate_noise(channel), _SIGMA_FLOOR)
    # Every other frequency in each direction is plenty for these sums (4x less work).
    sub = (slice(None, None, 2),) * len(plan.padded)
    weights = _rfft_weights(plan.padded)[sub]
    wy = weights * spectrum_power[sub]
    otf_power, prior = otf_power[sub], prior[sub]
    lo, hi = _BALANCE_RANGE
    best_score, best = np.inf, lo * sigma
    for lam in sigma * np.geomspace(lo, hi, _BALANCE_STEPS):
        lam = np.float32(lam)
        # 1 - filter response: the part of the data the restored image does not explain.
        reject = (lam * prior) / (otf_power + lam * prior)
        score = float(np.sum(wy * reject * reject)) / float(np.sum(weights * reject)) ** 2
        if score < best_score:
            best_score, best = score, float(lam)
    return best


def wiener(plan, channel, balance):
    import scipy.fft as sf

    ext = plan.extend(channel)
    spectrum = sf.rfftn(ext, workers=current().threads)
    otf = plan.otf
    otf_power = (otf.real**2 + otf.imag**2).astype(np.float32)
    prior = plan.gradient_energy()
    if balance is None:
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        balance = _auto_balance(plan, power, otf_power, prior, channel)
    denom = otf_power + np.float32(balance) * prior
    # Where the PSF removes a frequency entirely and balance is 0, return 0 there.
    np.maximum(denom, np.float32(1e-12), out=denom)
    gain = np.conj(otf) / denom
    # The margin is not data: replace it by the blur of the current estimate, so that it is
    # consistent with the PSF (a reflected margin is not, for a PSF that is not mirror-symmetric,
    # e.g. a slanted motion line), and filter again. Each pass costs two FFTs.
    inside = plan.crop(ext).copy()
    for _ in range(0 if plan.consistent else _BOUNDARY_PASSES):
        ext = sf.irfftn(spectrum * (gain * otf), plan.padded, workers=current().threads, overwrite_x=True)
        plan.crop(ext)[...] = inside
        spectrum = sf.rfftn(ext, workers=current().threads, overwrite_x=True)
    restored = sf.irfftn(spectrum * gain, plan.padded, workers=current().threads, overwrite_x=True)
    return plan.crop(restored)
