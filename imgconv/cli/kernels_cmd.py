"""``imgconv kernels [SPEC]``: list the kernel presets, or show one kernel.

Imports only Click at module level; the kernels package is imported inside the
command so that ``imgconv --help`` stays fast, and the listing goes through
``imgconv.kernels.presets`` alone (no NumPy).
"""
import click


@click.command("kernels")
@click.argument("spec", required=False, metavar="[SPEC]")
def command(spec):
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
    """
    if spec is None:
        from imgconv.kernels.presets import preset_descriptions  # no NumPy: listing stays instant

        presets = preset_descriptions()
        width = max(len(name) for name, _ in presets)
        for name, description in presets:
            click.echo(f"{name:<{width}}  {description}")
        return
    import dataclasses

    from imgconv.cli.messages import one_line
    from imgconv.kernels import describe_kernel, load_kernel

    kernel = load_kernel(spec)  # its name and description as one line each: a newline forges none
    click.echo(describe_kernel(dataclasses.replace(kernel, name=one_line(kernel.name),
                                                   description=one_line(kernel.description))))
