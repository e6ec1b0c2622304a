"""Estimating the kernel behind a before/after pair: accuracy on photographs, the CLI, bad inputs."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import imgconv
from imgconv.errors import ImgconvError
from imgconv.estimate import estimate_kernel, kernel_fit, parse_size, solve_kernel
from imgconv.kernels import load_kernel

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def preset(spec):
    return load_kernel(spec).matrices[0]


# ---------------------------------------------------------------- float pictures: exact


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (2, 5), (6, 4), (9, 9), (15, 15), (14, 15)])
def test_random_kernels_on_a_photograph_are_recovered_exactly(photo_grey, size):
    rng = np.random.default_rng(sum(size))
    k = rng.standard_normal(size)
    after = ndimage.convolve(photo_grey.astype(np.float64), k, mode="reflect")
    assert rel(estimate_kernel(photo_grey, after, size), k) < 1e-9  # valid pixels: no border assumed
    assert rel(estimate_kernel(photo_grey, after, size, mode="reflect"), k) < 1e-9


@pytest.mark.parametrize("mode", MODES)
def test_every_border_mode_fits_all_pixels(photo_grey, mode):
    img = photo_grey[:120, :150]
    k = np.random.default_rng(7).random((7, 6))
    after = ndimage.convolve(img.astype(np.float64), k, mode=mode, cval=0.25)
    est = estimate_kernel(img, after, (7, 6), mode=mode, cval=0.25)
    assert rel(est, k) < 1e-9
    fit = kernel_fit(img, after, est, mode=mode, cval=0.25)
    assert fit.pixels == img.size and fit.psnr > 100
    if mode != "constant":  # the wrong border model leaves a misfit on the border pixels
        wrong = "wrap" if mode != "wrap" else "reflect"
        assert kernel_fit(img, after, estimate_kernel(img, after, (7, 6), mode=wrong), mode=wrong).psnr < 80


@pytest.mark.parametrize("n", [3, 8, 15])
def test_float32_results_of_imgconv_convolve_within_1e4(photo_rgb, n):
    """The contract: float pictures filtered by any kernel up to 15x15 -> within 1e-4 (L2)."""
    rng = np.random.default_rng(n)
    worst = 0.0
    for kernel in (rng.random((n, n)), rng.standard_normal((n, n)), rng.random((n, n - 1))):
        after = imgconv.convolve(photo_rgb, kernel)  # float32, reflect, whatever method the planner picks
        worst = max(worst, rel(estimate_kernel(photo_rgb, after, kernel.shape), kernel))
    assert worst < 1e-4, worst


@pytest.mark.parametrize("spec", ["gaussian:sigma=2", "disc:radius=4", "motion:length=15,angle=30", "sharpen",
                                  "emboss", "sobel:direction=y", "log"])
def test_presets_from_float_pictures(photo_rgb, spec):
    k = preset(spec)
    after = imgconv.convolve(photo_rgb, k)
    assert rel(estimate_kernel(photo_rgb, after, k.shape), k) < 1e-4
    # a larger --size finds zeros around it
    big = estimate_kernel(photo_rgb, after, (k.shape[0] + 2, k.shape[1] + 4))
    assert rel(big, np.pad(k, ((1, 1), (2, 2)))) < 1e-4


def test_colour_joint_and_each(photo_rgb):
    ks = [preset("gaussian:sigma=1"), preset("box:size=7")[:, :7], preset("motion:length=7")]
    ks = [np.pad(k, [((7 - s) // 2, (7 - s) - (7 - s) // 2) for s in k.shape]) for k in ks]
    after = np.stack([ndimage.convolve(photo_rgb[..., c].astype(np.float64), ks[c]) for c in range(3)], -1)
    each = estimate_kernel(photo_rgb, after, (7, 7), channels="each")
    assert each.shape == (3, 7, 7) and all(rel(each[c], ks[c]) < 1e-9 for c in range(3))
    assert kernel_fit(photo_rgb, after, each).psnr > 100
    joint = estimate_kernel(photo_rgb, after, (7, 7))  # one kernel cannot fit three: a compromise
    assert joint.shape == (7, 7) and kernel_fit(photo_rgb, after, joint).psnr < 60


def test_regularization_shrinks_the_kernel(photo_grey):
    k = preset("gaussian:sigma=1.5")
    after = imgconv.convolve(photo_grey, k)
    norms = [np.linalg.norm(estimate_kernel(photo_grey, after, k.shape, regularize=lam)) for lam in (0, 1e-3, 100)]
    assert norms[0] > norms[1] > norms[2] and norms[2] < 0.1 * norms[0]


# ---------------------------------------------------------------- 8-bit pairs: within 2 %


def quantised(x):
    return np.clip(np.rint(x * 255), 0, 255) / 255


@pytest.mark.parametrize("name", ["coffee.png", "camera.png", "rocket.jpg"])
@pytest.mark.parametrize("n", [5, 9, 15])
def test_random_kernels_through_8_bit_quantisation(name, n):
    before = imgconv.read_image(SAMPLES / name).pixels
    k = np.random.default_rng(n).random((n, n))
    k /= k.sum()
    est = estimate_kernel(before, quantised(imgconv.convolve(before, k)), (n, n))
    assert rel(est, k) < 0.02


@pytest.mark.parametrize("name", ["coffee.png", "camera.png"])
@pytest.mark.parametrize("spec, size", [("gaussian:sigma=2", "13x13"), ("disc:radius=4", "9x9"),
                                        ("motion:length=15,angle=30", "15x15"), ("gaussian:sigma=1.5", "13x13")])
def test_8_bit_png_pairs_made_and_measured_by_the_cli(cli, tmp_path, name, spec, size):
    src = SAMPLES / name
    after, out = tmp_path / "after.png", tmp_path / "k.npy"
    assert cli("filter", src, "-k", spec, "-o", after)[0] == 0
    code, stdout, err = cli("estimate-kernel", src, after, "--size", size, "-o", out)
    assert code == 0 and "warning" not in err, err
    k = preset(spec)
    est = np.load(out, allow_pickle=False)
    h, w = parse_size(size)
    expected = np.pad(k, [((h - k.shape[0]) // 2,) * 2, ((w - k.shape[1]) // 2,) * 2])
    assert est.shape == (h, w) and rel(est, expected) < 0.02
    total = float(re.search(r"sum (\S+)", stdout).group(1))
    assert total == pytest.approx(1, abs=2e-3) and "PSNR" in stdout


def test_round_trip_estimate_then_filter_reproduces_after(cli, tmp_path):
    src = SAMPLES / "coffee.png"
    after = tmp_path / "after.png"
    assert cli("filter", src, "-k", "gaussian:sigma=1.2", "-o", after)[0] == 0
    for ext in ("txt", "toml", "npy", "csv"):
        k_path = tmp_path / f"k.{ext}"
        code, _, err = cli("estimate-kernel", src, after, "--size", "9x9", "--mode", "reflect", "-o", k_path)
        assert code == 0 and f"wrote {k_path}" in err
        redo = tmp_path / f"redo-{ext}.png"
        assert cli("filter", src, "-k", k_path, "-o", redo)[0] == 0
        a = imgconv.read_image(after).pixels
        b = imgconv.read_image(redo).pixels
        assert np.abs(a - b).max() <= 1.01 / 255 and np.abs(a - b).mean() < 0.02 / 255
    text = (tmp_path / "k.toml").read_text()
    assert text.startswith('description = "estimated by imgconv estimate-kernel') and "matrix = [" in text
    assert np.array_equal(load_kernel(str(tmp_path / "k.txt")).matrices[0], np.load(tmp_path / "k.npy"))


def test_estimate_feeds_deconvolve(cli, tmp_path):
    src, other = SAMPLES / "camera.png", SAMPLES / "coffee.png"
    for args in (("filter", src, "-k", "disc:radius=3", "-o", tmp_path / "pair.png"),
                 ("estimate-kernel", src, tmp_path / "pair.png", "--size", "11x11", "-o", tmp_path / "lens.npy"),
                 ("filter", other, "-k", "disc:radius=3", "-o", tmp_path / "blurred.png"),
                 ("deconvolve", tmp_path / "blurred.png", "--psf", tmp_path / "lens.npy", "-o", tmp_path / "r.png")):
        assert cli(*args)[0] == 0

    def psnr(a, b):
        return 10 * np.log10(1 / np.mean((a - b) ** 2))

    sharp = imgconv.read_image(other).pixels
    blurred = imgconv.read_image(tmp_path / "blurred.png").pixels
    restored = imgconv.read_image(tmp_path / "r.png").pixels
    assert psnr(restored, sharp) > psnr(blurred, sharp) + 2


# ---------------------------------------------------------------- the report


def test_json_report(cli, tmp_path):
    src = SAMPLES / "camera.png"
    after = tmp_path / "after.png"
    cli("filter", src, "-k", "blur", "-o", after)
    code, out, err = cli("estimate-kernel", src, after, "--size", "3", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["size"] == [3, 3] and data["mode"] is None and data["channels"] == "joint"
    assert rel(data["kernel"], preset("blur")) < 0.02 and data["sum"] == pytest.approx(1, abs=1e-3)
    assert data["fit"]["psnr"] > 50 and data["poor_fit"] is False and data["output"] is None


def test_poor_fit_warns_for_a_gamma_curve(cli, tmp_path):
    src = SAMPLES / "coffee.png"
    pixels = imgconv.read_image(src).pixels
    after = tmp_path / "gamma.png"
    imgconv.write_image(after, pixels ** (1 / 2.2))
    code, out, err = cli("estimate-kernel", src, after, "--size", "5x5")
    assert code == 0 and "PSNR" in out
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("imgconv: warning: poor fit (PSNR")
    assert "gamma" in warning[0] and "misaligned" in warning[0] and "larger than --size 5x5" in warning[0]


def test_poor_fit_for_misaligned_pictures(photo_grey):
    after = np.roll(imgconv.convolve(photo_grey, preset("gaussian:sigma=2")), 25, axis=1)
    assert kernel_fit(photo_grey, after, estimate_kernel(photo_grey, after, (9, 9))).poor


def test_flat_picture_is_singular_but_answers(cli, tmp_path):
    flat = np.full((40, 50), 0.5)
    k, singular = solve_kernel(flat, flat, (3, 3))
    assert singular and k.sum() == pytest.approx(1) and np.allclose(k, 1 / 9)  # the minimum-norm kernel
    path = tmp_path / "flat.png"
    imgconv.write_image(path, flat)
    code, _, err = cli("estimate-kernel", path, path, "--size", "3")
    assert code == 0 and "note: the equations are singular" in err


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("args, message", [
    (("camera.png", "coffee.png", "--size", "5"), "BEFORE is 512x512 but AFTER is 600x400"),
    (("coffee.png", "coffee.png", "--size", "32x5"), "each side must be 1..31"),
    (("coffee.png", "coffee.png", "--size", "0"), "each side must be 1..31"),
    (("coffee.png", "coffee.png", "--size", "5x"), "give HxW"),
    (("coffee.png", "coffee.png", "--size", "five"), "give HxW"),
    (("coffee.png", "template.png", "--size", "5"), "same size"),
    (("coffee.png", "missing.png", "--size", "5"), "missing.png"),
    (("coffee.png", "coffee.png", "--size", "5", "-o", "k.png"), "unsupported kernel file extension"),
    (("coffee.png", "coffee.png", "--size", "5", "--channels", "each", "-o", "k.txt"), "C x H x W .npy"),
    (("coffee.png", "coffee.png", "--size", "5", "--regularize", "-1"), "below 0"),
    (("coffee.png", "coffee.png", "--size", "5", "--regularize", "nan"), "not a finite number"),
    (("coffee.png", "coffee.png"), "--size"),
])
def test_bad_inputs_are_one_line_exit_2(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    for name in ("camera.png", "coffee.png", "template.png"):
        (tmp_path / name).symlink_to(SAMPLES / name)
    code, out, err = cli("estimate-kernel", *args)
    assert code == 2 and out == ""
    assert err.startswith("imgconv: error: ") and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_existing_output_is_refused_before_any_work(cli, tmp_path):
    out = tmp_path / "k.npy"
    out.write_bytes(b"keep")
    src = SAMPLES / "camera.png"
    code, _, err = cli("estimate-kernel", src, src, "--size", "3", "-o", out)
    assert code == 2 and "exists" in err and "--overwrite" in err and out.read_bytes() == b"keep"
    code, _, _ = cli("estimate-kernel", src, src, "--size", "3", "-o", out, "--overwrite")
    assert code == 0 and np.allclose(np.load(out), np.pad([[1.0]], 1), atol=1e-6)  # identity
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npy"]


def test_each_channel_output_is_a_stack(cli, tmp_path):
    src = SAMPLES / "coffee.png"
    after = tmp_path / "after.png"
    cli("filter", src, "-k", "box:size=3", "-o", after)
    code, out, _ = cli("estimate-kernel", src, after, "--size", "3", "--channels", "each", "-o", tmp_path / "k.npy")
    assert code == 0 and out.count("channel ") == 3
    stack = np.load(tmp_path / "k.npy")
    assert stack.shape == (3, 3, 3) and all(rel(s, preset("box:size=3")) < 0.02 for s in stack)


def test_api_errors_and_lazy_names(photo_grey):
    assert imgconv.estimate_kernel is estimate_kernel
    with pytest.raises(ImgconvError, match="does not fit"):
        estimate_kernel(photo_grey[:10, :10], photo_grey[:10, :10], (15, 15))
    with pytest.raises(ImgconvError, match="too small"):
        estimate_kernel(photo_grey[:12, :12], photo_grey[:12, :12], (9, 9))
    with pytest.raises(ImgconvError, match="regularize"):
        estimate_kernel(photo_grey, photo_grey, (3, 3), regularize=-1.0)
    with pytest.raises(ImgconvError, match="channel"):
        estimate_kernel(photo_grey, np.stack([photo_grey] * 3, -1), (3, 3))
    with pytest.raises(ImgconvError, match="NaN"):
        estimate_kernel(np.full((20, 20), np.nan), np.zeros((20, 20)), (3, 3))
    with pytest.raises(ImgconvError, match="mode"):
        estimate_kernel(photo_grey, photo_grey, (3, 3), mode="bogus")
