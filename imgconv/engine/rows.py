"""Bands of rows of a convolution: one kernel planned for the whole image, run on any band.

A strip pipeline (:mod:`imgconv.stream`) computes a result one band of rows at a time. A band
is given the rows its kernel reaches above and below it (its halo), already extended by the
boundary mode where the band touches the image's top or bottom; the engine then extends only
the columns. The method -- and for ``fft`` the tile plan -- is chosen once, for the whole
image, exactly as :func:`imgconv.engine.convolve` chooses it, so each pixel of a band is
computed by the same arithmetic as in the whole image: the results are bit-identical. (An
``fft`` band must start on a multiple of :attr:`RowPlan.tile_rows`, where the whole image's
tiles start, and end on one or at the bottom.)

Examples
--------
>>> import numpy as np
>>> from imgconv.engine import convolve
>>> img = np.random.default_rng(0).random((20, 9, 1), dtype=np.float32)
>>> k = np.arange(15.0).reshape(3, 5)
>>> plan = plan_rows(img.shape, k)
>>> above, below = plan.reach
>>> band = plan.band(img[4 - above:9 + below], (above, below), "reflect", 0.0)  # rows 4..8
>>> bool(np.array_equal(band, convolve(img, k)[4:9]))
True
"""
from dataclasses import dataclass

import numpy as np

from imgconv.engine import _as_kernel, _oriented
from imgconv.engine.planner import MethodPlan, plan_method


@dataclass(frozen=True, eq=False)
class RowPlan:
    """One kernel matrix, oriented and planned for an image of ``shape`` (H, W, C)."""

    shape: tuple
    kernel: np.ndarray  # as correlated: flipped for a convolution
    anchor: tuple
    factors: tuple
    plan: MethodPlan

    @property
    def reach(self):
        """``(above, below)``: the rows of the source one result row needs on each side."""
        return self.anchor[0], self.kernel.shape[0] - 1 - self.anchor[0]

    @property
    def tile_rows(self):
        """Rows a band's start (and length, but for the last band) must be a multiple of: the
        FFT tile height for ``fft``, else 1."""
        return self.plan.tile[0] if self.plan.method == "fft" else 1

    def band(self, block, halo, mode, cval):
        """The result rows of a band, from the band's source rows and their context.

        ``block`` is float32 (above + n + below) x W x C: the n source rows of the band with
        ``halo = (above, below)`` rows of context. The context must cover the kernel's
        :attr:`reach`, extended by ``mode`` past the image's top or bottom -- except in
        ``constant`` mode, where rows past the image are left out (the engine supplies cval,
        exactly as in the whole image). Returns float32 n x W x C.
        """
        from imgconv.engine.direct import correlate_direct
        from imgconv.engine.fft import correlate_fft
        from imgconv.engine.separable import correlate_separable

        cval = float(cval)
        if self.plan.method == "direct":
            return correlate_direct(block, self.kernel, self.anchor, mode, cval, self.plan.compiled, halo=halo)
        if self.plan.method == "separable":
            return correlate_separable(block, self.factors, self.anchor, mode, cval, self.plan.compiled, halo=halo)
        return correlate_fft(block, self.kernel, self.anchor, mode, cval, self.plan.tile, halo=halo)


def plan_rows(shape, kernel, *, method="auto", correlate=False):
    """The :class:`RowPlan` of ``kernel`` on an image of ``shape`` (H, W, C): the method
    :func:`imgconv.engine.convolve` would use on the whole image (same settings)."""
    from imgconv.engine.separable import low_rank_factors

    k, anchor = _oriented(_as_kernel(kernel), correlate)
    factors = low_rank_factors(k)
    return RowPlan(tuple(shape), k, anchor, factors, plan_method(tuple(shape), k, method, factors))
