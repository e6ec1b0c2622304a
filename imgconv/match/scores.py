"""ZNCC score maps: the Pearson r of a template against every window of an image.

The numerator is an FFT cross-correlation (or the engine's direct loops for small
templates), the denominator comes from running window sums; ``docs/match.md`` gives
the formula, how each part is computed and why flat windows score 0.

Examples
--------
>>> import numpy as np
>>> image = np.zeros((6, 6)); image[2:4, 1:4] = [[1, 2, 3], [3, 2, 1]]
>>> scores = match_template(image, image[2:4, 1:4])
>>> scores.shape, np.unravel_index(scores.argmax(), scores.shape)
((5, 4), (np.int64(2), np.int64(1)))
"""
import numpy as np

from imgconv.errors import MatchError

#: A window is flat (score 0) when sum_c n*var_c <= FLAT_TOLERANCE * image mean square.
FLAT_TOLERANCE = 1e-5

#: Below this many scores x channels NumPy is used even when numba is installed:
#: it takes ~10 ms there, less than importing numba in a fresh process.
COMPILED_MIN_OUTPUTS = 1_000_000

#: wall ns per pixel and channel of the FFT numerator on 2 cores (1920x1080, measured)
_FFT_NS_PER_PX = 17.0


def match_template(image, template, *, mask=None):
    """Zero-mean normalised cross-correlation of ``template`` at every window of ``image``.

    Parameters
    ----------
    image : array_like
        H x W or H x W x C, any real dtype (alpha, if any, is the caller's to drop;
        :func:`imgconv.match.prepare_match` does it for pictures).
    template : array_like
        h x w or h x w x C with the same C; ``h <= H`` and ``w <= W``.
    mask : array_like, optional
        h x w; template pixels where it is non-zero count, the others are ignored.

    Returns
    -------
    numpy.ndarray
        float32 scores, shape ``(H - h + 1, W - w + 1)``, indexed by the window's
        top-left pixel; equal to OpenCV's ``TM_CCOEFF_NORMED`` within 1e-3 where the
        window has variance, 0 on flat windows (see ``FLAT_TOLERANCE``).

    Raises
    ------
    MatchError
        Template larger than the image, channel counts differ, flat template (one
        value, so also any 1 x 1 template), bad mask, non-finite values.

    Examples
    --------
    >>> image = np.arange(30.0).reshape(5, 6) % 7
    >>> match_template(image, image[1:3, 2:5]).round(2)[1, 2]
    np.float32(1.0)
    """
    prepared = _prepare_image(image)
    return _scores_on_prepared(prepared, _as_channels(template, "template"), _as_mask(mask, template))


def _scores_on_prepared(prepared, template, mask):
    """Scores of one (C, h, w) template against a prepared image."""
    C, H, W = prepared.pixels.shape
    _check_channels(C, template.shape[0])
    h, w = template.shape[1:]
    if h > H or w > W:
        raise MatchError(f"template ({w}x{h}) is larger than the image ({W}x{H})", subject="template")
    if mask is not None:
        _check_mask_size(mask.shape, (h, w))
        return _scores_masked(prepared, template, mask)
    t0 = template - template.mean(axis=(1, 2), keepdims=True)
    tnorm2 = float(np.sum(t0 * t0))
    _check_not_flat(tnorm2, template)
    numerator = _correlate(prepared, t0)
    return _normalise(prepared.pixels, numerator, h, w, tnorm2,
                      FLAT_TOLERANCE * prepared.mean_square)


def _check_channels(image_channels, template_channels):
    if template_channels != image_channels:
        raise MatchError(f"the image has {image_channels} channel(s) but the template has "
                         f"{template_channels} (convert both to grey, or drop alpha)", subject="template")


def _check_mask_size(mask_shape, template_shape):
    """``mask_shape`` and ``template_shape`` are (rows, columns)."""
    if tuple(mask_shape) != tuple(template_shape):
        (mh, mw), (h, w) = mask_shape, template_shape
        raise MatchError(f"mask ({mw}x{mh}) must be the size of the template ({w}x{h})", subject="mask")


def _check_not_flat(tnorm2, template):
    scale = float(np.abs(template).max()) or 1.0
    if not tnorm2 > template.size * (1e-7 * scale) ** 2:
        h, w = template.shape[1:]
        raise MatchError(f"the template ({w}x{h}) is flat: it has no variance to correlate "
                         "(every pixel has the same value)", subject="template")


class _Prepared:
    """The image once per search: mean-subtracted float32 channels and their spectrum."""

    def __init__(self, channels):
        from scipy import fft

        C, H, W = channels.shape
        mean = np.array([np.mean(plane, dtype=np.float64) for plane in channels])
        if not np.isfinite(mean).all():
            if not all(np.isfinite(plane).all() for plane in channels):
                raise MatchError("the image contains NaN or infinite values", subject="image")
            raise MatchError("the image's values are too large to sum", subject="image")
        self.pixels = np.empty((C, H, W), np.float32)
        for c in range(C):  # one pass per channel: subtract in float64, store float32
            np.subtract(channels[c], mean[c], out=self.pixels[c], dtype=np.float64,
                        casting="unsafe")
        flat = self.pixels.reshape(C, -1)
        # scale of the flat-window test: float32 BLAS dot is plenty for a threshold
        self.mean_square = sum(float(np.dot(row, row)) for row in flat) / (H * W)
        self.fshape = (fft.next_fast_len(H, real=False), fft.next_fast_len(W, real=True))
        self._spectrum = None
        self._spectra64 = None

    @property
    def spectrum(self):
        """rfft2 of each channel, (C, Hf, Wf // 2 + 1) complex64 (computed once)."""
        if self._spectrum is None:
            from scipy import fft

            self._spectrum = fft.rfft2(self.pixels, s=self.fshape, workers=_workers())
        return self._spectrum

    def spectra64(self):
        """float64 spectra of each channel and of the sum of squares (masked scores)."""
        if self._spectra64 is None:
            from scipy import fft

            x = self.pixels.astype(np.float64)
            stack = np.concatenate([x, np.sum(x * x, axis=0, keepdims=True)])
            self._spectra64 = fft.rfft2(stack, s=self.fshape, workers=_workers())
        return self._spectra64


def _prepare_image(image):
    return _Prepared(_as_channels(image, "image", copy=False))


def _as_channels(array, name, copy=True):
    """Validate a 2-D or H x W x C array and return it as (C, H, W).

    With ``copy`` (templates) the result is a float64 copy checked for non-finite
    values; without it (images) it is a view in the input's dtype, checked later
    through its mean.
    """
    values = np.asarray(array)
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise MatchError(f"the {name} must hold real numbers, not {values.dtype}", subject=name)
    if values.ndim == 2:
        values = values[None]
    elif values.ndim == 3:
        values = np.moveaxis(values, 2, 0)
    else:
        raise MatchError(f"the {name} must be H x W or H x W x C, not shape {values.shape}", subject=name)
    if 0 in values.shape:
        raise MatchError(f"the {name} is empty (shape {values.shape})", subject=name)
    if not copy:
        return values
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise MatchError(f"the {name} contains NaN or infinite values", subject=name)
    return values


def _as_mask(mask, template):
    if mask is None:
        return None
    values = np.asarray(mask)
    if values.ndim == 3:  # a colour mask image: a pixel counts if any channel is non-zero
        values = np.any(values != 0, axis=2)
    if values.ndim != 2:
        raise MatchError(f"the mask must be h x w, not shape {values.shape}", subject="mask")
    return values != 0


def _workers():
    from imgconv.settings import current

    return current().threads


# --------------------------------------------------------------------------- numerator


def _correlate(prepared, t0):
    """sum_c of the valid cross-correlation of each image channel with t0_c.

    One FFT of the image serves every template; a small template goes through the
    engine's direct or separable loops instead when its planner says they are cheaper.
    """
    from scipy import fft

    C, H, W = prepared.pixels.shape
    h, w = t0.shape[1:]
    engine_plan = _engine_plan((H, W), t0)
    if engine_plan is not None:
        from imgconv.engine import convolve

        total = None
        for c in range(C):
            full = convolve(prepared.pixels[c], t0[c], mode="constant", correlate=True, method=engine_plan)
            total = full if total is None else np.add(total, full, out=total)
        return total[h // 2:h // 2 + H - h + 1, w // 2:w // 2 + W - w + 1]
    Hf, Wf = prepared.fshape
    workers = _workers()
    # Template spectrum: real transform of its h rows, then the columns padded to Hf.
    rows = fft.rfft(t0.astype(np.float32), n=Wf, axis=2, workers=workers)
    spectrum_t = fft.fft(rows, n=Hf, axis=1, workers=workers)
    np.conj(spectrum_t, out=spectrum_t)
    image_spectrum = prepared.spectrum
    product = np.multiply(image_spectrum[0], spectrum_t[0], out=spectrum_t[0])
    for c in range(1, C):
        product += np.multiply(image_spectrum[c], spectrum_t[c], out=spectrum_t[c])
    return _inverse_valid(product, H - h + 1, W - w + 1, Wf)


def _engine_plan(shape, t0):
    """``"direct"`` or ``"separable"`` when the engine's loops beat the FFT here, else None."""
    from imgconv.engine.planner import plan_method

    if t0.shape[1] * t0.shape[2] > 32 * 32:  # larger templates: the shared FFT always wins
        return None
    C, (H, W) = t0.shape[0], shape
    plan = plan_method((H, W, C), t0[0].astype(np.float64))
    best = min(("direct", "separable"), key=plan.costs.get)
    fft_ms = H * W * C * _FFT_NS_PER_PX * 1e-6 * 2 / _workers()
    return best if plan.costs[best] < fft_ms else None


def _inverse_valid(spectrum, rows, cols, Wf):
    """The first ``rows`` x ``cols`` of ``irfft2(spectrum)`` (last two axes).

    The column transform runs on all rows of the spectrum, the row transform only
    on the ``rows`` wanted: cheaper than ``irfft2`` (about half the time measured
    here for 1920x1080, where scipy's ``irfft2`` is also slower than two 1-D calls).
    """
    from scipy import fft

    workers = _workers()
    columns = fft.ifft(spectrum, axis=-2, workers=workers, overwrite_x=True)
    full = fft.irfft(columns[..., :rows, :], n=Wf, axis=-1, workers=workers, overwrite_x=True)
    return full[..., :cols]


def _scores_masked(prepared, template, mask):
    """Masked Pearson r: only template pixels under a non-zero mask count (float64 FFT)."""
    from scipy import fft

    C, H, W = prepared.pixels.shape
    h, w = template.shape[1:]
    n = int(mask.sum())
    if n < 2:
        raise MatchError(f"the mask selects {n} template pixel(s); at least 2 are needed", subject="mask")
    m = mask.astype(np.float64)
    tmean = (template * m).sum(axis=(1, 2), keepdims=True) / n
    t0 = (template - tmean) * m
    tnorm2 = float(np.sum(t0 * t0))
    _check_not_flat(tnorm2, template[:, mask][:, :, None])
    Hf, Wf = prepared.fshape
    workers = _workers()
    spectra = prepared.spectra64()  # C channels, then sum of squares
    kernels = fft.rfft2(np.concatenate([t0, m[None]]), s=(Hf, Wf), workers=workers).conj()
    Ho, Wo = H - h + 1, W - w + 1
    numerator = _inverse_valid((spectra[:C] * kernels[:C]).sum(axis=0), Ho, Wo, Wf)
    sums = _inverse_valid(spectra * kernels[C], Ho, Wo, Wf)
    varsum = sums[C] - np.sum(sums[:C] ** 2, axis=0) / n
    flat = FLAT_TOLERANCE * prepared.mean_square
    out = np.zeros(varsum.shape, np.float32)
    ok = varsum > flat
    out[ok] = np.clip(numerator[ok] / np.sqrt(varsum[ok] * tnorm2), -1.0, 1.0)
    return out


# --------------------------------------------------------------------------- normalisation


def _normalise(pixels, numerator, h, w, tnorm2, flat):
    """numerator / sqrt(window variance sum * tnorm2), clipped to [-1, 1]; 0 where flat.

    ``pixels`` is the (C, H, W) mean-subtracted float32 image, ``numerator`` the
    (H - h + 1, W - w + 1) correlation (any layout); returns a new float32 array.
    The compiled normaliser is used when the settings allow it and the map is at least
    ``COMPILED_MIN_OUTPUTS`` scores x channels.
    """
    from imgconv.engine import _compiled
    from imgconv.settings import LOAD_MS, current

    out = np.empty(numerator.shape, np.float32)
    # never compile them for this: while numba's cache is empty a command charges more than LOAD_MS
    if (_compiled.enabled() and out.size * pixels.shape[0] >= COMPILED_MIN_OUTPUTS
            and current().load_ms <= LOAD_MS):
        # one block of rows per thread: each block first sums h rows on its own
        blocks = max(1, min(out.shape[0], _workers()))
        _compiled.loops().normalise_zncc(pixels, numerator, out, h, w, float(tnorm2), float(flat), blocks)
        return out
    return _normalise_numpy(pixels, numerator, out, h, w, tnorm2, flat)


def _window_sums(a, h, w):
    """Sum of every h x w window of a 2-D array (valid windows), float64.

    Down the rows the running sum is a loop of whole-row additions (contiguous, so
    much faster than ``np.cumsum(axis=0)``); along the rows it is ``np.cumsum``.
    """
    H, W = a.shape
    down = np.empty((H - h + 1, W), np.float64)
    np.sum(a[:h], axis=0, dtype=np.float64, out=down[0])
    for i in range(1, H - h + 1):
        np.add(down[i - 1], a[i + h - 1], out=down[i])
        down[i] -= a[i - 1]
    along = np.zeros((H - h + 1, W + 1), np.float64)
    np.cumsum(down, axis=1, out=along[:, 1:])
    return along[:, w:] - along[:, :-w]


def _normalise_numpy(pixels, numerator, out, h, w, tnorm2, flat):
    """NumPy version of the compiled normaliser (same results within float64 rounding)."""
    n = h * w
    varsum = np.zeros(out.shape, np.float64)
    for channel in pixels:
        x = channel.astype(np.float64)
        s1 = _window_sums(x, h, w)
        varsum += _window_sums(x * x, h, w)
        varsum -= s1 * s1 / n
    ok = varsum > flat
    out[...] = 0.0  # flat windows (every window of a flat image: flat is 0 there) score 0
    np.divide(numerator, np.sqrt(np.maximum(varsum, flat) * tnorm2), out=out, casting="unsafe", where=ok)
    np.clip(out, -1.0, 1.0, out=out)
    return out
