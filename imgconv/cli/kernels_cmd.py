"""``imgconv kernels [SPEC]``: list the kernel presets, or show one kernel.

Imports only Click at module level; the kernels package is imported inside the
command so that ``imgconv --help`` stays fast, and the listing goes through
``imgconv.kernels.presets`` alone (no NumPy).
"""
import click


@click.command("kernels")
@click.argument("spec", required=False, metavar="[SPEC]")
@click.option("--response", is_flag=True, help="Print the frequency response: DC and Nyquist gains, -3 dB cutoffs, "
              "kind, separable rank, zero phase.")
@click.option("--json", "as_json", is_flag=True, help="Print the response summary as one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="PATH.png",
              help="Draw the kernel, its response magnitude and profiles (needs imgconv[plot]).")
@click.option("--db", is_flag=True, help="--plot the magnitude in dB.")
@click.option("--overwrite", is_flag=True, help="Let --plot replace an existing file.")
def command(spec, response, as_json, plot, db, overwrite):
    """List kernel presets, or show the kernel SPEC.

    SPEC is a preset with optional parameters (NAME:key=value,...), a kernel
    file (.txt, .csv, .kernel, .npy, .toml) or an inline matrix; it is shown
    with its matrices, size, sum and whether it is separable. Presets are
    written for true convolution (the default of `imgconv filter`).

    \b
    Examples:
      imgconv kernels
      imgconv kernels sobel
      imgconv kernels gaussian:sigma=1.5
      imgconv kernels "0,-1,0; -1,5,-1; 0,-1,0"
      imgconv kernels gaussian:sigma=2 --response
      imgconv kernels sobel --plot sobel.png
    """
    if spec is None and (response or as_json or plot is not None or db or overwrite):
        raise click.UsageError("--response, --json and --plot need a kernel SPEC")
    if plot is None and (db or overwrite):
        raise click.UsageError("--db and --overwrite go with --plot PATH.png")
    if response or as_json or plot is not None:
        from imgconv.cli.kernels_response import show

        return show(spec, plot=plot, db=db, response=response, as_json=as_json, overwrite=overwrite)
    if spec is None:
        from imgconv.kernels.presets import preset_descriptions  # no NumPy: listing stays instant

        presets = preset_descriptions()
        width = max(len(name) for name, _ in presets)
        for name, description in presets:
            click.echo(f"{name:<{width}}  {description}")
        return
    from imgconv.kernels import describe_kernel, load_kernel

    click.echo(describe_kernel(load_kernel(spec)))
