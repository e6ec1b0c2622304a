"""Bands of rows of a convolution: one kernel planned for the whole image, run on any band.

A strip pipeline (:mod:`imgconv.stream`) computes a result one band of rows at a time. A band
is given a block of rows and a row map: for each row of the band and of the rows its kernel
reaches above and below it (its halo), extended by the boundary mode where the band touches
the image's top or bottom, the row of the block it is (-1: cval). The engine reads the rows
through the map (never building the extended block: a 1-row picture under a 4097-row kernel
stays one row) and extends the columns as usual. The method -- and for ``fft`` the tile
plan -- is chosen once, for the whole image, exactly as :func:`imgconv.engine.convolve`
chooses it, so each pixel of a band is computed by the same arithmetic as in the whole
image: the results are bit-identical. (An
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
>>> band = plan.band(img, np.arange(4 - above, 9 + below), "reflect", 0.0)  # rows 4..8
>>> bool(np.array_equal(band, convolve(img, k)[4:9]))
True
"""
from dataclasses import dataclass

import numpy as np

from imgconv.engine.operands import as_kernel, oriented
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

    def band(self, block, rows, mode, cval):
        """The result rows of a band, from a block of source rows and the band's row map.

        ``block`` is float32 rows x W x C; ``rows`` (integers, n + h - 1 of them for n result
        rows) names for each row of the band extended by the kernel's :attr:`reach` the row of
        ``block`` it is, as ``mode`` extends the image past its top and bottom (-1: cval, in
        ``constant`` mode). Returns float32 n x W x C, exactly the whole image's rows.
        """
        from imgconv.engine.direct import correlate_direct
        from imgconv.engine.fft import correlate_fft
        from imgconv.engine.separable import correlate_separable

        cval = float(cval)
        rows = np.asarray(rows, np.int64)
        if self.plan.method == "direct":
            return correlate_direct(block, self.kernel, self.anchor, mode, cval, self.plan.compiled, rows=rows)
        if self.plan.method == "separable":
            return correlate_separable(block, self.factors, self.anchor, mode, cval, self.plan.compiled, rows=rows)
        return correlate_fft(block, self.kernel, self.anchor, mode, cval, self.plan.tile, rows=rows)


def plan_rows(shape, kernel, *, method="auto", correlate=False):
    """The :class:`RowPlan` of ``kernel`` on an image of ``shape`` (H, W, C): the method
    :func:`imgconv.engine.convolve` would use on the whole image (same settings)."""
    from imgconv.engine.separable import low_rank_factors

    k, anchor = oriented(as_kernel(kernel, 2), correlate)
    factors = low_rank_factors(k)
    return RowPlan(tuple(shape), k, anchor, factors, plan_method(tuple(shape), k, method, factors))
