"""One file through the strip pipeline: header, memory budget, decoding, filtering, encoding.

:class:`imgconv.tasks.FilterTask` hands one plain image (frames and volumes were taken by
:mod:`imgconv.stacks`) to :func:`filter_file`. It opens the input (:func:`open_job`: the
header), and filters it in strips unless a feature asks for the whole image -- the one rule
of which images stream:

* a ``--valid`` mask goes the whole-image path (it is another image to read);
* so does a float picture with missing pixels (NaN or infinity: their footprints and the
  normalised convolution of ``--nan ignore`` are computed over the whole image); a float
  source is scanned for them first;
* everything else streams: every mode, method, chain, combine rule, ``--channels``,
  ``--alpha`` (premultiplied or kept), ``--linear``, ``--abs``, ``--scale``/``--offset``, and
  the output's NaN fill, clipping note and compositing (:class:`imgconv.outputs.Finishing`).

Either way the working set is estimated from the header before anything is decoded, and an
image whose smallest working set exceeds the budget (``--max-memory``, default
:func:`imgconv.stream.budget.default_budget`) is refused with one line (:func:`check_whole`
for the whole-image paths, :func:`check_deconvolve` for deconvolution).

Three threads overlap (:mod:`~imgconv.stream.threads`): this one encodes (with the PNG
writer's deflating threads), one computes the strips a little ahead (the engine's own threads
under it), and the decoding of a streamed TIFF happens as the strips ask for rows.

Examples
--------
>>> from imgconv.tasks import FilterOptions
>>> streams(FilterOptions(mode="wrap", channels="luma", alpha="premultiply", linear=True))
True
>>> streams(FilterOptions(valid="mask.png"))
False
"""
import dataclasses

import numpy as np

from imgconv.errors import ImageReadError


def streams(options):
    """Whether :func:`imgconv.filter_image` with ``options`` (FilterOptions) can run in strips,
    as far as the options tell (missing pixels of a float source are looked for later)."""
    return options.valid is None


def memory_budget(output):
    """The working set one image may use: ``output.max_memory``, or this process's share of
    the default (its share of the cores: a worker of ``-j 2`` on 2 cores gets half)."""
    from imgconv.settings import current, usable_cores
    from imgconv.stream.budget import default_budget

    if output.max_memory is not None:
        return output.max_memory
    return default_budget(max(1, usable_cores() // current().threads))


def open_job(source, output):
    """The :class:`~imgconv.stream.sources.Input` of ``source``: a path, or the buffer standard
    input or a pipe was read into (:func:`imgconv.stacks.input_source`)."""
    from imgconv.imageio.limits import DEFAULT_MAX_PIXELS
    from imgconv.stacks import rewind
    from imgconv.stream.sources import open_input

    max_pixels = output.max_pixels or DEFAULT_MAX_PIXELS
    if hasattr(source, "read"):
        return open_input(getattr(source, "name", "-"), max_pixels=max_pixels, data=rewind(source))
    return open_input(source, max_pixels=max_pixels)


class _HeaderRows:
    """The shape of an input as its header tells it, for planning before decoding."""

    def __init__(self, layout):
        self.shape = (layout.height, layout.width) + ((layout.channels,) if layout.channels > 1 else ())
        self.has_alpha = layout.channels in (2, 4)
        self.depth = 32 if layout.itemsize == 4 else None


def _refuse(source, label, need, budget, how):
    from imgconv.stream.budget import format_size

    layout = source.layout
    raise ImageReadError(
        f"needs about {format_size(need)} of memory to {how} ({layout.width} x {layout.height}, "
        f"{layout.channels} x {8 * layout.itemsize}-bit samples), more than --max-memory allows "
        f"({format_size(budget)}; raise it or lower --max-pixels)", label)


def _output_format(job, output):
    """The output's format when it is known before decoding, else None (a stream's default)."""
    import contextlib

    from imgconv.imageio.writing import resolve_target

    with contextlib.suppress(Exception):  # writing the result reports a bad output, in its words
        return resolve_target(job.dst, (1, 1, 3), format=output.format if str(job.dst) == "-" else None).format
    return None


def _strip_options(options):
    """The keyword arguments of :class:`~imgconv.stream.strips.Chain` from FilterOptions."""
    opts = dataclasses.asdict(options)
    opts.pop("valid")
    return opts


def filter_file(job, source, task):
    """Filter one plain image (``source``: :func:`imgconv.stacks.input_source`) for ``task`` (a
    FilterTask) in strips into ``job.dst``, and return its notes; or None when the whole-image
    path must do it (its working set checked against the budget already)."""
    with open_job(source, task.output) as opened:
        if not streams(task.options):
            check_whole(opened, job.src, task.output, masks=1)
            return None
        return _filter_in_strips(job, opened, task)


def _filter_in_strips(job, source, task):
    from imgconv.imageio.writing import resolve_target, samples_at_depth
    from imgconv.outputs import Finishing, output_extension
    from imgconv.settings import current
    from imgconv.stream.budget import STRIP_BYTES, strip_rows
    from imgconv.stream.sinks import sink_bytes, write_strips
    from imgconv.stream.strips import Chain
    from imgconv.stream.threads import ahead, preloading
    from imgconv.tasks import make_output_folder

    output, options = task.output, task.options
    budget, threads, layout = memory_budget(output), current().threads, source.layout
    opts = _strip_options(options)
    fmt = _output_format(job, output)

    def working_set(chain, rows, fmt):
        shape = chain.shape[:2] + (chain.colour.out_channels,)
        out = sink_bytes(fmt, shape, 4 if output.depth == "float" else 2, rows, threads)
        return max(layout.decode_bytes, layout.held_bytes + chain.strip_bytes(rows, threads) + out)

    guess = Chain(_HeaderRows(layout), task.kernels, **opts)
    need = working_set(guess, 1, fmt)
    if need > budget:
        _refuse(source, job.src, need, budget, "filter in strips")
    with preloading(guess):
        picture = source.load()
    notes = list(picture.notes)
    chain = Chain(source, task.kernels, notes=notes, **opts)
    if picture.depth == 32 and _has_missing(chain):
        check_whole(source, job.src, output)
        return None
    stream_format = output.format if job.dst == "-" else None
    extension = output_extension(job.dst, stream_format, picture.format)
    finishing = Finishing(has_alpha=picture.has_alpha, extension=extension, channels=chain.colour.out_channels,
                          depth=output.depth, source_depth=picture.depth, background=output.background,
                          cval=options.cval)
    shape = chain.shape[:2] + ((finishing.channels,) if finishing.channels > 1 else ())
    write_notes = []
    target = resolve_target(job.dst, shape, depth=output.depth, like=picture, quality=output.quality,
                            format=stream_format, notes=write_notes)
    make_output_folder(job.dst)
    most = min(chain.shape[0], max(1, STRIP_BYTES // (chain.shape[1] * chain.shape[2] * 4)))
    rows = strip_rows(lambda r: working_set(chain, r, target.format), 1, most, budget) or 1
    samples = (samples_at_depth(finishing.rows(pixels), target.depth) for _, _, pixels in chain.strips(rows))
    dtype = {8: "uint8", 16: "uint16", "float": "float32"}[target.depth]
    with ahead(samples) as strips:
        write_strips(job.dst, target, shape, dtype, strips, rows=chain.strip_height(rows), threads=threads,
                     overwrite=getattr(job, "replace", True))
    return notes + finishing.notes() + write_notes


def _has_missing(chain):
    """Whether the planes the chain filters hold a NaN or an infinity anywhere (the whole-image
    path then treats them by ``--nan``)."""
    from imgconv.missing import has_missing
    from imgconv.stream.sources import SCAN_ROWS

    height = chain.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):  # as filter_image prepares them
        return any(has_missing(chain.colour.rows(a, min(height, a + SCAN_ROWS))) for a in range(0, height, SCAN_ROWS))


def check_whole(source, label, output, masks=0):
    """Refuse, from the header, an image whose whole-image filtering would exceed the budget:
    the decoded samples, and six float copies of its planes at the peak (the pixels, the planes
    filtered, a matrix's result and the running combination, the engine's output, the finished
    result), the quantised output (and ``masks`` mask images of its size)."""
    layout = source.layout
    pixels = layout.height * layout.width
    need = max(layout.decode_bytes, layout.held_bytes + pixels * (6 * 4 * layout.channels + 2 * layout.channels
                                                                  + 5 * masks))
    if need > memory_budget(output):
        _refuse(source, label, need, memory_budget(output), "filter whole")


def check_deconvolve(source, label, output):
    """Refuse, from the header (``source``: :func:`imgconv.stacks.input_source`), an image whose
    deconvolution would exceed the budget. A lower bound of what it takes (never a refusal of an
    image that would fit): the decoded samples, the float pixels and the result, and one channel's
    padded float64 plane and its spectrum (at least the image's size each)."""
    with open_job(source, output) as opened:
        layout = opened.layout
        pixels = layout.height * layout.width
        need = max(layout.decode_bytes, layout.held_bytes + pixels * (8 * layout.channels + 16))
        if need > memory_budget(output):
            _refuse(opened, label, need, memory_budget(output), "deconvolve")
