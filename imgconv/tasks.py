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
class PixelOptions:
    """What the pixels mean and how the border is modelled: shared by filter and deconvolve."""

    mode: str = "reflect"
    cval: float = 0.0
    channels: str = "all"
    alpha: str = "auto"
    linear: bool = False
    nan: str = "propagate"
    #: a path to a mask image (0 = missing), read by each task
    valid: str = None
    absolute: bool = False


@dataclass(frozen=True)
class FilterOptions(PixelOptions):
    """How ``imgconv filter`` filters: the keyword arguments of :func:`imgconv.filter_image`."""

    method: str = "auto"
    correlate: bool = False
    normalize: bool = False
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class OutputOptions:
    """How every task reads its input and writes its result.

    ``depth`` is 8, 16, ``"float"`` or None (the input's); ``format`` an extension for
    stdout (a file's own extension names its format); ``max_pixels`` the read limit;
    ``background`` the RGB colour (0..1) under a picture with alpha written to JPEG or BMP.
    ``frames`` ``"all"`` (every frame or page, written back together) or ``"first"``;
    ``volume`` reads stacks as Z x Y x X [x C] volumes (:mod:`imgconv.stacks`).
    """

    depth: object = None
    quality: int = None
    format: str = None
    max_pixels: int = None
    background: tuple = (1.0, 1.0, 1.0)
    frames: str = "all"
    volume: bool = False


def read_input(job, output):
    """Read ``job.src`` as a :class:`imgconv.imageio.Picture` within ``output.max_pixels``."""
    from imgconv.imageio import read_image

    return read_image(job.src, **({} if output.max_pixels is None else {"max_pixels": output.max_pixels}))


def read_valid(path, output):
    """The ``--valid`` mask image at ``path`` (a Picture), or None."""
    if path is None:
        return None
    from imgconv.imageio import read_image

    return read_image(path, **({} if output.max_pixels is None else {"max_pixels": output.max_pixels}))


def finish(job, result, picture, output, *, cval, notes, **clip_note):
    """``result`` ready for ``job.dst`` (:func:`imgconv.outputs.finish_result`), notes appended;
    ``clip_note`` (``fixes=``, ``cause=``) words the clipping note."""
    from imgconv.outputs import finish_result, output_extension

    extension = output_extension(job.dst, output.format if job.dst == "-" else None, picture.format)
    return finish_result(result, has_alpha=picture.has_alpha, extension=extension, depth=output.depth,
                         source_depth=picture.depth, background=output.background, cval=cval,
                         notes=notes, **clip_note)


def write_result(job, result, picture, output):
    """Write ``result`` to ``job.dst`` atomically, with ``picture``'s metadata and depth; replace an
    existing file only if ``job.replace``.  Returns the notes (metadata the format cannot store)."""
    from pathlib import Path

    from imgconv.errors import ImageWriteError
    from imgconv.imageio import write_image
    from imgconv.paths import make_folders

    if job.dst != "-":
        try:
            make_folders(Path(job.dst).parent)  # mirrored trees under -o DIR, of any depth
        except OSError as exc:
            raise ImageWriteError(f"cannot create the folder {exc.filename}: {exc.strerror or exc}", job.dst) from None
    notes = []
    write_image(job.dst, result, depth=output.depth, like=picture, quality=output.quality,
                format=output.format if job.dst == "-" else None, overwrite=getattr(job, "replace", True), notes=notes)
    return notes


@dataclass(frozen=True)
class FilterTask:
    """``imgconv filter`` for one file: kernels (specs or Kernels), filter and output options."""

    kernels: tuple = ()
    options: FilterOptions = field(default_factory=FilterOptions)
    output: OutputOptions = field(default_factory=OutputOptions)

    def __call__(self, job):
        from imgconv.filtering import filter_image
        from imgconv.stacks import filter_stack

        if (notes := filter_stack(job, self)) is not None:  # several frames, or a volume
            return notes
        picture = read_input(job, self.output)
        notes = list(picture.notes)
        options = dataclasses.asdict(self.options)
        options["valid"] = read_valid(self.options.valid, self.output)
        result = filter_image(picture, self.kernels, notes=notes, **options)
        result = finish(job, result, picture, self.output, cval=self.options.cval, notes=notes)
        notes += write_result(job, result, picture, self.output)
        return notes


@dataclass(frozen=True)
class DeconvolveOptions(PixelOptions):
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
        from imgconv.stacks import deconvolve_stack

        if (notes := deconvolve_stack(job, self)) is not None:  # several frames, or a volume
            return notes
        picture = read_input(job, self.output)
        notes = list(picture.notes)
        options = dataclasses.asdict(self.options)
        options["valid"] = read_valid(self.options.valid, self.output)
        result = deconvolve_picture(picture, self.psf, progress=self.progress, notes=notes, **options)
        result = finish(job, result, picture, self.output, cval=self.options.cval, notes=notes,
                        fixes="--depth float", cause="overshoot next to edges")
        notes += write_result(job, result, picture, self.output)
        return notes
