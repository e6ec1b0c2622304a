"""Template matching: scores against OpenCV and brute force, peaks, sub-pixel, CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image
from scipy import ndimage

import imgconv
from imgconv import match as M
from imgconv import render
from imgconv.errors import MatchError
from imgconv.match import scores as match_scores
from imgconv.settings import numba_installed, use

skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut().astype(np.float32) / 255


@pytest.fixture(scope="module")
def camera():
    return skdata.camera().astype(np.float32) / 255


@pytest.fixture(scope="module")
def coffee_grey():
    return M.to_gray(skdata.coffee().astype(np.float32) / 255)


def brute_force(image, template, mask=None):
    """Masked Pearson r, one window at a time in float64 (colour: joint, per-channel means)."""
    image = np.asarray(image, np.float64)
    template = np.asarray(template, np.float64)
    if image.ndim == 2:
        image, template = image[..., None], template[..., None]
    h, w = template.shape[:2]
    m = np.ones((h, w), bool) if mask is None else np.asarray(mask) != 0
    t = template[m]                       # (n, C)
    t0 = t - t.mean(axis=0)
    windows = sliding_window_view(image, (h, w), axis=(0, 1))  # (Ho, Wo, C, h, w)
    out = np.zeros(windows.shape[:2])
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            v = windows[i, j].transpose(1, 2, 0)[m]      # (n, C)
            v0 = v - v.mean(axis=0)
            den = np.sqrt((v0 ** 2).sum() * (t0 ** 2).sum())
            out[i, j] = (v0 * t0).sum() / den if den > 1e-12 else 0.0
    return out


def window_std(image, h, w):
    """Standard deviation of every valid h x w window (float64; colour: mean over channels)."""
    planes = image[..., None] if image.ndim == 2 else image
    n = h * w
    var = [match_scores._window_sums(p.astype(np.float64) ** 2, h, w) / n
           - (match_scores._window_sums(p.astype(np.float64), h, w) / n) ** 2
           for p in np.moveaxis(planes, 2, 0)]
    return np.sqrt(np.maximum(np.mean(var, axis=0), 0))


def implementations():
    """The normaliser variants that can run here: numpy always, numba when installed."""
    return ["numpy", "numba"] if numba_installed() else ["numpy"]


@pytest.fixture(params=implementations())
def normaliser(request, monkeypatch):
    """Runs the test with the compiled loops switched off (numpy) or on for every size (numba)."""
    if request.param == "numba":
        monkeypatch.setattr(match_scores, "COMPILED_MIN_OUTPUTS", 0)  # read by the normaliser there
    with use(compiled=request.param == "numba"):
        yield request.param


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize("colour", [False, True])
def test_equals_opencv_on_photographs(astronaut, colour, normaliser):
    cv2 = pytest.importorskip("cv2")
    image = astronaut if colour else M.to_gray(astronaut)
    for y, x, h, w in [(180, 150, 40, 56), (250, 200, 17, 16), (300, 60, 64, 48)]:
        template = image[y:y + h, x:x + w].copy()
        ours = imgconv.match_template(image, template)
        theirs = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        # OpenCV's own float32 rounding is large on near-flat windows and templates
        # (0.03 seen on camera's sky, 1.1e-3 with a template of std 0.01, where float64
        # brute force agrees with imgconv): textured templates, compare on windows
        # that vary by more than a few 8-bit steps.
        assert template.std() > 0.05
        textured = window_std(image, h, w) > 0.02
        assert textured.mean() > 0.5
        assert np.abs(ours - theirs)[textured].max() < 1e-3
        assert np.unravel_index(np.argmax(ours), ours.shape) == (y, x)


@pytest.mark.parametrize("colour", [False, True])
def test_equals_float64_brute_force_everywhere(camera, astronaut, colour, normaliser):
    image = astronaut[200:260, 180:250] if colour else camera[0:60, 100:170]  # sky + edges
    template = image[20:33, 30:41]
    ours = imgconv.match_template(image, template)
    assert np.abs(ours - brute_force(image, template)).max() < 1e-4


def test_numpy_and_numba_normalisers_agree(astronaut):
    if not numba_installed():
        pytest.skip("numba not installed")
    prepared = match_scores._prepare_image(astronaut)
    template = match_scores._as_channels(astronaut[100:140, 200:230], "t")
    t0 = template - template.mean(axis=(1, 2), keepdims=True)
    numerator = match_scores._correlate(prepared, t0)
    args = (40, 30, float((t0 ** 2).sum()), M.FLAT_TOLERANCE * prepared.mean_square)
    from imgconv.engine import _compiled

    fast = np.empty(numerator.shape, np.float32)
    _compiled.loops().normalise_zncc(prepared.pixels, numerator, fast, *args, 2)
    slow = match_scores._normalise_numpy(prepared.pixels, numerator, np.empty_like(fast), *args)
    assert np.abs(fast - slow).max() < 1e-6


def test_flat_windows_score_exactly_zero(normaliser):
    rng = np.random.default_rng(3)
    image = rng.random((60, 80)).astype(np.float32)
    image[10:40, 20:60] = 0.7                     # a flat patch, off the global mean
    scores = imgconv.match_template(image, image[45:55, 0:12])
    inside = scores[10:31, 20:49]                  # windows wholly in the patch
    assert inside.size and np.all(inside == 0.0)
    assert np.all(np.abs(scores) <= 1.0)


def test_any_real_dtype_same_scores(camera):
    image8 = (camera[:80, :90] * 255).round().astype(np.uint8)
    template8 = image8[10:30, 40:60]
    a = imgconv.match_template(image8, template8)
    b = imgconv.match_template(image8.astype(np.float64) / 255, template8.astype(np.float32))
    assert a.dtype == np.float32 and np.abs(a - b).max() < 1e-5


@settings(max_examples=25, deadline=None)
@given(gain=st.floats(0.05, 20), offset=st.floats(-5, 5), seed=st.integers(0, 1000))
def test_scores_ignore_brightness_and_contrast(gain, offset, seed):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random((40, 50)), 1)
    template = image[5:17, 20:34]
    base = imgconv.match_template(image, template)
    changed = imgconv.match_template(image * gain + offset, template)
    assert np.abs(base - changed).max() < 1e-3


def test_template_the_size_of_the_image_gives_one_score(camera):
    image = camera[100:140, 200:260]
    scores = imgconv.match_template(image, image)
    assert scores.shape == (1, 1) and scores[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("template, message", [
    (np.full((8, 8), 0.3), "flat"),
    (np.full((1, 1), 0.3), "flat"),                 # one pixel never has variance
    (np.zeros((70, 10)), "larger than the image"),
    (np.zeros((10, 70)), "larger than the image"),
    (np.zeros((8, 8, 3)), "channel"),
    (np.array([[np.nan, 1.0], [0.0, 1.0]]), "NaN"),
])
def test_bad_templates_raise_match_error(template, message):
    image = np.random.default_rng(0).random((60, 60))
    with pytest.raises(MatchError, match=message):
        imgconv.match_template(image, template)


def test_colour_channel_with_no_variance_is_fine(astronaut):
    template = astronaut[100:130, 200:240].copy()
    template[..., 2] = 0.5                          # one flat channel, others vary
    scores = imgconv.match_template(astronaut, template)
    assert np.unravel_index(scores.argmax(), scores.shape) == (100, 200)


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("colour", [False, True])
def test_masked_scores_equal_brute_force(astronaut, colour):
    image = astronaut[150:200, 180:240] if colour else M.to_gray(astronaut[150:200, 180:240])
    template = image[10:25, 20:37]
    yy, xx = np.mgrid[:15, :17]
    mask = (yy - 7) ** 2 + (xx - 8) ** 2 <= 36       # a disc
    ours = imgconv.match_template(image, template, mask=mask)
    assert np.abs(ours - brute_force(image, template, mask)).max() < 1e-3


def test_mask_ignores_what_it_hides(astronaut):
    grey = M.to_gray(astronaut)
    template = grey[100:140, 200:240].copy()
    mask = np.zeros(template.shape, bool)
    mask[:, :20] = True
    template[:, 20:] = np.random.default_rng(1).random((40, 20))  # garbage outside the mask
    assert imgconv.find_matches(imgconv.match_template(grey, template), template.shape,
                                threshold=0.9) == []
    found = imgconv.find_matches(imgconv.match_template(grey, template, mask=mask),
                                 template.shape, threshold=0.9)
    assert (found[0].x, found[0].y) == (200, 100) and found[0].score > 0.999


def test_full_mask_equals_no_mask(camera):
    image = camera[:120, :150]
    template = image[30:50, 60:85]
    plain = imgconv.match_template(image, template)
    masked = imgconv.match_template(image, template, mask=np.ones(template.shape))
    assert np.abs(plain - masked).max() < 1e-4


@pytest.mark.parametrize("mask, message", [
    (np.ones((5, 5)), "size of the template"),
    (np.zeros((8, 8)), "at least 2"),
])
def test_bad_masks(mask, message):
    image = np.random.default_rng(0).random((30, 30))
    with pytest.raises(MatchError, match=message):
        imgconv.match_template(image, image[:8, :8], mask=mask)


# --------------------------------------------------------------------------- peaks


@pytest.mark.parametrize("gain, offset, noise", [(1.0, 0.0, 0.0), (0.6, 0.25, 0.0),
                                                 (1.3, -0.1, 0.03)])
def test_crops_found_under_brightness_contrast_and_noise(astronaut, gain, offset, noise):
    rng = np.random.default_rng(7)
    grey = M.to_gray(astronaut)
    changed = grey * gain + offset + rng.normal(0, noise, grey.shape).astype(np.float32)
    for y, x in [(60, 60), (200, 330), (380, 120)]:
        template = grey[y:y + 36, x:x + 44]
        best = imgconv.find_matches(imgconv.match_template(changed, template), template.shape)
        assert len(best) == 1
        assert abs(best[0].x - x) <= 1 and abs(best[0].y - y) <= 1
        assert abs(best[0].cx - (x + 21.5)) <= 1 and abs(best[0].cy - (y + 17.5)) <= 1


def test_template_pasted_three_times_gives_three_matches(astronaut, coffee_grey):
    scene = coffee_grey[:300, :400].copy()
    logo = M.to_gray(astronaut)[360:400, 140:190]          # the suit's name patch
    places = [(20, 30), (150, 300), (240, 100)]
    for y, x in places:
        scene[y:y + 40, x:x + 50] = logo
    found = imgconv.find_matches(imgconv.match_template(scene, logo), logo.shape,
                                 max_matches=10, threshold=0.5)
    assert sorted((m.y, m.x) for m in found) == sorted(places)
    assert all(m.score > 0.999 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_peak_options():
    s = np.zeros((30, 30), np.float32)
    s[5, 5], s[5, 8], s[20, 20], s[25, 2] = 0.9, 0.8, 0.7, 0.4
    found = imgconv.find_matches(s, (10, 10), max_matches=5)          # min distance 5
    assert [(m.x, m.y) for m in found] == [(5, 5), (20, 20)]
    close = imgconv.find_matches(s, (10, 10), max_matches=5, min_distance=3)
    assert [(m.x, m.y) for m in close] == [(5, 5), (8, 5), (20, 20)]
    assert len(imgconv.find_matches(s, (10, 10), max_matches=5, threshold=0.3)) == 3
    assert len(imgconv.find_matches(s, (10, 10), max_matches=1)) == 1
    assert imgconv.find_matches(s, (10, 10), threshold=0.95) == []
    assert set(found[0].as_dict()) == {"x", "y", "score", "cx", "cy"}
    assert abs(found[0].cx - 9.5) < 0.1 and abs(found[0].cy - 9.5) < 0.1
    with pytest.raises(MatchError, match="max_matches"):
        imgconv.find_matches(s, (10, 10), max_matches=0)
    with pytest.raises(MatchError, match="min_distance"):
        imgconv.find_matches(s, (10, 10), min_distance=-1)


def test_subpixel_accuracy(camera, coffee_grey):
    """Sub-pixel shifted copies (Fourier shift): mean centre error below 0.1 px."""
    rng = np.random.default_rng(0)
    errors = []
    for image in (camera.astype(np.float64), coffee_grey.astype(np.float64)):
        spectrum = np.fft.fft2(image)
        H, W = image.shape
        for dy, dx in rng.uniform(-0.5, 0.5, (6, 2)):
            shifted = np.fft.ifft2(ndimage.fourier_shift(spectrum, (dy, dx))).real
            for y0, x0 in [(int(H * .2), int(W * .2)), (int(H * .4), int(W * .6)),
                           (int(H * .6), int(W * .3))]:
                template = image[y0:y0 + 32, x0:x0 + 32]
                region = shifted[y0 - 10:y0 + 42, x0 - 10:x0 + 42]
                m = imgconv.find_matches(imgconv.match_template(region, template), (32, 32))[0]
                errors.append(np.hypot(m.cx - (10 + dx + 15.5), m.cy - (10 + dy + 15.5)))
    assert np.mean(errors) < 0.1, np.mean(errors)


def test_multiscale_finds_a_rescaled_template(astronaut):
    grey = M.to_gray(astronaut)
    template, _ = M.resize_template(grey[150:230, 170:270], 1 / 1.3)   # 62 x 77
    found = M.match_multiscale(grey, template, M.scale_steps(0.8, 1.6, 0.1), max_matches=3,
                               threshold=0.6)
    best = found[0]
    assert best.scale == pytest.approx(1.3, abs=0.11)
    assert abs(best.cx - 219.5) < 3 and abs(best.cy - 189.5) < 3
    centres = [(m.cx, m.cy) for m in found]           # no duplicates across scales
    assert all(max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= 20
               for i, a in enumerate(centres) for b in centres[i + 1:])
    assert best.as_dict()["scale"] == best.scale


def test_multiscale_skips_unusable_scales():
    image = np.random.default_rng(0).random((40, 40))
    with pytest.raises(MatchError, match="no scale"):
        M.match_multiscale(image, image[:10, :10], [0.1, 10])


def test_scale_steps():
    assert M.scale_steps(0.5, 2, 0.5) == [0.5, 1.0, 1.5, 2.0]
    assert len(M.scale_steps(0.5, 2, 0.1)) == 16
    with pytest.raises(MatchError):
        M.scale_steps(2, 1, 0.1)


def test_to_gray_uses_pillow_luma():
    rgb = np.random.default_rng(2).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    ours = M.to_gray(rgb.astype(np.float32) / 255) * 255
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), np.float32)
    assert np.abs(ours - pillow).max() <= 0.51


def test_colormap_is_viridis_and_brightens():
    lut = render.colormap(np.linspace(0, 1, 256))
    assert lut.shape == (256, 3)
    np.testing.assert_allclose(lut[128], [0.127568, 0.566949, 0.550556], atol=2e-3)
    luma = lut @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) > 0)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("match")
    scene = (astronaut * 255).round().astype(np.uint8)
    paths = {"scene": folder / "scene.png", "logo": folder / "logo.png",
             "logo_rgba": folder / "logo_rgba.png", "logo_grey": folder / "logo_grey.png",
             "flat": folder / "flat.png", "absent": folder / "absent.png",
             "mask": folder / "mask.png"}
    Image.fromarray(scene).save(paths["scene"])
    logo = scene[180:220, 190:250]
    Image.fromarray(logo).save(paths["logo"])
    alpha = np.full(logo.shape[:2], 255, np.uint8)
    alpha[:, :5] = 0
    Image.fromarray(np.dstack([logo, alpha])).save(paths["logo_rgba"])
    Image.fromarray(logo).convert("L").save(paths["logo_grey"])
    Image.fromarray(np.full((12, 12), 90, np.uint8)).save(paths["flat"])
    noise = np.random.default_rng(5).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    Image.fromarray(noise).save(paths["absent"])
    Image.fromarray(alpha).save(paths["mask"])
    return paths


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "imgconv", "match", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def invoke_match(*args):
    from click.testing import CliRunner

    from imgconv.cli import main

    return CliRunner().invoke(main, ["match", *map(str, args)], catch_exceptions=False)


def test_cli_json(files):
    result = invoke_match(files["scene"], files["logo"], "--json", "-n", "3", "-t", "0.5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"image", "template", "image_size", "template_size", "matches"}
    assert report["image"] == str(files["scene"]) and report["template"] == str(files["logo"])
    assert report["image_size"] == [512, 512] and report["template_size"] == [60, 40]
    best = report["matches"][0]
    assert set(best) == {"x", "y", "score", "cx", "cy"}
    assert (best["x"], best["y"]) == (190, 180) and best["score"] > 0.999
    assert abs(best["cx"] - 219.5) < 0.2 and abs(best["cy"] - 199.5) < 0.2
    scores = [m["score"] for m in report["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_cli_table_and_files(files, tmp_path):
    out = {k: tmp_path / name for k, name in
           (("scores", "s.npy"), ("heat", "heat.png"), ("ann", "found.png"))}
    result = invoke_match(files["scene"], files["logo"], "--scores", out["scores"],
                 "--heatmap", out["heat"], "--annotate", out["ann"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "score" in lines[1] and lines[2].split()[:3] == ["1", "190", "180"]
    scores = np.load(out["scores"], allow_pickle=False)
    assert scores.dtype == np.float32 and scores.shape == (512 - 40 + 1, 512 - 60 + 1)
    assert np.unravel_index(scores.argmax(), scores.shape) == (180, 190)
    heat = Image.open(out["heat"])
    assert heat.size == (512, 512) and heat.mode == "RGB"
    heat = np.asarray(heat)
    assert tuple(heat[180 + 20, 190 + 30]) == (253, 231, 37)     # best score at its centre
    # the border no window centre reaches is hatched grey, unlike a score of 0 (dark purple),
    # and a colour bar is drawn in a corner (white panel with the viridis gradient)
    assert heat[0, 0, 0] == heat[0, 0, 1] == heat[0, 0, 2] and tuple(heat[0, 0]) != (68, 1, 84)
    white = np.all(heat == 255, axis=2)
    assert white[:64].sum() + white[-64:].sum() > 500
    annotated = np.asarray(Image.open(out["ann"]))
    assert annotated.shape == (512, 512, 3)
    assert tuple(annotated[200, 190]) == render.BOX_COLOUR       # left edge of the box


def test_cli_nothing_found_exits_1_and_still_writes(files, tmp_path):
    heat, npy = tmp_path / "h.png", tmp_path / "s.npy"
    result = run_cli(files["scene"], files["absent"], "--json", "-t", "0.9",
                     "--heatmap", heat, "--scores", npy)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["matches"] == []
    assert heat.exists() and npy.exists()
    table = invoke_match(files["scene"], files["absent"], "-t", "0.9")
    assert table.exit_code == 1 and len(table.stdout.splitlines()) == 2


@pytest.mark.parametrize("image, template, message", [
    ("flat", "flat", "flat"),                 # a flat template
    ("logo", "scene", "larger than the image"),
    ("scene", "flat", "flat"),
])
def test_cli_bad_input_exits_2_with_one_line(files, image, template, message):
    result = run_cli(files[image], files[template])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("imgconv: error: ") and message in lines[-1]
    assert "Traceback" not in result.stderr


def test_cli_missing_file_exits_2(files, tmp_path):
    result = run_cli(files["scene"], tmp_path / "nope.png")
    assert result.returncode == 2 and "imgconv: error:" in result.stderr


def test_cli_alpha_ignored_and_grey_mismatch(files):
    rgba = json.loads(invoke_match(files["scene"], files["logo_rgba"], "--json").stdout)
    assert rgba["matches"][0]["x"] == 190 and rgba["matches"][0]["score"] > 0.999
    result = invoke_match(files["scene"], files["logo_grey"], "--json")
    assert "converted to grey" in result.stderr
    grey = json.loads(result.stdout)["matches"][0]
    assert (grey["x"], grey["y"]) == (190, 180) and grey["score"] > 0.99
    both = json.loads(invoke_match(files["scene"], files["logo"], "--gray", "--json").stdout)
    assert both["matches"][0]["x"] == 190


def test_cli_scales_and_mask(files):
    result = invoke_match(files["scene"], files["logo"], "--scales", "0.9:1.1:0.1", "--json",
                 "--mask", files["mask"])
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["matches"][0]
    assert best["scale"] == 1.0 and (best["x"], best["y"]) == (190, 180)
    bad = invoke_match(files["scene"], files["logo"], "--scales", "2:1:0.1")
    assert bad.exit_code == 2


# --------------------------------------------------------------------------- library inputs


def test_compiled_threshold_is_read_where_patched(monkeypatch):
    """The ``normaliser`` fixture's patch must send small maps to the compiled normaliser."""
    if not numba_installed():
        pytest.skip("numba not installed")
    numpy_calls = []
    real = match_scores._normalise_numpy
    monkeypatch.setattr(match_scores, "_normalise_numpy",
                        lambda *args: numpy_calls.append(1) or real(*args))
    image = np.random.default_rng(0).random((30, 40))
    with use(compiled=True):
        imgconv.match_template(image, image[5:15, 5:15])
        assert numpy_calls == [1]
        monkeypatch.setattr(match_scores, "COMPILED_MIN_OUTPUTS", 0)
        imgconv.match_template(image, image[5:15, 5:15])
        assert numpy_calls == [1]


def test_prepare_match_drops_alpha_and_reconciles_grey():
    from imgconv.imageio import Picture

    rgba = Picture(np.random.default_rng(0).random((20, 30, 4)).astype(np.float32), has_alpha=True)
    grey_alpha = Picture(np.random.default_rng(1).random((5, 6, 2)).astype(np.float32), has_alpha=True)
    image, template, mask, notes = imgconv.prepare_match(rgba, grey_alpha, mask=grey_alpha)
    assert image.shape == (20, 30) and template.shape == (5, 6)
    np.testing.assert_array_equal(image, M.to_gray(rgba.pixels[:, :, :3]))
    np.testing.assert_array_equal(template, grey_alpha.pixels[:, :, 0])
    np.testing.assert_array_equal(mask, grey_alpha.pixels[:, :, 1])
    assert notes == ["the template is grey: matching it against the image converted to grey"]
    colour = imgconv.prepare_match(template, rgba.pixels[:4, :4, :3])     # arrays: no alpha
    assert colour.template.shape == (4, 4)
    assert colour.notes == ["the image is grey: matching it against the template converted to grey"]
    same = imgconv.prepare_match(rgba, rgba.pixels[:4, :4, :3], mask=np.ones((4, 4)))
    assert same.image.shape == (20, 30, 3) and same.template.shape == (4, 4, 3)
    assert same.mask.shape == (4, 4) and same.notes == []
    both = imgconv.prepare_match(rgba, rgba.pixels[:4, :4, :3], gray=True)
    assert both.image.ndim == both.template.ndim == 2 and both.notes == []
