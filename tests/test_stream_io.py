"""The strip pipeline's I/O: sources read strip by strip, sinks written as strips arrive, the
memory budget (``--max-memory``) and the limits on standard input (issue 11, items 23 and 24).

Exactness of the strips themselves: tests/test_stream.py.
"""
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

from imgconv import read_image
from imgconv.errors import ImgconvError
from imgconv.imageio.png16 import PngWriter
from imgconv.stream import budget, sinks
from imgconv.stream.sources import open_input
from imgconv.stream.strips import ArrayRows, Chain

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CHAIN = ("gaussian:sigma=1", "sharpen")


@pytest.fixture(scope="session")
def photos():
    return {name: read_image(SAMPLES / name) for name in ("coffee.png", "astronaut16.png")}


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

    pixels = np.concatenate([photos["coffee.png"].pixels] * 3)  # 1200 rows: a few segments are a small part
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
        sinks.write_strips(path, resolve_target(path, samples.shape), samples.shape, np.uint16,
                           iter(np.split(samples, [8, 16, 24, 32, 40, 48, 56])), rows=8)
        with tifffile.TiffFile(path) as tif:
            assert tif.is_bigtiff == big and tif.pages[0].rowsperstrip == 8
            assert np.array_equal(tif.asarray(), samples)


def test_npy_sink_writes_numpys_header(tmp_path):
    from imgconv.imageio.writing import resolve_target

    samples = np.random.default_rng(0).random((9, 4, 3)).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, samples)
    sinks.write_strips(tmp_path / "s.npy", resolve_target(tmp_path / "s.npy", samples.shape), samples.shape,
                       np.float32, iter([samples[:5], samples[5:]]), rows=5)
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


def run_cli(*args, stdin=None, timeout=120):
    """The CLI in a real process: (exit code, stderr, seconds, peak RSS in MiB of that process)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking (pytest) process
    probe = ("import sys\nfrom imgconv.cli import run\ntry:\n    run(sys.argv[1:])\nfinally:\n"
             "    with open('/proc/self/status') as status:\n"
             "        hwm = [l for l in status if l.startswith('VmHWM')][0].split()[1]\n"
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


def test_whole_image_paths_are_refused_from_the_header_too(cli, tmp_path):
    """A --valid mask (the whole-image path) and deconvolve estimate their working set first."""
    args = ("-o", tmp_path / "o.png", "--max-memory", "2M")
    code, _, err = cli("filter", SAMPLES / "coffee.png", "-k", "blur", "--valid", SAMPLES / "coffee.png", *args)
    assert code == 2 and "coffee.png: needs about" in err and "to filter whole" in err, err
    code, _, err = cli("deconvolve", SAMPLES / "coffee.png", "--psf", "gaussian:sigma=1", *args)
    assert code == 2 and "coffee.png: needs about" in err and "to deconvolve" in err, err
    assert not (tmp_path / "o.png").exists()
    code, _, err = cli("deconvolve", SAMPLES / "coffee.png", "--psf", "gaussian:sigma=1", "-o", tmp_path / "o.png",
                       "--max-memory", "200M")
    assert code == 0, err


def test_stdin_is_read_within_max_memory(tmp_path):
    with open(SAMPLES / "coffee.png", "rb") as stdin:  # 0.6 MB
        code, err, _, _ = run_cli("filter", "-", "-k", "blur", "-o", tmp_path / "o.png", "--max-memory", "100k",
                                  stdin=stdin)
    assert code == 2 and "-: standard input is longer than 0.1 MiB (--max-memory allows" in err, err
    animated = io.BytesIO()  # an animation may be far longer than one frame's raw size
    frames = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (64, 64), np.uint8)) for i in range(60)]
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    assert len(animated.getvalue()) > 2 * 64 * 64 * 8
    path = tmp_path / "anim.gif"
    path.write_bytes(animated.getvalue())
    with open(path, "rb") as stdin:
        code, err, _, _ = run_cli("filter", "-", "-k", "blur", "-o", tmp_path / "o.gif", stdin=stdin)
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
