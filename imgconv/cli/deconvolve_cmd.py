"""``imgconv deconvolve``: undo a known blur (defocus, camera shake, a measured PSF)."""
import os
import sys
from pathlib import Path

import click

from imgconv.choices import DECONVOLUTION_METHODS
from imgconv.cli import common


def _kernel_option(ctx, param, value):
    """``-k`` is filter's option: say where deconvolve takes the blur."""
    if value is not None:
        raise click.UsageError(f"deconvolve takes the blur to undo as --psf SPEC, not -k: --psf {value}", ctx)


@click.command("deconvolve")
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--psf", "psf_spec", required=True, metavar="SPEC",
              help="The blur to undo: anything -k accepts (gaussian:sigma=2, motion:length=15,angle=30, "
                   "a kernel file, an inline matrix), or a measured PSF as TIFF; normalised to sum 1. "
                   "A 3-D PSF (gaussian:sigma=1,1,3, a 3-D .npy, a TIFF stack) restores volumes.")
@click.option("--method", type=click.Choice(DECONVOLUTION_METHODS), default="wiener", show_default=True,
              help="wiener: regularised inverse filter, one pass; richardson-lucy: iterative, non-negative.")
@click.option("--balance", type=common.FiniteFloat(0, 1e6), metavar="λ",
              help="Regularisation weight. wiener: larger = smoother, less noise (default: estimated from "
                   "the image's noise; at most 1e6); richardson-lucy: total-variation damping (default 0 = "
                   "none; at most 1, 0.001-0.01 is typical).")
@click.option("--iterations", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="richardson-lucy iterations: more = sharper, but noise grows.")
@click.option("-k", "--kernel", "misplaced_kernel", hidden=True, expose_value=False, callback=_kernel_option)
@common.border_options
@common.pixel_options
@common.stack_options
@common.output_options("<stem>.deconv.<ext>")
@click.pass_context
def command(ctx, inputs, psf_spec, method, balance, iterations, mode, cval, channels,
            alpha, background, linear, nan, valid, absolute, frames, volume,
            output, overwrite, skip_existing, depth, fmt, quality, recursive, glob_pattern, jobs, scheduler,
            max_pixels, max_memory, as_json, quiet):
    """Deconvolve IMAGE files or folders: bring back a picture blurred by a known PSF.

    \b
    Examples:
      imgconv deconvolve photo.png --psf gaussian:sigma=2        # -> photo.deconv.png
      imgconv deconvolve shake.jpg --psf motion:length=15,angle=30 -o fixed.jpg
      imgconv deconvolve cells.tif --psf psf.npy --method richardson-lucy --iterations 50
      imgconv deconvolve scans/ -r --psf "1,2,1; 2,4,2; 1,2,1" -o sharp/
      imgconv deconvolve tile.png --psf gaussian:sigma=1.5 --mode wrap
      imgconv deconvolve zstack.tif --psf gaussian:sigma=1.2,1.2,3 --method richardson-lucy   # 3-D
      imgconv deconvolve zstack.tif --psf bead.tif --method richardson-lucy -o restored.tif
    """
    from imgconv.cli.messages import one_line
    from imgconv.cli.progress import LazyBar
    from imgconv.deconvolve import check_balance, load_psf
    from imgconv.errors import ImgconvError
    from imgconv.kernels import spec_notes
    from imgconv.loopcache import warm_in_background
    from imgconv.missing import check_averaging
    from imgconv.tasks import DeconvolveOptions, DeconvolveTask

    try:
        check_balance(method, balance)
    except ImgconvError as exc:
        raise click.BadParameter(exc.message, ctx, param_hint="'--balance'") from None
    # a bad PSF fails here, once, before any file is read
    psf = load_psf(psf_spec, nonnegative=method == "richardson-lucy")
    if nan == "ignore":
        check_averaging([psf], psf_spec)
    common.check_valid(valid, max_pixels)
    notes = spec_notes(psf_spec)
    if (psf < 0).any():
        notes.append(f"--psf {psf_spec} has negative taps: it is not a blur (a blur's PSF is >= 0 everywhere), "
                     "so deconvolving it does not sharpen")
    common.echo_notes(notes, quiet)
    warm_in_background()
    # a bar per image only for one input: a batch has its own bar, workers must not draw
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir()
    bar = LazyBar(one_line(f"deconvolving {Path(inputs[0]).name}")) if single and not quiet and sys.stderr.isatty() \
        else None
    options = DeconvolveOptions(method=method, balance=balance, iterations=iterations, mode=mode, cval=cval,
                                channels=channels, alpha=alpha, linear=linear, nan=nan,
                                valid=None if valid is None else os.path.abspath(valid), absolute=absolute)
    output_options = common.output_settings(depth, quality, fmt, max_pixels, background, frames, volume,
                                            max_memory=max_memory)
    task = DeconvolveTask(psf=psf, options=options, output=output_options, progress=bar)
    try:
        common.run_batch(ctx, inputs, task, suffix="deconv", output=output, fmt=fmt, recursive=recursive,
                         glob_pattern=glob_pattern, overwrite=overwrite, skip_existing=skip_existing, jobs=jobs,
                         scheduler=scheduler, quiet=quiet, label="deconvolving", as_json=as_json)
    finally:
        if bar is not None:
            bar.close()

