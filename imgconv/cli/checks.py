"""Checks of a command's options made before any work: contradictions, streams, ignored options.

* Contradictions (``--overwrite`` with ``--skip-existing``, ``-o x.png --format jpg``,
  ``--json`` with an image on stdout) are :class:`click.UsageError`: exit 2, nothing read
  or written.
* Streams: one stream carries one thing, and image data never goes to, or comes from, a
  terminal (as gzip refuses to).
* An option that would change nothing (``--cval`` without ``--mode constant``,
  ``--quality`` for PNG, ``--iterations`` with Wiener) is named in a note.

Examples
--------
>>> same_format("x.JPEG", "jpg"), same_format("x.png", "jpg")
(True, False)
"""
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from imgconv.batch.jobs import STDIO

#: Extensions that name the same output format.
_SAME_EXTENSION = {"jpeg": "jpg", "tiff": "tif"}
#: Output extensions whose encoders take ``--quality``.
_QUALITY_FORMATS = {"jpg", "webp"}


def given(ctx, name):
    """Whether the option ``name`` was given (on the command line or by environment), not defaulted."""
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _extension(name):
    ext = str(name).rsplit(".", 1)[-1].lower() if "." in Path(str(name)).name else ""
    return _SAME_EXTENSION.get(ext, ext)


def same_format(path, fmt):
    """Whether the file name ``path`` has the extension ``fmt`` (``jpg``/``jpeg`` and ``tif``/``tiff`` alike)."""
    return _extension(path) == _SAME_EXTENSION.get(fmt.lower().lstrip("."), fmt.lower().lstrip("."))


def _is_terminal(stream):
    """Whether ``stream`` is a terminal (a closed or replaced stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def refuse_contradictions(ctx, *, overwrite, skip_existing):
    """Options that contradict each other, before anything is read."""
    if overwrite and skip_existing:
        raise click.UsageError("--overwrite and --skip-existing contradict each other: give one of them", ctx)


def refuse_terminal_input(ctx, inputs):
    """``-`` as an input while standard input is a terminal: nobody types an image."""
    if STDIO in inputs and _is_terminal(sys.stdin):
        raise click.UsageError("refusing to read image data from a terminal: pipe or redirect it "
                               "(imgconv ... - < in.png)", ctx)


def check_plan(ctx, plan, *, fmt, as_json):
    """The planned outputs against ``--format``, ``--json`` and the terminal."""
    to_stdout = any(job.dst == STDIO for job in plan.jobs)
    if to_stdout and as_json:
        raise click.UsageError("--json prints its report on standard output, which the image would share: "
                               "write the image to a file with -o", ctx)
    if to_stdout and _is_terminal(sys.stdout):
        raise click.UsageError("refusing to write image data to a terminal: redirect standard output "
                               "(> out.png) or give -o FILE", ctx)
    if fmt:
        for job in plan.jobs:
            if job.dst != STDIO and not same_format(job.dst, fmt):
                raise click.UsageError(f"-o {job.dst} names its own format, which --format {fmt} contradicts: "
                                       f"drop --format, or name the output with .{fmt.lstrip('.')}", ctx)


def ignored_options(ctx, plan):
    """Notes naming the options given that this run of the command ``ctx`` will not use."""
    values = ctx.params
    notes = []
    if given(ctx, "cval") and values.get("mode") != "constant" and values.get("valid") is None:
        notes.append(f"--cval is used by --mode constant (not {values.get('mode')}) and for missing (NaN) pixels "
                     "of an integer output: ignored unless the input has missing pixels")
    if given(ctx, "iterations") and values.get("method") == "wiener":
        notes.append("--iterations is used only by --method richardson-lucy: ignored")
    if given(ctx, "quality"):
        formats = {_extension(job.dst) if job.dst != STDIO else (values.get("fmt") or "?") for job in plan.jobs}
        if formats and "?" not in formats and not formats & _QUALITY_FORMATS:
            shown = ", ".join(f".{f}" for f in sorted(formats))
            notes.append(f"--quality is used only for JPEG and WebP outputs (not {shown}): ignored")
    folders = any(item != STDIO and Path(item).is_dir() for item in values.get("inputs", ()))
    for name, flag in (("recursive", "-r/--recursive"), ("glob_pattern", "--glob")):
        if given(ctx, name) and not folders:
            notes.append(f"{flag} is used only for folder inputs: ignored")
    if given(ctx, "jobs") and values.get("scheduler"):
        notes.append("-j/--jobs is not used with --scheduler (the cluster's workers run the images): ignored")
    return notes
