"""Template matching: ZNCC score maps, peak finding, sub-pixel refinement, multi-scale search.

``scores`` makes the score map (Pearson r of the template against every window),
``peaks`` turns it into :class:`Match` objects, ``multiscale`` searches resized templates,
``prepare`` turns pictures into the pixels to match.  How the scores are computed
and how accurate the sub-pixel centres are: ``docs/match.md``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> image = rng.random((60, 80)).astype(np.float32)
>>> scores = match_template(image, image[20:30, 40:52])
>>> scores.shape, int(scores.argmax())
((51, 69), 1420)
>>> m = find_matches(scores, (10, 12))[0]
>>> m.x, m.y, round(m.score, 4), round(m.cx, 1), round(m.cy, 1)
(40, 20, 1.0, 45.5, 24.5)
"""
# Only the public names are re-exported: a setting such as scores.COMPILED_MIN_OUTPUTS is
# read in its own module, so change (or monkeypatch) it there.
from imgconv.filtering import to_gray
from imgconv.match.multiscale import match_multiscale, resize_template, scale_steps, scores_at_best_scale
from imgconv.match.peaks import SUBPIXEL_RADIUS, Match, find_matches
from imgconv.match.prepare import MatchInputs, prepare_match
from imgconv.match.scores import FLAT_TOLERANCE, match_template

__all__ = ["FLAT_TOLERANCE", "SUBPIXEL_RADIUS", "Match", "MatchInputs", "find_matches",
           "match_multiscale", "match_template", "prepare_match", "resize_template",
           "scale_steps", "scores_at_best_scale", "to_gray"]
