"""``imgconv deconvolve``: undo a known blur (defocus, camera shake, a measured PSF)."""
import sys
from pathlib import Path

import click

from imgconv.cli.common import FiniteFloat, output_options, run_batch


@click.command("deconvolve")
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--psf", "psf_spec", required=True, metavar="SPEC",
              help="The blur to undo: anything -k accepts (gaussian:sigma=2, motion:length=15,angle=30, "
                   "a kernel file, an inline matrix); normalised to sum 1.")
@click.option("--method", type=click.Choice(["wiener", "richardson-lucy"]), default="wiener", show_default=True,
              help="wiener: regularised inverse filter, one pass; richardson-lucy: iterative, non-negative.")
@click.option("--balance", type=FiniteFloat(min=0), metavar="λ",
              help="Regularisation weight. wiener: larger = smoother, less noise (default: estimated from "
                   "the image's noise); richardson-lucy: total-variation damping (default 0 = none).")
@click.option("--iterations", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="richardson-lucy iterations: more = sharper, but noise grows.")
@output_options
@click.pass_context
def command(ctx, inputs, psf_spec, method, balance, iterations,
            output, overwrite, skip_existing, depth, fmt, quality, recursive, glob_pattern, jobs, max_pixels, quiet):
    """Deconvolve IMAGE files or folders: bring back a picture blurred by a known PSF.

    \b
    Examples:
      imgconv deconvolve photo.png --psf gaussian:sigma=2        # -> photo.deconv.png
      imgconv deconvolve shake.jpg --psf motion:length=15,angle=30 -o fixed.jpg
      imgconv deconvolve cells.tif --psf psf.npy --method richardson-lucy --iterations 50
      imgconv deconvolve scans/ -r --psf "1,2,1; 2,4,2; 1,2,1" -o sharp/
    """
    # a bad PSF fails here, once, before any file is read
    psf = load_psf(psf_spec, nonnegative=method == "richardson-lucy")
    from imgconv.tasks import DeconvolveTask

    task = DeconvolveTask(
        psf=psf, method=method, balance=balance, iterations=iterations,
        depth=None if depth is None else (depth if depth == "float" else int(depth)),
        quality=quality, fmt=fmt, max_pixels=max_pixels,
        # a bar per image only for one input: a batch has its own bar, workers must not draw
        progress=not quiet and sys.stderr.isatty() and len(inputs) == 1 and not Path(inputs[0]).is_dir(),
    )
    run_batch(ctx, inputs, task, suffix="deconv", output=output, fmt=fmt, recursive=recursive,
              glob_pattern=glob_pattern, overwrite=overwrite, skip_existing=skip_existing, jobs=jobs,
              quiet=quiet, label="deconvolving")


def load_psf(spec, nonnegative=False):
    """Resolve a ``--psf`` spec to one validated 2-D matrix with sum 1 (KernelError otherwise)."""
    from imgconv.deconvolve import check_psf
    from imgconv.errors import KernelError
    from imgconv.kernels import load_kernel

    kernel = load_kernel(spec)
    if len(kernel.matrices) != 1:
        raise KernelError(f"--psf {spec}: a PSF must be one matrix, this kernel has {len(kernel.matrices)}")
    try:
        return check_psf(kernel.matrices[0], nonnegative=nonnegative)
    except KernelError as exc:
        raise KernelError(f"--psf {spec}: {exc.message}") from None
