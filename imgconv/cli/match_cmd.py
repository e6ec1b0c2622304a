"""``imgconv match IMAGE TEMPLATE``: find a template in an image (ZNCC scores).

Alpha of the image and template is ignored.  When one of them is colour and the
other grey, the colour one is converted to grey (ITU-R 601-2 luma) and a note
goes to stderr; ``--gray`` converts both.  A ``--mask`` image selects the
template pixels that count: its alpha channel if it has one, else its pixels
(non-zero in any channel counts).  With ``--scales``, ``--scores`` and
``--heatmap`` show the score map at the best match's scale (or, with no match,
at the listed scale closest to 1).  ``--angles``, ``--levels`` or ``--scales
MIN:MAX`` run the rotated and scaled search instead (``locate_cmd``).
``--heatmap`` draws a colour bar and hatches unscored pixels grey; ``--overlay``
blends it over the picture.  Exit status 1 when nothing reaches the
threshold (the other outputs are still written), 2 for bad input.

That policy is the library's (:func:`imgconv.match.prepare_match`,
:func:`imgconv.match.scores_at_best_scale`); this module parses options and prints.
"""
import click

from imgconv.cli import locate_cmd
from imgconv.cli.common import FiniteFloat


def _scales_option(ctx, param, value):
    if value is None:
        return None
    parts = value.split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2, 3):
        raise click.BadParameter(f"{value!r} is not MIN:MAX[:STEP] (e.g. 0.5:2:0.1) or one scale")
    if len(numbers) == 2:  # no step: chosen from the template by imgconv.locate
        from imgconv.cli.locate_cmd import scale_range

        return scale_range(numbers, value)
    from imgconv.errors import MatchError
    from imgconv.match import scale_steps

    try:
        return scale_steps(*numbers) if len(numbers) == 3 else scale_steps(numbers[0], numbers[0], 1)
    except MatchError as exc:
        raise click.BadParameter(exc.message) from None


@click.command("match")
@click.argument("image", metavar="IMAGE")
@click.argument("template", metavar="TEMPLATE")
@click.option("-n", "--max-matches", type=click.IntRange(1, 10**9), default=1, show_default=True,
              help="Report at most N matches.")
@click.option("-t", "--threshold", type=FiniteFloat(-1, 1), default=0.5, show_default=True,
              help="Lowest score (Pearson r, -1..1) reported as a match.")
@click.option("--min-distance", type=FiniteFloat(0, 1e9), default=None, metavar="D",
              help="Suppress peaks closer than D px (in x and y) to a better one "
                   "[default: half the template's smaller side].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--scores", "scores_path", metavar="PATH.npy",
              help="Write the raw float32 score map (.npy; or float .tif).")
@click.option("--heatmap", "heatmap_path", metavar="PATH",
              help="Write the scores as a viridis picture the size of IMAGE.")
@click.option("--annotate", "annotate_path", metavar="PATH",
              help="Write IMAGE with a box and score drawn per match.")
@click.option("--gray", "--grey", "gray", is_flag=True,
              help="Convert image and template to grey (ITU-R 601-2 luma) first.")
@click.option("--mask", "mask_path", metavar="PATH",
              help="Template mask image (same size): only its non-zero pixels count.")
@click.option("--scales", callback=_scales_option, metavar="MIN:MAX[:STEP]",
              help="Also search the template resized by these factors, e.g. 0.5:2:0.1 "
                   "(no STEP: chosen from the template's size).")
@click.option("--angles", callback=locate_cmd.angles_option, metavar="MIN:MAX[:STEP]|full",
              help="Also search the template turned by these angles (degrees, counter-clockwise "
                   "on screen; full = -180:180; no STEP: chosen from the template's size).")
@click.option("--levels", callback=locate_cmd.levels_option, metavar="N|auto",
              help="Pyramid levels of the rotated/scaled search (1 = exhaustive) [default: auto].")
@click.option("--overlay", is_flag=True, help="Blend --heatmap over the picture.")
@click.pass_context
def command(ctx, image, template, max_matches, threshold, min_distance, as_json, scores_path,
            heatmap_path, annotate_path, gray, mask_path, scales, angles, levels, overlay):
    """Find TEMPLATE in IMAGE by zero-mean normalised cross-correlation.

    Scores are Pearson r between the template and every window (OpenCV's
    TM_CCOEFF_NORMED); colour is scored jointly over channels. Exit status 1
    when no match reaches the threshold.

    \b
    Examples:
      imgconv match scene.png logo.png
      imgconv match scene.png logo.png -n 5 -t 0.8 --json
      imgconv match scene.png logo.png --heatmap heat.png --annotate found.png
      imgconv match scene.png logo.png --scales 0.5:2:0.1 --mask logo-mask.png
      imgconv match scene.png logo.png --angles full --scales 0.8:1.25 --annotate found.png
    """
    import json

    from imgconv import render
    from imgconv.cli.messages import note, say
    from imgconv.errors import MatchError
    from imgconv.imageio import read_image, write_image
    from imgconv.loopcache import warm_in_background
    from imgconv.match import find_matches, match_multiscale, match_template, prepare_match, scores_at_best_scale

    outputs = {"--annotate": annotate_path, "--heatmap": heatmap_path, "--scores": scores_path}
    _refuse_shared_streams(ctx, outputs)
    if overlay and not heatmap_path:
        raise click.UsageError("--overlay needs --heatmap PATH")
    _refuse_overwriting_inputs((image, template, mask_path), (annotate_path, heatmap_path, scores_path))
    if min_distance is not None and max_matches == 1:
        note("--min-distance is used only with -n/--max-matches above 1: ignored")
    warm_in_background()
    picture = read_image(image)
    pattern = read_image(template)
    mask_picture = read_image(mask_path) if mask_path else None
    pixels, tpixels, mask, notes = prepare_match(picture, pattern, mask=mask_picture, gray=gray)
    read_notes = [f"{p.path}: {n}" for p in (picture, pattern, mask_picture) if p is not None for n in p.notes]
    for message in read_notes + notes:  # an animation or a multi-page TIFF: its first frame, said so
        note(message)
    if locate_cmd.wanted(angles, scales, levels):
        return locate_cmd.run(ctx, image=image, template=template, picture=picture, pixels=pixels,
                              tpixels=tpixels, mask=mask, angles=angles, scales=scales, levels=levels,
                              max_matches=max_matches, threshold=threshold, min_distance=min_distance,
                              as_json=as_json, scores_path=scores_path, heatmap_path=heatmap_path,
                              annotate_path=annotate_path, overlay=overlay, mask_path=mask_path)

    try:
        if scales is None:
            scores = match_template(pixels, tpixels, mask=mask)
            matches = find_matches(scores, tpixels.shape, max_matches=max_matches,
                                   threshold=threshold, min_distance=min_distance)
            map_shape = tpixels.shape
        else:
            matches = match_multiscale(pixels, tpixels, scales, mask=mask,
                                       max_matches=max_matches, threshold=threshold,
                                       min_distance=min_distance)
            scores = map_shape = None
            if scores_path or heatmap_path:
                scores, map_shape = scores_at_best_scale(pixels, tpixels, scales, matches, mask=mask)
    except MatchError as exc:  # name the file at fault
        files = {"image": image, "template": template, "mask": mask_path}
        raise MatchError(exc.message, path=files.get(exc.subject), subject=exc.subject) from None

    if scores_path:
        write_image(scores_path, scores, depth="float")
    if heatmap_path:
        score_map = render.centred_scores(scores, pixels.shape, map_shape)
        write_image(heatmap_path, render.score_heatmap(score_map, pixels if overlay else None), depth=8)
    if annotate_path:
        write_image(annotate_path, render.annotate(pixels, matches), like=picture, depth=8)

    if as_json:
        height, width = pixels.shape[:2]
        report = {"image": image, "template": template, "image_size": [width, height],
                  "template_size": [tpixels.shape[1], tpixels.shape[0]],
                  "matches": [m.as_dict(with_scale=scales is not None) for m in matches]}
        click.echo(json.dumps(report))
    else:
        click.echo(_table(image, template, pixels.shape, tpixels.shape, matches, scales))
    if not matches:
        say(f"no match scored {threshold} or more")
        ctx.exit(1)


def _refuse_shared_streams(ctx, outputs):
    """One stream, one thing: stdout carries the results, so no picture goes there, and no two
    outputs share a file."""
    import os

    seen = {}
    for option, path in outputs.items():
        if path is None:
            continue
        if path == "-":
            raise click.UsageError(f"{option} -: standard output carries the results (the table or --json); "
                                   f"write {option} to a file", ctx)
        key = os.path.abspath(path)
        if key in seen:
            raise click.UsageError(f"{seen[key]} and {option} would both write {path}: give each its own file", ctx)
        seen[key] = option


def _refuse_overwriting_inputs(inputs, outputs):
    """An input is never touched: refuse any output path that is one of the inputs."""
    from imgconv.errors import ImageWriteError
    from imgconv.paths import real_path

    def same(a, b):  # never raises, on a link loop or a name too long either
        return real_path(a) == real_path(b)

    for out in filter(None, outputs):
        for src in filter(None, inputs):
            if same(out, src):
                raise ImageWriteError("output would overwrite an input of this run", path=out)


def _table(image, template, image_shape, template_shape, matches, scales):
    from imgconv.cli.messages import one_line

    lines = [one_line(f"image {image} ({image_shape[1]}x{image_shape[0]}), "
                      f"template {template} ({template_shape[1]}x{template_shape[0]})")]
    header = f"{'#':>3} {'x':>6} {'y':>6} {'score':>8} {'cx':>10} {'cy':>10}"
    lines.append(header + (f" {'scale':>7}" if scales is not None else ""))
    for k, m in enumerate(matches, 1):
        row = f"{k:>3} {m.x:>6} {m.y:>6} {m.score:>8.4f} {m.cx:>10.2f} {m.cy:>10.2f}"
        lines.append(row + (f" {m.scale:>7.3f}" if scales is not None else ""))
    return "\n".join(lines)
