"""What pixels mean: alpha, linear light, missing data, signed results, ImageMagick's kernel
strings, and the same options for deconvolve.

Every expectation is computed here, independently, with NumPy and scipy.ndimage on real
photographs (``samples/``): a transparent "logo" cut from the photograph with a soft alpha
disc, a checkerboard, NaN holes in a float photograph, masks on an 8-bit one.
"""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import imgconv
from imgconv.deconvolve import deconvolve, deconvolve_picture
from imgconv.errors import ImgconvError, KernelError
from imgconv.imageio import Picture, read_image
from imgconv.kernels import load_kernel

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
METHODS = ["auto", "direct", "separable", "fft"]


# ------------------------------------------------------------------ independent formulas


def decode(v):
    """sRGB -> linear light, IEC 61966-2-1, written out here."""
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def encode(v):
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.abs(v) ** (1 / 2.4) - 0.055)


def conv(x, k, mode="reflect", cval=0.0):
    """scipy.ndimage.convolve per channel, float64."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        return ndimage.convolve(x, k, mode=mode, cval=cval)
    return np.stack([ndimage.convolve(x[..., c], k, mode=mode, cval=cval) for c in range(x.shape[2])], -1)


def to8(x):
    return np.clip(np.rint(np.asarray(x, np.float64) * 255), 0, 255).astype(np.uint8)


def load8(path, mode=None):
    im = Image.open(path)
    return np.asarray(im.convert(mode) if mode else im)


def save8(path, array, mode=None):
    Image.fromarray(np.asarray(array, np.uint8), mode).save(path)
    return path


def gaussian(sigma):
    return load_kernel(f"gaussian:sigma={sigma}").matrices[0]


@pytest.fixture(scope="module")
def logo(photo_rgb):
    """A transparent logo: a 120 x 160 region of the photograph inside a soft-edged alpha
    disc, on transparent *black* (the hidden colour that keep lets bleed in)."""
    h, w = 120, 160
    rgb = photo_rgb[100:100 + h, 200:200 + w].astype(np.float32)
    yy, xx = np.mgrid[:h, :w]
    alpha = np.clip((48 - np.hypot(yy - h / 2, xx - w / 2)) / 4, 0, 1).astype(np.float32)
    rgb = np.where(alpha[..., None] > 0, rgb, 0).astype(np.float32)
    return np.dstack([rgb, alpha]).astype(np.float32)


@pytest.fixture
def logo_png(tmp_path, logo):
    return save8(tmp_path / "logo.png", to8(logo), "RGBA")


# ------------------------------------------------------------------ 1. alpha


def premultiplied_blur(rgba, k, mode="reflect"):
    """The GIMP/Photoshop/ImageMagick rule: blur colour x alpha and alpha, divide back."""
    c, a = rgba[..., :-1].astype(np.float64), rgba[..., -1].astype(np.float64)
    ca, af = conv(c * a[..., None], k, mode), conv(a, k, mode)
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(af[..., None] > 1e-6, ca / af[..., None], 0)
    return colour, af


@pytest.mark.parametrize("method", METHODS)
def test_premultiply_matches_the_formula_on_a_transparent_logo(logo, method):
    k = gaussian(3)
    out = imgconv.filter_image(logo, "gaussian:sigma=3", method=method)        # auto = premultiply
    colour, af = premultiplied_blur(logo, k)
    np.testing.assert_allclose(out[..., 3], af, atol=1e-5)
    seen = af > 1e-3                    # the division amplifies float rounding by 1 / alpha
    assert np.abs(out[..., :3] - colour)[seen].max() < 1e-3
    assert (out[..., :3][af < 1e-7] == 0).all()                               # colour 0 where alpha is 0


def test_keep_filters_straight_colour_and_leaves_alpha(logo):
    out = imgconv.filter_image(logo, "gaussian:sigma=3", alpha="keep")
    np.testing.assert_array_equal(out[..., 3], logo[..., 3])
    np.testing.assert_allclose(out[..., :3], conv(logo[..., :3], gaussian(3)), atol=1e-5)


def test_auto_premultiplies_only_for_non_negative_kernels(logo):
    box = imgconv.filter_image(logo, "box:size=5")
    np.testing.assert_allclose(box, imgconv.filter_image(logo, "box:size=5", alpha="premultiply"), atol=1e-6)
    sharp = imgconv.filter_image(logo, "sharpen")                            # negative taps: keep
    np.testing.assert_array_equal(sharp[..., 3], logo[..., 3])
    chain = imgconv.filter_image(logo, ["box:size=3", "sobel:direction=x"])  # one negative kernel: keep
    np.testing.assert_array_equal(chain[..., 3], logo[..., 3])


def test_white_disc_on_transparent_black_has_no_dark_fringe(cli, tmp_path):
    yy, xx = np.mgrid[:64, :64]
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[(yy - 32) ** 2 + (xx - 32) ** 2 <= 15 ** 2] = 255
    src = save8(tmp_path / "disc.png", rgba, "RGBA")
    assert cli("filter", src, "-k", "gaussian:sigma=3", "-o", tmp_path / "pm.png")[0] == 0
    assert cli("filter", src, "-k", "gaussian:sigma=3", "--alpha", "keep", "-o", tmp_path / "keep.png")[0] == 0
    pm, keep = load8(tmp_path / "pm.png"), load8(tmp_path / "keep.png")
    assert (pm[..., :3][pm[..., 3] > 0] == 255).all()          # white wherever it is visible
    want_alpha = to8(conv(rgba[..., 3] / 255.0, gaussian(3)))
    assert np.abs(pm[..., 3].astype(int) - want_alpha).max() <= 1  # a soft alpha edge
    assert keep[..., :3][keep[..., 3] > 0].min() < 150          # keep: the grey fringe of today
    assert set(np.unique(keep[..., 3])) == {0, 255}             # and a hard alpha edge


@pytest.mark.parametrize("ext", [".bmp", ".jpg"])
def test_rgba_to_a_format_without_alpha_is_composited(cli, tmp_path, logo_png, logo, ext):
    out = tmp_path / f"out{ext}"
    code, _, err = cli("filter", logo_png, "-k", "box:size=3", "-o", out)
    assert code == 0 and "has no alpha: composited over #ffffff" in err
    colour, af = premultiplied_blur(to8(logo) / 255.0, np.full((3, 3), 1 / 9))
    want = colour * af[..., None] + 1.0 * (1 - af[..., None])
    got = load8(out).astype(int)
    diff = np.abs(got - to8(want).astype(int))
    if ext == ".bmp":
        assert diff.max() <= 1
    else:  # JPEG is lossy: compare on average, and check the transparent corners are white
        assert diff.mean() < 2.5 and got[:10, :10].min() >= 250
    black = tmp_path / f"black{ext}"
    code, _, err = cli("filter", logo_png, "-k", "box:size=3", "--background", "#000000", "-o", black, "-q")
    assert code == 0 and err == ""
    assert load8(black)[:10, :10].max() <= 5                     # over black now


def test_bad_background_is_one_line(cli, logo_png, tmp_path):
    code, _, err = cli("filter", logo_png, "-k", "blur", "--background", "notacolour", "-o", tmp_path / "o.jpg")
    assert code == 2 and err.count("\n") == 1 and err.startswith("imgconv: error:") and "colour" in err


def test_grey_alpha_premultiplies_too(logo):
    ga = np.dstack([logo[..., 1], logo[..., 3]])
    out = imgconv.filter_image(ga, "box:size=5")
    colour, af = premultiplied_blur(ga, np.full((5, 5), 1 / 25))
    seen = af > 1e-3
    assert out.shape == ga.shape and np.abs(out[..., 0] - colour[..., 0])[seen].max() < 1e-3


# ------------------------------------------------------------------ 2. linear light


def test_checkerboard_box2_reads_188_in_linear_light(cli, tmp_path):
    yy, xx = np.mgrid[:32, :32]
    src = save8(tmp_path / "checker.png", ((yy + xx) % 2 * 255).astype(np.uint8))
    assert cli("filter", src, "-k", "box:size=2", "-o", tmp_path / "plain.png")[0] == 0
    assert cli("filter", src, "-k", "box:size=2", "--linear", "-o", tmp_path / "lin.png")[0] == 0
    inside = (slice(0, -1), slice(0, -1))                          # the last row and column see the border
    assert (load8(tmp_path / "plain.png")[inside] == 128).all()
    assert (load8(tmp_path / "lin.png")[inside] == 188).all()      # sRGB of 0.5 linear: 187.5 -> 188
    assert to8(encode(0.5)) == 188


def test_linear_matches_the_formula_on_a_photograph(cli, tmp_path, photo_rgb):
    img8 = to8(photo_rgb[:120, :160])
    src = save8(tmp_path / "p.png", img8)
    assert cli("filter", src, "-k", "gaussian:sigma=2", "--linear", "-o", tmp_path / "o.png")[0] == 0
    want = to8(encode(conv(decode(img8 / 255.0), gaussian(2))))
    diff = np.abs(load8(tmp_path / "o.png").astype(int) - want)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
    plain = to8(conv(img8 / 255.0, gaussian(2)))
    assert np.abs(plain.astype(int) - want).max() > 5             # and it is not the plain blur


def test_linear_16_bit(tmp_path, photo_grey):
    img16 = np.rint(photo_grey[:80, :100] * 65535).astype(np.uint16)
    Image.fromarray(img16).save(tmp_path / "g16.png")
    pic = read_image(tmp_path / "g16.png")
    out = imgconv.filter_image(pic, "box:size=3", linear=True)
    want = encode(conv(decode(img16 / 65535.0), np.full((3, 3), 1 / 9)))
    assert np.abs(out - want).max() < 1e-5


def test_float_pictures_are_linear_already(photo_grey):
    x = photo_grey[150:250, 250:400]
    notes = []
    out = imgconv.filter_image(Picture(x, depth=32), "box:size=3", linear=True, notes=notes)
    np.testing.assert_allclose(out, conv(x, np.full((3, 3), 1 / 9)), atol=1e-5)
    assert any("linear light already" in n for n in notes)
    decoded = imgconv.filter_image(Picture(x, depth=8), "box:size=3", linear=True)
    assert np.abs(decoded - out).max() > 1e-3


def test_linear_and_premultiply_together(logo):
    out = imgconv.filter_image(Picture(logo, depth=8, has_alpha=True), "gaussian:sigma=2", linear=True)
    lin = np.dstack([decode(logo[..., :3]), logo[..., 3]])
    colour, af = premultiplied_blur(lin, gaussian(2))
    seen = af > 1e-2
    assert np.abs(out[..., :3] - encode(colour))[seen].max() < 2e-3
    np.testing.assert_allclose(out[..., 3], af, atol=1e-5)


# ------------------------------------------------------------------ 3. missing data


@pytest.fixture(scope="module")
def holes(photo_grey):
    """A 180 x 240 float photograph with a few NaN holes, some touching the border."""
    x = photo_grey[100:280, 150:390].astype(np.float32).copy()
    rng = np.random.default_rng(7)
    for r, c in rng.integers(0, (180, 240), (5, 2)):
        x[r:r + 2, c:c + 3] = np.nan
    x[0, 100] = x[90, 0] = x[179, 239] = np.nan
    return x


KERNELS = {
    "gaussian": gaussian(2),
    "asymmetric": np.array([[0, 1, 2], [0, 0, 3], [-1, 0, 0]], float) / 5,   # zero taps skip NaN
    "even": np.array([[1, 2, 0, 1], [0, 1, 1, 0]], float) / 6,
}


def test_fft_alone_would_spread_nan_everywhere(holes):
    plain = imgconv.convolve(holes, KERNELS["gaussian"], method="fft")
    assert np.isnan(plain).all()                                   # 43,200 of 43,200 pixels


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kname", KERNELS)
def test_nan_footprint_is_scipys_for_every_method(holes, method, mode, kname):
    k = KERNELS[kname]
    want = ndimage.convolve(holes.astype(np.float64), k, mode=mode, cval=0.25)
    got = imgconv.filter_image(holes, [k], method=method, mode=mode, cval=0.25)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert 0 < np.isnan(want).sum() < want.size // 5
    assert np.nanmax(np.abs(got - want)) < 1e-4


def test_nan_footprint_with_correlate_and_a_chain(holes):
    k = KERNELS["asymmetric"]
    want = ndimage.correlate(ndimage.correlate(holes.astype(np.float64), k), np.ones((3, 3)) / 9)
    got = imgconv.filter_image(holes, [k, "box:size=3"], correlate=True, method="fft")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) < 1e-4


def normalised(x, k, mode="reflect", cval=0.0, valid=None):
    """conv(x*m, k) / conv(m, k) * sum(k), NaN where no valid pixel is under a non-zero tap."""
    m = np.isfinite(x) if valid is None else (valid & np.isfinite(x))
    xm = np.where(m, x, 0).astype(np.float64)
    num = ndimage.convolve(xm, k, mode=mode, cval=cval)
    den = ndimage.convolve(m.astype(np.float64), k, mode=mode, cval=1.0)
    count = ndimage.convolve(m.astype(np.float64), (k != 0).astype(np.float64), mode=mode, cval=1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0.5, num / den * k.sum(), np.nan)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_nan_ignore_is_normalised_convolution(holes, method, mode):
    x = holes.copy()
    x[60:100, 80:140] = np.nan                                     # and a hole larger than the kernel
    for spec in ["gaussian:sigma=2", "box:size=4", "disc:radius=4"]:
        k = load_kernel(spec).matrices[0]
        got = imgconv.filter_image(x, spec, nan="ignore", method=method, mode=mode, cval=0.3)
        want = normalised(x, k, mode, 0.3)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isnan(want).any() and np.nanmax(np.abs(got - want)) < 1e-5, spec


def test_nan_ignore_without_missing_pixels_is_plain_filtering(photo_grey):
    x = photo_grey[:60, :80]
    for mode in MODES:
        np.testing.assert_allclose(imgconv.filter_image(x, "gaussian:sigma=1", nan="ignore", mode=mode, cval=0.5),
                                   conv(x, gaussian(1), mode, 0.5), atol=1e-5)


@pytest.mark.parametrize("spec", ["sharpen", "edge", "sobel", "log:sigma=2", "3x3: 1,1,1,1,-1,1,1,1,1"])
def test_nan_ignore_refuses_non_averaging_kernels(cli, tmp_path, holes, spec):
    with pytest.raises(KernelError, match="averaging kernels"):
        imgconv.filter_image(holes, spec, nan="ignore")
    src = tmp_path / "h.npy"
    np.save(src, holes)
    code, _, err = cli("filter", src, "-k", spec, "--nan", "ignore", "-o", tmp_path / "o.npy")
    assert code == 2 and err.count("\n") == 1 and "averaging kernels" in err
    assert not (tmp_path / "o.npy").exists()


def test_cli_float_nan_propagates_with_a_note(cli, tmp_path, holes):
    src = tmp_path / "h.npy"
    np.save(src, holes)
    code, _, err = cli("filter", src, "-k", "gaussian:sigma=2", "--method", "fft", "-o", tmp_path / "o.npy")
    want = conv(holes, gaussian(2))
    got = np.load(tmp_path / "o.npy")
    assert code == 0 and np.array_equal(np.isnan(got), np.isnan(want))
    n_in, n_out = int(np.isnan(holes).sum()), int(np.isnan(want).sum())
    assert f"{n_in} pixels are missing (NaN)" in err and f"spread to the {n_out} output pixels" in err
    assert "--nan ignore" in err and "SciPy" in err
    code, _, err = cli("filter", src, "-k", "gaussian:sigma=2", "-o", tmp_path / "q.npy", "-q")
    assert code == 0 and err == ""


def test_cli_valid_mask_on_an_8_bit_photograph(cli, tmp_path, photo_grey):
    img8 = to8(photo_grey[:100, :140])
    src = save8(tmp_path / "p.png", img8)
    mask = np.full(img8.shape, 255, np.uint8)
    mask[20:60, 30:90] = 0                                          # a 40 x 60 hole
    mask[::7, ::5] = 0                                              # and scattered dead pixels
    mpath = save8(tmp_path / "mask.png", mask)
    code, _, err = cli("filter", src, "-k", "box:size=5", "--nan", "ignore", "--valid", mpath, "--cval", 0.5,
                       "--depth", "float", "-o", tmp_path / "o.npy")
    assert code == 0 and "filled from their valid neighbours" in err and "no valid pixel" in err
    want = normalised(img8 / 255.0, np.full((5, 5), 1 / 25), valid=mask > 0)
    got = np.load(tmp_path / "o.npy")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(want).sum() > 500 and np.nanmax(np.abs(got - want)) < 1e-5
    # in an integer output, the pixels without a valid neighbour are --cval
    code, _, err = cli("filter", src, "-k", "box:size=5", "--nan", "ignore", "--valid", mpath, "--cval", 0.5,
                       "-o", tmp_path / "o.png")
    got8 = load8(tmp_path / "o.png").astype(int)
    assert code == 0 and (got8[np.isnan(want)] == 128).all()
    assert np.abs(got8 - to8(np.nan_to_num(want)))[~np.isnan(want)].max() <= 1
    # propagate with a mask: the invalid pixels spread, written as --cval
    code, _, err = cli("filter", src, "-k", "box:size=3", "--valid", mpath, "-o", tmp_path / "p2.png")
    spread = ndimage.convolve((mask == 0).astype(float), np.ones((3, 3)), mode="reflect") > 0
    got = load8(tmp_path / "p2.png")
    assert code == 0 and (got[spread] == 0).all() and "0 in --valid" in err


def test_valid_mask_must_match_the_image(cli, tmp_path, photo_grey):
    src = save8(tmp_path / "p.png", to8(photo_grey[:40, :50]))
    mpath = save8(tmp_path / "m.png", np.full((30, 50), 255, np.uint8))
    code, _, err = cli("filter", src, "-k", "blur", "--valid", mpath, "-o", tmp_path / "o.png")
    assert code == 2 and "50x30" in err and "50x40" in err and "Traceback" not in err
    code, _, err = cli("filter", src, "-k", "blur", "--valid", tmp_path / "missing.png", "-o", tmp_path / "o.png")
    assert code == 2 and err.count("\n") == 1


def test_nan_in_an_integer_output_becomes_cval(cli, tmp_path, holes):
    src = tmp_path / "h.npy"
    np.save(src, holes)
    code, _, err = cli("filter", src, "-k", "box:size=3", "--cval", 1, "--depth", 8, "-o", tmp_path / "o.png", "-q")
    assert code == 0 and err == ""
    got = load8(tmp_path / "o.png")
    want = conv(holes, np.full((3, 3), 1 / 9))
    assert (got[np.isnan(want)] == 255).all()
    assert np.abs(got[~np.isnan(want)].astype(int) - to8(want[~np.isnan(want)])).max() <= 1


# ------------------------------------------------------------------ 4. signed results


def test_clipping_note_for_a_signed_result(cli, tmp_path, photo_rgb):
    src = save8(tmp_path / "p.png", to8(photo_rgb))
    code, _, err = cli("filter", src, "-k", "log:sigma=2", "-o", tmp_path / "o.png")
    result = conv(to8(photo_rgb) / 255.0, load_kernel("log:sigma=2").matrices[0])
    below = (result < -1e-5).mean()
    assert code == 0 and below > 0.4                                # the photograph: about 46%
    notes = [line for line in err.splitlines() if "clips" in line]
    assert len(notes) == 1 and f"{100 * below:.1f}% below 0" in notes[0]
    for fix in ("--offset 0.5", "--scale S", "--abs", "--depth float"):
        assert fix in notes[0]
    assert cli("filter", src, "-k", "log:sigma=2", "-o", tmp_path / "q.png", "-q")[2] == ""
    code, _, err = cli("filter", src, "-k", "log:sigma=2", "--offset", 0.5, "-o", tmp_path / "r.png")
    assert code == 0 and "clips" not in err                         # mid grey holds it
    code, _, err = cli("filter", src, "-k", "gaussian:sigma=2", "-o", tmp_path / "s.png")
    assert code == 0 and "clips" not in err                         # a blur never clips
    code, _, err = cli("filter", src, "-k", "log:sigma=2", "--depth", "float", "-o", tmp_path / "t.npy")
    assert code == 0 and "clips" not in err                         # float keeps them


def test_abs_before_scale_and_offset(cli, tmp_path, photo_grey):
    img8 = to8(photo_grey[:90, :120])
    src = save8(tmp_path / "g.png", img8)
    out = tmp_path / "o.png"
    code, _, err = cli("filter", src, "-k", "sobel:direction=x", "--abs", "--scale", 0.5, "--offset", 0.1, "-o", out)
    sx = load_kernel("sobel:direction=x").matrices[0]
    want = to8(np.abs(conv(img8 / 255.0, sx)) * 0.5 + 0.1)
    assert code == 0 and np.abs(load8(out).astype(int) - want).max() <= 1
    lib = imgconv.filter_image(img8 / 255.0, "sobel:direction=x", absolute=True)
    np.testing.assert_allclose(lib, np.abs(conv(img8 / 255.0, sx)), atol=1e-5)


# ------------------------------------------------------------------ 5. ImageMagick's kernel strings


def test_imagemagick_kernel_string():
    k = load_kernel("3x3: 0,-1,0,-1,5,-1,0,-1,0")
    np.testing.assert_array_equal(k.matrices[0], load_kernel("sharpen").matrices[0])
    np.testing.assert_array_equal(load_kernel("2x3: 1 2 3 4 5 6").matrices[0], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(load_kernel("3x1:1/4,1/2,1/4").matrices[0], [[0.25, 0.5, 0.25]])


@pytest.mark.parametrize("spec, message", [
    ("3x3: 0,-1,0,-1,5,-1,0,-1", "needs 9 values"),
    ("3x3: 1,1,1,1,1,1,1,1,1,1", "needs 9 values"),
    ("2x2:", "needs 4 values"),
    ("3x3+0+0: 1,1,1,1,1,1,1,1,1", "origin"),
    ("0x3: 1", "at least one"),
    ("2x1: 1,x", "not a number"),
])
def test_bad_imagemagick_kernel_strings_are_one_line(cli, tmp_path, spec, message):
    with pytest.raises(KernelError, match=message):
        load_kernel(spec)
    src = save8(tmp_path / "g.png", np.zeros((8, 8), np.uint8))
    code, _, err = cli("filter", src, "-k", spec, "-o", tmp_path / "o.png")
    assert code == 2 and err.count("\n") == 1 and message in err


def test_a_flat_square_list_stays_one_row_with_a_note(cli, tmp_path, photo_grey):
    src = save8(tmp_path / "g.png", to8(photo_grey[:40, :50]))
    spec = "1,2,3,4,5,6,7,8,9"
    assert load_kernel(spec).matrices[0].shape == (1, 9)
    code, _, err = cli("filter", src, "-k", spec, "--normalize", "-o", tmp_path / "o.png")
    assert code == 0 and "1x9" in err and "'3x3: 1,2,3,4,5,6,7,8,9'" in err
    assert cli("filter", src, "-k", spec, "--normalize", "-o", tmp_path / "q.png", "-q")[2] == ""
    for quiet_spec in ("1,2,3,4,5,6,7,8", "1,2,3; 4,5,6; 7,8,9", "1,2,1", "3x3: 1,2,3,4,5,6,7,8,9"):
        code, _, err = cli("filter", src, "-k", quiet_spec, "--normalize", "-o", tmp_path / "n.png", "--overwrite")
        assert code == 0 and "1x" not in err, quiet_spec


# ------------------------------------------------------------------ 6. deconvolve


def test_deconvolve_takes_the_pixel_and_border_options(cli):
    code, out, _ = cli("deconvolve", "--help")
    for option in ("--alpha", "--background", "--linear", "--nan", "--valid", "--abs", "--mode", "--cval",
                   "--channels"):
        assert option in out


WELL_CONDITIONED = np.array([[1, 2, 1], [2, 12, 2], [1, 2, 1]], float) / 24


@pytest.mark.parametrize("mode", ["reflect", "mirror", "wrap"])
def test_deconvolve_border_model_is_exact_where_it_can_be(photo_grey, mode):
    sharp = photo_grey[:120, :150].astype(np.float64)
    blurred = conv(sharp, WELL_CONDITIONED, mode)
    exact = deconvolve(blurred, WELL_CONDITIONED, balance=0, mode=mode)
    assert np.abs(exact - sharp).max() < 1e-4
    other = "wrap" if mode != "wrap" else "reflect"
    assert np.abs(deconvolve(blurred, WELL_CONDITIONED, balance=0, mode=other) - sharp).max() > 0.02


def test_deconvolve_constant_border_model_beats_reflect(photo_grey):
    sharp = photo_grey[:120, :150].astype(np.float64)
    blurred = conv(sharp, gaussian(1), "constant", 0.3)

    def border_rms(x):
        d = (x - sharp) ** 2
        return np.sqrt(np.concatenate([d[:8].ravel(), d[-8:].ravel(), d[:, :8].ravel(), d[:, -8:].ravel()]).mean())

    matched = border_rms(deconvolve(blurred, gaussian(1), balance=1e-3, mode="constant", cval=0.3))
    assert matched < border_rms(deconvolve(blurred, gaussian(1), balance=1e-3)) / 1.5


def test_deconvolve_premultiplies_a_blurred_logo(logo):
    k = gaussian(1.5)
    colour, af = premultiplied_blur(logo, k)                         # blurred as imgconv (and GIMP) blur
    blurred = np.dstack([colour, af]).astype(np.float32)
    pm = deconvolve_picture(blurred, k, has_alpha=True, balance=1e-4)
    keep = deconvolve_picture(blurred, k, has_alpha=True, balance=1e-4, alpha="keep")
    a = logo[..., 3]
    assert np.abs(pm[..., 3] - a).mean() < np.abs(af - a).mean() / 2  # alpha restored too
    opaque = a > 0.5
    err_pm = np.abs(pm[..., :3] - logo[..., :3])[opaque].mean()
    err_keep = np.abs(keep[..., :3] - logo[..., :3])[opaque].mean()
    assert err_pm < err_keep and (pm[..., 3] >= 0).all() and (pm[..., 3] <= 1).all()


def test_deconvolve_linear_light(photo_grey):
    sharp8 = to8(photo_grey[:100, :120])
    k = WELL_CONDITIONED
    blurred = encode(conv(decode(sharp8 / 255.0), k)).astype(np.float32)   # a blur of the light
    lin = deconvolve_picture(Picture(blurred, depth=8), k, linear=True, balance=0)
    assert np.abs(lin - sharp8 / 255.0).max() < 1e-3
    plain = deconvolve_picture(Picture(blurred, depth=8), k, balance=0)
    assert np.abs(plain - sharp8 / 255.0).max() > 0.01


def test_deconvolve_missing_pixels(holes):
    k = WELL_CONDITIONED
    notes = []
    out = deconvolve_picture(holes, k, balance=1e-3, notes=notes)
    footprint = np.isnan(ndimage.convolve(holes.astype(np.float64), k))
    np.testing.assert_array_equal(np.isnan(out), footprint)
    assert any("PSF window" in n for n in notes)
    ignore = deconvolve_picture(holes, k, balance=1e-3, nan="ignore")
    assert not np.isnan(ignore).any()                               # every hole has valid neighbours
    full = deconvolve(np.nan_to_num(holes, nan=0.5), k, balance=1e-3)
    far = ~(ndimage.binary_dilation(np.isnan(holes), iterations=12))
    assert np.abs(ignore - full)[far].max() < 1e-3
    with pytest.raises(KernelError, match="averaging"):
        deconvolve_picture(holes, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], nan="ignore")


def test_deconvolve_channels(photo_rgb):
    rgb = photo_rgb[:64, :80]
    grey = deconvolve_picture(rgb, WELL_CONDITIONED, channels="gray", balance=0)
    assert grey.shape == (64, 80)
    luma = deconvolve_picture(rgb, WELL_CONDITIONED, channels="luma", balance=0)
    assert luma.shape == rgb.shape


def test_cli_deconvolve_notes_and_options(cli, tmp_path, logo_png, photo_grey):
    code, _, err = cli("deconvolve", logo_png, "--psf", "sharpen", "-o", tmp_path / "o.png")
    assert code == 0 and "negative taps" in err and "not a blur" in err
    code, _, err = cli("deconvolve", logo_png, "--psf", "gaussian:sigma=1", "--mode", "nearest", "--linear",
                       "-o", tmp_path / "o.jpg", "--background", "black")
    assert code == 0 and "composited over #000000" in err
    assert load8(tmp_path / "o.jpg")[:5, :5].max() <= 5
    code, _, err = cli("deconvolve", logo_png, "--psf", "sharpen", "--nan", "ignore", "-o", tmp_path / "p.png")
    assert code == 2 and "averaging" in err and err.count("\n") == 1
    img8 = to8(photo_grey[:60, :80])
    src = save8(tmp_path / "g.png", img8)
    mask = np.full(img8.shape, 255, np.uint8)
    mask[10:40, 20:60] = 0
    mpath = save8(tmp_path / "m.png", mask)
    code, _, err = cli("deconvolve", src, "--psf", "box:size=3", "--valid", mpath, "--nan", "ignore", "--cval", 1,
                       "-o", tmp_path / "v.png")
    got = load8(tmp_path / "v.png")
    empty = ndimage.convolve((mask > 0).astype(float), np.ones((3, 3)), mode="reflect") == 0
    assert code == 0 and "0 in --valid" in err and (got[empty] == 255).all() and (got[~empty] < 255).mean() > 0.9
    with pytest.raises(ImgconvError, match="--channels"):
        deconvolve_picture(photo_grey[:20, :20], WELL_CONDITIONED, channels="bogus")
