"""Stacks through the library and the CLI: every frame of GIF/APNG/WebP and every page of a TIFF,
volumes from TIFF hyperstacks and .npy, written back with their timing and metadata."""
import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageSequence
from scipy import ndimage

from imgconv.errors import ImageReadError, ImageWriteError
from imgconv.imageio.frames import count_frames, read_frames, write_frames
from imgconv.imageio.volume import probe_volume, read_volume, write_volume

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
BLUR = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16


@pytest.fixture
def frames(photo_rgb):
    """Three real frames: crops of the photograph, 8-bit RGB."""
    crops = [photo_rgb[40 * i:40 * i + 48, 60 * i:60 * i + 64] for i in range(3)]
    return [np.rint(c * 255).astype(np.uint8) for c in crops]


def save_animation(path, frames, fmt, **options):
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, fmt, save_all=True, append_images=images[1:], **options)
    return path


def pillow_frames(path):
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB"), np.float64) / 255 for f in ImageSequence.Iterator(im)]


def blurred(rgb):
    return np.stack([ndimage.convolve(rgb[..., c], BLUR, mode="reflect") for c in range(3)], -1)


# ---------------------------------------------------------------- every frame


@pytest.mark.parametrize("ext, fmt, options, tolerance", [
    (".gif", "GIF", dict(duration=[70, 120, 200], loop=3, disposal=[1, 2, 1]), None),
    (".png", "PNG", dict(duration=[70, 120, 200], loop=2, disposal=[0, 1, 0], blend=[0, 0, 0]), 1),
    (".webp", "WEBP", dict(duration=[70, 120, 200], loop=0, lossless=True), None),  # written lossy (quality 92)
])
def test_every_frame_is_filtered_and_timing_kept(cli, tmp_path, frames, ext, fmt, options, tolerance):
    src = save_animation(tmp_path / f"anim{ext}", frames, fmt, **options)
    original = src.read_bytes()
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / f"out{ext}")
    assert code == 0 and err == "", err
    out = tmp_path / f"out{ext}"
    got, source = pillow_frames(out), pillow_frames(src)
    assert len(got) == 3
    for g, s in zip(got, source):
        want = np.rint(blurred(s) * 255)
        if tolerance is None:  # GIF: re-quantised to a palette of 256 colours; WebP: lossy
            assert np.abs(g * 255 - want).mean() < 6
        else:
            assert np.abs(g * 255 - want).max() <= tolerance
    written = read_frames(out)
    assert [int(d) for d in written.durations] == [70, 120, 200]
    assert written.loop == options["loop"]
    if "disposal" in options:
        assert written.disposal == options["disposal"]
    assert src.read_bytes() == original


def test_multipage_tiff_pages_in_order_16_bit(cli, tmp_path, photo_grey):
    pages = [np.rint(photo_grey[20 * i:20 * i + 40, :50] * 65535).astype(np.uint16) for i in range(4)]
    src = tmp_path / "pages.tif"
    with tifffile.TiffWriter(src) as writer:
        for page in pages:
            writer.write(page, photometric="minisblack")
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "out.tif")
    assert code == 0, err
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        got = [p.asarray() for p in tif.pages]
    assert len(got) == 4 and all(g.dtype == np.uint16 for g in got)
    for g, p in zip(got, pages):
        want = np.clip(np.rint(ndimage.convolve(p / 65535.0, BLUR, mode="reflect") * 65535), 0, 65535)
        assert np.abs(g.astype(float) - want).max() <= 1


def test_frames_first_reads_one_with_a_note(cli, tmp_path, frames):
    src = save_animation(tmp_path / "anim.gif", frames, "GIF", duration=100)
    code, _, err = cli("filter", src, "-k", "identity", "--frames", "first", "-o", tmp_path / "first.gif")
    assert code == 0
    assert err.strip() == f"imgconv: note: {src}: animated GIF: only the first of 3 frames was read"
    assert count_frames(tmp_path / "first.gif") == (1, "GIF")


def test_a_format_of_one_image_is_refused_before_any_work(cli, tmp_path, frames):
    src = save_animation(tmp_path / "anim.gif", frames, "GIF", duration=100)
    for name in ("out.jpg", "out.bmp", "out.npy"):
        code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / name)
        assert code == 2 and err.count("\n") == 1 and "holds one image, not 3 frames" in err and "--frames first" in err
        assert not (tmp_path / name).exists()
    code, _, err = cli("filter", src, "-k", "blur", "-o", tmp_path / "out.jpg", "--frames", "first", "-q")
    assert code == 0 and (tmp_path / "out.jpg").exists()


def test_deconvolve_every_frame(cli, tmp_path, frames):
    src = save_animation(tmp_path / "anim.png", frames, "PNG", duration=[50, 60, 70])
    code, _, err = cli("deconvolve", src, "--psf", "gaussian:sigma=1", "-o", tmp_path / "sharp.png")
    assert code == 0, err
    assert len(read_frames(tmp_path / "sharp.png").pictures) == 3


def test_match_uses_the_first_frame_with_a_note(cli, tmp_path, frames):
    src = save_animation(tmp_path / "anim.gif", frames, "GIF", duration=100)
    Image.fromarray(frames[0][10:30, 10:40]).save(tmp_path / "t.png")
    code, out, err = cli("match", src, tmp_path / "t.png", "--json")
    assert code == 0 and '"x": 10' in out and '"y": 10' in out
    assert f"imgconv: note: {src}: animated GIF: only the first of 3 frames was read" in err


def test_frames_from_stdin_to_stdout(tmp_path, frames, monkeypatch, capsysbinary):
    import sys

    from imgconv.cli import run

    data = save_animation(tmp_path / "anim.gif", frames, "GIF", duration=80).read_bytes()
    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(data)})())
    with pytest.raises(SystemExit) as exc:
        run(["filter", "-", "-k", "blur", "-o", "-"])
    out = capsysbinary.readouterr().out
    assert exc.value.code == 0 and count_frames(out) == (3, "GIF")


def test_too_many_frames_are_refused(tmp_path, frames):
    src = save_animation(tmp_path / "anim.gif", frames, "GIF")
    with pytest.raises(ImageReadError, match="too many frames: 3 frames of 64 x 48"):
        read_frames(src, max_pixels=3 * 64 * 48 - 1)


# ---------------------------------------------------------------- volumes


def test_stack_sample_is_what_make_stack_makes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_stack", SAMPLES / "make_stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    want = np.rint(module.through_focus(module.camera()) * 65535)
    assert np.array_equal(tifffile.imread(SAMPLES / "stack.tif"), want)


def test_volume_of_the_sample_keeps_imagej_metadata(cli, tmp_path):
    code, _, err = cli("filter", SAMPLES / "stack.tif", "-k", "gaussian:sigma=1,1,2", "-o", tmp_path / "out.tif")
    assert code == 0 and err == "", err
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        got, meta, axes = tif.asarray(), tif.imagej_metadata, tif.series[0].axes
        xres = tif.pages[0].tags["XResolution"].value
    source = tifffile.imread(SAMPLES / "stack.tif") / 65535.0
    want = ndimage.gaussian_filter(source, (2, 1, 1), truncate=3.0)  # sizes 2*ceil(3 sigma)+1
    assert got.dtype == np.uint16 and axes == "ZYX" and got.shape == (24, 128, 128)
    assert np.abs(got - np.rint(want * 65535)).max() <= 1
    assert meta["spacing"] == 0.5 and meta["unit"] == "um" and xres[0] / xres[1] == pytest.approx(10)


def test_volume_flag_filters_each_plane_with_a_2d_kernel(cli, tmp_path):
    code, _, err = cli("filter", SAMPLES / "stack.tif", "-k", "blur", "--volume", "-o", tmp_path / "planes.npy",
                       "--depth", "float")
    assert code == 0, err
    got = np.load(tmp_path / "planes.npy")
    source = tifffile.imread(SAMPLES / "stack.tif") / 65535.0
    want = np.stack([ndimage.convolve(p, BLUR, mode="reflect") for p in source])
    assert got.dtype == np.float32 and np.abs(got - want).max() < 1e-5


def test_a_3d_npy_is_a_volume(cli, tmp_path):
    volume = np.random.default_rng(0).random((6, 20, 30)).astype(np.float32)
    np.save(tmp_path / "v.npy", volume)
    code, _, err = cli("filter", tmp_path / "v.npy", "-k", "box:size=3,dims=3", "--mode", "wrap")
    assert code == 0, err
    got = np.load(tmp_path / "v.box-size3-dims3.npy")
    assert np.abs(got - ndimage.uniform_filter(volume.astype(float), 3, mode="wrap")).max() < 1e-5
    np.save(tmp_path / "rgb.npy", volume[..., :3])  # H x W x 3 stays an image
    code, _, err = cli("filter", tmp_path / "rgb.npy", "-k", "blur", "-o", tmp_path / "rgb_out.npy")
    assert code == 0 and np.load(tmp_path / "rgb_out.npy").shape == (6, 20, 3)


def test_explain_shows_the_volume_plan(cli, tmp_path):
    code, _, err = cli("filter", SAMPLES / "stack.tif", "-k", "gaussian:sigma=2,dims=3", "--explain",
                       "-o", tmp_path / "o.tif")
    assert code == 0
    assert "plan for volume 128x128x24" in err and "13x13x13 kernel (W x H x D)" in err and "separable" in err


@pytest.mark.parametrize("args, words", [
    (("-k", "gaussian:sigma=1,dims=3"), "a 3-D kernel filters volumes"),
    (("-k", "gaussian:sigma=1,dims=3", "--volume", "-o", "{tmp}/v.png"), "a volume is written as .tif"),
])
def test_volume_refusals(cli, tmp_path, photo_grey, args, words):
    src = tmp_path / "photo.png"
    Image.fromarray(np.rint(photo_grey * 255).astype(np.uint8)).save(src)
    code, _, err = cli("filter", src, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and words in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_deconvolve_a_volume_with_a_measured_bead(cli, tmp_path):
    psf = np.einsum("i,j,k->ijk", *(np.exp(-0.5 * (np.arange(5) - 2.0) ** 2 / s) for s in (1.0, 0.8, 0.8)))
    write_volume(tmp_path / "bead.tif", (psf / psf.max()).astype(np.float32), depth=16)
    sharp = tifffile.imread(SAMPLES / "stack.tif")[:, :64, :64] / 65535.0
    blurred = ndimage.convolve(sharp, psf / psf.sum(), mode="reflect")
    write_volume(tmp_path / "blurred.tif", blurred.astype(np.float32), depth="float")
    for psf_spec in (tmp_path / "bead.tif", "gaussian:sigma=0.8944,0.8944,1,size=5"):
        code, _, err = cli("deconvolve", tmp_path / "blurred.tif", "--psf", psf_spec, "--method", "richardson-lucy",
                           "--iterations", "15", "-o", tmp_path / "restored.tif", "--overwrite")
        assert code == 0, err
        restored = tifffile.imread(tmp_path / "restored.tif")
        assert restored.dtype == np.float32 and restored.shape == sharp.shape
        assert np.mean((restored - sharp) ** 2) < 0.7 * np.mean((blurred - sharp) ** 2)


# ---------------------------------------------------------------- reading and writing volumes


@pytest.mark.parametrize("shape, axes", [((4, 6, 5), "ZYX"), ((3, 2, 6, 5), "ZCYX"), ((2, 3, 4, 6, 5), "TZCYX")])
def test_imagej_hyperstacks(tmp_path, shape, axes):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape) * 7
    tifffile.imwrite(tmp_path / "h.tif", data, imagej=True, metadata={"axes": axes, "spacing": 1.5, "unit": "um"},
                     resolution=(5.0, 4.0))
    volume = read_volume(tmp_path / "h.tif")
    want = data[0] if axes[0] == "T" else data
    if "C" in axes:
        want = np.moveaxis(want, 1, -1)
    assert volume.voxels.shape == want.shape == probe_volume(tmp_path / "h.tif")
    assert np.array_equal(np.rint(volume.voxels * 65535), want) and volume.depth == 16
    assert volume.spacing == pytest.approx((1.5, 0.25, 0.2)) and volume.unit == "um"
    assert volume.notes == (["axis T of 2: only its first index was read"] if axes[0] == "T" else [])
    write_volume(tmp_path / "back.tif", volume.voxels, like=volume)
    again = read_volume(tmp_path / "back.tif")
    assert np.array_equal(again.voxels, volume.voxels) and again.spacing == pytest.approx(volume.spacing)


def test_ome_tiff_physical_sizes(tmp_path):
    tifffile.imwrite(tmp_path / "o.ome.tif", np.zeros((3, 16, 16), np.uint8), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.5})
    volume = read_volume(tmp_path / "o.ome.tif")
    assert volume.voxels.shape == (3, 16, 16) and volume.spacing == (1.5, 0.25, 0.2)


def test_rgb_volume_and_npy_round_trips(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (3, 5, 6, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, imagej=True, photometric="rgb", metadata={"axes": "ZYXS"})
    volume = read_volume(tmp_path / "rgb.tif")
    write_volume(tmp_path / "rgb_out.tif", volume.voxels, like=volume)
    with tifffile.TiffFile(tmp_path / "rgb_out.tif") as tif:
        assert tif.series[0].axes == "ZYXS" and np.array_equal(tif.asarray(), rgb)
    write_volume(tmp_path / "v.npy", volume.voxels, depth="float")
    assert np.array_equal(np.load(tmp_path / "v.npy"), volume.voxels)


@pytest.mark.parametrize("array, words", [
    (np.zeros((2, 3, 4, 5, 6)), "not a volume"),
    (np.zeros((2, 3, 4, 20)), "not a volume"),
    (np.zeros((2, 3, 4), np.int64), "not supported"),
    (np.zeros((20, 30, 40), np.uint8), "volume too large: 20 x 30 x 40 = 24000 voxels"),
])
def test_bad_volumes(tmp_path, array, words):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ImageReadError, match=words):
        read_volume(tmp_path / "bad.npy", max_pixels=20000)


def test_write_frames_refusals(tmp_path):
    with pytest.raises(ImageWriteError, match="holds one image"):
        write_frames(tmp_path / "x.jpg", [np.zeros((2, 2))] * 2)
    with pytest.raises(ImageWriteError, match="8 bits"):
        write_frames(tmp_path / "x.gif", [np.zeros((2, 2))] * 2, depth=16)
    with pytest.raises(ImageWriteError, match="a volume is written as"):
        write_volume(tmp_path / "v.png", np.zeros((2, 2, 2), np.float32))
