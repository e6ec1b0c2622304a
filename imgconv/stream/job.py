"""One file through the strip pipeline: header, memory budget, decoding, filtering, encoding.

:class:`imgconv.tasks.FilterTask` opens the input (:func:`open_job`: the header, and standard
input read within its limits), asks :func:`streams` whether its options go the strip path,
and then runs :func:`filter_in_strips`, or the whole-image path after :func:`check_whole`.
Either way the working set is estimated from the header before anything is decoded, and an
image whose smallest working set exceeds the budget (``--max-memory``, default
:func:`imgconv.stream.budget.default_budget`) is refused with one line.

Three threads overlap: this one encodes (with the PNG writer's deflating threads), one
computes the strips a little ahead (the engine's own threads under it), and the decoding of
a streamed TIFF happens as the strips ask for rows.

Examples
--------
>>> from imgconv.tasks import FilterOptions
>>> streams(FilterOptions(mode="wrap", channels="luma"), has_alpha=True)
True
"""
import contextlib
import contextvars
import dataclasses
import queue
import threading

from imgconv.errors import ImageReadError

#: The FilterOptions the strip path implements. Any other field away from its default (filter
#: options added to filter_image later: alpha policies, linear light, NaN handling) sends an
#: image to the whole-image path, and so does any other field at all for an image with alpha
#: (a default alpha policy may differ from carrying alpha through, which is what strips do).
STREAMED_OPTIONS = frozenset({"mode", "cval", "method", "correlate", "normalize", "scale", "offset", "channels"})
#: strips computed ahead of the encoder
AHEAD = 2


def streams(options, has_alpha):
    """Whether the strip path gives what :func:`imgconv.filter_image` would with ``options``:
    the one rule of which images are filtered in strips."""
    values, defaults = dataclasses.asdict(options), dataclasses.asdict(type(options)())
    others = [name for name in values if name not in STREAMED_OPTIONS]
    return all(values[name] == defaults[name] for name in others) and not (has_alpha and others)


def memory_budget(output):
    """The working set one image may use: ``output.max_memory``, or this process's share of
    the default (its share of the cores: a worker of ``-j 2`` on 2 cores gets half)."""
    from imgconv.settings import current, usable_cores
    from imgconv.stream.budget import default_budget

    if output.max_memory is not None:
        return output.max_memory
    return default_budget(max(1, usable_cores() // current().threads))


def open_job(job, output):
    """The :class:`~imgconv.stream.sources.Input` of ``job.src``; standard input is read first,
    within its limits and the memory budget."""
    import sys

    from imgconv.imageio.limits import DEFAULT_MAX_PIXELS
    from imgconv.imageio.stdin import read_stdin
    from imgconv.stream.sources import open_input

    max_pixels = output.max_pixels or DEFAULT_MAX_PIXELS
    if str(job.src) == "-":
        data = read_stdin(sys.stdin.buffer, max_pixels=max_pixels, max_bytes=memory_budget(output))
        return open_input("-", max_pixels=max_pixels, data=data)
    return open_input(job.src, max_pixels=max_pixels)


class _HeaderRows:
    """The shape of an input as its header tells it, for planning before decoding."""

    def __init__(self, layout):
        self.shape = (layout.height, layout.width) + ((layout.channels,) if layout.channels > 1 else ())
        self.has_alpha = layout.channels in (2, 4)


def _refuse(source, label, need, budget, how):
    from imgconv.stream.budget import format_size

    layout = source.layout
    raise ImageReadError(
        f"needs about {format_size(need)} of memory to filter {how} ({layout.width} x {layout.height}, "
        f"{layout.channels} x {8 * layout.itemsize}-bit samples), more than --max-memory allows "
        f"({format_size(budget)}; raise it or lower --max-pixels)", label)


def _output_format(job, output):
    """The output's format when it is known before decoding, else None (a stream's default)."""
    from imgconv.imageio.writing import resolve_target

    with contextlib.suppress(Exception):  # writing the result reports a bad output, in its words
        return resolve_target(job.dst, 3, format=output.format if str(job.dst) == "-" else None).format
    return None


def filter_in_strips(job, source, kernels, options, output):
    """Filter ``source`` (opened by :func:`open_job`) strip by strip into ``job.dst``.

    The smallest working set is checked against the budget from the header; the source is then
    decoded (whole, when its format must be), and the strip height is the largest that fits.
    """
    from imgconv.imageio.writing import resolve_target, samples_at_depth
    from imgconv.settings import current
    from imgconv.stream.budget import STRIP_BYTES, strip_rows
    from imgconv.stream.sinks import sink_bytes, write_strips
    from imgconv.stream.strips import Chain

    budget, threads, layout = memory_budget(output), current().threads, source.layout
    opts = dataclasses.asdict(options)
    fmt = _output_format(job, output)

    def working_set(chain, rows, fmt):
        shape = chain.shape[:2] + (chain.colour.out_channels,)
        out = sink_bytes(fmt, shape, 4 if output.depth == "float" else 2, rows, threads)
        return max(layout.decode_bytes, layout.held_bytes + chain.strip_bytes(rows, threads) + out)

    guess = Chain(_HeaderRows(layout), kernels, **opts)
    need = working_set(guess, 1, fmt)
    if need > budget:
        _refuse(source, job.src, need, budget, "in strips")
    with _preloading(guess):
        picture = source.load()
    chain = Chain(source, kernels, **opts)
    target = resolve_target(job.dst, chain.colour.out_channels, depth=output.depth, like=picture,
                            quality=output.quality, format=output.format if str(job.dst) == "-" else None)
    most = min(chain.shape[0], max(1, STRIP_BYTES // (chain.shape[1] * chain.shape[2] * 4)))
    rows = strip_rows(lambda r: working_set(chain, r, target.format), 1, most, budget) or 1
    samples = (samples_at_depth(pixels, target.depth) for _, _, pixels in chain.strips(rows))
    shape = chain.shape[:2] + ((chain.colour.out_channels,) if chain.colour.out_channels > 1 else ())
    dtype = {8: "uint8", 16: "uint16", "float": "float32"}[target.depth]
    with _ahead(samples) as strips:
        write_strips(target, shape, dtype, strips, rows=chain.strip_height(rows), threads=threads)
    return picture.notes


def check_whole(source, label, kernels, output):
    """Refuse, from the header, an image whose whole-image filtering would exceed the budget:
    the decoded samples, float pixels, the colour planes, each matrix's result and the output."""
    from imgconv.filtering import resolve_kernels

    layout = source.layout
    pixels = layout.height * layout.width
    matrices = max(len(k.matrices) for k in resolve_kernels(kernels))
    need = max(layout.decode_bytes,
               layout.held_bytes + pixels * (4 * layout.channels * (matrices + 4) + 2 * layout.channels))
    if need > memory_budget(output):
        _refuse(source, label, need, memory_budget(output), "whole")


def whole_picture(source):
    """The :class:`~imgconv.imageio.Picture` :func:`imgconv.read_image` would give (float pixels)."""
    picture = source.load()
    return dataclasses.replace(picture, pixels=source.pixels(0, source.shape[0]))


@contextlib.contextmanager
def _preloading(chain):
    """Import the code ``chain``'s plans run (scipy.fft, the compiled loops: a quarter to half a
    second each) in a thread while this one decodes the image (Pillow and zlib release the GIL)."""
    plans = [p.plan for plans in chain.plans for p in plans]

    def load():
        with contextlib.suppress(Exception):  # a failure shows again where the code is used
            if any(plan.method == "fft" for plan in plans):
                import scipy.fft  # noqa: F401
            if any(plan.compiled for plan in plans):
                from imgconv.engine import warm_up

                warm_up()

    worker = threading.Thread(target=contextvars.copy_context().run, args=(load,), daemon=True)
    worker.start()
    try:
        yield
    finally:
        worker.join()


@contextlib.contextmanager
def _ahead(items):
    """Compute ``items`` in a thread, :data:`AHEAD` ahead of the consumer (bounded memory); the
    thread runs in this context (its Settings), and stops when the consumer does."""
    ready, stop, done = queue.Queue(AHEAD), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
            put(done)
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer, raised there
            put(exc)

    def consume():
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item

    worker = threading.Thread(target=contextvars.copy_context().run, args=(produce,), daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        worker.join()
