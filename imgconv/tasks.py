"""Per-file tasks: read one image, process it, write the result atomically.

Each task is a small picklable object called with a :class:`imgconv.batch.Job`,
so the same code runs inline, in worker processes, or on a Dask cluster.

Examples
--------
>>> task = FilterTask(kernels=("gaussian:sigma=2",))
>>> task.options["mode"]
'reflect'
"""
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class _OutputOptions:
    """What every task needs to read its input and write its output."""

    depth: object = None
    quality: int = None
    fmt: str = None
    max_pixels: int = None

    def _read(self, job):
        from imgconv.imageio import read_image

        return read_image(job.src, **({} if self.max_pixels is None else {"max_pixels": self.max_pixels}))

    def _write(self, job, result, picture):
        from pathlib import Path

        from imgconv.imageio import write_image

        if job.dst != "-":
            Path(job.dst).parent.mkdir(parents=True, exist_ok=True)  # mirrored trees under -o DIR
        write_image(job.dst, result, depth=self.depth, like=picture, quality=self.quality,
                    format=self.fmt if job.dst == "-" else None)  # a file's extension names its format


@dataclass
class FilterTask(_OutputOptions):
    """``imgconv filter`` for one file: kernels (specs) and the filter options."""

    kernels: tuple = ()
    options: dict = field(default_factory=lambda: {"mode": "reflect"})

    def __call__(self, job):
        from imgconv.filtering import filter_image

        picture = self._read(job)
        self._write(job, filter_image(picture, self.kernels, **self.options), picture)
        return picture.notes


@dataclass
class DeconvolveTask(_OutputOptions):
    """``imgconv deconvolve`` for one file: a validated PSF and the method's settings."""

    psf: object = None
    method: str = "wiener"
    balance: float = None
    iterations: int = 30
    progress: bool = False  # a progress bar on stderr once the work takes over a second

    def __call__(self, job):
        from imgconv.deconvolve import deconvolve_picture

        picture = self._read(job)
        bar = _LazyBar(f"deconvolving {Path(str(job.src)).name}") if self.progress else None
        try:
            result = deconvolve_picture(picture.pixels, self.psf, has_alpha=picture.has_alpha,
                                        method=self.method, balance=self.balance,
                                        iterations=self.iterations, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        self._write(job, result, picture)
        return picture.notes


class _LazyBar:
    """A progress callback that shows a click progress bar on stderr once work has taken over 1 s."""

    def __init__(self, label, delay=1.0):
        self.label = label
        self.delay = delay
        self.start = time.perf_counter()
        self.bar = None
        self.shown = 0

    def __call__(self, done, total):
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay or done >= total:
                return
            import click

            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
