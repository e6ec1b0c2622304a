"""The strip pipeline (imgconv.stream) is bit-identical to the whole image.

The reference is always the whole-image path: :func:`imgconv.filter_image` on the pixels
:func:`imgconv.read_image` reads, and, end to end, :class:`imgconv.tasks.FilterTask` with the
strips turned off (its whole-image path: ``filter_image``, ``finish_result``, ``write_image``).
The strips must give the same bits (``np.array_equal``) and the same notes, for every mode,
method, chain, combine rule, channel option, pixel option (alpha, linear light, ``--abs``,
``--nan``) and depth, on the real photographs of ``samples/``, with strip heights forced small.
(Sources, sinks and the memory budget: tests/test_stream_io.py.)
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imgconv import filter_image, read_image
from imgconv.imageio import Picture
from imgconv.settings import use
from imgconv.stream import budget
from imgconv.stream import job as stream_job
from imgconv.stream.strips import ArrayRows, Chain
from imgconv.tasks import FilterOptions, FilterTask, OutputOptions

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODES = ("reflect", "mirror", "nearest", "wrap", "constant")
HEIGHTS = (1, 7, 64)
CHAIN = ("gaussian:sigma=1", "sharpen")


@pytest.fixture(autouse=True)
def tiles_never_span_the_height(monkeypatch):
    """FFT tiles of these small photographs do not span their height (as for images of more than
    a megapixel), so that strips by FFT are bands of several tiles here too."""
    from imgconv.engine import fft

    monkeypatch.setattr(fft, "WHOLE_HEIGHT_PIXELS", 0)


@pytest.fixture(scope="session")
def photos():
    """Real photographs as read_image reads them: RGB, grey, RGBA, 16-bit RGB; and grey+alpha
    (the camera under a ramp of opacity) and float RGB (linear light)."""
    found = {name: read_image(SAMPLES / name) for name in ("coffee.png", "camera.png", "chelsea_rgba.png",
                                                            "astronaut16.png")}
    grey = found["camera.png"].pixels
    ramp = np.broadcast_to(np.linspace(0, 1, grey.shape[1], dtype=np.float32), grey.shape)
    found["camera+alpha"] = Picture(np.dstack([grey, ramp]), depth=8, has_alpha=True)
    found["float"] = Picture(found["coffee.png"].pixels * 1.5 - 0.2, depth=32)
    return found


def strips(picture, kernels, height, **options):
    chain = Chain(ArrayRows(picture), kernels, **options)
    return np.concatenate([pixels for _, _, pixels in chain.strips(height)])


def assert_strips_equal_whole(picture, kernels, heights=HEIGHTS, **options):
    notes, strip_notes = [], []
    whole = filter_image(picture, kernels, notes=notes, **options)
    for height in heights:
        chain = Chain(ArrayRows(picture), kernels, notes=strip_notes, **options)
        out = np.concatenate([pixels for _, _, pixels in chain.strips(height)])
        assert out.shape == whole.shape and out.dtype == whole.dtype
        assert np.array_equal(out, whole, equal_nan=True), f"strips of {height} rows differ by {np.abs(out - whole).max()}"
        assert strip_notes == notes
        strip_notes.clear()


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("method", ["auto", "direct", "separable", "fft"])
@pytest.mark.parametrize("mode", MODES)
def test_a_chain_in_strips_is_bit_identical(photos, mode, method, compiled):
    heights = HEIGHTS if method == "auto" else HEIGHTS[1:]  # strips of one row: once per mode
    with use(compiled=compiled):
        assert_strips_equal_whole(photos["coffee.png"], CHAIN, heights=heights, mode=mode, method=method, cval=0.3)


@pytest.mark.parametrize("channels", ["all", "gray", "luma"])
@pytest.mark.parametrize("name", ["coffee.png", "camera.png", "chelsea_rgba.png", "astronaut16.png", "camera+alpha"])
def test_multi_kernel_presets_and_channels_in_strips(photos, name, channels):
    for mode in ("reflect", "wrap", "constant"):
        heights = HEIGHTS if mode == "reflect" else HEIGHTS[1:]
        assert_strips_equal_whole(photos[name], ["sobel"], heights=heights, mode=mode, channels=channels, cval=0.25)
    assert_strips_equal_whole(photos[name], ["emboss", "laplacian"], heights=(5,), channels=channels,
                              scale=2.0, offset=0.5, normalize=True, correlate=True)
    assert_strips_equal_whole(photos[name], ["prewitt"], heights=(6,), channels=channels)  # combine: max


@pytest.mark.parametrize("alpha", ["auto", "premultiply", "keep"])
@pytest.mark.parametrize("name", ["chelsea_rgba.png", "camera+alpha", "coffee.png"])
def test_alpha_linear_light_and_abs_in_strips(photos, name, alpha):
    """Issue 16's pixel options: alpha premultiplied (auto: for averaging chains) or kept, linear
    light, --abs, with grey and luma, in every mode."""
    picture = photos[name]
    top = Picture(picture.pixels[:80], depth=picture.depth, has_alpha=picture.has_alpha)  # strips of 1 row: fewer
    for mode in MODES:
        assert_strips_equal_whole(picture, ["gaussian:sigma=2", "box:size=3"], heights=(9,), mode=mode,
                                  alpha=alpha, linear=True, cval=0.5)
        assert_strips_equal_whole(top, ["gaussian:sigma=2", "box:size=3"], heights=(1,), mode=mode,
                                  alpha=alpha, linear=True, cval=0.5)
    assert_strips_equal_whole(picture, ["sharpen"], heights=(4,), alpha=alpha, absolute=True, scale=1.5, offset=0.1)
    assert_strips_equal_whole(picture, ["sobel"], heights=(3,), alpha=alpha, absolute=True, channels="luma",
                              linear=True)
    assert_strips_equal_whole(picture, ["gaussian:sigma=1"], heights=(8,), alpha=alpha, channels="gray",
                              linear=True, mode="wrap")


def test_nan_ignore_and_float_pictures_in_strips(photos):
    """--nan ignore without missing pixels is plain filtering in strips too; a float picture under
    --linear is linear already (the same note from both paths)."""
    for name in ("coffee.png", "chelsea_rgba.png", "float"):
        assert_strips_equal_whole(photos[name], ["gaussian:sigma=1.5"], heights=(10,), nan="ignore",
                                  mode="constant", cval=0.2)
    assert_strips_equal_whole(photos["float"], CHAIN, heights=(5,), linear=True, mode="mirror")


def test_checks_are_those_of_filter_image(photos):
    from imgconv.errors import ImgconvError

    for options in ({"nan": "ignore"}, {"nan": "bogus"}, {"channels": "bogus"}, {"alpha": "bogus"}):
        with pytest.raises(ImgconvError) as whole:
            filter_image(photos["coffee.png"], ["sharpen"], **options)
        with pytest.raises(ImgconvError) as strip:
            Chain(ArrayRows(photos["coffee.png"]), ["sharpen"], **options)
        assert str(strip.value) == str(whole.value)


@pytest.mark.parametrize("mode", MODES)
def test_fft_strips_are_made_of_the_whole_images_tiles(photos, mode, monkeypatch):
    from imgconv.engine import fft

    monkeypatch.setattr(fft, "TILE_SIDES", (48, 64))  # several tile rows on a small photograph
    picture = photos["coffee.png"]
    chain = Chain(ArrayRows(picture), ["gaussian:sigma=3", "box:size=9"], method="fft")
    assert all(1 < unit < picture.pixels.shape[0] / 2 for unit in chain.units()), chain.units()
    assert_strips_equal_whole(picture, ["gaussian:sigma=3", "box:size=9"], heights=(1, 100), mode=mode,
                              method="fft", cval=0.7)
    assert_strips_equal_whole(picture, [np.full((9, 9), 2.0)], heights=(1,), mode=mode, method="fft")  # float64
    assert_strips_equal_whole(photos["chelsea_rgba.png"], ["gaussian:sigma=3"], heights=(1, 50), mode=mode,
                              method="fft", linear=True)  # premultiplied: 4 planes


def test_kernels_taller_than_a_strip_and_than_the_image(photos):
    picture = photos["camera.png"]
    tall = np.random.default_rng(0).random((41, 3))
    assert_strips_equal_whole(picture, [tall, "gaussian:sigma=4"], heights=(3, 20), mode="wrap")
    tiny = Chain(ArrayRows(picture.pixels[:5]), [tall], mode="mirror")
    whole = filter_image(picture.pixels[:5], [tall], mode="mirror")
    assert np.array_equal(np.concatenate([p for _, _, p in tiny.strips(2)]), whole)
    column = np.ones((601, 1)) / 601  # a row under a far taller kernel, in every mode and method
    for mode in MODES:
        for method in ("direct", "separable", "fft"):
            assert_strips_equal_whole(picture.pixels[:1], [column, "gaussian:sigma=2"], heights=(1,), mode=mode,
                                      method=method)


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def small_strips(monkeypatch):
    """Strips of a handful of rows: 50 kB of float rows (7 rows of the RGB photograph)."""
    monkeypatch.setattr(budget, "STRIP_BYTES", 50_000)


def _job(src, dst):
    from imgconv.batch import Job

    return Job(src, dst)


def _whole_path(monkeypatch, task, job):
    """What FilterTask writes with the strips turned off: its whole-image path."""
    with monkeypatch.context() as patch:
        patch.setattr(stream_job, "streams", lambda options: False)
        return task(job)


def _sources(tmp_path, photos):
    import tifffile

    coffee = np.rint(photos["coffee.png"].pixels * 255).astype(np.uint8)
    astronaut = np.rint(photos["astronaut16.png"].pixels * 65535).astype(np.uint16)
    sources = {"png8": SAMPLES / "coffee.png", "png16": SAMPLES / "astronaut16.png",
               "rgba": SAMPLES / "chelsea_rgba.png", "grey": SAMPLES / "camera.png", "jpeg": SAMPLES / "rocket.jpg"}
    sources["tiff-deflate"] = tmp_path / "deflate.tif"
    tifffile.imwrite(sources["tiff-deflate"], coffee, compression="zlib", rowsperstrip=13, photometric="rgb")
    sources["tiff-tiles"] = tmp_path / "tiles.tif"
    tifffile.imwrite(sources["tiff-tiles"], astronaut, tile=(48, 64), compression="zlib", photometric="rgb")
    sources["npy"] = tmp_path / "float.npy"
    np.save(sources["npy"], photos["coffee.png"].pixels[..., 1].astype(np.float64) * 1.5 - 0.2)
    sources["npy-rgba"] = tmp_path / "rgba.npy"
    np.save(sources["npy-rgba"], photos["chelsea_rgba.png"].pixels.astype(">f4"))
    return sources


#: (kernels, FilterOptions) of the end-to-end runs: chains, presets, alpha, linear light, --abs, --nan
OPTIONS = [
    (CHAIN, {"mode": "wrap"}),
    (("sobel",), {"channels": "luma"}),
    (("gaussian:sigma=2",), {"linear": True, "mode": "constant", "cval": 0.5}),
    (("sharpen",), {"alpha": "keep", "absolute": True, "scale": 2.0, "offset": -0.1}),
    (("box:size=5", "gaussian:sigma=1"), {"alpha": "premultiply", "nan": "ignore", "channels": "gray"}),
    (("emboss",), {"alpha": "premultiply", "linear": True, "channels": "luma", "offset": 0.5}),
]


def _outcome(task, job):
    """``("notes", notes)`` of a run, or ``("refused", message with the names made alike)``."""
    from imgconv.errors import ImgconvError

    try:
        return "notes", task(job)
    except ImgconvError as exc:
        return "refused", str(exc).replace(".whole.", ".").replace(".strips.", ".")


@pytest.mark.parametrize("out", ["png", "png-16", "tif", "tif-16", "npy-float", "jpg"])
def test_written_pixels_and_notes_equal_the_whole_image_path(photos, tmp_path, small_strips, monkeypatch, out):
    ext, _, depth = out.partition("-")
    depth = {"": None, "16": 16, "float": "float"}[depth]
    streamed, original = [], stream_job._filter_in_strips
    monkeypatch.setattr(stream_job, "_filter_in_strips", lambda *a: streamed.append(original(*a)) or streamed[-1])
    for number, (label, src) in enumerate(_sources(tmp_path, photos).items()):
        for kernels, options in (OPTIONS[number % len(OPTIONS)], OPTIONS[(number + 2) % len(OPTIONS)]):
            got, want = tmp_path / f"{label}.strips.{ext}", tmp_path / f"{label}.whole.{ext}"
            task = FilterTask(kernels=kernels, options=FilterOptions(**options), output=OutputOptions(depth=depth))
            outcome = _outcome(task, _job(src, got))
            assert outcome == _outcome(lambda job: _whole_path(monkeypatch, task, job), _job(src, want)), label
            if outcome[0] == "refused":  # (16-bit grey+alpha TIFF): the same message, nothing written
                assert not got.exists() and not want.exists()
                continue
            a, b = read_image(got), read_image(want)
            assert (a.depth, a.has_alpha, a.pixels.shape) == (b.depth, b.has_alpha, b.pixels.shape), label
            if ext == "jpg":  # lossy: the same samples in, the same encoder
                assert got.read_bytes() == want.read_bytes(), label
            else:
                assert np.array_equal(a.pixels, b.pixels, equal_nan=True), (label, kernels, options)
            got.unlink()
            want.unlink()
    assert sum(notes is not None for notes in streamed) >= 12  # the float .npy too: no missing pixels


def test_missing_pixels_and_masks_take_the_whole_image_path(photos, tmp_path, small_strips, monkeypatch):
    """A float picture with NaN (found by a scan before filtering) and a --valid mask are filtered
    whole: the very result and notes of the whole-image path, never a different one."""
    values = photos["coffee.png"].pixels[..., 0].copy()
    values[100:110, 200:230] = np.nan
    src = tmp_path / "holes.npy"
    np.save(src, values)
    mask = tmp_path / "mask.png"
    from imgconv import write_image

    write_image(mask, (photos["coffee.png"].pixels[..., 1] > 0.3).astype(np.float32))
    taken = []
    original = stream_job._filter_in_strips
    monkeypatch.setattr(stream_job, "_filter_in_strips", lambda *a: taken.append(original(*a)) or taken[-1])
    for options, nan_note in (({"nan": "ignore"}, True), ({}, True), ({"valid": str(mask)}, False)):
        for depth in (None, "float"):
            task = FilterTask(kernels=("gaussian:sigma=2",), options=FilterOptions(**options),
                              output=OutputOptions(depth=depth))
            got, want = tmp_path / "got.npy", tmp_path / "want.npy"
            notes = task(_job(src, got))
            assert notes == _whole_path(monkeypatch, task, _job(src, want))
            assert any("missing (NaN" in n for n in notes)
            assert np.array_equal(np.load(got), np.load(want), equal_nan=True)
            got.unlink()
            want.unlink()
    assert taken == [None] * 4  # strips were tried (and declined) only where the options allowed them


def test_an_existing_output_is_never_replaced_by_the_strips(tmp_path, small_strips):
    """The strips publish through the one no-clobber writer: an output that exists, or appears
    while the strips are encoded, is that image's failure, and no temporary file is left."""
    from imgconv.batch import Job
    from imgconv.errors import ImageWriteError
    from imgconv.imageio import destination

    dst = tmp_path / "out.png"
    dst.write_bytes(b"mine")
    task = FilterTask(kernels=("sharpen",))
    with pytest.raises(ImageWriteError, match="output exists"):
        task(Job(SAMPLES / "coffee.png", dst, replace=False))
    assert dst.read_bytes() == b"mine"
    dst.unlink()
    original = destination.write_atomic

    def racing(path, encode, replace=True):  # another process creates the file meanwhile
        def encode_then_race(fp):
            encode(fp)
            Path(path).write_bytes(b"theirs")
        return original(path, encode_then_race, replace=replace)

    destination.write_atomic = racing
    try:
        with pytest.raises(ImageWriteError, match="output exists"):
            task(Job(SAMPLES / "coffee.png", dst, replace=False))
    finally:
        destination.write_atomic = original
    assert dst.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    task(Job(SAMPLES / "coffee.png", dst, replace=True))
    assert read_image(dst).pixels.shape == read_image(SAMPLES / "coffee.png").pixels.shape


def test_stdin_to_stdout_streams_the_same_pixels(tmp_path, small_strips, monkeypatch):
    data = (SAMPLES / "chelsea_rgba.png").read_bytes()
    for fmt in ("tif", "png", "jpg"):
        done = subprocess.run([sys.executable, "-m", "imgconv", "filter", "-", "-k", "gaussian:sigma=2", "-o", "-",
                               "--format", fmt], input=data, capture_output=True, check=True)
        from imgconv.settings import LOAD_MS

        with use(load_ms=LOAD_MS):
            _whole_path(monkeypatch, FilterTask(kernels=("gaussian:sigma=2",)),
                        _job(SAMPLES / "chelsea_rgba.png", tmp_path / f"want.{fmt}"))
        assert np.array_equal(read_image(done.stdout).pixels, read_image(tmp_path / f"want.{fmt}").pixels), fmt
        assert (b"composited" in done.stderr) == (fmt == "jpg")
