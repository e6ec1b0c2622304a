"""Options and helpers shared by the commands that write images (filter, deconvolve)."""
import click

from imgconv.choices import ALPHA_MODES, CHANNELS, DEPTHS, FRAMES, MODES, NAN_MODES


class FiniteFloat(click.ParamType):
    """A float option that refuses NaN and infinity (and, with ``min``, smaller values)."""

    name = "float"

    def __init__(self, min=None):
        self.min = min

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.min is not None and number < self.min:
            self.fail(f"{value!r} is below {self.min}", param, ctx)
        return number


FINITE = FiniteFloat()


class Colour(click.ParamType):
    """A colour name or ``#rrggbb``, as an RGB triple in [0, 1]."""

    name = "colour"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from imgconv.alpha import parse_background
        from imgconv.errors import ImgconvError

        try:
            return parse_background(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


def border_options(fn):
    """``--mode``, ``--cval``, ``--channels``: the border model and the channels, for filter and
    deconvolve."""
    options = [
        click.option("--mode", type=click.Choice(MODES), default="reflect", show_default=True,
                     help="How the image is extended past its border (scipy.ndimage's meanings)."),
        click.option("--cval", type=FINITE, default=0.0, show_default=True,
                     help="Value outside the image for --mode constant (0..1), and of pixels left "
                          "missing in an integer output."),
        click.option("--channels", type=click.Choice(CHANNELS), default="all", show_default=True,
                     help="all: each colour channel; gray: convert to grey first; luma: Y of YCbCr only."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def pixel_options(fn):
    """``--alpha``, ``--background``, ``--linear``, ``--nan``, ``--valid``, ``--abs``: what the
    pixels mean, for filter and deconvolve."""
    options = [
        click.option("--alpha", type=click.Choice(ALPHA_MODES), default="auto", show_default=True,
                     help="premultiply: colour x alpha and alpha processed alike (no dark fringes); keep: "
                          "straight colour processed, alpha unchanged; auto: premultiply for kernels "
                          "(PSFs) without negative taps."),
        click.option("--background", type=Colour(), default="white", show_default=True,
                     help="Colour under a picture with alpha written to JPEG or BMP (name or #rrggbb)."),
        click.option("--linear", is_flag=True,
                     help="Work in linear light: decode 8/16-bit sRGB first, encode after "
                          "(float inputs are linear already)."),
        click.option("--nan", type=click.Choice(NAN_MODES), default="propagate", show_default=True,
                     help="Missing pixels (NaN, or 0 in --valid): propagate spreads them as SciPy does; "
                          "ignore fills them from valid neighbours (averaging kernels only)."),
        click.option("--valid", type=click.Path(exists=True, dir_okay=False), metavar="MASK",
                     help="A mask image the input's size: non-zero = valid, 0 = missing."),
        click.option("--abs", "absolute", is_flag=True,
                     help="Absolute value of the result (before any --scale/--offset)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def echo_notes(notes, quiet):
    """Print ``imgconv: note:`` lines on stderr, unless ``quiet``."""
    if not quiet:
        for note in notes:
            click.echo(f"imgconv: note: {note}", err=True)


def check_valid(valid, max_pixels):
    """Read a ``--valid`` mask once, so that an unreadable one fails before any input is read."""
    if valid is not None:
        from imgconv.imageio import read_image

        read_image(valid, **({} if max_pixels is None else {"max_pixels": max_pixels}))


def output_options(default_name):
    """The shared output options (see :func:`_output_options`), with ``-o``'s help naming the
    command's default output, e.g. ``"<stem>.<kernel>.<ext>"``."""
    return lambda fn: _output_options(fn, default_name)


def _output_options(fn, default_name):
    """``-o``, ``--overwrite``/``--skip-existing``, ``--depth``, ``--format``, ``--quality``,
    ``-r``, ``--glob``, ``-j``, ``--scheduler``, ``--max-pixels``, ``--quiet``: declared once for every
    writing command."""
    options = [
        click.option("-o", "--output", type=click.Path(dir_okay=True, allow_dash=True),
                     help="Output file (one input) or folder (several inputs or a folder). "
                          f"Default: beside the input as {default_name}."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs (and allow writing over an input)."),
        click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists already (resume a run)."),
        click.option("--depth", type=click.Choice(DEPTHS),
                     help="Output bit depth. Default: the input's (16-bit stays 16-bit in PNG/TIFF)."),
        click.option("--format", "fmt", metavar="EXT", help="Output extension for folder runs, e.g. png, tif, jpg."),
        click.option("--quality", type=click.IntRange(1, 100), help="JPEG/WebP quality, 1-100."),
        click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders of folder inputs."),
        click.option("--glob", "glob_pattern", metavar="PATTERN",
                     help="Only files matching PATTERN in folders, e.g. '*.png'."),
        click.option("-j", "--jobs", type=click.IntRange(1, 256),
                     help="Parallel worker processes (default: usable cores)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Run on a Dask cluster (tcp://host:8786; needs imgconv[dask]); "
                          "paths must be valid on its workers."),
        click.option("--max-pixels", type=click.IntRange(1), help="Refuse images larger than this many pixels "
                     "(decompression-bomb guard; default 2**27 = 134 megapixels)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar, summary or notes."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def stack_options(fn):
    """``--frames all|first`` and ``--volume``: how multi-frame files and stacks are read, declared once
    for every writing command (see :mod:`imgconv.stacks`)."""
    fn = click.option("--volume", is_flag=True,
                      help="Read a multi-page TIFF (an ImageJ/OME hyperstack's Z) or a 3-D .npy as a Z x Y x X "
                           "volume; 3-D kernels imply it. Written as an ImageJ TIFF or .npy.")(fn)
    return click.option("--frames", type=click.Choice(FRAMES), default="all", show_default=True,
                        help="all: every frame of an animated GIF/APNG/WebP or page of a multi-page TIFF is "
                             "processed and written back; first: the first only (with a note).")(fn)


def output_settings(depth, quality, fmt, max_pixels, background=(1.0, 1.0, 1.0), frames="all", volume=False):
    """The :class:`imgconv.tasks.OutputOptions` of the shared output and stack options."""
    from imgconv.choices import parse_depth
    from imgconv.tasks import OutputOptions

    return OutputOptions(depth=parse_depth(depth), quality=quality, format=fmt, max_pixels=max_pixels,
                         background=tuple(background), frames=frames, volume=volume)


def run_batch(ctx, inputs, task, *, suffix, output, fmt, recursive, glob_pattern, overwrite, skip_existing,
              jobs, scheduler, quiet, label):
    """Plan the jobs, run them, print notes and the summary, and exit with the contracted code.

    Runs locally in ``jobs`` processes, or on the Dask cluster named by ``--scheduler``.
    Exits 130 when interrupted, 3 when some inputs of a many-input run failed, 2 when
    the only input failed; returns the :class:`imgconv.batch.Summary` otherwise.
    """
    import sys

    from imgconv.batch import plan_jobs, run_jobs
    from imgconv.batch.workers import worker_count
    from imgconv.cli.progress import batch_bar

    plan = plan_jobs(inputs, suffix=suffix, output=output, fmt=fmt, recursive=recursive, glob=glob_pattern,
                     overwrite=overwrite, skip_existing=skip_existing, depth=task.output.depth)
    workers, capped = worker_count(jobs, jobs=len(plan.jobs))
    if not quiet:
        for path in plan.ignored:
            click.echo(f"imgconv: note: {path}: not an image file, skipped", err=True)
        if capped:
            click.echo(f"imgconv: note: {capped}", err=True)
    with batch_bar(len(plan.jobs), label, show=plan.several and not quiet and sys.stderr.isatty()) as progress:
        summary = run_jobs(plan.jobs, task, workers=workers, progress=progress, scheduler=scheduler)
    summary.skipped += len(plan.skipped)
    if not quiet:
        for src, note in summary.notes:
            click.echo(f"imgconv: note: {src}: {note}", err=True)
    for _, reason in summary.failed:
        click.echo(f"imgconv: error: {reason}", err=True)
    if summary.interrupted:
        click.echo(f"imgconv: interrupted: {summary.line()}; --skip-existing resumes", err=True)
        ctx.exit(130)
    if plan.several and not quiet:
        click.echo(summary.line(), err=True)
    if summary.failed:
        ctx.exit(3 if plan.several else 2)
    return summary
