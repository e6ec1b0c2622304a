"""``imgconv filter`` end to end: outputs compared with SciPy, every option, exit codes."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

SAMPLES = Path(__file__).resolve().parent.parent / "samples"



def sh(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], input=stdin,
                          capture_output=True, timeout=120)


def save(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


@pytest.fixture
def rgb8(tmp_path, photo_rgb):
    return save(tmp_path / "photo.png", np.rint(photo_rgb[:120, :160] * 255).astype(np.uint8))


def expected8(img8, kernel, mode="reflect", correlate=False, cval=0.0):
    f = ndimage.correlate if correlate else ndimage.convolve
    x = img8.astype(np.float64) / 255
    if x.ndim == 2:
        y = f(x, kernel, mode=mode, cval=cval)
    else:
        y = np.stack([f(x[..., c], kernel, mode=mode, cval=cval) for c in range(x.shape[2])], -1)
    return np.clip(np.rint(y * 255), 0, 255)


def assert_close8(got, want):
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # only exact .5 ties may round apart


ASYM = np.array([[0, 1, 2], [0, 0, 3], [-1, 0, 0]], float) / 5


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
@pytest.mark.parametrize("correlate", [False, True])
def test_rgb8_matches_scipy(cli, tmp_path, rgb8, mode, correlate):
    kfile = tmp_path / "asym.txt"
    kfile.write_text("0 1 2\n0 0 3\n-1 0 0\n")
    out = tmp_path / "out.png"
    args = [rgb8, "-k", kfile, "--scale", 0.2, "--mode", mode, "--cval", 0.25, "-o", out]
    code, _, err = cli("filter", *args, *(["--correlate"] if correlate else []))
    assert code == 0, err
    img = np.asarray(Image.open(rgb8))
    assert_close8(np.asarray(Image.open(out)), expected8(img, ASYM, mode, correlate, 0.25))


def test_default_output_name_and_grey(cli, tmp_path, photo_grey):
    src = save(tmp_path / "g.png", np.rint(photo_grey[:90, :70] * 255).astype(np.uint8))
    code, _, err = cli("filter", src, "-k", "gaussian:sigma=1.5")
    assert code == 0, err
    out = tmp_path / "g.gaussian-sigma1.5.png"
    assert out.exists(), list(tmp_path.iterdir())
    from imgconv.kernels import load_kernel
    k = load_kernel("gaussian:sigma=1.5").matrices[0]
    assert_close8(np.asarray(Image.open(out)), expected8(np.asarray(Image.open(src)), k))


def test_16bit_stays_16bit_and_exact(cli, tmp_path, photo_grey):
    img = np.rint(photo_grey[:80, :100] * 65535).astype(np.uint16)
    src = tmp_path / "deep.png"
    Image.fromarray(img).save(src)
    out = tmp_path / "deep_out.png"
    assert cli("filter", src, "-k", "sharpen", "-o", out)[0] == 0
    got = np.asarray(Image.open(out))
    assert got.dtype == np.uint16 or Image.open(out).mode.startswith("I")
    k = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
    want = np.clip(np.rint(ndimage.convolve(img / 65535.0, k, mode="reflect") * 65535), 0, 65535)
    assert np.abs(got.astype(np.int64) - want).max() <= 1


def test_rgba_alpha_carried_through_with_alpha_keep(cli, tmp_path, photo_rgb):
    # --alpha keep is the old default; auto now premultiplies for a box (tests/test_pixels.py)
    rgba = np.dstack([np.rint(photo_rgb[:64, :64] * 255), np.tile(np.arange(64) * 4, (64, 1))]).astype(np.uint8)
    src = save(tmp_path / "a.png", rgba, "RGBA")
    out = tmp_path / "b.png"
    assert cli("filter", src, "-k", "box:size=5", "--alpha", "keep", "-o", out)[0] == 0
    got = np.asarray(Image.open(out))
    assert got.shape == (64, 64, 4)
    assert np.array_equal(got[..., 3], rgba[..., 3])
    assert_close8(got[..., :3], expected8(rgba[..., :3], np.full((5, 5), 1 / 25)))


def test_channels_gray_and_luma(cli, tmp_path, rgb8):
    gray = tmp_path / "gray.png"
    assert cli("filter", rgb8, "-k", "identity", "--channels", "gray", "-o", gray)[0] == 0
    g = np.asarray(Image.open(gray))
    ref = np.asarray(Image.open(rgb8).convert("L"))
    assert g.ndim == 2 and np.abs(g.astype(int) - ref).max() <= 1
    luma = tmp_path / "luma.png"
    assert cli("filter", rgb8, "-k", "gaussian:sigma=2", "--channels", "luma", "-o", luma)[0] == 0
    src_ycc = np.asarray(Image.open(rgb8).convert("YCbCr")).astype(int)
    out_ycc = np.asarray(Image.open(luma).convert("YCbCr")).astype(int)
    assert np.abs(out_ycc[..., 1:] - src_ycc[..., 1:]).mean() < 1.5  # chroma kept
    assert np.abs(out_ycc[..., 0] - src_ycc[..., 0]).mean() > 1.5  # luma blurred


def test_normalize_scale_offset(cli, tmp_path, photo_grey):
    src = save(tmp_path / "g.png", np.rint(photo_grey[:50, :60] * 255).astype(np.uint8))
    out = tmp_path / "o.png"
    assert cli("filter", src, "-k", "1 1 1; 1 1 1; 1 1 1", "--normalize", "--scale", 0.5, "--offset", 0.25,
               "-o", out)[0] == 0
    x = np.asarray(Image.open(src)) / 255.0
    want = np.clip(np.rint((ndimage.convolve(x, np.full((3, 3), 1 / 9), mode="reflect") * 0.5 + 0.25) * 255), 0, 255)
    assert_close8(np.asarray(Image.open(out)), want)


def test_chain_applies_in_order(cli, tmp_path, rgb8):
    b = tmp_path / "b.tif"
    assert cli("filter", rgb8, "-k", "box:size=3", "-k", "sobel:direction=x", "--channels", "gray",
               "--depth", "float", "-o", b)[0] == 0
    got = np.asarray(Image.open(b))
    x = np.asarray(Image.open(rgb8).convert("RGB"), np.float64) / 255 @ [0.299, 0.587, 0.114]
    sx = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)
    want = ndimage.convolve(ndimage.convolve(x, np.full((3, 3), 1 / 9), mode="reflect"), sx, mode="reflect")
    assert got.dtype == np.float32 and np.abs(got - want).max() < 1e-4


def test_npy_float_output(cli, tmp_path, rgb8):
    out = tmp_path / "o.npy"
    assert cli("filter", rgb8, "-k", "laplacian", "--depth", "float", "-o", out)[0] == 0
    got = np.load(out)
    want = np.stack([ndimage.convolve(np.asarray(Image.open(rgb8), np.float64)[..., c] / 255,
                                      np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]), mode="reflect")
                     for c in range(3)], -1)
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-5 and got.min() < 0


def test_existing_output_refused_then_overwrite_or_skip(cli, tmp_path, rgb8):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep me")
    code, _, err = cli("filter", rgb8, "-k", "blur", "-o", out)
    assert code == 2 and "exists" in err and err.count("\n") == 1 and out.read_bytes() == b"keep me"
    assert cli("filter", rgb8, "-k", "blur", "-o", out, "--skip-existing")[0] == 0
    assert out.read_bytes() == b"keep me"
    assert cli("filter", rgb8, "-k", "blur", "-o", out, "--overwrite")[0] == 0
    assert Image.open(out).size == (160, 120)


def test_input_never_overwritten(cli, tmp_path, rgb8):
    before = rgb8.read_bytes()
    code, _, err = cli("filter", rgb8, "-k", "blur", "-o", rgb8)
    assert code == 2 and "input" in err and rgb8.read_bytes() == before


def test_folder_mirrored_recursive_with_failures(cli, tmp_path, photo_rgb):
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    img = np.rint(photo_rgb[:40, :50] * 255).astype(np.uint8)
    save(src / "a.png", img)
    save(src / "sub" / "b.jpg", img)
    save(src / "sub" / "deeper" / "c.tif", img)
    (src / "notes.txt").write_text("not an image")
    (src / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    code, _, err = cli("filter", src, "-r", "-k", "blur", "-o", out, "--format", "png", "-j", "1")
    assert code == 3, err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["a.png", "sub/b.png", "sub/deeper/c.png"]
    assert "broken.png" in err and "notes.txt" in err and "done 3, skipped 0, failed 1" in err
    assert not [p for p in out.rglob(".*")]  # no temporary files left
    code, _, err = cli("filter", src, "-r", "-k", "blur", "-o", out, "--format", "png", "--skip-existing")
    assert code == 3 and "skipped 3" in err
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "flat", "--glob", "*.png")
    assert code == 0 and [p.name for p in (tmp_path / "flat").iterdir()] == ["a.png"]


def test_name_collision_refused_before_writing(cli, tmp_path, photo_rgb):
    src = tmp_path / "in"
    src.mkdir()
    img = np.rint(photo_rgb[:30, :30] * 255).astype(np.uint8)
    save(src / "a.png", img)
    save(src / "a.jpg", img)
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "out", "--format", "png")
    assert code == 2 and "both" in err and not (tmp_path / "out").exists()


def test_parallel_equals_serial(cli, tmp_path, photo_rgb):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        save(src / f"{i}.png", np.rint(np.roll(photo_rgb[:60, :80], i * 7, 1) * 255).astype(np.uint8))
    assert cli("filter", src, "-k", "unsharp:sigma=1,amount=2", "-o", tmp_path / "j1", "-j", "1")[0] == 0
    assert cli("filter", src, "-k", "unsharp:sigma=1,amount=2", "-o", tmp_path / "j2", "-j", "2", "-q")[0] == 0
    for i in range(4):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "j1" / f"{i}.png")),
                              np.asarray(Image.open(tmp_path / "j2" / f"{i}.png")))


def test_explain(cli, rgb8, tmp_path):
    code, _, err = cli("filter", rgb8, "-k", "gaussian:sigma=2", "-k", "sobel", "--explain", "-o", tmp_path / "x.png")
    assert code == 0 and "160x120" in err and "separable" in err and "sobel[1]" in err


@pytest.mark.parametrize("args,needle", [
    (["-k", "nope"], "unknown kernel"),
    (["-k", "gaussian:sigma=-1"], "sigma"),
    (["-k", "1,2;3"], "kernel"),
    (["-k", "blur", "--mode", "bogus"], "bogus"),
])
def test_bad_usage_is_one_line_exit_2(cli, rgb8, args, needle):
    code, _, err = cli("filter", rgb8, *args)
    assert code == 2 and needle in err and "Traceback" not in err


def test_missing_and_corrupt_single_input(cli, tmp_path):
    code, _, err = cli("filter", tmp_path / "missing.png", "-k", "blur")
    assert code == 2 and "missing.png" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.png"
    bad.write_bytes(os.urandom(300))
    code, _, err = cli("filter", bad, "-k", "blur")
    assert code == 2 and "bad.png" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("bad.*.png"))


def test_stdin_to_stdout_subprocess(rgb8):
    r = sh("filter", "-", "-k", "identity", "-o", "-", "--format", "png", stdin=rgb8.read_bytes())
    assert r.returncode == 0, r.stderr
    import io
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.stdout))), np.asarray(Image.open(rgb8)))


def test_help_is_light():
    code = ("import sys; from imgconv.cli import run\n"
            "try: run(['filter', '--help'])\n"
            "except SystemExit: pass\n"
            "heavy = [m for m in ('scipy', 'PIL', 'numba', 'numpy') if m in sys.modules]\n"
            "print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().endswith("[]"), r.stdout + r.stderr


def test_tiny_motion_and_disc_are_identity_not_errors(cli, rgb8, tmp_path):
    for spec in ("motion:length=0.05", "disc:radius=0.05"):
        out = tmp_path / f"{spec.split(':')[0]}.png"
        code, _, err = cli("filter", rgb8, "-k", spec, "-o", out)
        assert code == 0 and err == "" and np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(rgb8)))


def test_output_file_extension_wins_over_format(cli, rgb8, tmp_path):
    out = tmp_path / "b.png"
    assert cli("filter", rgb8, "-k", "blur", "-o", out, "--format", "jpg")[0] == 0
    assert Image.open(out).format == "PNG"


def test_rerun_does_not_filter_its_own_outputs(cli, tmp_path, photo_rgb):
    src = tmp_path / "shots"
    src.mkdir()
    save(src / "a.png", np.rint(photo_rgb[:30, :40] * 255).astype(np.uint8))
    assert cli("filter", src, "-k", "blur")[0] == 0  # beside the input: a.blur.png
    code, _, err = cli("filter", src, "-k", "blur", "--skip-existing")
    assert code == 0 and sorted(p.name for p in src.iterdir()) == ["a.blur.png", "a.png"]
    assert cli("filter", src, "-r", "-k", "blur", "-o", src / "out")[0] == 0
    code, _, err = cli("filter", src, "-r", "-k", "blur", "-o", src / "out", "--skip-existing")
    assert code == 0 and not (src / "out" / "out").exists()


def test_output_folder_forms(cli, rgb8, tmp_path, photo_rgb):
    code, _, err = cli("filter", rgb8, "-k", "blur", "-o", str(tmp_path / "new") + "/")
    assert code == 0 and (tmp_path / "new" / "photo.png").exists()
    other = save(tmp_path / "other.png", np.rint(photo_rgb[:20, :20] * 255).astype(np.uint8))
    code, _, err = cli("filter", rgb8, other, "-k", "blur", "-o", tmp_path / "both.png")
    assert code == 2 and "output folder" in err and not (tmp_path / "both.png").exists()


@pytest.mark.parametrize("args", [
    ["filter", "{img}", "-k", "sobel", "--cval", "nan"],
    ["filter", "{img}", "-k", "sobel", "--scale", "inf"],
    ["filter", "{img}", "-k", "sobel", "--mode", "nope"],
    ["match", "{img}", "{img}", "--threshold", "nan"],
    ["deconvolve", "{img}", "--psf", "blur", "--balance", "-1"],
    ["bogus"],
])
def test_usage_errors_are_one_line(cli, rgb8, args):
    code, _, err = cli(*[a.format(img=rgb8) for a in args])
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("imgconv: error: ")
