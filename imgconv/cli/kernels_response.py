"""``imgconv kernels SPEC --response/--json/--plot``: the frequency view of one kernel.

Kept apart from ``kernels_cmd`` so that listing presets and showing a matrix load none of
this (nor SciPy or matplotlib).
"""
import json

import click


def show(spec, *, plot=None, db=False, response=False, as_json=False, overwrite=False):
    """Print the response summary (text or JSON) and/or write the plot of the kernel SPEC."""
    from imgconv.kernels import describe_kernel, load_kernel
    from imgconv.response import format_response, response_summary

    kernel = load_kernel(spec)  # a bad spec fails before anything else
    if plot is not None:
        from imgconv.plot import plot_kernel, require_matplotlib

        require_matplotlib("--plot")
        plot_kernel(kernel, plot, db=db, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(response_summary(kernel), ensure_ascii=False))
    elif response:
        click.echo(format_response(response_summary(kernel)))
    else:
        click.echo(describe_kernel(kernel))
    if plot is not None:
        click.echo(f"imgconv: wrote {plot}", err=True)
