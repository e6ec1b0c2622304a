"""The row pipeline: a chain of kernels computed strip by strip, bit-identical to the whole image.

Every stage of a chain is a random-access source of rows. ``rows(a, b)`` of a kernel's stage
filters the rows of the stage before that rows ``a..b`` need: the rows its matrices reach
above and below, mapped at the image's top and bottom by the boundary mode exactly as the
engine maps them (:func:`imgconv.engine.boundary.source_index`: a few contiguous runs, also
for ``wrap``), then each matrix runs on that block (:mod:`imgconv.engine.rows`: columns
extended as usual, the block's own edges never used) and the results combine as
:func:`imgconv.filtering.apply_kernel` combines them. Stage 0 is the picture's colour planes,
prepared from the decoded rows as :func:`imgconv.filtering.filter_image` prepares the whole
image (alpha split or premultiplied, linear light, grey, luma). A kernel's stage computes its rows in strips of a fixed
height and keeps the last few, so a chain computes each strip of each stage once (twice at
most near the border in ``wrap`` mode).

Methods are planned once, on the whole image's shape, as the whole-image path plans them; the
strip height of a kernel that runs by FFT is a multiple of its tile height, so its strips are
made of the very tiles of the whole image.

Examples
--------
>>> import numpy as np
>>> from imgconv.filtering import filter_image
>>> from imgconv.imageio import Picture
>>> picture = Picture(np.random.default_rng(0).random((30, 8, 3), dtype=np.float32))
>>> whole = filter_image(picture, ["gaussian:sigma=1", "sobel"], mode="wrap")
>>> chain = Chain(ArrayRows(picture), ["gaussian:sigma=1", "sobel"], mode="wrap")
>>> strips = [pixels for _, _, pixels in chain.strips(7)]
>>> bool(np.array_equal(np.concatenate(strips), whole))
True
"""
import math
from collections import OrderedDict

import numpy as np

from imgconv.engine.boundary import check_mode, distinct, source_index


class ArrayRows:
    """Rows of float pixels held in memory (a :class:`~imgconv.imageio.Picture` or an array):
    the simplest row source (:mod:`imgconv.stream.sources` has the others)."""

    def __init__(self, picture, has_alpha=None):
        self.values = np.asarray(picture, dtype=np.float32)
        self.has_alpha = getattr(picture, "has_alpha", None) if has_alpha is None else has_alpha
        if self.has_alpha is None:
            self.has_alpha = self.values.ndim == 3 and self.values.shape[-1] in (2, 4)
        self.depth = getattr(picture, "depth", None)
        self.shape = self.values.shape

    def pixels(self, a, b):
        """float32 pixels of rows ``a..b``."""
        return self.values[a:b]


class ColourRows:
    """Stage 0: the planes the chain filters (H x W x C float32, C = 1 for grey), prepared from
    the source's rows by :func:`imgconv.pixels.prepare_pixels` as
    :func:`imgconv.filtering.filter_image` prepares the whole picture (alpha split or
    premultiplied, linear light, grey or luma); :meth:`finish` takes the chain's result rows back
    to output pixels by :func:`imgconv.pixels.finish_pixels`. ``alpha`` is resolved already;
    the note on ``linear`` for a float source goes to ``notes``, once."""

    def __init__(self, source, *, alpha="keep", linear=False, channels="all", absolute=False, scale=1.0,
                 offset=0.0, notes=None):
        from imgconv.pixels import Prepared, finish_pixels, prepare_pixels

        self.source = source
        self._prepare = dict(has_alpha=source.has_alpha, alpha=alpha, linear=linear, channels=channels,
                             depth=getattr(source, "depth", None))
        self._finish = dict(absolute=absolute, scale=scale, offset=offset)
        height, width = source.shape[:2]
        probe = prepare_pixels(np.zeros((1,) + tuple(source.shape[1:]), np.float32), notes=notes, **self._prepare)
        self.grey = probe.stack.ndim == 2  # the whole picture's stack is H x W: the engine sees one plane
        self.shape = (height, width, 1 if self.grey else probe.stack.shape[-1])
        out = finish_pixels(probe.stack, probe, **self._finish)
        #: channels of the output pixels: the colour planes (RGB again for luma) and the alpha
        self.out_channels = 1 if out.ndim == 2 else out.shape[-1]
        # what finish needs of the source rows again: their alpha (kept straight) or YCbCr
        self._context = (probe.alpha is not None and not probe.premultiplied) or probe.ycc is not None
        self._bare = Prepared(None, decoded=probe.decoded, premultiplied=probe.premultiplied)

    def _prepared(self, a, b):
        from imgconv.pixels import prepare_pixels

        return prepare_pixels(self.source.pixels(a, b), **self._prepare)

    def rows(self, a, b):
        """Rows ``a..b`` of the stack, H x W x C."""
        stack = self._prepared(a, b).stack
        return stack[..., None] if self.grey else stack

    def finish(self, a, b, out):
        """The output pixels of rows ``a..b`` from the chain's result ``out`` there: divided back by
        the filtered alpha, ``absolute``, ``scale``, ``offset``, the chroma put back, sRGB encoded,
        alpha joined, as :func:`imgconv.pixels.process_pixels` does."""
        from imgconv.pixels import finish_pixels

        if self.grey:
            out = out[..., 0]
        return finish_pixels(out, self._prepared(a, b) if self._context else self._bare, **self._finish)


class KernelRows:
    """One kernel of the chain: its result's rows, computed ``height`` rows at a time from the
    rows of ``previous`` with the :class:`~imgconv.engine.rows.RowPlan` of each of its matrices;
    the last ``keep`` strips stay for the overlapping requests of the next stage."""

    def __init__(self, previous, kernel, plans, *, mode, cval, height, keep=2):
        self.previous, self.kernel, self.plans = previous, kernel, plans
        self.shape = previous.shape
        self.mode, self.cval, self.height, self.keep = mode, float(cval), height, keep
        self.above = max(p.reach[0] for p in self.plans)
        self.below = max(p.reach[1] for p in self.plans)
        self._strips = OrderedDict()

    def rows(self, a, b):
        first, last = a // self.height, (b - 1) // self.height
        parts = [self._strip(i) for i in range(first, last + 1)]
        start = first * self.height
        if len(parts) == 1:
            return parts[0][a - start:b - start]
        return np.concatenate(parts)[a - start:b - start]

    def _strip(self, index):
        if index in self._strips:
            self._strips.move_to_end(index)
            return self._strips[index]
        from imgconv.filtering import combine

        a, b = index * self.height, min(self.shape[0], (index + 1) * self.height)
        block, rows = context(self.previous, a, b, self.above, self.below, self.mode)

        def results():  # each matrix reads the part of the row map its own reach spans
            for plan in self.plans:
                up, down = plan.reach
                yield plan.band(block, rows[self.above - up:len(rows) - (self.below - down)], self.mode, self.cval)

        rows = combine(self.kernel, results())
        if self.keep:
            self._strips[index] = rows
        while len(self._strips) > self.keep:
            self._strips.popitem(last=False)
        return rows


def context(stage, a, b, above, below, mode):
    """Rows ``a..b`` of ``stage`` with ``above`` and ``below`` rows of context: ``(block, rows)``,
    the distinct rows of ``stage`` they are, and the row map of the band into that block.

    Past the image's top and bottom the context is mapped by ``mode``, as the engine extends
    the whole image (``-1``: cval, in ``constant`` mode); each row of ``stage`` is in the block
    once, so rows the border repeats (a kernel taller than the image) are not copied.

    Examples
    --------
    >>> rows = ArrayRows(np.arange(5, dtype=np.float32)[:, None])
    >>> block, index = context(ColourRows(rows), 0, 2, 2, 1, "reflect")
    >>> block[:, 0, 0].tolist(), index.tolist()
    ([0.0, 1.0, 2.0], [1, 0, 0, 1, 2])
    >>> context(ColourRows(rows), 3, 5, 1, 2, "constant")[1].tolist()
    [0, 1, 2, -1, -1]
    """
    index = source_index(stage.shape[0], above, below, mode)[a:b + above + below]
    needed = distinct(index[index >= 0])[0]
    runs = np.split(needed, np.flatnonzero(np.diff(needed) != 1) + 1)  # contiguous runs of rows
    parts = [stage.rows(int(run[0]), int(run[-1]) + 1) for run in runs]
    block = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return block, np.where(index >= 0, np.searchsorted(needed, index), -1)


class Chain:
    """A chain of kernels over a row source, with the options of :func:`imgconv.filter_image`
    (all but ``valid``: a mask, and pixels that are missing, take the whole-image path).

    ``source`` has ``shape`` (the pixels' H x W [x C]), ``has_alpha``, ``depth`` (a Picture's,
    or None) and ``pixels(a, b)`` (float32 rows as :func:`imgconv.read_image` would give them).
    The note on ``linear`` for a float source is appended to ``notes``.
    """

    def __init__(self, source, kernels, *, mode="reflect", cval=0.0, method="auto", correlate=False,
                 normalize=False, scale=1.0, offset=0.0, channels="all", alpha="auto", linear=False,
                 nan="propagate", absolute=False, notes=None):
        from imgconv.alpha import resolve_alpha_mode
        from imgconv.engine.oneoff import charged_once
        from imgconv.engine.rows import plan_rows
        from imgconv.filtering import applied_matrices, check_chain, resolve_kernels

        chain = resolve_kernels(kernels)
        check_chain(chain, nan, normalize)
        matrices = applied_matrices(chain, normalize)
        self.colour = ColourRows(source, alpha=resolve_alpha_mode(alpha, matrices), linear=linear, channels=channels,
                                 absolute=absolute, scale=scale, offset=offset, notes=notes)
        check_mode(mode)
        self.shape = self.colour.shape
        self.kernels = [k.normalized() if normalize or k.normalize else k for k in chain]
        #: the RowPlan of every matrix of every kernel, in order: planned once, on the whole image, as
        #: filter_image plans them (one load of the compiled loops charged to the whole chain)
        planes = self.shape[:2] if self.colour.grey else self.shape
        with charged_once(planes, matrices, method=method, correlate=correlate):
            self.plans = [[plan_rows(self.shape, m, method=method, correlate=correlate) for m in k.matrices]
                          for k in self.kernels]
        self.mode, self.cval = mode, cval

    def units(self):
        """What each kernel's strip height must be a multiple of: the FFT tile heights of its
        matrices (1 when none runs by FFT)."""
        return [math.lcm(1, *(p.tile_rows for p in plans)) for plans in self.plans]

    def heights(self, rows):
        """The strip height of each kernel for strips of about ``rows`` rows: ``rows`` rounded
        down to a multiple of the kernel's unit (at least one unit, at most the image)."""
        return [min(self.shape[0], max(unit, rows // unit * unit)) for unit in self.units()]

    def _stages(self, rows):
        """The kernels' row stages for strips of about ``rows`` rows, each keeping the strips one
        request of the next stage spans, and one more for the overlap of consecutive requests
        (the last stage none: each of its strips is asked for once)."""
        heights = self.heights(rows)
        reaches = [(max(p.reach[0] for p in plans), max(p.reach[1] for p in plans)) for plans in self.plans]
        keeps = [2 + -(-(after + above + below) // height)
                 for height, after, (above, below) in zip(heights, heights[1:], reaches[1:])] + [0]
        stage, stages = self.colour, []
        for kernel, plans, height, keep in zip(self.kernels, self.plans, heights, keeps):
            stage = KernelRows(stage, kernel, plans, mode=self.mode, cval=self.cval, height=height, keep=keep)
            stages.append(stage)
        return stages

    def strip_height(self, rows):
        """The height of the output strips for strips of about ``rows`` rows (the last kernel's)."""
        return self.heights(rows)[-1]

    def strips(self, rows):
        """Yield ``(a, b, pixels)`` for consecutive strips of the output, of :meth:`strip_height`
        rows: ``pixels`` are rows ``a..b`` of :func:`imgconv.filter_image`'s result, bit for bit
        (float overflow gives infinity, without a warning, as there)."""
        last = self._stages(rows)[-1]
        for a in range(0, self.shape[0], last.height):
            b = min(self.shape[0], a + last.height)
            with np.errstate(over="ignore", invalid="ignore"):
                pixels = self.colour.finish(a, b, last.rows(a, b))
            yield a, b, pixels

    def strip_bytes(self, rows, threads=1):
        """About how many bytes the pipeline holds with strips of about ``rows`` rows (for the
        memory budget): the rows each stage keeps and computes, the engine's copies, FFT tiles."""
        from imgconv.engine.fft import fft_shape

        _, width, planes = self.shape
        source = self.colour.source.shape
        plane_row = width * planes * 4
        stages = self._stages(rows)
        first = stages[0]
        given = 1 if len(source) == 2 else source[2]
        total = (first.height + first.above + first.below) * width * (given + planes + 3) * 4  # pixels, YCbCr
        for stage in stages:
            rows = stage.height
            total += (stage.keep + 1) * rows * plane_row + (rows + stage.above + stage.below) * plane_row
            for plan in stage.plans:
                h, w = plan.kernel.shape
                total += rows * plane_row + (rows + h - 1) * plane_row  # its band, a contiguous copy
                if plan.plan.method == "fft":
                    itemsize = 4 if np.abs(plan.kernel).sum() <= 64 else 8
                    ny, nx = fft_shape(plan.plan.tile[0], h), fft_shape(plan.plan.tile[1], w)
                    total += (rows + h - 1) * (width + w - 1) * planes * itemsize  # padded
                    total += 3 * threads * ny * (nx + 2) * planes * itemsize  # a tile and its spectrum each
        return total + 3 * stages[-1].height * width * self.colour.out_channels * 4  # scale, chroma, alpha
