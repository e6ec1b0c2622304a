"""The image pyramid and the exhaustive search of one level.

Levels are a Gaussian pyramid, as ``cv2.pyrDown``: each level is the one below
smoothed by the binomial filter [1, 4, 6, 4, 1] / 16 along rows and columns
(mirrored at the borders) and every second row and column kept, so pixel ``r`` of
level ``L`` sits on the full-resolution pixel ``2**L * r`` and has been smoothed
by a Gaussian-like filter of variance ``(4**L - 1) / 3`` full-resolution pixels^2
(the templates are blurred to match: see ``warp.WarpedTemplates``).  A
plain 2 x 2 mean aliases, which made the coarse scores jump from one scale to
the next.  At the coarsest level every hypothesis is scored
at every position by masked ZNCC, computed with FFTs that share the image's
spectra: the level's channels and their summed squares are transformed once; each
hypothesis then costs the transforms of its masked zero-mean template and of its
mask (pruned: a row transform of the box's few rows, then the columns) and the
inverse transforms of

* the numerator ``sum_c corr(I_c, T0_c)``,
* the window sums ``corr(I_c, M)`` and the summed squares ``corr(sum_c I_c^2, M)``,

from which ``varsum = S2 - sum_c S1_c^2 / n`` and ``r = num / sqrt(varsum * |T0|^2)``.
The mask-only sums are computed once per distinct mask (an outline turned by 180
degrees is the same outline; a square's, by 90).  Hypotheses are transformed in
batches (``MAX_BATCH_BYTES`` of spectra at a time), with NumPy's FFT (pocketfft,
as SciPy's; a command that only locates then never imports SciPy, which costs it
0.3 s or more).  These FFTs run in float32: the scores only rank candidates, which
are scored again exactly (float64, window by window) when refined; a window with
``varsum <= SEARCH_FLAT * n * mean square`` scores 0.
"""
import numpy as np

#: Spectra held at once by the exhaustive search (bytes).
MAX_BATCH_BYTES = 48 * 2 ** 20
#: A window whose variance is below this fraction of the image's mean square scores 0
#: during the search (float32 FFT sums cannot resolve less).
SEARCH_FLAT = 1e-4
#: The coarsest level keeps the template's smaller side at the smallest scale at least
#: this many pixels (``levels="auto"``) ...
MIN_COARSE_SIDE = 6.0
#: ... and at least this many when the number of levels is given.
MIN_LEVEL_SIDE = 3.0
#: ``levels="auto"`` never goes beyond this many levels.
MAX_AUTO_LEVELS = 6


#: The binomial filter of one pyramid step (variance 1 pixel^2).
BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def reduce(pixels):
    """The next level of (C, H, W) pixels: binomial smoothing, then every second row and column.

    Borders are mirrored (``scipy.ndimage``'s ``mirror``); written with NumPy slices
    because importing ``scipy.ndimage`` costs a command 0.3-0.7 s.

    Examples
    --------
    >>> reduce(np.ones((1, 5, 7), np.float32)).shape
    (1, 3, 4)
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((2, 9, 12)).astype(np.float32)
    >>> ref = ndimage.correlate1d(ndimage.correlate1d(x, BINOMIAL, axis=1, mode="mirror"),
    ...                           BINOMIAL, axis=2, mode="mirror")[:, ::2, ::2]
    >>> bool(np.abs(reduce(x) - ref).max() < 1e-6)
    True
    """
    x = _smooth_even(pixels, axis=1)
    return _smooth_even(x, axis=2)


def _smooth_even(x, axis):
    """The binomial filter along ``axis`` (mirrored borders), kept at even positions only."""
    n = x.shape[axis]
    padded = np.pad(x, [(2, 2) if a == axis else (0, 0) for a in range(x.ndim)], mode="reflect") \
        if n > 2 else np.pad(x, [(2, 2) if a == axis else (0, 0) for a in range(x.ndim)], mode="edge")
    count = (n + 1) // 2

    def tap(k):
        index = [slice(None)] * x.ndim
        index[axis] = slice(k, k + 2 * count - 1, 2)
        return padded[tuple(index)]

    out = tap(0) + tap(4)
    out += 4 * (tap(1) + tap(3))
    out += 6 * tap(2)
    out *= 1 / 16
    return np.ascontiguousarray(out, dtype=x.dtype)


def build(pixels, count):
    """Levels 0 (the pixels) to ``count - 1``."""
    levels = [pixels]
    for _ in range(count - 1):
        levels.append(reduce(levels[-1]))
    return levels


def auto_levels(template_shape, image_shape, min_scale):
    """How many levels ``levels="auto"`` uses.

    The most that keep the template's smaller side (at the smallest scale) at
    least ``MIN_COARSE_SIDE`` pixels at the coarsest level, the image at least
    twice the template's larger side there, and no more than ``MAX_AUTO_LEVELS``.

    Examples
    --------
    >>> auto_levels((64, 64), (1080, 1920), 0.8), auto_levels((64, 64), (1080, 1920), 0.7)
    (4, 3)
    >>> auto_levels((10, 10), (100, 100), 1.0)
    1
    """
    side = min(template_shape[:2]) * min_scale
    big = max(template_shape[:2]) * min_scale
    levels = 1
    while levels < MAX_AUTO_LEVELS:
        f = 2 ** levels
        if side / f < MIN_COARSE_SIDE or min(image_shape[:2]) / f < 2 * big / f + 8:
            break
        levels += 1
    return levels


def max_levels(template_shape, image_shape, min_scale):
    """The most levels a given ``levels=N`` may ask for (template >= MIN_LEVEL_SIDE px there)."""
    side = min(template_shape[:2]) * min_scale
    levels = 1
    while side / 2 ** levels >= MIN_LEVEL_SIDE and min(image_shape[:2]) / 2 ** levels >= 4:
        levels += 1
    return levels


class LevelScores:
    """The best score at every position over every hypothesis of one level, and candidates.

    Attributes
    ----------
    best : numpy.ndarray
        (H, W) float32, indexed by the level pixel holding the window's centre
        (top-left + box // 2), ``-inf`` where no hypothesis has a window.
    warps : list of Warp
        The hypotheses, in order.

    The same maps are also kept for each scale (the best over the angles at that
    scale), so that candidates are the local maxima of each: a part of the object
    at a smaller scale, a few pixels away, cannot hide the whole object.
    """

    def __init__(self, shape, warps):
        self.warps = warps
        self.scales = sorted({wp.scale for wp in warps})
        self._index = {s: i for i, s in enumerate(self.scales)}
        self.per_scale = np.full((len(self.scales),) + tuple(shape), -np.inf, np.float32)
        self.which = np.full((len(self.scales),) + tuple(shape), -1, np.int32)

    @property
    def best(self):
        return self.per_scale.max(axis=0)

    def add(self, k, scores):
        ny, nx = self.warps[k].shape
        oy, ox = ny // 2, nx // 2
        i = self._index[self.warps[k].scale]
        region = self.per_scale[i, oy:oy + scores.shape[0], ox:ox + scores.shape[1]]
        better = scores > region
        region[better] = scores[better]
        self.which[i, oy:oy + scores.shape[0], ox:ox + scores.shape[1]][better] = k

    def candidates(self, count, radius=1):
        """The ``count`` best local maxima ((2r+1)^2 neighbourhoods) of the per-scale maps.

        Returns
        -------
        list of tuple
            ``(score, cy, cx, angle, scale)``, best first, with ``cy, cx`` the
            template centre in level pixels.
        """
        found = []
        for i in range(len(self.scales)):
            best = self.per_scale[i]
            finite = np.isfinite(best)
            if not finite.any():
                continue
            peak = finite & (best >= _maximum_filter(best, radius))
            ys, xs = np.nonzero(peak)
            order = np.argsort(-best[ys, xs], kind="stable")[:count]
            found += [(float(best[y, x]), i, int(y), int(x)) for y, x in zip(ys[order], xs[order])]
        found.sort(key=lambda t: (-t[0], t[2], t[3], t[1]))
        out = []
        for score, i, y, x in found[:count]:
            warp = self.warps[self.which[i, y, x]]
            ny, nx = warp.shape
            top, left = y - ny // 2, x - nx // 2
            out.append((score, top + (ny - 1) / 2, left + (nx - 1) / 2, warp.angle, warp.scale))
        return out


def _maximum_filter(values, radius):
    """The maximum over each (2r+1)^2 neighbourhood, -inf beyond the borders."""
    H, W = values.shape
    padded = np.full((H + 2 * radius, W + 2 * radius), -np.inf, values.dtype)
    padded[radius:radius + H, radius:radius + W] = values
    rows = padded[:, :W].copy()
    for dx in range(1, 2 * radius + 1):
        np.maximum(rows, padded[:, dx:dx + W], out=rows)
    out = rows[:H].copy()
    for dy in range(1, 2 * radius + 1):
        np.maximum(out, rows[dy:dy + H], out=out)
    return out


def search(pixels, warps):
    """Score every warp at every valid position of ``pixels`` (one level).

    Parameters
    ----------
    pixels : numpy.ndarray
        (C, H, W) float32, each channel's mean already subtracted.
    warps : list of Warp
        From :meth:`WarpedTemplates.warp` at this level.

    Returns
    -------
    LevelScores
    """
    C, H, W = pixels.shape
    result = LevelScores((H, W), warps)
    usable = [k for k, wp in enumerate(warps)
              if wp.norm2 > 0 and wp.shape[0] <= H and wp.shape[1] <= W]
    if not usable:
        return result
    Hf, Wf = fast_length(H), fast_length(W)
    stack = np.empty((C + 1, H, W), np.float32)
    stack[:C] = pixels
    np.sum(pixels * pixels, axis=0, out=stack[C])
    spectra = np.fft.rfft2(stack, s=(Hf, Wf))                      # (C + 1, Hf, Wf/2+1)
    mean_square = float(stack[C].mean())
    level = _Level(spectra, (H, W), (Hf, Wf), mean_square)
    # the mask-only sums are shared by hypotheses with the same mask (an outline turned
    # by 180 degrees is the same outline; a square's, by 90)
    by_mask = {}
    for k in usable:
        key = (warps[k].shape, warps[k].mask.tobytes())
        by_mask.setdefault(key, []).append(k)
    groups = sorted(by_mask.values(), key=lambda ks: warps[ks[0]].shape)
    per_hypothesis = (C + 2) * Hf * (Wf // 2 + 1) * 8
    batch = max(1, min(64, MAX_BATCH_BYTES // per_hypothesis))
    for start in range(0, len(groups), batch):
        masks = [warps[ks[0]] for ks in groups[start:start + batch]]
        deviations = level.inverse_deviations(masks)
        members = [(k, i) for i, ks in enumerate(groups[start:start + batch]) for k in ks]
        for first in range(0, len(members), batch):
            chunk = members[first:first + batch]
            numerators = level.correlate([warps[k] for k, _ in chunk], values=True)
            for (k, i), numerator in zip(chunk, numerators):
                scores = numerator * deviations[i]
                scores *= np.float32(1.0 / np.sqrt(warps[k].norm2))
                np.clip(scores, -1.0, 1.0, out=scores)
                result.add(k, scores)
    return result


class _Level:
    """One level's spectra and the correlations of its channels with kernels."""

    def __init__(self, spectra, shape, fshape, mean_square):
        self.spectra, self.shape, self.fshape = spectra, shape, fshape
        self.mean_square = mean_square

    def _kernel_spectra(self, warps, values):
        """Pruned rfft2 of the warps' zero-mean values (C planes) or masks (1 plane), conjugated."""
        C = self.spectra.shape[0] - 1
        Hf, Wf = self.fshape
        ny_max = max(wp.shape[0] for wp in warps)
        nx_max = max(wp.shape[1] for wp in warps)
        planes = C if values else 1
        kernels = np.zeros((len(warps), planes, ny_max, nx_max), np.float32)
        for i, wp in enumerate(warps):
            ny, nx = wp.shape
            kernels[i, :, :ny, :nx] = wp.values if values else wp.mask
        rows = np.fft.rfft(kernels, n=Wf, axis=-1)
        spectra = np.fft.fft(rows, n=Hf, axis=-2)
        return np.conj(spectra, out=spectra)

    def _inverse(self, products, ny_min):
        H = self.shape[0]
        columns = np.fft.ifft(products, axis=-2)
        return np.fft.irfft(columns[..., :H - ny_min + 1, :], n=self.fshape[1], axis=-1)

    def correlate(self, warps, values):
        """Valid correlation maps: sum_c corr(I_c, T0_c) per warp (float32, each its own size)."""
        C = self.spectra.shape[0] - 1
        kspec = self._kernel_spectra(warps, values=True)
        products = np.einsum("bchw,chw->bhw", kspec, self.spectra[:C]) if C > 1 \
            else np.multiply(kspec[:, 0], self.spectra[0])
        maps = self._inverse(products, min(wp.shape[0] for wp in warps))
        H, W = self.shape
        return [maps[i, :H - wp.shape[0] + 1, :W - wp.shape[1] + 1] for i, wp in enumerate(warps)]

    def inverse_deviations(self, masks):
        """1 / sqrt(varsum) of every valid window under each mask (0 where flat), float32."""
        C = self.spectra.shape[0] - 1
        kspec = self._kernel_spectra(masks, values=False)           # (B, 1, Hf, Wf/2+1)
        products = self.spectra[None] * kspec                       # (B, C + 1, ...)
        maps = self._inverse(products, min(wp.shape[0] for wp in masks))
        H, W = self.shape
        out = []
        for i, wp in enumerate(masks):
            m = maps[i, :, :H - wp.shape[0] + 1, :W - wp.shape[1] + 1].astype(np.float64)
            varsum = m[C] - np.sum(m[:C] * m[:C], axis=0) / wp.count
            ok = varsum > SEARCH_FLAT * wp.count * self.mean_square
            inv = np.zeros(varsum.shape, np.float32)
            inv[ok] = 1.0 / np.sqrt(varsum[ok])
            out.append(inv)
        return out


def fast_length(n):
    """The smallest 2^a 3^b 5^c >= n (a transform length pocketfft handles fastest).

    Examples
    --------
    >>> fast_length(135), fast_length(241), fast_length(1)
    (135, 243, 1)
    """
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def level_centre_to_full(value, level):
    """Full-resolution coordinate of a level-``level`` coordinate."""
    return value * 2 ** level


def full_to_level(value, level):
    """Level-``level`` coordinate of a full-resolution coordinate."""
    return value / 2 ** level


def upsample_best(best, level, shape):
    """The level's best-score map at full resolution (nearest level pixel), NaN where unscored."""
    H, W = shape
    values = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    if level == 0:
        return values
    f = 2 ** level
    rows = np.minimum((np.arange(H) + f // 2) // f, best.shape[0] - 1)
    cols = np.minimum((np.arange(W) + f // 2) // f, best.shape[1] - 1)
    return values[np.ix_(rows, cols)]
