"""One huge image on a Dask cluster (``--scheduler``): chunks with halos, the bits of one machine.

``imgconv filter`` with ``--scheduler`` and a single input that is a zarr array, or a TIFF
or ``.npy`` of at least :data:`HUGE_PIXELS` pixels, does not send the image to one worker:
it cuts it into chunks of about :data:`CHUNK_SIDE` pixels a side, and runs each kernel of
the chain as one ``dask.array.map_overlap`` over them, every chunk with a halo of the
kernel's reach (the image's border first extended by the boundary mode, with
``dask.array.pad``). The plan -- method, compiled loops or SciPy, FFT tiles -- is made here
for the whole image, as the single-machine run makes it, and every chunk follows it: the
direct and separable arithmetic of a pixel does not depend on where it is, and chunks start
on corners of the whole image's FFT tiles, so the result is bit-identical. The picture's own
steps (alpha, linear light, channels, scale and offset: :mod:`imgconv.pixels`) work pixel by
pixel and run on each chunk; missing pixels (NaN) propagate as on one machine. What needs the
whole image at once (volumes, 3-D kernels, ``--nan ignore``, a ``--valid`` mask) stays an
ordinary run (:func:`splits`).

Examples
--------
>>> from imgconv.filtering import resolve_kernels
>>> stages = plan_stages((4000, 6000, 3), resolve_kernels(["gaussian:sigma=2"]), method="separable")
>>> stages[0].depth, stages[0].steps[0].method
((6, 6), 'separable')
>>> chunk_sides((4000, 6000), stages)
(2048, 2048)
"""
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgconv.batch.huge_io import (
    RegionSource,
    is_zarr,
    open_source,
    output_kind,
    source_depth,
    to_samples,
    write_tiled_tiff,
    write_zarr,
)
from imgconv.errors import ImageReadError, ImageWriteError, ImgconvError

#: a single TIFF or .npy input of at least this many pixels is split across the cluster
HUGE_PIXELS = 2**25
#: the side of a chunk, in pixels (rounded to a multiple of 16 and of the FFT tiles)
CHUNK_SIDE = 2048
#: imgconv's boundary modes as ``numpy.pad`` (and ``dask.array.pad``) modes
PAD_MODES = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


@dataclass(frozen=True)
class Step:
    """One matrix of a kernel as the whole image's plan runs it; ``oriented`` and ``anchor``
    are the kernel as correlated (flipped for a convolution)."""

    matrix: np.ndarray
    oriented: np.ndarray
    anchor: tuple
    method: str
    compiled: bool
    tile: tuple


@dataclass(frozen=True)
class Stage:
    """One kernel of the chain: its steps and the halo ``depth`` (rows, columns) it needs."""

    kernel: object
    steps: tuple
    depth: tuple


def huge_source(inputs, task=None):
    """The :class:`RegionSource` of the run's single input when it is split across the cluster
    (a zarr array, or a TIFF or ``.npy`` of at least :data:`HUGE_PIXELS` pixels), else None.

    With ``task`` (a FilterTask), also None where the chunks could not give the whole image's
    bits (a run over volumes, a 3-D kernel, ``--nan ignore``, a ``--valid`` mask): the run is
    then an ordinary one, the image on one worker."""
    if len(inputs) != 1 or inputs[0] == "-" or (task is not None and not splits(task)):
        return None
    path = Path(inputs[0])
    if is_zarr(path):
        return open_source(path)
    if not path.is_file() or path.suffix.lower() not in (".tif", ".tiff", ".npy"):
        return None
    try:
        source = open_source(path)
    except ImgconvError:  # not one plain image: the ordinary run reads it, or says why not
        return None
    return source if source.pixels >= HUGE_PIXELS else None


def splits(task):
    """Whether ``task`` (a FilterTask) can run chunk by chunk: 2-D kernels on one plain picture,
    missing pixels (NaN) propagated as SciPy does (normalised convolution and a mask image are
    whole-image operations here)."""
    from imgconv.filtering import resolve_kernels

    options = task.options
    flat = all(m.ndim == 2 for kernel in resolve_kernels(task.kernels) for m in kernel.matrices)
    return flat and not task.output.volume and options.nan == "propagate" and options.valid is None


def plan_stages(colour_shape, chain, *, method="auto", correlate=False, normalize=False):
    """The whole image's plan for a chain of Kernels on colour planes of ``colour_shape``,
    as :func:`imgconv.filter_image` makes it (the compiled loops' load charged once)."""
    from imgconv.engine.oneoff import charged_once
    from imgconv.filtering import applied_matrices

    with charged_once(colour_shape, applied_matrices(chain, normalize), method=method, correlate=correlate):
        return [_stage_plan(colour_shape, kernel, method, correlate, normalize) for kernel in chain]


def _stage_plan(colour_shape, kernel, method, correlate, normalize):
    from imgconv.engine import explain
    from imgconv.engine.operands import as_kernel
    from imgconv.engine.operands import oriented as orient

    if normalize or kernel.normalize:
        kernel = kernel.normalized()
    steps = []
    for matrix in kernel.matrices:
        oriented, anchor = orient(as_kernel(matrix, 2), correlate)
        plan = explain(tuple(colour_shape), matrix, method=method, correlate=correlate)
        steps.append(Step(np.asarray(matrix), oriented, anchor, plan.method, plan.compiled, plan.tile))
    depth = tuple(max(max(s.anchor[a], s.oriented.shape[a] - 1 - s.anchor[a]) for s in steps) for a in (0, 1))
    return Stage(kernel, tuple(steps), depth)


def chunk_sides(shape, stages, side=None):
    """Chunk sides (rows, columns): multiples of 16 and of every FFT tile of the plan, at least
    every halo, about ``side`` (default :data:`CHUNK_SIDE`)."""
    side = CHUNK_SIDE if side is None else side
    sides = []
    for axis in (0, 1):
        n = shape[axis]
        tiles = {step.tile[axis] for stage in stages for step in stage.steps if step.method == "fft"}
        base = math.lcm(16, *tiles)
        reach = max([stage.depth[axis] for stage in stages] + [1])
        sides.append(min(n, base * max(1, round(side / base), -(-reach // base))))
    return tuple(sides)


def _pixels_block(samples):
    from imgconv.imageio.picture import pixels_from_samples

    pixels = pixels_from_samples(samples)[0]
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _prepared(pixels, options, alpha, depth):
    """:func:`imgconv.pixels.prepare_pixels` of a block of (H, W, C) pixels, as the whole
    picture's (``alpha`` resolved, ``depth`` the source's)."""
    from imgconv.pixels import prepare_pixels

    image = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    return prepare_pixels(image, has_alpha=pixels.shape[2] in (2, 4), alpha=alpha, linear=options.linear,
                          channels=options.channels, depth=depth)


def _colour_block(pixels, options, alpha, depth):
    stack = _prepared(pixels, options, alpha, depth).stack
    return stack[..., None] if stack.ndim == 2 else stack


def _run_step(block, step, depth, size, mode, cval, correlate):
    """One matrix on a block with its halo: the interior, as the whole image's plan gives it
    (missing pixels as :func:`imgconv.missing.convolve_missing` propagates them)."""
    from imgconv.engine import convolve
    from imgconv.engine.fft import correlate_padded
    from imgconv.missing import convolve_missing, footprint, has_missing
    from imgconv.settings import use

    (d0, d1), (ch, cw) = depth, size
    if step.method == "fft":  # the chunk starts on a tile corner: the same tiles, the same bits
        h, w = step.oriented.shape
        a0, a1 = step.anchor
        region = block[d0 - a0:d0 + ch + h - 1 - a0, d1 - a1:d1 + cw + w - 1 - a1]
        if not has_missing(region):
            return correlate_padded(region, step.oriented, step.tile)
        bad = ~np.isfinite(block)  # zeroed and NaN put back, as on the whole image
        out = correlate_padded(np.where(bad, np.float32(0), block)[d0 - a0:d0 + ch + h - 1 - a0,
                                                                    d1 - a1:d1 + cw + w - 1 - a1],
                               step.oriented, step.tile)
        out[footprint(bad, step.matrix, mode=mode, correlate=correlate)[d0:d0 + ch, d1:d1 + cw]] = np.nan
        return out
    run = convolve_missing if has_missing(block) else convolve
    with use(compiled=step.compiled):
        out = run(block, step.matrix, mode=mode, cval=cval, method=step.method, correlate=correlate)
    return out[d0:d0 + ch, d1:d1 + cw]


def _stage_block(block, *, stage, mode, cval, correlate):
    """A chunk with its halo through one kernel (all its matrices, then its combine rule)."""
    from imgconv.batch.cluster import worker_threads
    from imgconv.filtering import combine
    from imgconv.settings import use

    (d0, d1) = stage.depth
    size = (block.shape[0] - 2 * d0, block.shape[1] - 2 * d1)
    with use(threads=worker_threads()):
        return combine(stage.kernel, (_run_step(block, step, stage.depth, size, mode, cval, correlate)
                                      for step in stage.steps))


def _finish_block(colour, pixels, *, options, alpha, depth, out_depth, grey=False):
    """The output samples (H, W, C) of a chunk: :func:`imgconv.pixels.finish_pixels`, then missing
    pixels as ``cval`` in an integer output (as :func:`imgconv.outputs.finish_result`); with
    ``grey``, also whether the whole picture's result is grey (H x W)."""
    from imgconv.pixels import finish_pixels

    prepared = _prepared(pixels, options, alpha, depth)
    # the stack of one plane is H x W in filter_image (grey, grey + alpha kept, gray, luma)
    out = finish_pixels(colour[..., 0] if prepared.stack.ndim == 2 else colour, prepared,
                        absolute=options.absolute, scale=options.scale, offset=options.offset)
    if out_depth != "float" and np.isnan(out).any():
        out = np.where(np.isnan(out), np.float32(options.cval), out)
    samples = to_samples(out[..., None] if out.ndim == 2 else out, out_depth)
    return (out.ndim == 2, samples) if grey else samples


def _stage(colour, stage, options):
    """``map_overlap`` of one kernel over the chunks of ``colour`` (H, W, c)."""
    import dask.array as da

    d0, d1 = stage.depth
    extra = {"constant_values": options.cval} if options.mode == "constant" else {}
    padded = da.pad(colour, ((d0, d0), (d1, d1), (0, 0)), mode=PAD_MODES[options.mode], **extra)
    rows, cols = colour.chunks[:2]

    def widened(chunks, d):  # the border's extension joins the first and the last chunk
        return (chunks[0] + 2 * d,) if len(chunks) == 1 else (chunks[0] + d,) + chunks[1:-1] + (chunks[-1] + d,)

    padded = padded.rechunk((widened(rows, d0), widened(cols, d1), colour.chunks[2]))
    return da.map_overlap(_stage_block, padded, depth={0: d0, 1: d1, 2: 0}, boundary="none", trim=False,
                          allow_rechunk=False, chunks=colour.chunks, dtype=np.float32,
                          meta=np.empty((0, 0, 0), np.float32), stage=stage, mode=options.mode, cval=options.cval,
                          correlate=options.correlate)


def huge_samples(source, task, *, side=None, depth=None, name=None):
    """The Dask array of the output samples of ``task`` (a FilterTask) on ``source``, and its
    chunk count: read, filtered and converted chunk by chunk wherever it is computed.

    ``name`` names the source's chunks (default: a token of ``source``); every key of the
    graph follows from it, so graphs of other names share no key."""
    import dask.array as da

    from imgconv.alpha import resolve_alpha_mode
    from imgconv.filtering import applied_matrices, resolve_kernels

    options = task.options
    chain = resolve_kernels(task.kernels)
    alpha = resolve_alpha_mode(options.alpha, applied_matrices(chain, options.normalize))
    source_bits = source_depth(source.dtype)
    channels = 1 if len(source.shape) == 2 else source.shape[2]
    probe = np.zeros((1, 1, channels), np.float32)
    stack = _colour_block(probe, options, alpha, source_bits)
    colour_shape = source.shape[:2] + (stack.shape[2:] if stack.shape[2] > 1 else ())
    stages = plan_stages(colour_shape, chain, method=options.method, correlate=options.correlate,
                         normalize=options.normalize)
    rows, cols = chunk_sides(source.shape, stages, side)
    samples = da.from_array(source, chunks=(rows, cols) + source.shape[2:], name=name, asarray=True, lock=False,
                            meta=np.empty((0,) * len(source.shape), source.dtype))
    pixels = samples.map_blocks(_pixels_block, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32),
                                **({} if samples.ndim == 3 else {"new_axis": 2}))
    colour = pixels.map_blocks(_colour_block, options, alpha, source_bits, dtype=np.float32,
                               chunks=pixels.chunks[:2] + ((stack.shape[2],),))
    for stage in stages:
        colour = _stage(colour, stage, options)
    finish = dict(options=options, alpha=alpha, depth=source_bits, out_depth=depth)
    grey, probed = _finish_block(stack, probe, grey=True, **finish)
    result = da.map_blocks(_finish_block, colour, pixels, **finish, dtype=probed.dtype,
                           chunks=colour.chunks[:2] + ((probed.shape[2],),))
    return (result[..., 0] if grey else result), samples.npartitions


def _output_depth(source, task, kind, channels, dst):
    """The output depth, as :func:`imgconv.write_image` chooses it for this format."""
    from imgconv.imageio.writing import _resolve_depth

    requested = task.output.depth
    if kind == "zarr":
        return requested or {8: 8, 16: 16, 32: "float"}[source_depth(source.dtype)]
    return _resolve_depth("TIFF", requested, source_depth(source.dtype), channels, str(dst))


def default_output(source, suffix):
    """Where a huge result goes without ``-o``: beside the input, a TIFF as a TIFF, else zarr."""
    src = Path(source.path)
    ext = src.suffix if source.kind == "tiff" else ".zarr"
    stem = src.name[:-len(src.suffix)] if src.suffix else src.name
    return src.with_name(f"{stem}.{suffix}{ext}")


def filter_huge(source, task, dst, scheduler, *, overwrite=False, side=None, connect_timeout=5.0):
    """Filter the huge image ``source`` (a :class:`RegionSource`) with ``task`` (a FilterTask)
    on the Dask cluster at ``scheduler``; write ``dst`` (.zarr or .tif) atomically.

    Returns the number of chunks. Paths must be valid on the workers (zarr chunks are written
    there; a TIFF is written here from the chunks they send back, a row of them at a time).
    """
    from imgconv.batch.connect import open_client

    dst = Path(dst)
    if dst.absolute() == Path(source.path) and not overwrite:
        raise ImgconvError(f"{dst}: output would overwrite an input (use --overwrite to allow it)")
    if dst.exists() and not overwrite:
        raise ImageWriteError("output exists (use --overwrite or --skip-existing)", dst)
    if task.output.max_pixels is not None and source.pixels > task.output.max_pixels:
        raise ImageReadError(f"image of {source.pixels} pixels exceeds the limit of {task.output.max_pixels} "
                             "(--max-pixels)", source.path)
    kind = output_kind(dst)
    channels = 1 if len(source.shape) == 2 else source.shape[2]
    depth = _output_depth(source, task, kind, channels, dst)
    samples, chunks = huge_samples(source, task, side=side, depth=depth)
    client = open_client(scheduler, connect_timeout)
    try:
        if kind == "zarr":
            write_zarr(samples, Path(dst).absolute(), lambda graph: client.compute(graph).result(), overwrite)
        else:
            def row(i):
                return client.gather(client.compute(_row_blocks(source, task, side, depth, i)))

            write_tiled_tiff(samples, dst, row, overwrite)
    finally:
        client.close()
    return chunks



def _row_blocks(source, task, side, depth, i):
    """The chunks of row ``i`` of :func:`huge_samples`, from a graph of their own (no key of it in
    any other row's graph). Rows computed one after another from one graph resubmit the halo
    tasks the previous row released, and distributed's scheduler can fail on a key it is still
    forgetting (``KeyError``: seen in about one run in three with two FFT stages)."""
    import uuid

    samples, _ = huge_samples(source, task, side=side, depth=depth, name=f"huge-source-{uuid.uuid4().hex}")
    return [samples.blocks[i, j] for j in range(samples.numblocks[1])]


__all__ = ["HUGE_PIXELS", "CHUNK_SIDE", "RegionSource", "huge_source", "plan_stages", "chunk_sides",
           "huge_samples", "filter_huge", "default_output"]
