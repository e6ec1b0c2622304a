"""Measure the kernel behind a before/after pair: exact least squares, no iteration.

:func:`estimate_kernel` returns the K, in imgconv's convolution convention, that minimises
``mean((BEFORE ⊗ K - AFTER)²) + λ‖K‖²`` over the fitted pixels: by default those whose
whole window lies inside the picture (nothing is assumed about the border), or, with
``mode``, every pixel, the picture extended as scipy.ndimage's ``mode`` extends it. The
normal equations are built exactly — the autocorrelation of BEFORE by one FFT, minus the
windows that overhang the border (a matrix product over the border frame only), and the
cross-correlation with AFTER by FFT — and solved directly (Cholesky).

Examples
--------
>>> import numpy as np, imgconv
>>> rng = np.random.default_rng(0)
>>> before = rng.random((40, 50))
>>> k = np.array([[0, 1, 0], [1, 4, 2], [0, 1, 0]]) / 9
>>> after = imgconv.convolve(before, k, mode="nearest")
>>> est = estimate_kernel(before, after, (3, 3))
>>> bool(np.abs(est - k).max() < 1e-5)
True
>>> kernel_fit(before, after, est).psnr > 100
True
"""
import math
import warnings
from dataclasses import dataclass

import numpy as np

from imgconv.engine import convolve
from imgconv.errors import ImgconvError

__all__ = ["estimate_kernel", "solve_kernel", "kernel_fit", "Fit", "parse_size", "MAX_SIDE", "POOR_PSNR"]

#: The largest kernel side that can be estimated (a 31x31 kernel has 961 unknowns).
MAX_SIDE = 31
#: Below this PSNR (dB) the fit is called poor.
POOR_PSNR = 30.0
_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def parse_size(text):
    """``"HxW"`` (rows x columns) or ``"N"`` -> ``(H, W)``, each 1..MAX_SIDE.

    Examples
    --------
    >>> parse_size("15x9"), parse_size("7")
    ((15, 9), (7, 7))
    """
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = str(text).lower().replace("×", "x").split("x")
    try:
        h, w = (int(p) for p in parts) if len(parts) == 2 else (int(parts[0]),) * 2 if len(parts) == 1 else (0, 0)
    except (TypeError, ValueError):
        raise ImgconvError(f"kernel size {text!r}: give HxW (rows x columns), e.g. 15x15") from None
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ImgconvError(f"kernel size {text!r}: each side must be 1..{MAX_SIDE} "
                           f"(larger kernels cannot be estimated reliably; at most {MAX_SIDE}x{MAX_SIDE})")
    return h, w


def _channels_last(x, what):
    a = np.asarray(x)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImgconvError(f"{what} must be a real numeric image (got dtype {a.dtype})")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ImgconvError(f"{what} must be H x W or H x W x C (got shape {a.shape})")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ImgconvError(f"{what} contains NaN or infinite values")
    return a


def _pair(before, after, size):
    b, a = _channels_last(before, "BEFORE"), _channels_last(after, "AFTER")
    if b.shape[:2] != a.shape[:2]:
        raise ImgconvError(f"BEFORE is {b.shape[1]}x{b.shape[0]} but AFTER is {a.shape[1]}x{a.shape[0]}: "
                           "the pictures must be the same size and aligned")
    if b.shape[2] != a.shape[2]:
        raise ImgconvError(f"BEFORE has {b.shape[2]} channel(s) but AFTER has {a.shape[2]}")
    h, w = size
    if h > b.shape[0] or w > b.shape[1]:
        raise ImgconvError(f"a {h}x{w} kernel (H x W) does not fit in a {b.shape[1]}x{b.shape[0]} picture")
    return b, a


def _extend(b, size, mode, cval):
    """BEFORE extended so that every fitted output pixel's window lies inside it."""
    if mode is None:
        return b
    if mode not in _PAD:
        raise ImgconvError(f"unknown mode {mode!r} (use one of {', '.join(_PAD)} or None for valid pixels)")
    (h, w), (c0, c1) = size, (size[0] // 2, size[1] // 2)
    pad = ((h - 1 - c0, c0), (w - 1 - c1, c1), (0, 0))
    if mode == "constant":
        return np.pad(b, pad, mode="constant", constant_values=float(cval))
    return np.pad(b, pad, mode=_PAD[mode])


def _autocorrelation(x, h, w):
    """``G[a, a'] = sum over valid windows p of x[p + a] x[p + a']`` for a, a' in an h x w window.

    The sum over every window that overlaps x (zero outside) is Toeplitz: one 2-D FFT. The
    windows that overhang the border are then taken away: those in the top and bottom bands
    (all columns) from 1-D correlations of the border rows, those in the side bands (all
    rows) from the border columns, and the four corners, counted twice, added back.
    """
    from scipy import fft

    H, W = x.shape
    shape = (fft.next_fast_len(H + h - 1, real=True), fft.next_fast_len(W + w - 1, real=True))
    spectrum = fft.rfft2(x, shape)
    lags = fft.irfft2(spectrum * spectrum.conj(), shape)  # lags[e] = sum_j x[j] x[j + e], zero outside
    ay, ax = np.divmod(np.arange(h * w), w)
    gram = lags[(ay[None, :] - ay[:, None]) % shape[0], (ax[None, :] - ax[:, None]) % shape[1]]
    gram -= _band_gram(x, h, w)
    gram -= _band_gram(x.T, w, h).reshape(w, h, w, h).transpose(1, 0, 3, 2).reshape(h * w, h * w)
    z = np.pad(x, ((h - 1, h - 1), (w - 1, w - 1)))
    windows = np.lib.stride_tricks.sliding_window_view(z, (h, w))  # (H + h - 1, W + w - 1, h, w)
    for rows in (windows[: h - 1], windows[H:]):
        for block in (rows[:, : w - 1], rows[:, W:]):
            part = block.reshape(-1, h * w)
            gram += part.T @ part
    return gram


def _band_gram(x, h, w):
    """The Gram matrix of the windows whose top-left row lies in the top or bottom band (h - 1
    rows of window positions past each edge), over all column positions."""
    from scipy import fft

    H, W = x.shape
    gram = np.zeros((h, h, 2 * w - 1))  # [ay, ay', ax' - ax + w - 1]
    if h == 1:
        return np.zeros((h * w, h * w))
    n = fft.next_fast_len(W + w - 1, real=True)
    lag = np.arange(-(w - 1), w) % n
    for rows, offset in ((x[: h - 1], -(h - 1)), (x[H - h + 1:], 0)):
        spectrum = fft.rfft(rows, n, axis=1)
        # rho[r, r', e] = sum_x rows[r, x] rows[r', x + e]: every column position is in the band
        rho = fft.irfft(spectrum.conj()[:, None, :] * spectrum[None, :, :], n, axis=-1)[..., lag]
        for t in range(h - 1):
            i = t + np.arange(h) + offset  # the band row under window row ay, for position t
            ok = (i >= 0) & (i < h - 1)
            gram[np.ix_(ok, ok)] += rho[np.ix_(i[ok], i[ok])]
    ay, ax = np.divmod(np.arange(h * w), w)
    return gram[ay[:, None], ay[None, :], ax[None, :] - ax[:, None] + w - 1]


def _cross_correlation(x, y, h, w):
    """``r[a] = sum over valid windows p of x[p + a] y[p]`` with y the valid part of AFTER."""
    from scipy import fft

    shape = (fft.next_fast_len(x.shape[0], real=True), fft.next_fast_len(x.shape[1], real=True))
    lags = fft.irfft2(fft.rfft2(x, shape) * fft.rfft2(y, shape).conj(), shape)
    return lags[:h, :w].ravel()  # no wrap-around: y is smaller than x by h - 1, w - 1


def _solve(m, r):
    """Solve the normal equations; (solution, singular) — the minimum-norm one if singular."""
    from scipy import linalg

    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            return linalg.solve(m, r, assume_a="pos"), False
        except (linalg.LinAlgError, linalg.LinAlgWarning, ValueError):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return linalg.lstsq(m, r, cond=1e-12)[0], True


def solve_kernel(before, after, size, *, mode=None, cval=0.0, regularize=0.0, channels="joint"):
    """:func:`estimate_kernel`, also saying whether the system was singular: ``(kernel, singular)``."""
    h, w = parse_size(size)
    b, a = _pair(before, after, (h, w))
    if not (isinstance(regularize, (int, float, np.number)) and math.isfinite(regularize) and regularize >= 0):
        raise ImgconvError(f"regularize must be a finite number >= 0 (got {regularize!r})")
    if channels not in ("joint", "each"):
        raise ImgconvError(f"channels must be 'joint' or 'each' (got {channels!r})")
    x = _extend(b, (h, w), mode, cval)
    c0, c1 = h // 2, w // 2
    # the fitted outputs in x's coordinates (all of AFTER with a mode; the valid part without)
    rows, cols = (slice(0, None), slice(0, None)) if mode is not None else \
        (slice(h - 1 - c0, b.shape[0] - c0), slice(w - 1 - c1, b.shape[1] - c1))
    fitted = a[rows, cols]
    count = fitted.shape[0] * fitted.shape[1]
    groups = [list(range(b.shape[2]))] if channels == "joint" else [[c] for c in range(b.shape[2])]
    if count * len(groups[0]) < h * w:
        raise ImgconvError(f"the picture is too small to estimate a {h}x{w} kernel: {count} fitted pixel(s) "
                           f"for {h * w} unknowns (use a smaller --size or --mode)")
    kernels, singular = [], False
    for group in groups:
        gram = np.zeros((h * w, h * w))
        rhs = np.zeros(h * w)
        for c in group:
            gram += _autocorrelation(x[..., c], h, w)
            rhs += _cross_correlation(x[..., c], fitted[..., c], h, w)
        n = count * len(group)
        gram = gram / n + regularize * np.eye(h * w)
        solution, bad = _solve((gram + gram.T) / 2, rhs / n)
        singular |= bad
        # solved as a correlation kernel (window order): flip to the convolution convention
        kernels.append(solution.reshape(h, w)[::-1, ::-1].copy())
    return (kernels[0] if channels == "joint" else np.stack(kernels)), singular


def estimate_kernel(before, after, size, *, mode=None, regularize=0.0, cval=0.0, channels="joint"):
    """The kernel K with ``imgconv.convolve(before, K, mode=...) ≈ after``, by exact least squares.

    Parameters
    ----------
    before, after : array_like, H x W or H x W x C
        The same picture before and after an unknown linear filter (values as given,
        normally [0, 1]); the same size, aligned pixel for pixel.
    size : (int, int) or str
        ``(h, w)`` or ``"HxW"`` (rows x columns), each 1..31; even sizes are anchored as
        imgconv anchors them. Choose it at least as large as the blur.
    mode : {None, 'reflect', 'mirror', 'nearest', 'wrap', 'constant'}
        None (default): fit only pixels whose window lies inside the picture; else fit every
        pixel with the picture extended by that scipy.ndimage mode (``cval`` for constant).
    regularize : float
        λ >= 0: adds λ‖K‖² to the mean squared residual per pixel (independent of picture size).
    channels : {'joint', 'each'}
        One kernel for all channels (default), or one per channel: an array C x h x w.

    Returns
    -------
    numpy.ndarray
        float64, h x w (or C x h x w).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(1).random((30, 30))
    >>> after = convolve(img, [[1, 2, 1]], mode="reflect") / 4
    >>> estimate_kernel(img, after, "1x3", mode="reflect").round(6).tolist()
    [[0.25, 0.5, 0.25]]
    """
    return solve_kernel(before, after, size, mode=mode, cval=cval, regularize=regularize, channels=channels)[0]


@dataclass(frozen=True)
class Fit:
    """How well BEFORE ⊗ K reproduces AFTER over the fitted pixels (data in [0, 1])."""

    psnr: float  #: dB, peak 1
    rms: float  #: root-mean-square residual
    max_abs: float  #: largest absolute residual
    pixels: int  #: fitted pixels (per channel)

    @property
    def poor(self):
        """PSNR under :data:`POOR_PSNR` (30 dB)."""
        return self.psnr < POOR_PSNR

    def as_dict(self):
        return {"psnr": self.psnr, "rms": self.rms, "max_abs": self.max_abs, "pixels": self.pixels}


def kernel_fit(before, after, kernel, *, mode=None, cval=0.0):
    """The :class:`Fit` of ``kernel`` (h x w, or C x h x w: one per channel) to the pair.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(2).random((20, 20))
    >>> fit = kernel_fit(img, img, [[0.5]])
    >>> round(fit.psnr, 2), fit.poor, fit.pixels
    (10.84, True, 400)
    """
    k = np.asarray(kernel, np.float64)
    size = k.shape[-2:]
    b, a = _pair(before, after, size)
    run = "reflect" if mode is None else mode
    if k.ndim == 3:
        if k.shape[0] != b.shape[2]:
            raise ImgconvError(f"{k.shape[0]} kernels for {b.shape[2]} channel(s)")
        pred = np.stack([convolve(b[..., c], k[c], mode=run, cval=cval) for c in range(b.shape[2])], -1)
    else:
        pred = convolve(b, k, mode=run, cval=cval)
    (h, w), (c0, c1) = size, (size[0] // 2, size[1] // 2)
    if mode is None:
        pred = pred[h - 1 - c0: b.shape[0] - c0, w - 1 - c1: b.shape[1] - c1]
        a = a[h - 1 - c0: b.shape[0] - c0, w - 1 - c1: b.shape[1] - c1]
    residual = pred.astype(np.float64) - a
    mse = float(np.mean(residual**2)) if residual.size else 0.0
    return Fit(psnr=10 * math.log10(1 / mse) if mse > 0 else math.inf, rms=math.sqrt(mse),
               max_abs=float(np.abs(residual).max()) if residual.size else 0.0,
               pixels=int(residual.shape[0] * residual.shape[1]))
