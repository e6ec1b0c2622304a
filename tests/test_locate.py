"""Rotation- and scale-invariant location (imgconv.locate) and ``match --angles``."""
import json
import math
import subprocess
import sys

import locate_cases as LC
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import imgconv
from imgconv import render
from imgconv.errors import MatchError
from imgconv.locate import Located, hypotheses, search


@pytest.fixture(scope="module")
def photos():
    found = LC.sample_photos()
    if len(found) < 2:
        pytest.skip("needs two photographs in samples/")
    return found


def _paste(scene, template, angle, scale, centre):
    """The template turned and scaled by Pillow (documented counter-clockwise), pasted."""
    h, w = template.shape
    big = Image.fromarray(template.astype(np.float32), "F")
    size = (round(w * scale), round(h * scale))
    turned = big.resize(size, Image.Resampling.BICUBIC).rotate(angle, Image.Resampling.BICUBIC,
                                                               expand=True)
    cover = Image.fromarray(np.ones((size[1], size[0]), np.float32), "F").rotate(
        angle, Image.Resampling.BILINEAR, expand=True)
    values, alpha = np.asarray(turned), np.clip(np.asarray(cover), 0, 1)
    out = scene.copy()
    top, left = centre[0] - values.shape[0] // 2, centre[1] - values.shape[1] // 2
    region = out[top:top + values.shape[0], left:left + values.shape[1]]
    region[...] = region * (1 - alpha) + values * alpha
    return out, (top + (values.shape[0] - 1) / 2, left + (values.shape[1] - 1) / 2)


# --------------------------------------------------------------------------- conventions


def test_angle_is_counter_clockwise_on_screen_like_pillow(photos):
    template = photos[0][100:148, 200:248]
    scene = LC.fit(photos[1], (220, 260), np.random.default_rng(0))
    for angle in (30.0, -75.0, 150.0):
        pasted, (cy, cx) = _paste(scene, template, angle, 1.2, (110, 130))
        m = imgconv.locate(pasted, template, angles="full", scales=(0.8, 1.5))[0]
        assert abs((m.angle - angle + 180) % 360 - 180) < 0.5
        assert abs(m.scale - 1.2) < 0.02
        assert math.hypot(m.cx - cx, m.cy - cy) < 1.0
        assert isinstance(m, Located) and isinstance(m, imgconv.Match)


def test_unturned_search_equals_match_template(photos):
    image = photos[1][:200, :240]
    template = image[60:100, 90:140]
    plain = imgconv.find_matches(imgconv.match_template(image, template), template.shape)[0]
    found = imgconv.locate(image, template)[0]
    assert (found.x, found.y) == (plain.x, plain.y) == (90, 60)
    assert found.score == pytest.approx(1.0, abs=1e-6) and found.angle == 0 and found.scale == 1
    assert abs(found.cx - 114.5) < 0.05 and abs(found.cy - 79.5) < 0.05
    assert found.as_dict() == {"x": 90, "y": 60, "score": round(found.score, 6), "cx": round(found.cx, 4),
                               "cy": round(found.cy, 4), "angle": 0.0, "scale": 1.0}


def test_located_box_and_corners():
    m = Located(0, 0, 0.9, 50.0, 40.0, 2.0, 20, 10, angle=90.0)
    corners = np.array(m.corners((5, 10)))
    # a 10 x 5 template at scale 2 turned a quarter counter-clockwise: 10 wide, 20 high
    assert np.allclose(corners.min(axis=0), [45, 30]) and np.allclose(corners.max(axis=0), [55, 50])
    assert np.allclose(corners[0], [45, 50])  # the template's top-left went to the bottom-left


def test_scores_only_inside_the_outline(photos):
    """A turned template's box corners never count: changing the scene outside the
    outline does not change the score."""
    template = photos[0][150:198, 250:298]
    scene = LC.fit(photos[2], (200, 200), np.random.default_rng(1))
    pasted, (cy, cx) = _paste(scene, template, 45.0, 1.0, (100, 100))
    first = imgconv.locate(pasted, template, angles=(40, 50))[0]
    other = pasted.copy()
    rows, cols = np.mgrid[0:200, 0:200]
    # the four triangles between the 45-degree square and its bounding box
    outside = (np.abs(rows - cy) + np.abs(cols - cx) > 48 / math.sqrt(2) * 1.02) & \
        (np.abs(rows - cy) < 35) & (np.abs(cols - cx) < 35)
    other[outside] = np.random.default_rng(2).random(int(outside.sum()))
    second = imgconv.locate(other, template, angles=(40, 50))[0]
    assert first.score > 0.97
    assert second.score == pytest.approx(first.score, abs=2e-3)
    assert abs(second.angle - first.angle) < 0.05 and abs(second.cx - first.cx) < 0.05


def test_user_mask_combines_with_outline(photos):
    template = photos[0][100:148, 300:348].copy()
    scene = LC.fit(photos[3], (200, 220), np.random.default_rng(3))
    pasted, _ = _paste(scene, template, -20.0, 1.1, (100, 110))
    spoiled = template.copy()
    spoiled[:, :16] = np.random.default_rng(4).random((48, 16))   # the left third is wrong
    mask = np.ones((48, 48), bool)
    mask[:, :18] = False
    without = imgconv.locate(pasted, spoiled, angles=(-40, 0), scales=(1.0, 1.2), threshold=-1)[0]
    masked = imgconv.locate(pasted, spoiled, angles=(-40, 0), scales=(1.0, 1.2), mask=mask)[0]
    assert masked.score > 0.95 > without.score
    assert abs(masked.angle + 20) < 0.5 and abs(masked.scale - 1.1) < 0.02


# --------------------------------------------------------------------------- accuracy


#: The operating threshold of the accuracy tests: over thousands of angles and scales the
#: best score of a smooth template in a scene without it reaches 0.88 (30 scenes); the
#: objects, noisy and with changed brightness and contrast, score 0.93 or more.
THRESHOLD = 0.9


def test_accuracy_on_photographs(photos):
    """50 objects cut from one photograph, turned by any angle and scaled 0.7-1.4 into
    another, with noise and a gain/offset change: within 1 px, 0.5 degrees and 2 % in at
    least 98 % of cases (benchmarks/bench_locate.py measures 200 more)."""
    rng = np.random.default_rng(11)
    good, misses = 0, []
    for k in range(50):
        case = LC.make_case(rng, photos, scene_shape=(240, 320))
        found = imgconv.locate(case.scene, case.template, angles="full", scales=(0.7, 1.4),
                               threshold=THRESHOLD)
        errors = LC.errors(found[0], case) if found else None
        if errors and errors[0] <= 1 and errors[1] <= 0.5 and errors[2] <= 0.02:
            good += 1
        else:
            misses.append((k, errors))
    assert good >= 49, f"{good}/50 within 1 px, 0.5 degrees and 2 %: misses {misses}"


def test_no_false_match_in_scenes_without_the_object(photos):
    rng = np.random.default_rng(12)
    for _ in range(12):
        scene, template = LC.make_absent(rng, photos, scene_shape=(240, 320))
        result = search(scene, template, angles="full", scales=(0.7, 1.4), threshold=THRESHOLD)
        assert result.matches == []


def test_exhaustive_level_finds_the_same_matches(photos):
    rng = np.random.default_rng(13)
    for _ in range(3):
        case = LC.make_case(rng, photos, size=32, scene_shape=(150, 180), scales=(0.9, 1.1),
                            angles=(-30, 30))
        pyramid = search(case.scene, case.template, angles=(-40, 40), scales=(0.85, 1.15))
        exhaustive = search(case.scene, case.template, angles=(-40, 40), scales=(0.85, 1.15), levels=1)
        assert pyramid.levels > 1 and exhaustive.levels == 1
        assert exhaustive.hypotheses > 4 * pyramid.hypotheses
        a, b = pyramid.matches[0], exhaustive.matches[0]
        # the same match, to within the precision of the final refinement (its optimum is
        # flat under noise: 0.6 degrees moves this 29 px template's corner by 0.2 px, and
        # the two polished poses differ in score by 2e-4); each is also checked against the truth
        assert math.hypot(a.cx - b.cx, a.cy - b.cy) < 0.25
        assert abs(a.angle - b.angle) < 0.75 and abs(a.scale / b.scale - 1) < 0.005
        assert a.score == pytest.approx(b.score, abs=2e-3)
        for m in (a, b):
            d, da, ds = LC.errors(m, case)
            assert d < 1 and da < 0.5 and ds < 0.02


def test_several_matches_are_suppressed_across_angles_and_scales(photos):
    template = photos[0][200:240, 100:140]
    scene = LC.fit(photos[4], (240, 320), np.random.default_rng(5))
    truths = [(60, 70, 25.0, 0.9), (150, 230, -110.0, 1.25), (170, 80, 170.0, 1.0)]
    for cy, cx, angle, scale in truths:
        scene, _ = _paste(scene, template, angle, scale, (cy, cx))
    found = imgconv.locate(scene, template, angles="full", scales=(0.8, 1.4), max_matches=5,
                           threshold=0.95)
    assert len(found) == 3
    for cy, cx, angle, scale in truths:
        best = min(found, key=lambda m: math.hypot(m.cx - cx, m.cy - cy))
        assert math.hypot(best.cx - cx, best.cy - cy) < 1.5
        assert abs((best.angle - angle + 180) % 360 - 180) < 0.6 and abs(best.scale / scale - 1) < 0.02
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_colour_is_scored_jointly():
    rng = np.random.default_rng(6)
    from scipy import ndimage

    image = ndimage.gaussian_filter(rng.random((160, 200, 3)), (1.5, 1.5, 0)).astype(np.float32)
    template = image[40:80, 60:100].copy()
    m = imgconv.locate(image, template, angles=(-20, 20))[0]
    assert (m.x, m.y) == (60, 40) and abs(m.angle) < 0.2 and m.score > 0.999
    with pytest.raises(MatchError, match="channel"):
        imgconv.locate(image, template[..., 0])


# --------------------------------------------------------------------------- grids, arguments


@settings(max_examples=40, deadline=None)
@given(low=st.floats(-360, 360), span=st.floats(0, 360), step=st.floats(0.2, 90),
       level=st.integers(0, 4))
def test_angle_grid_covers_the_range_at_the_step(low, span, step, level):
    high = min(low + span, 360.0)
    axis = hypotheses.Axis("angle", low, high, step, 1.0)
    grid = axis.grid(level)
    assert len(grid) == axis.count(level)
    if axis.fixed:
        assert grid == [low]
    elif axis.periodic:
        gaps = np.diff(grid + [grid[0] + 360])
        assert np.all(gaps <= step * 2 ** level + 1e-9) and len(grid) % 4 == 0
    else:
        assert grid[0] == low and grid[-1] == high
        assert np.all(np.diff(grid) <= step * 2 ** level + 1e-9)


def test_automatic_steps_move_the_corner_one_pixel():
    angle_axis, scale_axis = hypotheses.make_axes("full", (0.8, 1.25), (64, 64))
    radius = 1.25 * 63 / math.sqrt(2)
    assert math.radians(angle_axis.step(0)) * radius == pytest.approx(1.0)
    assert (math.exp(scale_axis.step(0)) - 1) * radius == pytest.approx(1.0)
    assert angle_axis.step(3) == 8 * angle_axis.step(0)
    grid = scale_axis.grid(0)
    assert grid[0] == 0.8 and grid[-1] == 1.25
    assert np.all(np.diff(np.log(grid)) <= scale_axis.step(0) + 1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"angles": (10, 5)}, "below MIN"),
    ({"angles": (0, 400)}, "-360..360"),
    ({"angles": (-180, 200)}, "more than 360"),
    ({"angles": (0, 10, 0)}, "positive"),
    ({"angles": (0, 10, 1e-6)}, "steps"),
    ({"angles": (0, float("nan"))}, "finite"),
    ({"angles": "half"}, "full"),
    ({"scales": (0, 1)}, "0.01..100"),
    ({"scales": (1, float("inf"))}, "finite"),
    ({"scales": (1, 2, 3, 4)}, "numbers"),
    ({"levels": 0}, "levels"),
    ({"levels": "many"}, "levels"),
    ({"levels": 9}, "at most"),
    ({"max_matches": 0}, "max_matches"),
    ({"threshold": float("nan")}, "threshold"),
    ({"min_distance": -1}, "min_distance"),
])
def test_bad_arguments_are_refused(kwargs, message):
    image = np.random.default_rng(0).random((60, 60))
    with pytest.raises(MatchError, match=message):
        imgconv.locate(image, image[10:30, 10:30], **kwargs)


def test_bad_inputs_are_refused():
    image = np.random.default_rng(0).random((60, 60))
    with pytest.raises(MatchError, match="flat"):
        imgconv.locate(image, np.ones((10, 10)))
    with pytest.raises(MatchError, match="larger than the image"):
        imgconv.locate(image[:30, :30], image[:28, :28], angles=(40, 50), levels=1)
    with pytest.raises(MatchError, match="NaN"):
        imgconv.locate(np.where(image > 0.99, np.nan, image), image[:10, :10])
    with pytest.raises(MatchError, match="mask"):
        imgconv.locate(image, image[:10, :10], mask=np.ones((5, 5)))
    with pytest.raises(MatchError, match="hypotheses"):
        imgconv.locate(np.zeros((2000, 2000)) + image[:1, :1], image[:40, :40], angles=(0, 360, 0.2),
                       scales=(0.5, 2, 0.002), levels=1)


def test_any_magnitude_and_dtype_without_warnings():
    import warnings

    from scipy import ndimage

    image = ndimage.gaussian_filter(np.random.default_rng(0).random((100, 120)), 1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in (1e-30, 1e30, 1e300):           # r is scale-free; squares must not overflow
            m = imgconv.locate(image * k, image[30:60, 40:70] * k, angles=(-10, 10))[0]
            assert (m.x, m.y) == (40, 30) and m.score > 0.9999
        m = imgconv.locate((image * 255).astype(np.uint8), (image[30:60, 40:70] * 255).astype(np.uint8))[0]
        assert (m.x, m.y) == (40, 30)
        assert imgconv.locate(np.full((50, 50), 3.0), image[:10, :10]) == []   # flat: scores 0
        with pytest.raises(MatchError, match="too large"):
            imgconv.locate(np.where(image > 0.5, 1.7e308, -1.7e308), image[:10, :10])


def test_imgconv_locate_is_the_function_whatever_was_imported():
    image = np.random.default_rng(0).random((40, 40))
    code = ("import sys, numpy as np, imgconv\n"
            "image = np.random.default_rng(0).random((40, 40))\n"
            "f = imgconv.locate\n"                               # the lazy API first ...
            "import imgconv.locate.refine\n"                     # ... then a submodule
            "assert imgconv.locate(image, image[5:20, 5:20])[0].x == 5\n"
            "assert imgconv.locate.search(image, image[5:20, 5:20]).levels >= 1\n"
            "assert f.Located is imgconv.locate.Located\n")
    for script in (code, code.replace("f = imgconv.locate\n", "import imgconv.locate.pyramid\nf = imgconv.locate\n")):
        subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert imgconv.locate(image, image[5:20, 5:20])[0].x == 5


# --------------------------------------------------------------------------- pictures


def test_score_heatmap_colour_bar_and_unscored_border():
    scores = np.full((100, 200), np.nan)
    scores[20:80, 20:180] = np.linspace(0, 1, 160)[None, :]
    out = render.score_heatmap(scores, colour_bar=False)
    assert out.shape == (100, 200, 3)
    grey = out[5, 5]
    assert grey[0] == grey[1] == grey[2]                           # unscored: neutral hatch
    assert tuple(out[50, 20]) == (68, 1, 84)                       # score 0: viridis' lowest
    assert tuple(out[50, 179]) == (253, 231, 37)
    with_bar = render.score_heatmap(scores)
    changed = np.any(with_bar != out, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 1000 and (ys.min() > 50 or ys.max() < 50)   # a corner panel
    panel = with_bar[ys.min():ys.max() + 1, xs.min():xs.max() + 1].reshape(-1, 3)
    lut = np.rint(render.colormap(np.linspace(0, 1, 64)) * 255).astype(int)
    seen = {tuple(c) for c in panel}
    assert sum(tuple(c) in seen for c in lut[[0, 32, 63]]) >= 2          # the gradient is drawn
    overlay = render.score_heatmap(scores, np.full((100, 200), 0.5), colour_bar=False)
    assert np.all(np.abs(overlay[5, 5].astype(int) - 77) <= 1)      # the picture, dimmed


@pytest.fixture(scope="module")
def files(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("locate")
    template = photos[0][100:148, 200:248]
    scene = LC.fit(photos[1], (240, 320), np.random.default_rng(7))
    scene, centre = _paste(scene, template, 35.0, 1.15, (110, 170))
    paths = {"scene": folder / "scene.png", "template": folder / "template.png",
             "absent": folder / "absent.png"}
    Image.fromarray(np.clip(np.rint(scene * 255), 0, 255).astype(np.uint8)).save(paths["scene"])
    Image.fromarray(np.clip(np.rint(template * 255), 0, 255).astype(np.uint8)).save(paths["template"])
    absent = LC.fit(photos[2], (240, 320), np.random.default_rng(8))
    Image.fromarray(np.clip(np.rint(absent * 255), 0, 255).astype(np.uint8)).save(paths["absent"])
    paths["centre"] = centre
    return paths


def test_cli_json_has_angle_and_scale(files, cli):
    code, out, err = cli("match", files["scene"], files["template"], "--angles", "full",
                         "--scales", "0.8:1.4", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == {"image", "template", "image_size", "template_size", "matches"}
    assert report["image_size"] == [320, 240] and report["template_size"] == [48, 48]
    m = report["matches"][0]
    assert set(m) == {"x", "y", "score", "cx", "cy", "angle", "scale"}
    cy, cx = files["centre"]
    assert abs(m["angle"] - 35) < 0.5 and abs(m["scale"] - 1.15) < 0.02 and m["score"] > 0.9
    assert math.hypot(m["cx"] - cx, m["cy"] - cy) < 1
    assert (m["x"], m["y"]) == (round(m["cx"] - (m["scale"] * 48 - 1) / 2),
                                round(m["cy"] - (m["scale"] * 48 - 1) / 2))


def test_cli_table_has_angle_and_scale_columns(files, cli):
    code, out, _ = cli("match", files["scene"], files["template"], "--angles", "0:90:2",
                       "--scales", "1:1.3:0.05")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["#", "x", "y", "score", "cx", "cy", "angle", "scale"]
    row = lines[2].split()
    assert abs(float(row[6]) - 35) < 0.5 and abs(float(row[7]) - 1.15) < 0.02


@pytest.mark.parametrize("angles", ["full", "FULL", "-90:90", "0:90:3", "35"])
def test_cli_angles_forms(files, cli, angles):
    code, out, err = cli("match", files["scene"], files["template"], "--angles", angles,
                         "--scales", "1.15", "--json", "-t", "0.2")
    assert code == 0, err
    m = json.loads(out)["matches"][0]
    assert abs(m["angle"] - 35) < 0.5 and m["scale"] == 1.15


@pytest.mark.parametrize("option, value, message", [
    ("--angles", "nan", "finite"), ("--angles", "inf:5", "finite"), ("--angles", "0:1e400", "finite"),
    ("--angles", "10:5", "below MIN"), ("--angles", "-400:0", "-360..360"),
    ("--angles", "-180:181", "more than 360"), ("--angles", "0:10:0", "positive"),
    ("--angles", "0:360:1e-9", "steps"), ("--angles", "a:b", "MIN:MAX"), ("--angles", "1:2:3:4", "MIN:MAX"),
    ("--angles", "", "MIN:MAX"), ("--scales", "0:2", "MIN <= MAX"), ("--scales", "1:inf", "MIN <= MAX"),
    ("--scales", "0.5:1000", "0.01..100"), ("--levels", "0", "1..12"), ("--levels", "x", "levels"),
    ("--levels", "13", "1..12"),
])
def test_cli_bad_options_one_line_exit_2(files, option, value, message):
    result = subprocess.run([sys.executable, "-m", "imgconv", "match", str(files["scene"]),
                             str(files["template"]), option, value],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr


def test_cli_levels_too_many_is_a_user_error(files, cli):
    code, _, err = cli("match", files["scene"], files["template"], "--angles", "full", "--levels", "8")
    assert code == 2 and err.startswith("imgconv: error: ") and "at most" in err


def test_cli_nothing_found_exits_1(files, cli, tmp_path):
    heat = tmp_path / "h.png"
    code, out, err = cli("match", files["absent"], files["template"], "--angles", "full",
                         "--scales", "0.8:1.4", "--json", "--heatmap", heat, "-t", "0.95")
    assert code == 1 and json.loads(out)["matches"] == [] and "no match" in err
    assert heat.exists()


def test_cli_annotate_heatmap_overlay_scores(files, cli, tmp_path):
    out = {k: tmp_path / f"{k}.png" for k in ("ann", "heat", "over")}
    npy = tmp_path / "s.npy"
    code, stdout, err = cli("match", files["scene"], files["template"], "--angles", "full",
                            "--scales", "0.8:1.4", "--annotate", out["ann"], "--heatmap", out["heat"],
                            "--scores", npy, "--json")
    assert code == 0, err
    m = json.loads(stdout)["matches"][0]
    annotated = np.asarray(Image.open(out["ann"]))
    assert annotated.shape == (240, 320, 3)
    found = Located(m["x"], m["y"], m["score"], m["cx"], m["cy"], m["scale"], 1, 1, angle=m["angle"])
    (x0, y0), (x1, y1) = found.corners((48, 48))[:2]
    mid = (round((x0 + x1) / 2), round((y0 + y1) / 2))           # middle of the top edge
    near = annotated[mid[1] - 1:mid[1] + 2, mid[0] - 1:mid[0] + 2].reshape(-1, 3)
    assert any(tuple(p) == render.BOX_COLOUR for p in near)
    assert not np.all(annotated[5:10, 5:10] == render.BOX_COLOUR)
    scores = np.load(npy)
    assert scores.shape == (240, 320) and scores.dtype == np.float32
    assert np.isnan(scores[0, 0]) and np.nanmax(scores) > 0.8
    heat = np.asarray(Image.open(out["heat"]))
    assert heat.shape == (240, 320, 3)
    corner = heat[0, 0]
    assert corner[0] == corner[1] == corner[2]                     # unscored: grey hatch
    cy, cx = files["centre"]
    r, g, _ = heat[round(cy), round(cx)].astype(int)
    assert g > 150 and r > 100                                     # bright: a high score there
    code, _, err = cli("match", files["scene"], files["template"], "--angles", "full",
                       "--heatmap", out["over"], "--overlay")
    assert code == 0, err
    over = np.asarray(Image.open(out["over"]))
    picture = np.asarray(Image.open(files["scene"]).convert("L"), np.float64)
    assert np.abs(over[0, 0].astype(float) - 0.6 * picture[0, 0]).max() <= 1


def test_cli_overlay_needs_heatmap(files, cli):
    code, _, err = cli("match", files["scene"], files["template"], "--overlay")
    assert code == 2 and "--overlay needs --heatmap" in err


def test_cli_scales_without_step_runs_the_scaled_search(files, cli):
    code, out, err = cli("match", files["scene"], files["template"], "--scales", "1:1.3", "--json",
                         "-t", "0.3")
    assert code == 0, err
    m = json.loads(out)["matches"][0]
    assert m["angle"] == 0.0 and 1.0 <= m["scale"] <= 1.3
