"""``imgconv filter --explain``: the plan for every real input, grouped by the size the filter sees.

Each input's header is read (:func:`imgconv.imageio.probe_shape`: after EXIF rotation, no
decoding; :func:`imgconv.imageio.volume.probe_volume` for volumes); inputs of one size share
one block, so a folder of 10 000 photographs from one camera prints one plan. At most
:data:`MAX_BLOCKS` blocks are printed and :data:`MAX_PROBED` headers read; the lines say how
many inputs and sizes were left out.

Examples
--------
>>> from imgconv.filtering import resolve_kernels
>>> lines = explain_lines([("a.png", (120, 160, 3)), ("b.png", (120, 160, 3))], resolve_kernels(["box:size=3"]))
>>> lines[0]
'plan for 160x120 colour (2 inputs: a.png, b.png):'
>>> lines[1].startswith("  box:size=3: 3x3 kernel, rank 1: ")
True
"""
from pathlib import Path

#: plan blocks printed at most (one per distinct size)
MAX_BLOCKS = 20
#: input headers read at most
MAX_PROBED = 1000
#: input names listed per block at most
MAX_NAMES = 3


def probe_inputs(inputs, *, recursive=False, glob=None, skip_below=None, skip_suffix=None, volume=False):
    """``(name, shape or None)`` for each input the run would read (stdin and unreadable
    headers give None; a volume's shape for ``volume``), at most :data:`MAX_PROBED` of them,
    and the number of inputs."""
    from imgconv.batch.jobs import STDIO, discover
    from imgconv.errors import ImgconvError
    from imgconv.imageio import probe_shape
    from imgconv.imageio.volume import probe_volume

    probe = probe_volume if volume else probe_shape
    found, _ = discover(inputs, recursive=recursive, glob=glob, skip_below=skip_below, skip_suffix=skip_suffix)
    probed = []
    for path, _ in found[:MAX_PROBED]:
        if path == STDIO:
            probed.append(("-", None))
            continue
        try:
            probed.append((str(path), probe(path)))
        except (ImgconvError, OSError):  # the run itself reports the file
            probed.append((str(path), None))
    return probed, len(found)


def _size(shape, volume=False):
    if volume:
        z, y, x = shape[:3]
        return f"volume {x}x{y}x{z} " + ("grey" if len(shape) == 3 else "colour")
    h, w = shape[:2]
    return f"{w}x{h} " + ("grey" if len(shape) == 2 else "colour")


def _names(names):
    shown = ", ".join(names[:MAX_NAMES]) + (", ..." if len(names) > MAX_NAMES else "")
    return shown if len(names) == 1 else f"{len(names)} inputs: {shown}"


def explain_lines(probed, chain, *, total=None, method="auto", correlate=False, channels="all", alpha="auto",
                  normalize=False, volume=False):
    """The ``--explain`` lines: one block per distinct input size (first seen first), then
    the inputs without a plan (stdin, unreadable headers) and what was left out. ``volume``:
    the shapes are volumes' (Z, Y, X[, C]), planned by :func:`imgconv.volume_filter.explain_volume_filter`."""
    from imgconv.filtering import explain_filter
    from imgconv.volume_filter import explain_volume_filter

    def plan(shape):
        if volume:
            return explain_volume_filter(shape, chain, method=method, correlate=correlate, channels=channels)
        return explain_filter(shape, chain, method=method, correlate=correlate, channels=channels, alpha=alpha,
                              normalize=normalize)

    groups, unknown = {}, []
    for name, shape in probed:
        if shape is None:
            unknown.append(name)
        else:
            groups.setdefault(tuple(shape), []).append(name)
    lines = []
    for shape, names in list(groups.items())[:MAX_BLOCKS]:
        lines.append(f"plan for {_size(shape, volume)} ({_names(names)}):")
        lines.extend("  " + line for line in plan(shape))
    hidden = list(groups.values())[MAX_BLOCKS:]
    if hidden:
        lines.append(f"(and {sum(map(len, hidden))} inputs of {len(hidden)} other sizes: no plan shown)")
    if unknown:
        lines.append(f"no plan for {_names(unknown)}: size unknown before reading (stdin) or unreadable header")
    total = len(probed) if total is None else total
    if total > len(probed):
        lines.append(f"(only the first {len(probed)} of {total} inputs were looked at)")
    return lines


def print_explain(inputs, chain, *, output=None, suffix=None, recursive=False, glob=None, volume=False, **plan):
    """Print :func:`explain_lines` for a ``filter`` run to stderr (outputs of earlier runs left out,
    as the run leaves them out); ``plan`` holds the options of :func:`explain_lines`."""
    import click

    from imgconv.cli.messages import one_line

    out_dir = output if output not in (None, "-") and Path(output).is_dir() else None
    probed, total = probe_inputs(inputs, recursive=recursive, glob=glob, skip_below=out_dir,
                                 skip_suffix=suffix if output is None else None, volume=volume)
    for line in explain_lines(probed, chain, total=total, volume=volume, **plan):
        click.echo(one_line(line), err=True)
