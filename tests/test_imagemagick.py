""""Coming from ImageMagick" (README): each translation checked against the real ``convert``.

Skipped where ImageMagick is not installed. Measured with ImageMagick 6.9.11 Q16 on a crop
of the sample photograph: an 8-bit result of ``convert`` is its 16-bit result truncated
(imgconv rounds), so 8-bit outputs agree within 1 level, about half the pixels exactly; at
16 bits ``Gaussian:0x2`` (15 x 15) and ``gaussian:sigma=2`` (13 x 13) differ by at most
0.18 of an 8-bit level.
"""
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from imgconv.imageio import read_image


def _imagemagick():
    exe = shutil.which("convert")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    # a stand-in that is not ImageMagick may answer too: only ImageMagick prints its version
    return exe if proc.returncode == 0 and proc.stdout.startswith("Version: ImageMagick") else None


CONVERT = _imagemagick()
pytestmark = pytest.mark.skipif(CONVERT is None, reason="ImageMagick's convert is not installed")


def magick(*args):
    proc = subprocess.run([CONVERT, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def rgba(path):
    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


@pytest.fixture
def photo(tmp_path, photo_rgb):
    path = tmp_path / "photo.png"
    Image.fromarray(np.rint(photo_rgb[50:230, 100:340] * 255).astype(np.uint8)).save(path)
    return path


ASYMMETRIC = "3x3: 0,1,2, 0,0,3, 1,0,0"
ASYMMETRIC_SMALL = "3x3: 0,0.1,0.2, 0,0,0.3, 0.1,0,0"   # sum 0.7: nothing clips unnormalised


def assert_within_one_level(a, b):
    diff = np.abs(a - b)
    assert diff.max() <= 1, diff.max()


def test_convolve_is_correlate_normalize(cli, tmp_path, photo):
    magick(photo, "-convolve", "0,1,2,0,0,3,1,0,0", tmp_path / "im.png")
    assert cli("filter", photo, "-k", ASYMMETRIC, "--correlate", "--normalize", "--mode", "nearest",
               "-o", tmp_path / "ic.png")[0] == 0
    assert_within_one_level(rgb(tmp_path / "im.png"), rgb(tmp_path / "ic.png"))
    assert cli("filter", photo, "-k", ASYMMETRIC, "--normalize", "--mode", "nearest",
               "-o", tmp_path / "flip.png")[0] == 0
    assert np.abs(rgb(tmp_path / "im.png") - rgb(tmp_path / "flip.png")).max() > 20  # not the flipped kernel


def test_morphology_convolve_is_the_default(cli, tmp_path, photo):
    magick(photo, "-morphology", "Convolve", ASYMMETRIC_SMALL, tmp_path / "im.png")
    assert cli("filter", photo, "-k", ASYMMETRIC_SMALL, "--mode", "nearest", "-o", tmp_path / "ic.png")[0] == 0
    assert_within_one_level(rgb(tmp_path / "im.png"), rgb(tmp_path / "ic.png"))
    magick(photo, "-morphology", "Correlate", ASYMMETRIC_SMALL, tmp_path / "im_corr.png")
    assert cli("filter", photo, "-k", ASYMMETRIC_SMALL, "--mode", "nearest", "--correlate",
               "-o", tmp_path / "ic_corr.png")[0] == 0
    assert_within_one_level(rgb(tmp_path / "im_corr.png"), rgb(tmp_path / "ic_corr.png"))


def test_virtual_pixel_edge_is_mode_nearest(cli, tmp_path, photo):
    magick(photo, "-virtual-pixel", "edge", "-morphology", "Convolve", "Gaussian:0x2", tmp_path / "im.png")
    magick(photo, "-morphology", "Convolve", "Gaussian:0x2", tmp_path / "im_default.png")
    assert np.array_equal(rgb(tmp_path / "im.png"), rgb(tmp_path / "im_default.png"))  # edge is IM's default
    assert cli("filter", photo, "-k", "gaussian:sigma=2", "--mode", "nearest", "-o", tmp_path / "ic.png")[0] == 0
    assert_within_one_level(rgb(tmp_path / "im.png"), rgb(tmp_path / "ic.png"))
    assert cli("filter", photo, "-k", "gaussian:sigma=2", "-o", tmp_path / "reflect.png")[0] == 0
    border = np.abs(rgb(tmp_path / "im.png") - rgb(tmp_path / "reflect.png"))
    assert border.max() > 5 and border[8:-8, 8:-8].max() <= 1   # imgconv's default reflect: borders differ


def test_gaussian_0x2_is_gaussian_sigma_2(cli, tmp_path, photo):
    magick(photo, "-morphology", "Convolve", "Gaussian:0x2", "-depth", "16", tmp_path / "im16.png")
    im = read_image(tmp_path / "im16.png").pixels.astype(np.float64)
    for spec, tolerance in (("gaussian:sigma=2", 0.25), ("gaussian:sigma=2,size=15", 0.01)):
        out = tmp_path / f"ic16-{spec[-2:]}.png"
        assert cli("filter", photo, "-k", spec, "--mode", "nearest", "--depth", 16, "-o", out)[0] == 0
        diff = np.abs(read_image(out).pixels - im) * 255
        assert diff.max() < tolerance, (spec, diff.max())     # in 8-bit levels


def test_bias_50_percent_is_offset_half(cli, tmp_path, photo):
    laplacian = "3x3: 0,1,0, 1,-4,1, 0,1,0"
    magick(photo, "-bias", "50%", "-morphology", "Convolve", laplacian, tmp_path / "im.png")
    magick(photo, "-define", "convolve:bias=50%", "-morphology", "Convolve", laplacian, tmp_path / "im2.png")
    assert np.array_equal(rgb(tmp_path / "im.png"), rgb(tmp_path / "im2.png"))
    code, _, err = cli("filter", photo, "-k", "laplacian", "--offset", 0.5, "--mode", "nearest",
                       "-o", tmp_path / "ic.png")
    assert code == 0 and "clips" not in err
    assert_within_one_level(rgb(tmp_path / "im.png"), rgb(tmp_path / "ic.png"))


def test_transparent_pictures_blur_premultiplied_as_in_imagemagick(cli, tmp_path, photo):
    pixels = rgb(photo).astype(np.uint8)
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    alpha = np.clip((70 - np.hypot(yy - h / 2, xx - w / 2)) * 255 / 6, 0, 255).astype(np.uint8)
    pixels[alpha == 0] = 0
    src = tmp_path / "logo.png"
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(src)
    magick(src, "-morphology", "Convolve", "Gaussian:0x2", tmp_path / "im.png")
    for mode, close in (("auto", True), ("keep", False)):
        out = tmp_path / f"ic-{mode}.png"
        assert cli("filter", src, "-k", "gaussian:sigma=2,size=15", "--mode", "nearest", "--alpha", mode,
                   "-o", out)[0] == 0
        a, b = rgba(tmp_path / "im.png"), rgba(out)
        seen = a[..., 3] >= 8                           # below that, 8-bit colour is noise for both
        colour = np.abs(a[..., :3] - b[..., :3])[seen].max()
        assert (colour <= 1) == close, (mode, colour)
    assert np.abs(rgba(tmp_path / "im.png")[..., 3] - rgba(tmp_path / "ic-auto.png")[..., 3]).max() <= 1


@pytest.mark.skipif(shutil.which("mogrify") is None, reason="ImageMagick's mogrify is not installed")
def test_output_naming(cli, tmp_path, photo):
    second = tmp_path / "second.png"
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(second)
    (tmp_path / "im").mkdir()
    proc = subprocess.run(["mogrify", "-path", tmp_path / "im", "-morphology", "Convolve", "Gaussian:0x1",
                           photo, second], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    code, _, err = cli("filter", photo, second, "-k", "gaussian:sigma=1", "--mode", "nearest", "-o", tmp_path / "ic")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "im").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ic").iterdir()) == ["photo.png", "second.png"]
    for name in names:
        assert_within_one_level(rgb(tmp_path / "im" / name), rgb(tmp_path / "ic" / name))
    (tmp_path / "im_jpg").mkdir()
    proc = subprocess.run(["mogrify", "-path", tmp_path / "im_jpg", "-format", "jpg", "-morphology", "Convolve",
                           "Gaussian:0x1", photo, second], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert cli("filter", photo, second, "-k", "gaussian:sigma=1", "-o", tmp_path / "ic_jpg", "--format", "jpg")[0] == 0
    assert (sorted(p.name for p in (tmp_path / "im_jpg").iterdir())
            == sorted(p.name for p in (tmp_path / "ic_jpg").iterdir()) == ["photo.jpg", "second.jpg"])
    for tool in ("mogrify", "imgconv"):                                 # in place
        (tmp_path / tool).mkdir()
        shutil.copy(photo, tmp_path / tool / "in.png")
    proc = subprocess.run(["mogrify", "-morphology", "Convolve", "Gaussian:0x1", tmp_path / "mogrify" / "in.png"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mine = tmp_path / "imgconv" / "in.png"
    assert cli("filter", mine, "-k", "gaussian:sigma=1", "--mode", "nearest", "-o", mine, "--overwrite")[0] == 0
    assert_within_one_level(rgb(tmp_path / "mogrify" / "in.png"), rgb(mine))
    assert np.abs(rgb(mine) - rgb(photo)).max() > 20                   # it was filtered, in place
    magick(photo, "-morphology", "Convolve", "Gaussian:0x1", tmp_path / "one.png")  # convert IN ... OUT
    assert cli("filter", photo, "-k", "gaussian:sigma=1", "--mode", "nearest", "-o", tmp_path / "mine.png")[0] == 0
    assert_within_one_level(rgb(tmp_path / "one.png"), rgb(tmp_path / "mine.png"))
