"""``imgconv estimate-kernel BEFORE AFTER --size HxW``: measure the kernel behind a pair."""
import click

from imgconv.choices import MODES
from imgconv.cli.common import FINITE, FiniteFloat

_SHOW_MAX = 15


@click.command("estimate-kernel")
@click.argument("before", metavar="BEFORE")
@click.argument("after", metavar="AFTER")
@click.option("--size", required=True, metavar="HxW",
              help="Kernel size, rows x columns (e.g. 15x15, or 15), each 1..31; at least as large as the blur.")
@click.option("-o", "--output", metavar="KERNEL", help="Save the kernel: .npy, .txt, .csv, .kernel or .toml.")
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="Fit every pixel, the picture extended by this border mode. Default: only pixels whose "
                   "window lies inside the picture (nothing assumed about the border).")
@click.option("--cval", type=FINITE, default=0.0, show_default=True,
              help="Value outside the picture for --mode constant.")
@click.option("--regularize", type=FiniteFloat(min=0), default=0.0, show_default=True, metavar="λ",
              help="Weight of λ‖K‖² against the mean squared residual per pixel: ~1e-5 steadies noisy "
                   "pairs; larger shrinks K.")
@click.option("--channels", type=click.Choice(["joint", "each"]), default="joint", show_default=True,
              help="joint: one kernel from all colour channels; each: one per channel (a C x H x W .npy).")
@click.option("--overwrite", is_flag=True, help="Replace an existing KERNEL file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (kernel, sum, fit) instead of text.")
def command(before, after, size, output, mode, cval, regularize, channels, overwrite, as_json):
    """Estimate the kernel K that turns BEFORE into AFTER (`filter BEFORE -k K` gives AFTER).

    K minimises ‖BEFORE ⊗ K − AFTER‖² + λ‖K‖², solved exactly (least squares), in
    imgconv's convolution convention. Prints K, its sum and the fit (PSNR of BEFORE ⊗ K
    against AFTER, residual); warns when the fit is poor (PSNR under 30 dB).

    \b
    Examples:
      imgconv estimate-kernel sharp.png blurred.png --size 15x15 -o blur.npy
      imgconv estimate-kernel a.png b.png --size 5 --mode reflect -o k.txt
      imgconv deconvolve other.png --psf blur.npy -o restored.png
    """
    import json
    import os

    from imgconv.errors import ImgconvError
    from imgconv.estimate import POOR_PSNR, kernel_fit, parse_size, solve_kernel
    from imgconv.imageio import read_image
    from imgconv.kernel_writer import check_kernel_path, save_kernel

    h, w = parse_size(size)
    if output is not None:
        check_kernel_path(output, stack=channels == "each", overwrite=overwrite)
        for source in (before, after):
            if os.path.exists(source) and os.path.exists(output) and os.path.samefile(source, output):
                raise ImgconvError("the kernel output would overwrite an input", path=output)
    pics = [read_image(p) for p in (before, after)]
    pixels = [p.pixels[..., :-1] if p.has_alpha else p.pixels for p in pics]  # alpha is not filtered
    try:
        kernel, singular = solve_kernel(*pixels, (h, w), mode=mode, cval=cval, regularize=regularize,
                                        channels=channels)
        fit = kernel_fit(*pixels, kernel, mode=mode, cval=cval)
    except ImgconvError as exc:
        raise ImgconvError(f"{before}, {after}: {exc.message}") from None
    region = "all pixels, border mode " + mode if mode else "pixels whose window lies inside the picture"
    if output is not None:
        note = (f"estimated by imgconv estimate-kernel from {os.path.basename(before)} -> "
                f"{os.path.basename(after)}, {h}x{w} (H x W), fit PSNR {fit.psnr:.1f} dB")
        save_kernel(output, kernel, description=note, overwrite=overwrite)
    sums = kernel.sum(axis=(-2, -1))
    if as_json:
        click.echo(json.dumps({
            "before": before, "after": after, "size": [h, w], "mode": mode, "regularize": regularize,
            "channels": channels, "kernel": kernel.tolist(), "sum": sums.tolist(),
            "fit": dict(fit.as_dict(), psnr=fit.psnr if fit.psnr != float("inf") else None),
            "poor_fit": fit.poor, "singular": singular, "output": output,
        }))
    else:
        stack = kernel if kernel.ndim == 3 else kernel[None]
        for c, k in enumerate(stack):
            head = f"channel {c}: " if kernel.ndim == 3 else ""
            click.echo(f"{head}kernel {h}x{w} (H x W), sum {float(k.sum()):.6g}")
            click.echo(_format(k))
        click.echo(f"fit over {fit.pixels} {region}: PSNR {fit.psnr:.2f} dB, RMS residual {fit.rms:.3g} "
                   f"({fit.rms * 255:.3g} of an 8-bit level), max |residual| {fit.max_abs:.3g}")
    if singular:
        click.echo("imgconv: note: the equations are singular (BEFORE has too little detail for a kernel this "
                   "size): the smallest such kernel is given; --regularize or a smaller --size helps", err=True)
    if fit.poor:
        click.echo(f"imgconv: warning: poor fit (PSNR {fit.psnr:.1f} dB < {POOR_PSNR:g} dB): the pictures may be "
                   "misaligned, the change not linear (a gamma or tone curve, clipping), or the kernel larger "
                   f"than --size {h}x{w}", err=True)
    if output is not None:
        click.echo(f"imgconv: wrote {output}", err=True)


def _format(k):
    """Rows of the kernel (the centre 15x15 when it is larger), 5 decimals."""
    h, w = k.shape
    r0, c0 = max(0, (h - _SHOW_MAX) // 2), max(0, (w - _SHOW_MAX) // 2)
    shown = k[r0: r0 + _SHOW_MAX, c0: c0 + _SHOW_MAX]
    lines = ["  " + " ".join(f"{v:9.5f}" for v in row) for row in shown]
    if shown.shape != k.shape:
        lines.insert(0, f"  (centre {shown.shape[0]}x{shown.shape[1]} shown; the file holds all of it)")
    return "\n".join(lines)
