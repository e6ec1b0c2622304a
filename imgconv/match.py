"""Template matching: ZNCC score maps, peak finding, sub-pixel refinement.

The score of a window is the zero-mean normalised cross-correlation (Pearson r)
between the template and the image under it, OpenCV's ``TM_CCOEFF_NORMED``:

    r(y, x) = sum_c sum_ab T0_c(a, b) I_c(y + a, x + b)
              / sqrt( sum_c sum_ab T0_c^2  *  sum_c n var_c(y, x) )

with ``T0_c`` the template minus its mean in channel ``c``, ``n = h * w`` and
``var_c(y, x)`` the variance of channel ``c`` in the window whose top-left is
``(y, x)``.  Colour is scored jointly over channels with a separate mean per
channel, as OpenCV does.

How it is computed (``match_template``):

* The numerator is one FFT cross-correlation (``scipy.fft.rfft2`` / ``irfft2``,
  float32, ``next_fast_len`` sizes).  The image is transformed once; for colour
  the channel products are summed in the frequency domain, so there is a single
  inverse transform.  The transform size only has to cover the image, not image +
  template: a "valid" window never wraps around.  Each channel's global mean is
  subtracted first, which does not change the numerator (``T0`` sums to zero) but
  keeps the float32 rounding small.
* The denominator needs every window's sum and sum of squares.  They come from
  running sums in float64 (down the rows, then along them), so the cancellation
  in ``sum x^2 - (sum x)^2 / n`` costs nothing measurable.  With numba (the
  optional ``fast`` extra, disabled by ``IMGCONV_NO_NUMBA=1``) this and the
  division run as one compiled pass; without it NumPy does the same in a few
  vectorised passes.
* Flat windows: a window whose summed squared deviation ``sum_c n var_c`` is at
  most ``FLAT_TOLERANCE`` times the image's mean square (about its mean, summed
  over channels) scores exactly 0.  At that level the float32 rounding of the
  numerator would dominate r; it is below one 8-bit step in any window of real
  data (a single pixel one step off in a window already gives 1.5e-5).
* With a ``mask``, only the template pixels where the mask is non-zero count:
  the mask is folded into the FFTs (window sums become correlations with the
  mask), computed in float64 because nothing cancels for free any more.

Peaks (``find_matches``): local maxima (3 x 3) at or above the threshold, then
greedy non-maximum suppression, best first: a peak whose centre lies closer than
``min_distance`` to an accepted better peak's centre in both x and y (Chebyshev
distance) is dropped.  Each accepted peak is then refined to sub-pixel precision:
a quintic spline through the 9 x 9 scores around it is maximised (a separable
3 x 3 parabola near the map's border).  Measured on ``skimage.data`` camera,
astronaut and coffee (grey), shifted by 24 random sub-pixel amounts in
[-0.5, 0.5]^2 with ``scipy.ndimage.fourier_shift``, templates of 16, 32 and 48 px
at 4 places each (864 matches): mean error 0.060 px (median 0.044, worst 0.64);
the 3 x 3 parabola alone gives 0.13-0.28 px mean on the same cases.
``tests/test_match.py::test_subpixel_accuracy`` checks a mean below 0.1 px.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> image = rng.random((60, 80)).astype(np.float32)
>>> scores = match_template(image, image[20:30, 40:52])
>>> scores.shape, int(scores.argmax())
((51, 69), 1420)
>>> m = find_matches(scores, (10, 12))[0]
>>> m.x, m.y, round(m.score, 4), round(m.cx, 1), round(m.cy, 1)
(40, 20, 1.0, 45.5, 24.5)
"""
from dataclasses import dataclass

import numpy as np

from imgconv.errors import MatchError
from imgconv.filtering import to_gray  # noqa: F401  (part of this module's API: --gray)

#: A window is flat (score 0) when sum_c n*var_c <= FLAT_TOLERANCE * image mean square.
FLAT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Match:
    """One match of the template in the image.

    Attributes
    ----------
    x, y : int
        Top-left pixel of the matched window.
    score : float
        ZNCC score (Pearson r) of that window, in [-1, 1].
    cx, cy : float
        Sub-pixel centre of the match: ``x + dx + (w - 1) / 2`` with ``dx`` the
        sub-pixel refinement (a quintic spline through the 9x9 scores) in [-0.5, 0.5], likewise ``cy``.
    scale : float
        Size of the matched template relative to the given one (multi-scale search).
    width, height : int
        Size of the matched window (the template at ``scale``).
    """

    x: int
    y: int
    score: float
    cx: float
    cy: float
    scale: float = 1.0
    width: int = 0
    height: int = 0

    def as_dict(self, *, with_scale=None):
        """The SPEC's JSON fields: x, y, score, cx, cy (and scale).

        Parameters
        ----------
        with_scale : bool, optional
            Add ``"scale"``.  Default: only when the scale is not 1, so a plain
            single-scale search gives exactly the SPEC's five fields.

        Examples
        --------
        >>> Match(3, 4, 0.9, 10.5, 11.5).as_dict()
        {'x': 3, 'y': 4, 'score': 0.9, 'cx': 10.5, 'cy': 11.5}
        >>> Match(3, 4, 0.9, 10.5, 11.5, scale=1.2).as_dict()["scale"]
        1.2
        """
        out = {"x": int(self.x), "y": int(self.y), "score": round(float(self.score), 6),
               "cx": round(float(self.cx), 4), "cy": round(float(self.cy), 4)}
        if with_scale or (with_scale is None and self.scale != 1.0):
            out["scale"] = round(float(self.scale), 6)
        return out


# --------------------------------------------------------------------------- scores


def match_template(image, template, *, mask=None):
    """Zero-mean normalised cross-correlation of ``template`` at every window of ``image``.

    Parameters
    ----------
    image : array_like
        H x W or H x W x C, any real dtype (alpha, if any, is the caller's to drop).
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
    return _scores(prepared, _as_channels(template, "template"), _as_mask(mask, template))


def _scores(prepared, template, mask):
    """Scores of one (C, h, w) template against a prepared image."""
    C, H, W = prepared.pixels.shape
    if template.shape[0] != C:
        raise MatchError(f"the image has {C} channel(s) but the template has "
                         f"{template.shape[0]} (convert both to grey, or drop alpha)")
    h, w = template.shape[1:]
    if h > H or w > W:
        raise MatchError(f"template ({w}x{h}) is larger than the image ({W}x{H})")
    if mask is not None:
        if mask.shape != (h, w):
            raise MatchError(f"mask ({mask.shape[1]}x{mask.shape[0]}) must be the size of "
                             f"the template ({w}x{h})")
        return _scores_masked(prepared, template, mask)
    t0 = template - template.mean(axis=(1, 2), keepdims=True)
    tnorm2 = float(np.sum(t0 * t0))
    _check_not_flat(tnorm2, template)
    numerator = _correlate(prepared, t0)
    return _normalise(prepared.pixels, numerator, h, w, tnorm2,
                      FLAT_TOLERANCE * prepared.mean_square)


def _check_not_flat(tnorm2, template):
    scale = float(np.abs(template).max()) or 1.0
    if not tnorm2 > template.size * (1e-7 * scale) ** 2:
        h, w = template.shape[1:]
        raise MatchError(f"the template ({w}x{h}) is flat: it has no variance to correlate "
                         "(every pixel has the same value)")


class _Prepared:
    """The image once per search: mean-subtracted float32 channels and their spectrum."""

    def __init__(self, channels):
        from scipy import fft

        C, H, W = channels.shape
        mean = np.array([np.mean(plane, dtype=np.float64) for plane in channels])
        if not np.isfinite(mean).all():
            if not all(np.isfinite(plane).all() for plane in channels):
                raise MatchError("the image contains NaN or infinite values")
            raise MatchError("the image's values are too large to sum")
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
        raise MatchError(f"the {name} must hold real numbers, not {values.dtype}")
    if values.ndim == 2:
        values = values[None]
    elif values.ndim == 3:
        values = np.moveaxis(values, 2, 0)
    else:
        raise MatchError(f"the {name} must be H x W or H x W x C, not shape {values.shape}")
    if 0 in values.shape:
        raise MatchError(f"the {name} is empty (shape {values.shape})")
    if not copy:
        return values
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise MatchError(f"the {name} contains NaN or infinite values")
    return values


def _as_mask(mask, template):
    if mask is None:
        return None
    values = np.asarray(mask)
    if values.ndim == 3:  # a colour mask image: a pixel counts if any channel is non-zero
        values = np.any(values != 0, axis=2)
    if values.ndim != 2:
        raise MatchError(f"the mask must be h x w, not shape {values.shape}")
    return values != 0


def _workers():
    from imgconv.settings import current

    return current().threads


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


#: wall ns per pixel and channel of the FFT numerator above on 2 cores (1920x1080, measured)
_FFT_NS_PER_PX = 17.0


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
        raise MatchError(f"the mask selects {n} template pixel(s); at least 2 are needed")
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
    """
    from imgconv.engine import _compiled

    out = np.empty(numerator.shape, np.float32)
    if _compiled.enabled() and out.size * pixels.shape[0] >= COMPILED_MIN_OUTPUTS:
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
    np.divide(numerator, np.sqrt(np.maximum(varsum, flat) * tnorm2), out=out, casting="unsafe")
    out[~ok] = 0.0
    np.clip(out, -1.0, 1.0, out=out)
    return out


#: Below this many scores x channels NumPy is used even when numba is installed:
#: it takes ~10 ms there, less than importing numba in a fresh process.
COMPILED_MIN_OUTPUTS = 1_000_000


# --------------------------------------------------------------------------- peaks


def find_matches(scores, template_shape, *, max_matches=1, threshold=0.5, min_distance=None,
                 scale=1.0):
    """The best peaks of a score map, refined to sub-pixel centres.

    Parameters
    ----------
    scores : array_like
        2-D score map from :func:`match_template`, indexed by window top-left.
    template_shape : tuple
        ``(h, w)`` or ``(h, w, C)`` of the template that made ``scores``.
    max_matches : int
        At most this many matches (default 1).
    threshold : float
        Only peaks scoring at least this much (default 0.5).
    min_distance : float, optional
        A peak closer than this to a better accepted one, in both x and y (Chebyshev
        distance, pixels), is suppressed.  Default: half the template's smaller side.
        0 keeps every local maximum.
    scale : float
        Recorded in each :class:`Match` (``template_shape`` is already the scaled size).

    Returns
    -------
    list of Match
        Sorted by score, best first (ties: top to bottom, left to right).

    Examples
    --------
    >>> s = np.zeros((20, 20), np.float32); s[5, 6] = 0.9; s[5, 7] = 0.6; s[15, 15] = 0.8
    >>> [(m.x, m.y, round(m.score, 2)) for m in find_matches(s, (8, 8), max_matches=5)]
    [(6, 5, 0.9), (15, 15, 0.8)]
    """
    _check_peak_options(max_matches, threshold, min_distance)
    scores = np.asarray(scores)
    if scores.ndim != 2 or 0 in scores.shape:
        raise MatchError(f"scores must be a non-empty 2-D map, not shape {scores.shape}")
    h, w = (int(v) for v in tuple(template_shape)[:2])
    finite = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float64)
    ys, xs = _local_maxima(finite, threshold)
    peaks = [Match(int(x), int(y), float(finite[y, x]), float(x + (w - 1) / 2),
                   float(y + (h - 1) / 2), float(scale), w, h) for y, x in zip(ys, xs)]
    chosen = _suppress(peaks, max_matches, min_distance)
    refined = []
    for m in chosen:
        dy, dx = _subpixel_offset(finite, m.y, m.x)
        refined.append(Match(m.x, m.y, m.score, float(m.cx + dx), float(m.cy + dy), m.scale, w, h))
    return refined


def _check_peak_options(max_matches, threshold, min_distance):
    if not isinstance(max_matches, (int, np.integer)) or max_matches < 1:
        raise MatchError(f"max_matches must be a positive integer, not {max_matches!r}")
    if not np.isfinite(threshold):
        raise MatchError(f"threshold must be a finite number, not {threshold!r}")
    if min_distance is not None and not (np.isfinite(min_distance) and min_distance >= 0):
        raise MatchError(f"min_distance must be a number >= 0, not {min_distance!r}")


def _local_maxima(scores, threshold):
    """(ys, xs) of 3 x 3 local maxima at or above the threshold, best first.

    Ties in score are broken top to bottom, then left to right.
    """
    from scipy import ndimage

    peak = (scores >= threshold) & (scores >= ndimage.maximum_filter(
        scores, size=3, mode="constant", cval=-np.inf))
    ys, xs = np.nonzero(peak)
    order = np.lexsort((xs, ys, -scores[ys, xs]))
    return ys[order], xs[order]


def _suppress(peaks, max_matches, min_distance):
    """Greedy non-maximum suppression over window centres, best first (Chebyshev).

    ``peaks`` are sorted best first.  Each accepted peak removes the remaining
    ones whose centre lies closer than ``min_distance`` (default: half the smaller
    side of the accepted peak's window) in both x and y.
    """
    if not peaks:
        return []
    cx = np.array([p.cx for p in peaks])
    cy = np.array([p.cy for p in peaks])
    alive = np.ones(len(peaks), bool)
    chosen = []
    while len(chosen) < max_matches:
        best = int(np.argmax(alive))
        if not alive[best]:
            break
        chosen.append(peaks[best])
        alive[best] = False
        p = peaks[best]
        radius = min(p.width, p.height) / 2 if min_distance is None else min_distance
        if radius > 0:
            alive &= ~((np.abs(cy - cy[best]) < radius) & (np.abs(cx - cx[best]) < radius))
    return chosen


#: Half-size of the score neighbourhood used for sub-pixel refinement (9 x 9).
SUBPIXEL_RADIUS = 4


def _subpixel_offset(scores, y, x):
    """Sub-pixel (dy, dx) of the peak at (y, x), each in [-0.5, 0.5].

    A quintic spline through the 9 x 9 scores around the peak is maximised on a
    0.1 px grid, then a 0.01 px grid.  A separable parabola through 3 x 3 scores
    follows the shape of a correlation peak less well (pixel locking: mean errors
    0.13-0.28 px in the measurement quoted in the module notes, against 0.03-0.10
    for the spline); it is used where the peak is too close to the map's border
    for the 9 x 9 neighbourhood.
    """
    r = SUBPIXEL_RADIUS
    patch = scores[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
    if patch.shape == (2 * r + 1, 2 * r + 1) and np.isfinite(patch).all():
        return _spline_maximum(patch, r)
    return (_parabola_vertex(scores, y, x, 1, 0), _parabola_vertex(scores, y, x, 0, 1))


def _spline_maximum(patch, r):
    from scipy import ndimage

    coefficients = ndimage.spline_filter(patch, order=5, mode="mirror")
    best = np.zeros(2)
    for step in (0.1, 0.01):
        grid = np.arange(-5, 6) * step
        gy, gx = np.meshgrid(best[0] + grid, best[1] + grid, indexing="ij")
        gy, gx = np.clip(gy, -0.5, 0.5).ravel(), np.clip(gx, -0.5, 0.5).ravel()
        values = ndimage.map_coordinates(coefficients, [gy + r, gx + r], order=5,
                                         prefilter=False, mode="mirror")
        k = int(np.argmax(values))
        best = np.array([gy[k], gx[k]])
    return float(best[0]), float(best[1])


def _parabola_vertex(s, y, x, dy, dx):
    """Vertex offset of the parabola through s at (y, x) and its neighbours along (dy, dx)."""
    H, W = s.shape
    if not (0 <= y - dy and y + dy < H and 0 <= x - dx and x + dx < W):
        return 0.0
    lo, mid, hi = s[y - dy, x - dx], s[y, x], s[y + dy, x + dx]
    curvature = lo - 2 * mid + hi
    if not (np.isfinite(curvature) and curvature < 0):
        return 0.0
    return float(np.clip(0.5 * (lo - hi) / curvature, -0.5, 0.5))


# --------------------------------------------------------------------------- multi-scale


def scale_steps(start, stop, step):
    """Scales ``start, start + step, ...`` up to ``stop`` inclusive (``MIN:MAX:STEP``).

    Examples
    --------
    >>> scale_steps(0.5, 1.0, 0.25)
    [0.5, 0.75, 1.0]
    """
    if not (start > 0 and stop >= start and step > 0):
        raise MatchError(f"scales need 0 < MIN <= MAX and STEP > 0, not {start}:{stop}:{step}")
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    if count > 1000:
        raise MatchError(f"{start}:{stop}:{step} gives {count} scales; at most 1000")
    return [round(start + k * step, 10) for k in range(count)]


def resize_template(template, scale, mask=None):
    """The template (and mask) resized by ``scale`` with Pillow (bicubic; mask: nearest).

    Parameters
    ----------
    template : array_like
        h x w or h x w x C.
    scale : float
        Size factor; the result is ``round(h * scale) x round(w * scale)``.
    mask : array_like, optional
        h x w mask, resized with nearest neighbour.

    Returns
    -------
    tuple
        ``(template, mask)`` as float32 (mask: bool or None).
    """
    from PIL import Image

    template = np.asarray(template, np.float32)
    h, w = template.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return template, None if mask is None else np.asarray(mask) != 0
    planes = template[..., None] if template.ndim == 2 else template
    resized = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[:, :, c]), "F")
                                   .resize(size, Image.Resampling.BICUBIC))
                        for c in range(planes.shape[2])], axis=2)
    resized = resized[:, :, 0] if template.ndim == 2 else resized
    if mask is not None:
        m = Image.fromarray((np.asarray(mask) != 0).astype(np.uint8) * 255, "L")
        mask = np.asarray(m.resize(size, Image.Resampling.NEAREST)) != 0
    return resized, mask


def match_multiscale(image, template, scales, *, mask=None, max_matches=1, threshold=0.5,
                     min_distance=None):
    """Search the template resized at several scales; matches compete across scales.

    Parameters
    ----------
    image, template, mask : array_like
        As for :func:`match_template`.
    scales : iterable of float
        Template size factors (e.g. ``scale_steps(0.5, 2, 0.1)``).  Scales at which
        the template would be smaller than 3 px or larger than the image are skipped.
    max_matches, threshold, min_distance
        As for :func:`find_matches`; the default ``min_distance`` is half the smaller
        side of the better (accepted) match's window, and suppression compares
        window centres, so a peak at one scale suppresses nearby ones at others.

    Returns
    -------
    list of Match
        Best first; ``scale``, ``width`` and ``height`` say which template size matched.

    Raises
    ------
    MatchError
        As :func:`match_template`, or no scale leaves a usable template.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> from scipy import ndimage
    >>> image = ndimage.gaussian_filter(rng.random((120, 160)), 2)
    >>> template, _ = resize_template(image[30:70, 50:100], 0.8)
    >>> match_multiscale(image, template, [1.0, 1.25])[0].scale
    1.25
    """
    _check_peak_options(max_matches, threshold, min_distance)
    prepared = _prepare_image(image)
    template = np.asarray(template)
    base = _as_channels(template, "template")
    if base.shape[0] != prepared.pixels.shape[0]:
        raise MatchError(f"the image has {prepared.pixels.shape[0]} channel(s) but the "
                         f"template has {base.shape[0]} (convert both to grey, or drop alpha)")
    mask = _as_mask(mask, template)
    if mask is not None and mask.shape != template.shape[:2]:
        raise MatchError(f"mask ({mask.shape[1]}x{mask.shape[0]}) must be the size of "
                         f"the template ({template.shape[1]}x{template.shape[0]})")
    H, W = prepared.pixels.shape[1:]
    scales = sorted({float(s) for s in scales})
    if not scales:
        raise MatchError("no scales given")
    found = []
    searched = False
    for scale in scales:
        if not scale > 0:
            raise MatchError(f"scales must be positive, not {scale}")
        resized, scaled_mask = resize_template(template, scale, mask)
        h, w = resized.shape[:2]
        if min(h, w) < 3 or h > H or w > W:
            continue
        scores = _scores(prepared, _as_channels(resized, "template"), scaled_mask)
        found += find_matches(scores, (h, w), max_matches=max_matches, threshold=threshold,
                              min_distance=min_distance, scale=scale)
        searched = True
    if not searched:
        raise MatchError(f"no scale in {scales[0]}..{scales[-1]} gives a template between "
                         f"3 px and the image size ({W}x{H})")
    found.sort(key=lambda m: (-m.score, m.y, m.x, m.scale))
    return _suppress(found, max_matches, min_distance)
