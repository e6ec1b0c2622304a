"""Deconvolution: round trips on real photographs, exactness, borders, bad PSFs, the CLI."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from imgconv.deconvolve import check_psf, deconvolve, deconvolve_picture, estimate_noise
from imgconv.errors import ImgconvError, KernelError


def gaussian_psf(sigma=2.0, size=13):
    x = np.arange(size) - size // 2
    g = np.exp(-x * x / (2 * sigma * sigma))
    return np.outer(g, g) / g.sum() ** 2


def disc_psf(radius=5):
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    d = (xx * xx + yy * yy <= radius * radius).astype(float)
    return d / d.sum()


def motion_psf(length=15, angle=30):
    k = np.zeros((length, length))
    c = length // 2
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c - t * np.sin(np.radians(angle)))), int(round(c + t * np.cos(np.radians(angle))))] = 1
    return k / k.sum()


PSFS = {"gaussian": gaussian_psf(), "disc": disc_psf(), "motion": motion_psf()}


def blur(image, psf):
    if image.ndim == 3:
        return np.stack([blur(image[..., c], psf) for c in range(image.shape[2])], axis=-1)
    return ndimage.convolve(image.astype(np.float64), psf, mode="reflect")


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


def noisy(image, sigma, seed=0):
    return (image + np.random.default_rng(seed).normal(0, sigma, image.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def photo(photo_grey):
    return photo_grey[:256, :320].astype(np.float64)



# ---------------------------------------------------------------- quality


@pytest.mark.parametrize("name", PSFS)
@pytest.mark.parametrize("method", ["wiener", "richardson-lucy"])
def test_round_trip_gains_on_a_photograph(photo, name, method):
    observed = noisy(blur(photo, PSFS[name]), 0.005)
    restored = deconvolve(observed, PSFS[name], method=method)
    assert restored.dtype == np.float32 and restored.shape == photo.shape
    gain = psnr(restored, photo) - psnr(observed, photo)
    assert gain > (1.5 if method == "wiener" else 1.0), f"{name}/{method}: only {gain:.2f} dB better than the blurred input"


@pytest.mark.parametrize("name", PSFS)
def test_better_than_scikit_image_wiener(photo, name):
    restoration = pytest.importorskip("skimage.restoration")
    observed = noisy(blur(photo, PSFS[name]), 0.005)
    ours = psnr(deconvolve(observed, PSFS[name]), photo)
    theirs = psnr(restoration.wiener(observed.astype(np.float64), PSFS[name], 0.01), photo)
    assert ours > theirs + 1.0


def test_colour_channels_are_independent(photo_rgb):
    rgb = photo_rgb[:128, :160].astype(np.float64)
    psf = PSFS["gaussian"]
    observed = noisy(blur(rgb, psf), 0.005)
    together = deconvolve(observed, psf)
    for c in range(3):
        np.testing.assert_allclose(together[..., c], deconvolve(observed[..., c], psf), atol=1e-6)


@pytest.mark.parametrize("psf", [
    np.array([[1.0, 0.3], [0.2, 0.1]]),               # even size: anchor (1, 1)
    np.array([[0.1, 0.6, 0.1, 0.05], [0.0, 0.1, 0.05, 0.0]]),
    np.array([[0.05, 0.1, 0.05], [0.1, 1.0, 0.1], [0.05, 0.1, 0.05]]),
], ids=["2x2", "2x4", "3x3"])
def test_exact_inverse_without_noise_or_shift(photo, psf):
    """An invertible PSF, no noise, balance 0: the photograph comes back (so the anchor is right)."""
    psf = psf / psf.sum()
    observed = blur(photo, psf)
    restored = deconvolve(observed, psf, balance=0)
    inner = (slice(12, -12), slice(12, -12))
    assert np.abs(restored[inner] - photo[inner]).max() < 2e-3


@pytest.mark.parametrize("method", ["wiener", "richardson-lucy"])
@pytest.mark.parametrize("psf", [[[1.0]], [[0, 0, 0], [0, 2.5, 0], [0, 0, 0]], [[0, 0], [0, 1]]],
                         ids=["1x1", "3x3", "2x2"])
def test_identity_psf_is_a_no_op(photo_rgb, method, psf):
    image = photo_rgb[:64, :80]
    calls = []
    out = deconvolve(image, psf, method=method, balance=0.05, iterations=5,
                     progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(out, image)
    if method == "richardson-lucy":
        assert calls[-1] == (15, 15)


@pytest.mark.parametrize("name", PSFS)
def test_no_ringing_band_at_the_border(photo, name):
    """The error in an 8 px border strip is not much worse than in the interior
    (scikit-image's circular Wiener, on the same input, is many times worse there)."""
    observed = noisy(blur(photo, PSFS[name]), 0.002)

    def border_ratio(restored):
        err = (np.asarray(restored, np.float64) - photo) ** 2
        strip = np.ones(err.shape, bool)
        strip[8:-8, 8:-8] = False
        return err[strip].mean() / err[24:-24, 24:-24].mean()

    for method in ("wiener", "richardson-lucy"):
        ratio = border_ratio(deconvolve(observed, PSFS[name], method=method))
        assert ratio < 2.5, f"{method}: border error {ratio:.1f}x the interior's"
    restoration = pytest.importorskip("skimage.restoration")
    assert border_ratio(restoration.wiener(observed.astype(np.float64), PSFS[name], 0.01)) > 4.0


def test_richardson_lucy_is_non_negative_and_reports_progress(photo):
    observed = noisy(blur(photo, PSFS["disc"]), 0.02)
    calls = []
    out = deconvolve(observed, PSFS["disc"], method="richardson-lucy", iterations=7,
                     progress=lambda done, total: calls.append((done, total)))
    assert out.min() >= 0
    assert calls == [(i, 7) for i in range(1, 8)]


def test_richardson_lucy_damping_limits_noise_growth(photo):
    observed = noisy(blur(photo, PSFS["gaussian"]), 0.02)
    plain = deconvolve(observed, PSFS["gaussian"], method="richardson-lucy", iterations=150)
    damped = deconvolve(observed, PSFS["gaussian"], method="richardson-lucy", iterations=150, balance=0.002)
    assert psnr(damped, photo) > psnr(plain, photo) + 1.0


def test_explicit_balance_trades_noise_for_sharpness(photo):
    observed = noisy(blur(photo, PSFS["gaussian"]), 0.005)
    sharp = deconvolve(observed, PSFS["gaussian"], balance=1e-5)
    smooth = deconvolve(observed, PSFS["gaussian"], balance=1.0)
    auto = deconvolve(observed, PSFS["gaussian"])
    assert psnr(auto, photo) > max(psnr(sharp, photo), psnr(smooth, photo))
    assert np.std(np.diff(sharp, axis=1)) > np.std(np.diff(smooth, axis=1))


@pytest.mark.parametrize("sigma", [0.003, 0.01, 0.03])
def test_noise_estimate(photo, sigma):
    smooth = ndimage.gaussian_filter(photo, 2.0)
    assert estimate_noise(noisy(smooth, sigma)) == pytest.approx(sigma, rel=0.2)


def test_alpha_is_carried_through_with_alpha_keep(photo_rgb):
    # alpha="keep" is the old behaviour; auto now premultiplies for a blur (tests/test_pixels.py)
    sharp = photo_rgb[:96, :96].astype(np.float64)
    alpha = np.linspace(0, 1, 96 * 96, dtype=np.float32).reshape(96, 96)
    blurred = blur(sharp, PSFS["gaussian"]).astype(np.float32)
    out = deconvolve_picture(np.dstack([blurred, alpha]), PSFS["gaussian"], has_alpha=True, balance=1e-4,
                             alpha="keep")
    assert out.shape == (96, 96, 4)
    np.testing.assert_array_equal(out[..., 3], alpha)  # alpha untouched, not deconvolved
    assert psnr(out[..., :3], sharp) > psnr(blurred, sharp) + 3  # the colour is restored
    grey_alpha = deconvolve_picture(np.dstack([blurred[..., 0], alpha]), PSFS["gaussian"], has_alpha=True,
                                    balance=1e-4, alpha="keep")
    assert grey_alpha.shape == (96, 96, 2) and np.array_equal(grey_alpha[..., 1], alpha)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("psf, message", [
    ([[1.0, -1.0]], "positive sum"),
    ([[-1.0, -2.0]], "positive sum"),
    ([[0.0, 0.0]], "positive sum"),
    ([[1.0, np.nan]], "NaN"),
    ([[1.0, np.inf]], "NaN"),
    (np.ones(3), "2-D"),
    (np.ones((2, 2, 2)), "2-D"),
    (np.ones((40, 5)), "larger than the image"),
])
def test_bad_psf_is_refused(psf, message):
    with pytest.raises(KernelError, match=message):
        deconvolve(np.zeros((32, 32), np.float32), psf)


def test_bad_arguments_are_refused():
    img = np.zeros((16, 16), np.float32)
    with pytest.raises(ImgconvError, match="method"):
        deconvolve(img, [[1.0]], method="blind")
    with pytest.raises(ImgconvError, match="balance"):
        deconvolve(img, [[1.0]], balance=-1)
    with pytest.raises(ImgconvError, match="iterations"):
        deconvolve(img, [[1.0]], method="richardson-lucy", iterations=0)
    with pytest.raises(KernelError, match="negative"):
        deconvolve(img, [[1.0, -0.2]], method="richardson-lucy")
    with pytest.raises(ImgconvError, match="NaN"):
        deconvolve(np.full((8, 8), np.nan), [[1.0]])
    assert check_psf([[2.0, 2.0]]).tolist() == [[0.5, 0.5]]


# ---------------------------------------------------------------- CLI


def save(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


@pytest.fixture
def blurred_png(tmp_path, photo):
    observed = np.clip(blur(photo, gaussian_psf(2.0, 13)), 0, 1)
    return save(tmp_path / "blurred.png", np.rint(observed * 255).astype(np.uint8))


def test_cli_default_output_and_quality(cli, blurred_png, photo):
    code, out, err = cli("deconvolve", blurred_png, "--psf", "gaussian:sigma=2,size=13")
    assert code == 0, err
    result = np.asarray(Image.open(blurred_png.with_name("blurred.deconv.png")), np.float64) / 255
    before = np.asarray(Image.open(blurred_png), np.float64) / 255
    assert psnr(result, photo) > psnr(before, photo) + 2
    code, out, err = cli("deconvolve", blurred_png, "--psf", "gaussian:sigma=2,size=13")
    assert code == 2 and "exists" in err  # never overwritten without --overwrite
    code, out, err = cli("deconvolve", blurred_png, "--psf", "gaussian:sigma=2,size=13", "--overwrite",
                         "--method", "richardson-lucy", "--iterations", "5")
    assert code == 0, err


def test_cli_alpha_and_16_bit(cli, tmp_path, photo_rgb):
    rgba = np.concatenate([photo_rgb[:64, :80], np.full((64, 80, 1), 0.5, np.float32)], -1)
    src = save(tmp_path / "a.png", np.rint(rgba * 255).astype(np.uint8), "RGBA")
    code, _, err = cli("deconvolve", src, "--psf", "1 2 1; 2 4 2; 1 2 1", "-o", tmp_path / "a_out.png")
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "a_out.png"))
    assert out.shape == (64, 80, 4) and (out[..., 3] == 128).all()

    grey16 = np.rint(photo_rgb[:64, :80, 1] * 65535).astype(np.uint16)
    src16 = tmp_path / "g16.png"
    Image.fromarray(grey16).save(src16)
    code, _, err = cli("deconvolve", src16, "--psf", "gaussian:sigma=1", "-o", tmp_path / "g16_out.png")
    assert code == 0, err
    from imgconv.imageio import read_image
    assert read_image(tmp_path / "g16_out.png").depth == 16


def test_cli_many_inputs_summary_and_exit_3(cli, tmp_path, blurred_png):
    outdir = tmp_path / "out"
    code, _, err = cli("deconvolve", blurred_png, tmp_path / "missing.png", "--psf", "gaussian:sigma=2", "-o", outdir)
    assert code == 3
    assert (outdir / "blurred.png").exists()
    assert "missing.png" in err and "done 1, skipped 0, failed 1" in err


@pytest.mark.parametrize("spec, message", [
    ("1,-1", "positive sum"),
    ("-1,-2; -3,-4", "positive sum"),
    ("sobel", "one matrix"),
    ("box:size=99", "larger than the image"),
    ("nan.npy", "NaN"),
])
def test_cli_bad_psf_exits_2_with_one_line(cli, tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [1.0, 1.0]]))
    src = save(tmp_path / "small.png", np.full((40, 40), 100, np.uint8))
    code, out, err = cli("deconvolve", src, "--psf", spec)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error:") and message in lines[0], err
    assert not (tmp_path / "small.deconv.png").exists()
