"""``imgconv filter``: apply kernels to images, files or whole folders."""
import os

import click

from imgconv.choices import METHODS
from imgconv.cli.common import (
    SCALED,
    border_options,
    check_valid,
    echo_notes,
    output_options,
    output_settings,
    pixel_options,
    run_batch,
    stack_options,
)


@click.command("filter")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-k", "--kernel", "kernels", multiple=True, required=True, metavar="SPEC",
              help="Preset[:params], kernel file (.txt .csv .kernel .npy .toml) or inline matrix "
                   "'0,-1,0; -1,5,-1; 0,-1,0' (or ImageMagick's '3x3: 0,-1,0,-1,5,-1,0,-1,0'). "
                   "Repeat to chain. 'imgconv kernels' lists the presets.")
@border_options
@click.option("--correlate", is_flag=True, help="Apply the kernel as written (correlation), not flipped.")
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
              help="Convolution method; auto picks the fastest by a cost model.")
@click.option("--normalize", is_flag=True, help="Divide each kernel by its sum (when the sum is not ~0).")
@click.option("--scale", type=SCALED, default=1.0, show_default=True, help="Multiply the filtered result.")
@click.option("--offset", type=SCALED, default=0.0, show_default=True,
              help="Then add this (fraction of full scale: 0.5 = mid grey).")
@pixel_options
@click.option("--explain", is_flag=True, help="Print the method chosen for each kernel, for each input size "
              "(to stderr).")
@stack_options
@output_options("<stem>.<kernel>.<ext>")
@click.pass_context
def command(ctx, inputs, kernels, mode, cval, correlate, method, normalize, scale, offset, channels, explain,
            alpha, background, linear, nan, valid, absolute, frames, volume,
            output, overwrite, skip_existing, depth, fmt, quality, recursive, glob_pattern, jobs, scheduler,
            max_pixels, max_memory, as_json, quiet):
    """Filter INPUT images (files, folders, or - for stdin) with kernels.

    \b
    Examples:
      imgconv filter photo.jpg -k sobel                 # -> photo.sobel.jpg
      imgconv filter photo.png -k gaussian:sigma=2 -o soft.png
      imgconv filter scans/ -r -k sharpen -o sharp/ -j 2
      imgconv filter in.png -k "0,-1,0; -1,5,-1; 0,-1,0" --explain
      cat in.png | imgconv filter - -k emboss -o - > out.png
      imgconv filter logo.png -k gaussian:sigma=3 --linear -o soft.png
      imgconv filter dem.tif -k gaussian:sigma=2 --nan ignore --depth float -o smooth.tif
      imgconv filter anim.gif -k sharpen                # every frame -> anim.sharpen.gif
      imgconv filter stack.tif -k gaussian:sigma=1,1,3  # a 3-D kernel: the stack as a volume
    """
    from imgconv.filtering import applied_matrices, resolve_kernels
    from imgconv.kernels import spec_notes
    from imgconv.loopcache import warm_in_background
    from imgconv.missing import check_averaging
    from imgconv.stream.budget import one_malloc_arena
    from imgconv.tasks import FilterOptions, FilterTask

    one_malloc_arena()  # the strips' threads share freed memory (a one-off process)
    chain = resolve_kernels(kernels)  # bad specs fail here, once, before any file is read
    if nan == "ignore":
        for kernel in chain:
            check_averaging(applied_matrices([kernel], normalize), kernel.name)
    check_valid(valid, max_pixels)
    echo_notes([note for spec in kernels for note in spec_notes(spec)], quiet)
    warm_in_background()
    suffix = "+".join(k.slug for k in chain)
    if explain:
        from imgconv.cli.explain import print_explain

        print_explain(inputs, chain, output=output, suffix=suffix, recursive=recursive, glob=glob_pattern,
                      method=method, correlate=correlate, channels=channels, alpha=alpha, normalize=normalize,
                      volume=volume or any(k.ndim == 3 for k in chain))
    options = FilterOptions(mode=mode, cval=cval, method=method, correlate=correlate, normalize=normalize,
                            scale=scale, offset=offset, channels=channels, alpha=alpha, linear=linear, nan=nan,
                            valid=None if valid is None else os.path.abspath(valid), absolute=absolute)
    task = FilterTask(kernels=tuple(chain), options=options,
                      output=output_settings(depth, quality, fmt, max_pixels, background, frames, volume,
                                             max_memory=max_memory))
    if scheduler is not None and _filter_huge(inputs, task, suffix, output, scheduler, overwrite, skip_existing,
                                              quiet):
        return
    run_batch(ctx, inputs, task, suffix=suffix, output=output, fmt=fmt,
              recursive=recursive, glob_pattern=glob_pattern, overwrite=overwrite, skip_existing=skip_existing,
              jobs=jobs, scheduler=scheduler, quiet=quiet, label="filtering", as_json=as_json)


def _filter_huge(inputs, task, suffix, output, scheduler, overwrite, skip_existing, quiet):
    """One huge input split across the cluster (see :mod:`imgconv.batch.huge`); False when the
    run is an ordinary one."""
    from pathlib import Path

    from imgconv.batch.huge import default_output, filter_huge, huge_source
    from imgconv.cli.messages import note

    source = huge_source(inputs, task)
    if source is None:
        return False
    if output == "-":
        raise click.UsageError("stdin and stdout cannot be used with --scheduler")
    dst = Path(output) if output is not None else default_output(source, suffix)
    if dst.exists() and skip_existing:
        if not quiet:
            note(f"{dst}: exists, skipped")
        return True
    chunks = filter_huge(source, task, dst, scheduler, overwrite=overwrite)
    if not quiet:
        h, w = source.shape[:2]
        note(f"{inputs[0]}: {w}x{h} filtered in {chunks} chunks on the cluster")
    return True
