"""``imgconv match ... --angles/--levels``: the rotated and scaled search of :mod:`imgconv.locate`.

``match_cmd`` declares the options and hands over to :func:`run` when ``--angles``,
``--levels`` or ``--scales MIN:MAX`` (no step) is given; the images are read and
converted there, so both searches see the same pixels.  Outputs:

* JSON as for ``match``, each match with ``angle`` and ``scale`` as well;
* the table with ``angle`` and ``scale`` columns;
* ``--scores PATH``: the (H, W) float32 best score over all hypotheses of a window
  centred on each pixel (at the coarsest level searched, each level pixel over its
  block; ``--levels 1``: full resolution), NaN where no window is;
* ``--heatmap PATH``: that map in viridis with a colour bar, unscored pixels hatched
  grey (``--overlay``: over the picture); ``--annotate PATH``: rotated boxes.

Only Click is imported at load time (``imgconv --help`` stays fast).
"""
import math

import click

#: Largest number of levels the option accepts (the library refuses more than the
#: template's size allows).
MAX_LEVELS = 12


class ScaleRange(tuple):
    """``--scales MIN:MAX`` without a step: (min, max), the step chosen from the template."""


def scale_range(numbers, text):
    """The ScaleRange of ``MIN:MAX`` (for ``match_cmd``'s ``--scales`` parser)."""
    low, high = numbers
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise click.BadParameter(f"{text!r} needs 0 < MIN <= MAX")
    _check_bounds("scales", low, high, None)
    return ScaleRange((low, high))


def angles_option(ctx, param, value):
    """``--angles full|A|MIN:MAX|MIN:MAX:STEP`` -> "full", or a tuple of numbers."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() == "full":
        return "full"
    parts = text.split(":")
    numbers = []
    for part in parts:
        try:
            number = float(part)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise click.BadParameter(f"{value!r} is not full, A, MIN:MAX or MIN:MAX:STEP "
                                     "(finite numbers of degrees, e.g. -45:45 or 0:360:2)")
        numbers.append(number)
    if len(numbers) not in (1, 2, 3):
        raise click.BadParameter(f"{value!r} is not full, A, MIN:MAX or MIN:MAX:STEP")
    if len(numbers) == 1:
        numbers = [numbers[0], numbers[0]]
    _check_bounds("angles", *numbers[:2], numbers[2] if len(numbers) == 3 else None)
    return tuple(numbers)


def levels_option(ctx, param, value):
    """``--levels N|auto`` -> "auto" or an int in 1..MAX_LEVELS."""
    if value is None:
        return None
    text = value.strip().lower()
    if text == "auto":
        return "auto"
    try:
        number = int(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number of levels or 'auto'") from None
    if not 1 <= number <= MAX_LEVELS:
        raise click.BadParameter(f"{value!r}: levels must be 1..{MAX_LEVELS} or 'auto'")
    return number


def _check_bounds(name, low, high, step):
    """The library's bounds on a range (one line through click for a bad option)."""
    from imgconv.errors import MatchError
    from imgconv.locate.hypotheses import check_range

    try:
        check_range(name, low, high, step)
    except MatchError as exc:
        raise click.BadParameter(exc.message) from None


def wanted(angles, scales, levels):
    """Whether the rotated/scaled search runs (else plain ``match``)."""
    return angles is not None or levels is not None or isinstance(scales, ScaleRange)


def _scales_argument(scales):
    """``match_cmd``'s parsed ``--scales`` as :func:`imgconv.locate.locate` takes it."""
    if scales is None or isinstance(scales, ScaleRange):
        return None if scales is None else tuple(scales)
    values = list(scales)  # imgconv.match.scale_steps: MIN, MIN + STEP, ...
    if len(values) == 1:
        return values[0]
    return (values[0], values[-1], round(values[1] - values[0], 10))


def run(ctx, *, image, template, picture, pixels, tpixels, mask, angles, scales, levels,
        max_matches, threshold, min_distance, as_json, scores_path, heatmap_path,
        annotate_path, overlay):
    """Search, write the outputs, print the report; exit 1 when nothing is found."""
    import json

    from imgconv import render
    from imgconv.errors import MatchError
    from imgconv.imageio import write_image
    from imgconv.locate import search

    try:
        result = search(pixels, tpixels, angles=angles, scales=_scales_argument(scales), mask=mask,
                        max_matches=max_matches, threshold=threshold, min_distance=min_distance,
                        levels="auto" if levels is None else levels)
    except MatchError as exc:
        raise MatchError(exc.message, path=template) from None
    matches = result.matches
    if scores_path:
        write_image(scores_path, result.score_map, depth="float")
    if heatmap_path:
        write_image(heatmap_path, render.score_heatmap(result.score_map, pixels if overlay else None),
                    depth=8)
    if annotate_path:
        write_image(annotate_path, render.annotate_rotated(pixels, matches, tpixels.shape),
                    like=picture, depth=8)
    if as_json:
        height, width = pixels.shape[:2]
        report = {"image": image, "template": template, "image_size": [width, height],
                  "template_size": [tpixels.shape[1], tpixels.shape[0]],
                  "matches": [m.as_dict() for m in matches]}
        click.echo(json.dumps(report))
    else:
        click.echo(table(image, template, pixels.shape, tpixels.shape, matches))
    if not matches:
        click.echo(f"imgconv: no match scored {threshold} or more", err=True)
        ctx.exit(1)


def table(image, template, image_shape, template_shape, matches):
    """The readable report: one row per match, with angle (degrees) and scale."""
    lines = [(f"image {image} ({image_shape[1]}x{image_shape[0]}), "
              f"template {template} ({template_shape[1]}x{template_shape[0]})"),
             f"{'#':>3} {'x':>6} {'y':>6} {'score':>8} {'cx':>10} {'cy':>10} {'angle':>8} {'scale':>7}"]
    for k, m in enumerate(matches, 1):
        lines.append(f"{k:>3} {m.x:>6} {m.y:>6} {m.score:>8.4f} {m.cx:>10.2f} {m.cy:>10.2f} "
                     f"{m.angle:>8.2f} {m.scale:>7.4f}")
    return "\n".join(lines)
