"""Per-file tasks: read one image, process it, write the result atomically.

Each task is a small frozen, picklable object called with a :class:`imgconv.batch.Job`,
so the same code runs inline, in worker processes, or on a Dask cluster.

Examples
--------
>>> task = FilterTask(kernels=("gaussian:sigma=2",))
>>> task.options.mode, task.output.depth
('reflect', None)
"""
import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FilterOptions:
    """How ``imgconv filter`` filters: the keyword arguments of :func:`imgconv.filter_image`."""

    mode: str = "reflect"
    cval: float = 0.0
    method: str = "auto"
    correlate: bool = False
    normalize: bool = False
    scale: float = 1.0
    offset: float = 0.0
    channels: str = "all"


@dataclass(frozen=True)
class OutputOptions:
    """How every task reads its input and writes its result.

    ``depth`` is 8, 16, ``"float"`` or None (the input's); ``format`` an extension for
    stdout (a file's own extension names its format); ``max_pixels`` the read limit.
    """

    depth: object = None
    quality: int = None
    format: str = None
    max_pixels: int = None


def read_input(job, output):
    """Read ``job.src`` as a :class:`imgconv.imageio.Picture` within ``output.max_pixels``."""
    from imgconv.imageio import read_image

    return read_image(job.src, **({} if output.max_pixels is None else {"max_pixels": output.max_pixels}))


def write_result(job, result, picture, output):
    """Write ``result`` to ``job.dst`` atomically, with ``picture``'s metadata and depth."""
    from pathlib import Path

    from imgconv.errors import ImageWriteError
    from imgconv.imageio import write_image

    if job.dst != "-":
        folder = Path(job.dst).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)  # mirrored trees under -o DIR
        except OSError as exc:  # the output's fault, not the input's
            raise ImageWriteError(f"cannot create the folder {exc.filename or folder}: {exc.strerror or exc}",
                                  job.dst) from None
    write_image(job.dst, result, depth=output.depth, like=picture, quality=output.quality,
                format=output.format if job.dst == "-" else None)


@dataclass(frozen=True)
class FilterTask:
    """``imgconv filter`` for one file: kernels (specs or Kernels), filter and output options."""

    kernels: tuple = ()
    options: FilterOptions = field(default_factory=FilterOptions)
    output: OutputOptions = field(default_factory=OutputOptions)

    def __call__(self, job):
        from imgconv.filtering import filter_image

        picture = read_input(job, self.output)
        result = filter_image(picture, self.kernels, **dataclasses.asdict(self.options))
        write_result(job, result, picture, self.output)
        return picture.notes


@dataclass(frozen=True)
class DeconvolveOptions:
    """How ``imgconv deconvolve`` deconvolves: the keyword arguments of :func:`imgconv.deconvolve`."""

    method: str = "wiener"
    balance: float = None
    iterations: int = 30


@dataclass(frozen=True)
class DeconvolveTask:
    """``imgconv deconvolve`` for one file: a validated PSF, the method's and output options.

    ``progress`` (not picklable in general: only for inline runs) is called as
    ``progress(done, total)`` while Richardson-Lucy iterates.
    """

    psf: object = None
    options: DeconvolveOptions = field(default_factory=DeconvolveOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    progress: object = None

    def __call__(self, job):
        from imgconv.deconvolve import deconvolve_picture

        picture = read_input(job, self.output)
        result = deconvolve_picture(picture.pixels, self.psf, has_alpha=picture.has_alpha,
                                    progress=self.progress, **dataclasses.asdict(self.options))
        write_result(job, result, picture, self.output)
        return picture.notes
