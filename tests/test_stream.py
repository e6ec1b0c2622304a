"""The strip pipeline (imgconv.stream): bit-identical to the whole image, streamed I/O, bounded memory.

The reference is always the whole-image path: :func:`imgconv.filter_image` on
:func:`imgconv.read_image`'s pixels, written by :func:`imgconv.write_image`; the strips must
give the same bits (``np.array_equal``), for every mode, method, chain, combine rule, channel
option and depth, on the real photographs of ``samples/``, with strip heights forced small.
"""
import dataclasses
import io
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgconv import filter_image, read_image, write_image
from imgconv.errors import ImgconvError
from imgconv.imageio.png16 import PngWriter
from imgconv.settings import use
from imgconv.stream import budget, sinks
from imgconv.stream.job import streams
from imgconv.stream.sources import open_input
from imgconv.stream.strips import ArrayRows, Chain
from imgconv.tasks import FilterOptions, FilterTask, OutputOptions

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODES = ("reflect", "mirror", "nearest", "wrap", "constant")
HEIGHTS = (1, 7, 64)
CHAIN = ("gaussian:sigma=1", "sharpen")


@pytest.fixture(scope="session")
def photos():
    """Real photographs as read_image reads them: RGB, grey, RGBA, 16-bit RGB."""
    return {name: read_image(SAMPLES / name) for name in ("coffee.png", "camera.png", "chelsea_rgba.png",
                                                           "astronaut16.png")}


def strips(picture, kernels, height, **options):
    chain = Chain(ArrayRows(picture), kernels, **options)
    return np.concatenate([pixels for _, _, pixels in chain.strips(height)])


def assert_strips_equal_whole(picture, kernels, heights=HEIGHTS, **options):
    whole = filter_image(picture, kernels, **options)
    for height in heights:
        out = strips(picture, kernels, height, **options)
        assert out.shape == whole.shape and out.dtype == whole.dtype
        assert np.array_equal(out, whole), f"strips of {height} rows differ by {np.abs(out - whole).max()}"


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "scipy"])
@pytest.mark.parametrize("method", ["auto", "direct", "separable", "fft"])
@pytest.mark.parametrize("mode", MODES)
def test_a_chain_in_strips_is_bit_identical(photos, mode, method, compiled):
    heights = HEIGHTS if method == "auto" else HEIGHTS[1:]  # strips of one row: once per mode
    with use(compiled=compiled):
        assert_strips_equal_whole(photos["coffee.png"], CHAIN, heights=heights, mode=mode, method=method, cval=0.3)


@pytest.mark.parametrize("channels", ["all", "gray", "luma"])
@pytest.mark.parametrize("name", ["coffee.png", "camera.png", "chelsea_rgba.png", "astronaut16.png"])
def test_multi_kernel_presets_and_channels_in_strips(photos, name, channels):
    for mode in ("reflect", "wrap", "constant"):
        heights = HEIGHTS if mode == "reflect" else HEIGHTS[1:]
        assert_strips_equal_whole(photos[name], ["sobel"], heights=heights, mode=mode, channels=channels, cval=0.25)
    assert_strips_equal_whole(photos[name], ["emboss", "laplacian"], heights=(5,), channels=channels,
                              scale=2.0, offset=0.5, normalize=True, correlate=True)


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


def test_kernels_taller_than_a_strip_and_than_the_image(photos):
    picture = photos["camera.png"]
    tall = np.random.default_rng(0).random((41, 3))
    assert_strips_equal_whole(picture, [tall, "gaussian:sigma=4"], heights=(3, 20), mode="wrap")
    tiny = Chain(ArrayRows(picture.pixels[:5]), [tall], mode="mirror")
    whole = filter_image(picture.pixels[:5], [tall], mode="mirror")
    assert np.array_equal(np.concatenate([p for _, _, p in tiny.strips(2)]), whole)


# --------------------------------------------------------------------------- end to end


def _reference(src, dst, kernels, depth=None, load_ms=0.0, **options):
    """The whole-image path: what FilterTask wrote before strips (``load_ms``: the command line's)."""
    picture = read_image(src)
    with use(load_ms=load_ms):
        write_image(dst, filter_image(picture, kernels, **options), depth=depth, like=picture)


@pytest.fixture
def small_strips(monkeypatch):
    """Strips of a handful of rows: 50 kB of float rows (7 rows of the RGB photograph)."""
    monkeypatch.setattr(budget, "STRIP_BYTES", 50_000)


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
    return sources


@pytest.mark.parametrize("out", ["png", "png-16", "tif", "tif-16", "npy-float", "jpg"])
def test_written_pixels_equal_the_whole_image_path(photos, tmp_path, small_strips, out):
    ext, _, depth = out.partition("-")
    depth = {"": None, "16": 16, "float": "float"}[depth]
    for label, src in _sources(tmp_path, photos).items():
        for kernels, options in ((CHAIN, {"mode": "wrap"}), (("sobel",), {"channels": "luma"})):
            got, want = tmp_path / f"{label}.strips.{ext}", tmp_path / f"{label}.whole.{ext}"
            FilterTask(kernels=kernels, options=FilterOptions(**options), output=OutputOptions(depth=depth))(
                _job(src, got))
            _reference(src, want, kernels, depth=depth, **options)
            a, b = read_image(got), read_image(want)
            assert (a.depth, a.has_alpha, a.pixels.shape) == (b.depth, b.has_alpha, b.pixels.shape), label
            if ext == "jpg":  # lossy: the same samples in, the same encoder
                assert got.read_bytes() == want.read_bytes(), label
            else:
                assert np.array_equal(a.pixels, b.pixels), (label, kernels)
            got.unlink()
            want.unlink()


def _job(src, dst):
    from imgconv.batch import Job

    return Job(src, dst)


def test_stdin_to_stdout_streams_the_same_pixels(tmp_path, small_strips):
    data = (SAMPLES / "coffee.png").read_bytes()
    done = subprocess.run([sys.executable, "-m", "imgconv", "filter", "-", "-k", "sharpen", "-o", "-",
                           "--format", "tif"], input=data, capture_output=True, check=True)
    from imgconv.settings import LOAD_MS

    _reference(SAMPLES / "coffee.png", tmp_path / "want.tif", ["sharpen"], load_ms=LOAD_MS)
    assert np.array_equal(read_image(done.stdout).pixels, read_image(tmp_path / "want.tif").pixels)


# --------------------------------------------------------------------------- sources


def _tiff_layouts(samples):
    """TIFF layouts tifffile writes: strips, one strip, tiles, deflate, planar, big-endian, BigTIFF."""
    rgb = dict(photometric="rgb")
    return {
        "one uncompressed strip": dict(**rgb),
        "uncompressed strips": dict(rowsperstrip=7, **rgb),
        "deflate strips, predictor": dict(rowsperstrip=16, compression="zlib", predictor=samples.dtype.kind == "u",
                                          **rgb),  # (the float predictor needs imagecodecs)
        "tiles": dict(tile=(32, 48), **rgb),
        "deflate tiles": dict(tile=(64, 64), compression="zlib", **rgb),
        "planar": dict(planarconfig="separate", rowsperstrip=10, **rgb),
        "planar tiles": dict(planarconfig="separate", tile=(32, 32), **rgb),
        "big-endian": dict(byteorder=">", rowsperstrip=9, **rgb),
        "BigTIFF": dict(bigtiff=True, rowsperstrip=11, compression="zlib", **rgb),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tiffs_are_read_strip_by_strip_as_read_image_reads_them(photos, tmp_path, dtype):
    import tifffile

    pixels = photos["coffee.png"].pixels
    samples = pixels if dtype == np.float32 else np.rint(pixels * np.iinfo(dtype).max).astype(dtype)
    for name, options in _tiff_layouts(samples).items():
        path = tmp_path / "t.tif"
        planar = options.get("planarconfig") == "separate"  # tifffile takes planes first then
        tifffile.imwrite(path, np.moveaxis(samples, -1, 0) if planar else samples, **options)
        with open_input(path) as source:
            assert source.layout.streamed, name
            assert source.layout.held_bytes < samples.nbytes / 2, name
            rows = [source.pixels(a, min(a + 37, len(samples))) for a in range(0, len(samples), 37)]
        assert np.array_equal(np.concatenate(rows), read_image(path).pixels), name


@pytest.mark.parametrize("compression", ["tiff_lzw", "packbits"])
def test_lzw_and_packbits_tiffs_give_read_images_rows(photos, tmp_path, compression):
    """Streamed where tifffile decodes them (PackBits always, LZW with imagecodecs), else decoded
    whole by Pillow, to 8-bit samples."""
    from tifffile import TIFF

    path = tmp_path / "c.tif"
    Image.fromarray(np.rint(photos["coffee.png"].pixels * 255).astype(np.uint8)).save(path, compression=compression)
    with open_input(path) as source:
        assert source.layout.streamed == ({"tiff_lzw": 5, "packbits": 32773}[compression] in TIFF.DECOMPRESSORS)
        rows = source.pixels(0, 400)
    assert np.array_equal(rows, read_image(path).pixels)


def test_npy_is_memory_mapped_and_converted_by_rows(tmp_path):
    path = tmp_path / "big.npy"
    values = np.random.default_rng(1).random((300, 200, 2))
    np.save(path, values)
    with open_input(path) as source:
        assert isinstance(source.load().pixels, np.memmap) and source.layout.streamed
        assert np.array_equal(source.pixels(100, 110), read_image(path).pixels[100:110])
        assert source.has_alpha


def test_pillow_formats_are_decoded_to_samples_not_floats():
    with open_input(SAMPLES / "astronaut16.png") as source:
        assert not source.layout.streamed and source.layout.itemsize == 2
        assert source.load().pixels.dtype == np.uint16
        assert source.layout.held_bytes == source.load().pixels.nbytes


# --------------------------------------------------------------------------- sinks


def _idat(data):
    pos, out = 8, b""
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        out += data[pos + 8:pos + 8 + n] if kind == b"IDAT" else b""
        pos += 12 + n
    return out


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_writer_deflates_pieces_in_parallel_into_one_valid_stream(photos, monkeypatch, depth, channels):
    from imgconv.imageio import png16

    monkeypatch.setattr(png16, "PIECE_BYTES", 20_000)  # many pieces
    pixels = photos["coffee.png"].pixels
    planes = np.dstack([pixels, pixels[..., :1]])[..., :channels]
    planes = planes[..., 0] if channels == 1 else planes
    samples = np.rint(planes * (255 if depth == 8 else 65535)).astype(np.uint8 if depth == 8 else np.uint16)
    sizes = {}
    for threads in (1, 3):
        buffer = io.BytesIO()
        with PngWriter(buffer, samples.shape[1], samples.shape[0], channels, depth, threads=threads) as png:
            for a in range(0, len(samples), 29):
                png.write(samples[a:a + 29])
        data = buffer.getvalue()
        raw = zlib.decompress(_idat(data))  # one zlib stream, its Adler-32 checked
        assert len(raw) == samples.shape[0] * (1 + samples[0].size * samples.itemsize)
        back = read_image(data)
        assert np.array_equal(back.pixels, scale(samples)), threads
        assert Image.open(io.BytesIO(data)).size == (samples.shape[1], samples.shape[0])
        sizes[threads] = len(data)
    assert sizes[3] < sizes[1] * 1.02  # each piece primed with the 32 KiB before it


def scale(samples):
    return samples.astype(np.float32) / np.float32(255 if samples.dtype == np.uint8 else 65535)


def test_tiff_sink_writes_bigtiff_when_large(tmp_path, monkeypatch):
    import tifffile

    from imgconv.imageio.writing import resolve_target

    samples = np.arange(60 * 7 * 3, dtype=np.uint16).reshape(60, 7, 3)
    for limit, big in ((sinks.BIGTIFF_BYTES, False), (100, True)):
        monkeypatch.setattr(sinks, "BIGTIFF_BYTES", limit)
        path = tmp_path / f"{big}.tif"
        sinks.write_strips(resolve_target(path, 3), samples.shape, np.uint16, iter(np.split(samples, [8, 16, 24, 32, 40, 48, 56])),
                           rows=8)
        with tifffile.TiffFile(path) as tif:
            assert tif.is_bigtiff == big and tif.pages[0].rowsperstrip == 8
            assert np.array_equal(tif.asarray(), samples)


def test_npy_sink_writes_numpys_header(tmp_path):
    from imgconv.imageio.writing import resolve_target

    samples = np.random.default_rng(0).random((9, 4, 3)).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, samples)
    sinks.write_strips(resolve_target(tmp_path / "s.npy", 3), samples.shape, np.float32, iter([samples[:5], samples[5:]]),
                       rows=5)
    assert (tmp_path / "s.npy").read_bytes() == buffer.getvalue()


# --------------------------------------------------------------------------- budget and limits


def test_sizes_parse_and_format():
    assert budget.parse_size("500M") == 500 * 2**20 and budget.parse_size("2GiB") == 2 * 2**30
    assert budget.parse_size(" 64kb ") == 65536 and budget.parse_size("123") == 123
    for bad in ("", "lots", "-1G", "0", "nanM", "infG"):
        with pytest.raises(ImgconvError, match="--max-memory"):
            budget.parse_size(bad)
    assert budget.format_size(1536 * 2**20) == "1.5 GiB"
    assert 0 < budget.default_budget(2) < budget.default_budget(1) <= budget.available_memory()


def test_strip_height_follows_the_budget(photos):
    chain = Chain(ArrayRows(photos["coffee.png"]), CHAIN)
    costs = [chain.strip_bytes(rows) for rows in (1, 10, 100, 400)]
    assert costs == sorted(costs) and costs[-1] > 50 * costs[0] / 10
    rows = budget.strip_rows(chain.strip_bytes, 1, 400, costs[2])
    assert 90 <= rows <= 100


def test_options_the_strips_do_not_implement_go_whole():
    extended = dataclasses.make_dataclass("Extended", [("alpha", str, "auto"), ("linear", bool, False)],
                                          bases=(FilterOptions,), frozen=True)
    assert streams(FilterOptions(scale=3, channels="gray"), has_alpha=True)
    assert streams(extended(), has_alpha=False)
    assert not streams(extended(), has_alpha=True)  # a default alpha policy may differ
    assert not streams(extended(linear=True), has_alpha=False)


def run_cli(*args, stdin=None, timeout=120):
    """The CLI in a real process: (exit code, stderr, seconds, peak RSS in MiB of that process)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking (pytest) process
    probe = ("import sys\nfrom imgconv.cli import run\ntry:\n    run(sys.argv[1:])\nfinally:\n"
             "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
             "    sys.stderr.write('@rss %s\\n' % hwm)\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *map(str, args)], stdin=stdin, capture_output=True,
                          timeout=timeout)
    err = done.stderr.decode()
    rss = int(err.rsplit("@rss ", 1)[1]) / 1024
    return done.returncode, err.rsplit("@rss ", 1)[0], time.perf_counter() - start, rss


@pytest.fixture(scope="session")
def zeros_png_11585(tmp_path_factory):
    """A real 16-bit RGBA PNG of 11585 x 11585 zeros (just under the default --max-pixels): 1 MB."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path = tmp_path_factory.mktemp("bomb") / "zeros.png"
    side = 11585
    deflate = zlib.compressobj(9)
    rows = bytes((1 + side * 8) * 512)  # 512 rows: filter byte 0, then zeros
    idat = b"".join(deflate.compress(rows[:(1 + side * 8) * min(512, side - a)]) for a in range(0, side, 512))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0))
                     + chunk(b"IDAT", idat + deflate.flush()) + chunk(b"IEND", b""))
    assert path.stat().st_size < 1_500_000
    return path


@pytest.mark.slow
def test_an_image_too_large_for_the_budget_is_refused_from_its_header(zeros_png_11585, tmp_path):
    code, err, seconds, rss = run_cli("filter", zeros_png_11585, "-k", "sobel", "-o", tmp_path / "out.png",
                                      "--max-memory", "1G")
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("imgconv: error: ") and "zeros.png: needs about" in err and "GiB" in err
    assert seconds < 10 and rss < 200, (seconds, rss)
    assert list(tmp_path.iterdir()) == []


def test_endless_stdin_stops_with_one_line():
    with open("/dev/zero", "rb") as zero:
        code, err, seconds, rss = run_cli("filter", "-", "-k", "sobel", "-o", "-", "--format", "png", stdin=zero)
    assert code == 2 and err.count("\n") == 1 and "-: not a recognised image format" in err, err
    assert seconds < 20 and rss < 250, (seconds, rss)


def test_stdin_longer_than_its_header_allows_is_cut(tmp_path):
    header = io.BytesIO()
    Image.new("RGB", (64, 48)).save(header, "PNG")
    endless = tmp_path / "png-then-zeros"
    with open(endless, "wb") as fp:
        fp.write(header.getvalue())  # a small PNG, then 200 MiB of zeros
        fp.truncate(200 * 2**20)
    with open(endless, "rb") as stdin:
        code, err, seconds, rss = run_cli("filter", "-", "-k", "sobel", "-o", "-", "--format", "png", stdin=stdin)
    assert code == 2 and "-: standard input is longer than 64.0 MiB" in err and err.count("\n") == 1, err
    assert rss < 250, rss


def test_max_memory_on_the_command_line(cli, tmp_path):
    code, _, err = cli("filter", SAMPLES / "coffee.png", "-k", "blur", "-o", tmp_path / "o.png", "--max-memory", "lots")
    assert code == 2 and err.strip() == "imgconv: error: --max-memory: 'lots' is not a size (e.g. 500M, 2G, or bytes)"
    code, _, err = cli("filter", SAMPLES / "coffee.png", "-k", "blur", "-o", tmp_path / "o.png", "--max-memory", "1M")
    assert code == 2 and "coffee.png: needs about" in err and not (tmp_path / "o.png").exists()
    code, _, err = cli("filter", SAMPLES / "coffee.png", "-k", "blur", "-o", tmp_path / "o.png", "--max-memory", "64M")
    assert code == 0, err


def test_a_large_tiff_streams_in_bounded_memory(tmp_path):
    """A 6000 x 6000 RGB TIFF (108 MB of samples, 430 MB as float32) filtered and written as TIFF
    in a working set a fraction of one float copy."""
    import tifffile

    src = tmp_path / "big.tif"
    tile = np.rint(read_image(SAMPLES / "coffee.png").pixels * 255).astype(np.uint8)
    samples = np.tile(tile, (15, 10, 1))
    tifffile.imwrite(src, samples, photometric="rgb")
    del samples
    code, err, seconds, rss = run_cli("filter", src, "-k", "gaussian:sigma=2", "-o", tmp_path / "out.tif")
    assert code == 0, err
    assert rss < 300, rss
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].shape == (6000, 6000, 3)
        middle = tif.pages[0].asarray()[2990:3010]
    assert middle.std() > 1  # a picture, not zeros


def test_fast_transform_lengths_are_scipys_without_importing_it():
    from scipy.fft import next_fast_len as scipys

    from imgconv.engine.fft import next_fast_len

    assert all(next_fast_len(n) == scipys(n, real=True) for n in range(1, 20_000))
