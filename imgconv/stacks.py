"""Tasks on stacks: every frame of an animation or page of a multi-page TIFF, and volumes.

:func:`filter_stack` and :func:`deconvolve_stack` are the first step of
:class:`imgconv.tasks.FilterTask` and :class:`imgconv.tasks.DeconvolveTask`: they handle an
input that is several frames or a volume and return its notes, or return None for one
plain image, which the task then processes as always. The rule:

* a volume (:mod:`imgconv.imageio.volume`) with ``--volume`` (``OutputOptions.volume``), with
  a 3-D kernel or PSF, or for a ``.npy`` that cannot be an image (3-D with more than 4
  values on its last axis, or 4-D): filtered in 3-D (2-D kernels plane by plane) and
  written as an ImageJ TIFF or ``.npy``. A 3-D kernel on a single 2-D image is refused;
* several frames or pages with ``frames="all"`` (the default): each filtered as an image,
  all written back with durations, loop, disposal and page order
  (:mod:`imgconv.imageio.frames`); a destination that holds one image is refused before
  any work. ``frames="first"`` reads the first only, with a note (as ``match`` does);
* standard input is read once, whatever it holds.

Examples
--------
>>> from imgconv.tasks import OutputOptions
>>> import io, numpy as np
>>> buffer = io.BytesIO(); np.save(buffer, np.zeros((3, 8, 8), np.float32))
>>> kind_of(buffer.getvalue(), OutputOptions(), needs_volume=False)
'volume'
"""
import io

from imgconv.errors import ImgconvError

#: The extension written to standard output for a source format (without --format).
_EXTENSIONS = {"GIF": "gif", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "NPY": "npy"}


def _source(job):
    """The job's source, standard input read once into a buffer named ``-``."""
    if job.src != "-":
        return job.src
    import sys

    buffer = io.BytesIO(sys.stdin.buffer.read())
    buffer.name = "-"
    return buffer


def _rewind(source):
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def kind_of(source, output, needs_volume):
    """``"volume"``, ``"frames"`` or None (one image) for ``source`` under ``output`` options."""
    from imgconv.imageio.frames import count_frames
    from imgconv.imageio.npy import MAGIC

    if needs_volume or output.volume:
        return "volume"
    if _npy_volume(_rewind(source), MAGIC):
        return "volume"
    if output.frames == "all" and count_frames(_rewind(source))[0] > 1:
        return "frames"
    return None


def _npy_volume(source, magic):
    """Whether ``source`` is a ``.npy`` whose shape is a volume, not an image."""
    from imgconv.imageio.npy import read_npy

    head = source.read(len(magic)) if hasattr(source, "read") else _head(source, len(magic))
    if head != magic:
        return False
    found = []

    def header_only(shape, dtype):  # the array's own shape, then stop before any data
        found.append(shape)
        raise ImgconvError("header read")

    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else _rewind(source)
    try:
        read_npy(data, check=header_only)
    except ImgconvError:
        pass
    if not found:
        return False  # not a valid .npy: the image reader reports it
    shape = found[0]
    return len(shape) == 4 or (len(shape) == 3 and shape[-1] > 4)


def _is_stack(source):
    """Whether ``source`` holds several planes: a ``.npy`` volume, or several frames or pages."""
    from imgconv.imageio.frames import count_frames
    from imgconv.imageio.npy import MAGIC
    from imgconv.imageio.volume import probe_volume

    source = _rewind(source)
    head = source.read(len(MAGIC)) if hasattr(source, "read") else _head(source, len(MAGIC))
    if head == MAGIC:
        return probe_volume(_rewind(source))[0] > 1
    return count_frames(_rewind(source))[0] > 1


def _head(path, n):
    if isinstance(path, (bytes, bytearray)):
        return bytes(path[:n])
    try:
        with open(path, "rb") as fp:
            return fp.read(n)
    except (OSError, TypeError, ValueError):
        return b""


def _run(job, output, frame, volume, needs_volume):
    """Process ``job`` as frames or a volume: its notes; None for one plain image from a file."""
    from imgconv.imageio.frames import check_frames_destination, count_frames, read_frames, write_frames
    from imgconv.imageio.volume import check_volume_destination, read_volume, write_volume

    source = _source(job)
    limit = {} if output.max_pixels is None else {"max_pixels": output.max_pixels}
    fmt = output.format if job.dst == "-" else None
    kind = kind_of(source, output, needs_volume)
    if kind == "volume":
        if needs_volume and not output.volume and not _is_stack(source):
            raise ImgconvError("a 3-D kernel filters volumes: give a multi-page TIFF, a 3-D .npy, or --volume",
                               getattr(source, "name", source))
        if fmt is not None or job.dst != "-":
            check_volume_destination(job.dst, fmt)  # before any work
        stack = read_volume(_rewind(source), **limit)
        result = volume(stack)
        _prepare(job)
        fmt = fmt or (_EXTENSIONS.get(stack.format) if job.dst == "-" else None)
        write_volume(job.dst, result, like=stack, depth=output.depth, format=fmt,
                     overwrite=getattr(job, "replace", True))
        return stack.notes
    if kind == "frames":
        count, source_format = count_frames(_rewind(source))
        fmt = fmt or (_EXTENSIONS.get(source_format) if job.dst == "-" else None)
        check_frames_destination(job.dst, count, fmt)  # before any work
        stack = read_frames(_rewind(source), **limit)
        results = [frame(picture) for picture in stack.pictures]
        _prepare(job)
        write_frames(job.dst, results, like=stack, depth=output.depth, quality=output.quality, format=fmt,
                     overwrite=getattr(job, "replace", True))
        return stack.notes
    if job.src != "-":
        return None
    from imgconv.tasks import read_input, write_result  # one image from standard input, read already

    picture = read_input(type(job)(_rewind(source), job.dst), output)
    write_result(job, frame(picture), picture, output)
    return picture.notes


def _prepare(job):
    """The output's folder, for mirrored trees under ``-o DIR``."""
    if job.dst != "-":
        from pathlib import Path

        Path(job.dst).parent.mkdir(parents=True, exist_ok=True)


#: The pixel options a volume does not take yet (their default values).
_PLANE_ONLY = {"linear": False, "nan": "propagate", "valid": None, "absolute": False}


def _volume_options(options, own):
    """``options`` restricted to the keys ``own`` of the volume path; a non-default pixel option
    that only images take is refused in one line."""
    used = [k for k, default in _PLANE_ONLY.items() if options.get(k, default) != default]
    if used:
        flags = ", ".join("--" + ("abs" if k == "absolute" else k) for k in used)
        raise ImgconvError(f"{flags}: not supported for volumes yet (images and frames only)")
    return {k: v for k, v in options.items() if k in own}


def _frame_options(task):
    """The task's options for one frame, with the ``--valid`` mask read."""
    import dataclasses

    from imgconv.tasks import read_valid

    options = dataclasses.asdict(task.options)
    options["valid"] = read_valid(task.options.valid, task.output)
    return options


def filter_stack(job, task):
    """:class:`imgconv.tasks.FilterTask` on frames or a volume: its notes, or None for one image."""
    import dataclasses

    from imgconv.filtering import filter_image, resolve_kernels
    from imgconv.volume_filter import VOLUME_OPTIONS, filter_volume

    chain = resolve_kernels(task.kernels)

    def frame(picture):
        return filter_image(picture, chain, **_frame_options(task))

    def volume(stack):
        return filter_volume(stack, chain, **_volume_options(dataclasses.asdict(task.options), VOLUME_OPTIONS))

    return _run(job, task.output, frame, volume, any(k.ndim == 3 for k in chain))


def deconvolve_stack(job, task):
    """:class:`imgconv.tasks.DeconvolveTask` on frames or a volume: its notes, or None for one image."""
    import dataclasses

    from imgconv.deconvolve import deconvolve_picture
    from imgconv.volume_filter import deconvolve_volume

    def frame(picture):
        return deconvolve_picture(picture.pixels, task.psf, has_alpha=picture.has_alpha, progress=task.progress,
                                  **_frame_options(task))

    def volume(stack):
        own = ("method", "balance", "iterations", "mode", "cval")
        options = _volume_options(dataclasses.asdict(task.options), own)
        return deconvolve_volume(stack.voxels, task.psf, has_alpha=stack.has_alpha, progress=task.progress, **options)

    return _run(job, task.output, frame, volume, getattr(task.psf, "ndim", 2) == 3)
