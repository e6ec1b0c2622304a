"""Tests for imgconv.imageio: modes, depths, metadata, streams, bad input, atomic writes."""

import io
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile, ImageOps

from imgconv import imageio
from imgconv.errors import ImageReadError, ImageWriteError
from imgconv.imageio import (
    DEFAULT_MAX_PIXELS,
    Picture,
    read_image,
    supported_extensions,
    to_integer,
    write_image,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RNG = np.random.default_rng(20240611)


def encode(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_raw(width, height, bit_depth, colour_type, raw, interlace=0, extra=b""):
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + extra
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def cv2_rgb(array):
    """Reorder RGB(A) <-> OpenCV's BGR(A)."""
    return array[..., [2, 1, 0]] if array.shape[2] == 3 else array[..., [2, 1, 0, 3]]


def no_temporaries(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")] == []


# --------------------------------------------------------------------------- numeric rule


def test_every_8bit_value_reads_as_value_over_255_and_writes_back(tmp_path):
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    picture = read_image(encode(Image.fromarray(values), "PNG"))
    assert picture.pixels.dtype == np.float32
    np.testing.assert_array_equal(picture.pixels, values.astype(np.float32) / np.float32(255))
    write_image(tmp_path / "out.png", picture)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), values)


def test_every_16bit_value_round_trips(tmp_path):
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    picture = read_image(encode(Image.fromarray(values), "PNG"))
    assert picture.depth == 16
    np.testing.assert_array_equal(picture.pixels, values.astype(np.float32) / np.float32(65535))
    for name in ("out.png", "out.tif"):
        write_image(tmp_path / name, picture)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / name)), values)


def test_to_integer_is_clip_rint_exactly():
    values = np.concatenate([RNG.uniform(-0.5, 1.5, 1000), (np.arange(256) + 0.5) / 255,
                             [0.0, 1.0, -np.inf, np.inf]])
    for maxval, dtype in ((255, np.uint8), (65535, np.uint16)):
        result = to_integer(values, maxval)
        assert result.dtype == dtype
        np.testing.assert_array_equal(result, np.clip(np.rint(values * maxval), 0, maxval))
    # half to even, as numpy.rint
    np.testing.assert_array_equal(to_integer(np.array([0.5, 1.5, 2.5]) / 255, 255), [0, 2, 2])
    assert to_integer(np.array([np.nan]), 255)[0] == 0


def test_written_values_follow_the_rule(tmp_path):
    pixels = RNG.uniform(-0.2, 1.2, (20, 30, 3)).astype(np.float32)
    for depth, maxval in ((8, 255), (16, 65535)):
        write_image(tmp_path / "x.png", pixels, depth=depth)
        back = to_integer(read_image(tmp_path / "x.png").pixels, maxval)
        np.testing.assert_array_equal(back, to_integer(pixels, maxval))


# --------------------------------------------------------------------------- modes


def _mode_image(mode):
    base = RNG.integers(0, 256, (13, 17, 4), dtype=np.uint8)
    if mode == "1":
        return Image.fromarray(base[:, :, 0] > 127)
    if mode == "L":
        return Image.fromarray(base[:, :, 0])
    if mode == "LA":
        return Image.fromarray(base[:, :, :2])
    if mode == "RGB":
        return Image.fromarray(base[:, :, :3])
    if mode == "RGBA":
        return Image.fromarray(base)
    if mode == "P":
        return Image.fromarray(base[:, :, :3]).quantize(16)
    if mode == "CMYK":
        return Image.fromarray(base).convert("RGB").convert("CMYK")
    if mode == "I;16":
        return Image.fromarray(RNG.integers(0, 65536, (13, 17)).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(RNG.integers(0, 65536, (13, 17)).astype(np.int32))
    if mode == "F":
        return Image.fromarray(RNG.uniform(-2, 3, (13, 17)).astype(np.float32))
    raise AssertionError(mode)


# mode -> (file format, expected shape suffix, depth, how Pillow converts it)
MODES = {
    "1": ("PNG", (), 8, "L"),
    "L": ("PNG", (), 8, "L"),
    "LA": ("PNG", (2,), 8, "LA"),
    "RGB": ("PNG", (3,), 8, "RGB"),
    "RGBA": ("PNG", (4,), 8, "RGBA"),
    "P": ("PNG", (3,), 8, "RGB"),
    "CMYK": ("TIFF", (3,), 8, "RGB"),
    "I;16": ("PNG", (), 16, None),
    "I": ("TIFF", (), 16, None),
    "F": ("TIFF", (), 32, None),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_mode_reads_exactly_and_round_trips(mode, tmp_path):
    fmt, suffix, depth, target = MODES[mode]
    image = _mode_image(mode)
    assert image.mode == mode
    picture = read_image(encode(image, fmt))
    assert picture.pixels.shape == (13, 17) + suffix
    assert picture.pixels.dtype == np.float32
    assert picture.depth == depth and picture.format == fmt
    assert picture.has_alpha == (suffix in ((2,), (4,)))
    if depth == 8:
        expected = np.asarray(image.convert(target)).astype(np.float32) / np.float32(255)
    elif depth == 16:
        expected = np.asarray(image).astype(np.float32) / np.float32(65535)
    else:
        expected = np.asarray(image)
    np.testing.assert_array_equal(picture.pixels, expected)

    out = tmp_path / ("out.tif" if depth == 32 else "out.png")
    write_image(out, picture)
    again = read_image(out)
    assert again.depth == depth
    np.testing.assert_array_equal(again.pixels, picture.pixels)


def test_palette_with_transparency_gives_rgba():
    image = _mode_image("P")
    image.info["transparency"] = 3
    picture = read_image(encode(image, "PNG", transparency=3))
    assert picture.pixels.shape[2] == 4 and picture.has_alpha
    indices = np.asarray(image)
    np.testing.assert_array_equal(picture.pixels[:, :, 3] == 0, indices == 3)


def test_grey_png_with_transparent_value_gives_grey_alpha():
    image = _mode_image("L")
    picture = read_image(encode(image, "PNG", transparency=int(np.asarray(image)[0, 0])))
    assert picture.pixels.shape == (13, 17, 2)
    assert picture.pixels[0, 0, 1] == 0


def test_int32_outside_16bit_range_is_refused():
    image = Image.fromarray(np.array([[0, 70000]], dtype=np.int32))
    with pytest.raises(ImageReadError, match="outside 0..65535"):
        read_image(encode(image, "TIFF"))


def test_cmyk_with_icc_profile_drops_it_with_a_note():
    picture = read_image(encode(_mode_image("CMYK"), "JPEG", icc_profile=b"x" * 200))
    assert picture.pixels.shape[2] == 3 and picture.icc_profile is None
    assert any("CMYK" in note for note in picture.notes)


# --------------------------------------------------------------------------- 16-bit colour


@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_16bit_colour_round_trip_is_exact(channels, extension, tmp_path):
    if extension == ".tif" and channels == 2:
        with pytest.raises(ImageWriteError, match="grey\\+alpha"):
            write_image(tmp_path / "x.tif", np.zeros((2, 2, 2)), depth=16)
        return
    samples = RNG.integers(0, 65536, (29, 41, channels)).astype(np.uint16)
    write_image(tmp_path / ("x" + extension), samples)
    picture = read_image(tmp_path / ("x" + extension))
    assert picture.depth == 16 and picture.pixels.shape == samples.shape
    np.testing.assert_array_equal(to_integer(picture.pixels, 65535), samples)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_16bit_colour_agrees_with_opencv(channels, extension, tmp_path):
    cv2 = pytest.importorskip("cv2")
    samples = RNG.integers(0, 65536, (23, 37, channels)).astype(np.uint16)
    ours = tmp_path / ("ours" + extension)
    write_image(ours, samples.astype(np.float32) / np.float32(65535), depth=16)
    theirs = cv2.imread(str(ours), cv2.IMREAD_UNCHANGED)
    assert theirs.dtype == np.uint16
    np.testing.assert_array_equal(cv2_rgb(theirs), samples)

    made_by_cv2 = tmp_path / ("cv2" + extension)
    assert cv2.imwrite(str(made_by_cv2), cv2_rgb(samples))
    np.testing.assert_array_equal(to_integer(read_image(made_by_cv2).pixels, 65535), samples)


def test_interlaced_16bit_rgb_png_reads_exactly():
    samples = RNG.integers(0, 65536, (11, 13, 3)).astype(np.uint16)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2)]  # Adam7: x0, y0, dx, dy
    raw = b""
    for x0, y0, dx, dy in passes:
        part = samples[y0::dy, x0::dx]
        if part.size:
            rows = part.astype(">u2").reshape(part.shape[0], -1).view(np.uint8)
            raw += np.hstack([np.zeros((rows.shape[0], 1), np.uint8), rows]).tobytes()
    data = png_from_raw(13, 11, 16, 2, raw, interlace=1)
    picture = read_image(data)
    np.testing.assert_array_equal(to_integer(picture.pixels, 65535), samples)


def test_16bit_rgb_png_with_transparent_colour_gets_alpha():
    samples = RNG.integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    raw = np.hstack([np.zeros((5, 1), np.uint8),
                     samples.astype(">u2").reshape(5, -1).view(np.uint8)]).tobytes()
    key = struct.pack(">HHH", *samples[2, 3])
    picture = read_image(png_from_raw(6, 5, 16, 2, raw, extra=png_chunk(b"tRNS", key)))
    assert picture.pixels.shape == (5, 6, 4)
    assert picture.pixels[2, 3, 3] == 0 and picture.pixels[0, 0, 3] == 1
    np.testing.assert_array_equal(to_integer(picture.pixels[:, :, :3], 65535), samples)


def test_16bit_sample_reads_with_16bit_precision():
    picture = read_image(SAMPLES / "astronaut16.png")
    assert picture.depth == 16 and picture.pixels.shape == (256, 256, 3)
    steps = to_integer(picture.pixels, 65535) % 257
    assert np.count_nonzero(steps) > 0.5 * steps.size  # not 8-bit values scaled by 257


@pytest.mark.parametrize("kind", ["PNG RGB", "PNG RGBA", "PNG grey+alpha", "TIFF RGB", "TIFF RGBA",
                                  "TIFF RGB big-endian", "TIFF RGB deflate"])
def test_pillow_16bit_colour_trick_still_works(kind):
    """imageio/pillow16.py decodes 16-bit colour through Pillow's private tile raw modes."""
    import PIL

    from imgconv.imageio.pillow16 import decode_16bit_colour
    from imgconv.imageio.png16 import png16_bytes

    channels = {"RGBA": 4, "grey+alpha": 2}.get(kind.split()[1], 3)
    samples = RNG.integers(0, 65536, (19, 23, channels)).astype(np.uint16)
    if kind.startswith("PNG"):
        data = png16_bytes(samples)
    else:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, samples, photometric="rgb", byteorder=">" if "big" in kind else "<",
                         compression="zlib" if "deflate" in kind else None)
        data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        decoded = decode_16bit_colour(im, io.BytesIO(data))
    assert decoded is not None and np.array_equal(decoded, samples), (
        f"Pillow {PIL.__version__} no longer gives exact 16-bit {kind} samples through the "
        "raw-mode trick in imgconv/imageio/pillow16.py: Pillow's tiles or raw modes changed")


def _pillow_oriented(samples, orientation):
    """What ImageOps.exif_transpose does to each channel (as a 16-bit grey Pillow image)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    channels = []
    for c in range(samples.shape[2]):
        image = Image.fromarray(samples[:, :, c])
        image.info["exif"] = exif.tobytes()
        channels.append(np.asarray(ImageOps.exif_transpose(image)))
    return np.dstack(channels)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_exif_orientation_of_16bit_colour_matches_pillow(orientation, extension):
    """The pixels that have no Pillow image (16-bit colour PNG, TIFFs read by tifffile)."""
    samples = RNG.integers(0, 65536, (5, 8, 3)).astype(np.uint16)
    exif = Image.Exif()
    exif[0x0112] = orientation
    if extension == ".png":
        raw = np.hstack([np.zeros((5, 1), np.uint8), samples.astype(">u2").reshape(5, -1).view(np.uint8)])
        data = png_from_raw(8, 5, 16, 2, raw.tobytes(), extra=png_chunk(b"eXIf", exif.tobytes()[6:]))
    else:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, samples, photometric="rgb", extratags=[(274, 3, 1, orientation, False)])
        data = buffer.getvalue()
    picture = read_image(data)
    np.testing.assert_array_equal(to_integer(picture.pixels, 65535), _pillow_oriented(samples, orientation))


# --------------------------------------------------------------------------- TIFF through tifffile


TIFF_CASES = [  # what imgconv writes: (channels, depth, how Pillow opens it, or None: it cannot)
    (1, 8, "L"), (2, 8, "LA"), (3, 8, "RGB"), (4, 8, "RGBA"),
    (1, 16, "I;16"), (3, 16, "RGB"), (4, 16, "RGBA"), (1, "float", "F"),
]


@pytest.mark.parametrize("channels, depth, pillow_mode", TIFF_CASES)
def test_tiff_output_reads_back_exactly_everywhere(channels, depth, pillow_mode, tmp_path):
    shape = (17, 21) if channels == 1 else (17, 21, channels)
    if depth == "float":
        stored = RNG.normal(0, 3, shape).astype(np.float32)
    else:
        stored = RNG.integers(0, 2**depth, shape).astype(np.uint8 if depth == 8 else np.uint16)
    profile = srgb_profile() if channels >= 3 else None
    like = Picture(np.zeros(shape, np.float32), icc_profile=profile, dpi=(300.0, 72.5))
    write_image(tmp_path / "x.tif", stored, depth=depth, like=like)

    picture = read_image(tmp_path / "x.tif")
    assert picture.depth == (32 if depth == "float" else depth)
    assert picture.icc_profile == profile and picture.dpi == (300.0, 72.5)
    back = picture.pixels if depth == "float" else to_integer(picture.pixels, 2**depth - 1)
    np.testing.assert_array_equal(back, stored)

    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        page = tif.pages.first
        np.testing.assert_array_equal(page.asarray(), stored)
        assert page.asarray().dtype == stored.dtype and len(tif.pages) == 1
        assert page.compression == 1 and page.tags.valueof(296) == 2  # uncompressed; inches
        assert page.extrasamples == ((2,) if channels in (2, 4) else ())  # unassociated alpha
        assert page.tags.valueof(34675) == profile

    with Image.open(tmp_path / "x.tif") as im:
        assert im.mode == pillow_mode
        assert im.info.get("icc_profile") == profile and im.info["dpi"] == pytest.approx((300, 72.5))
        if not (depth == 16 and channels > 1):  # Pillow has no 16-bit colour mode
            np.testing.assert_array_equal(np.asarray(im), stored)


def test_tiff_without_dpi_reads_back_without_dpi(tmp_path):
    write_image(tmp_path / "x.tif", np.zeros((3, 4, 3)), depth=16)
    assert read_image(tmp_path / "x.tif").dpi is None


def _tifffile_bytes(data, **options):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, data, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("case", ["float32 RGB", "float32 RGBA", "float64 grey", "float16 grey",
                                  "16-bit grey+alpha", "16-bit planar RGB", "8-bit planar RGB",
                                  "int16 grey", "int16 RGB", "uint32 grey", "16-bit RGB big-endian",
                                  "float32 RGB tiled deflate"])
def test_tiffs_pillow_cannot_read_exactly_are_read_exactly(case):
    kind, layout = case.split(" ", 1)
    dtype = {"16-bit": np.uint16, "8-bit": np.uint8}.get(kind, kind)
    channels = 2 if "alpha" in layout and "grey" in layout else 4 if "RGBA" in layout else (
        3 if "RGB" in layout else 1)
    shape = (13, 17) if channels == 1 else (13, 17, channels)
    if np.dtype(dtype).kind == "f":
        values = RNG.normal(0, 3, shape).astype(dtype)
    else:
        values = RNG.integers(0, {np.uint8: 256, "int16": 32768}.get(dtype, 65536), shape).astype(dtype)
    options = {"photometric": "rgb" if channels >= 3 else "minisblack"}
    if channels in (2, 4):
        options.update(planarconfig="contig", extrasamples=["unassalpha"])
    if "planar" in layout:
        options["planarconfig"] = "separate"
    if "big-endian" in layout:
        options["byteorder"] = ">"
    if "tiled" in layout:
        options.update(tile=(16, 16), compression="zlib")
    stored = np.moveaxis(values, -1, 0) if "planar" in layout else values
    picture = read_image(_tifffile_bytes(stored, **options))
    assert picture.format == "TIFF" and picture.has_alpha == (channels in (2, 4))
    if np.dtype(dtype).kind == "f":
        assert picture.depth == 32
        np.testing.assert_array_equal(picture.pixels, values.astype(np.float32))
    else:
        maxval = 255 if dtype == np.uint8 else 65535
        assert picture.depth == (8 if dtype == np.uint8 else 16)
        np.testing.assert_array_equal(to_integer(picture.pixels, maxval), values)


def test_signed_tiff_with_negative_values_is_refused():
    data = _tifffile_bytes(np.array([[-1, 5]], np.int16), photometric="minisblack")
    with pytest.raises(ImageReadError, match="16-bit integer pixels \\(-1..5\\) outside 0..65535"):
        read_image(data)


def test_tiff_size_limit_is_checked_before_decoding(tmp_path):
    data = _tifffile_bytes(np.zeros((100, 120, 3), np.float32), photometric="rgb")
    with pytest.raises(ImageReadError, match="120 x 100 = 12000 pixels exceeds the limit of 11999"):
        read_image(data, max_pixels=11999)
    (tmp_path / "f.tif").write_bytes(data)
    assert imageio.probe_shape(tmp_path / "f.tif") == (100, 120, 3)  # Pillow cannot open it


def test_tiff_that_tifffile_remarks_on_is_read_by_pillow_quietly(tmp_path):
    """tifffile logs its remarks on odd tags; they are not printed, and Pillow reads the file."""
    data = bytearray(_tifffile_bytes(np.full((4, 5), 7, np.uint8), photometric="minisblack",
                                     software="imgconv", metadata=None))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        offset = tif.pages.first.tags[305].offset
    data[offset + 2:offset + 4] = struct.pack("<H", 99)  # an unknown data type for Software
    (tmp_path / "odd.tif").write_bytes(bytes(data))
    script = ("import sys, numpy as np; from imgconv.imageio import read_image; "
              "p = read_image(sys.argv[1]); assert np.all(p.pixels == np.float32(7 / 255)), p")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "odd.tif")], check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr


# --------------------------------------------------------------------------- depth rules


def test_depth_defaults_and_fallbacks(tmp_path):
    grey16 = Picture(np.full((4, 4), 0.25, np.float32), depth=16)
    write_image(tmp_path / "a.png", grey16)
    assert read_image(tmp_path / "a.png").depth == 16
    write_image(tmp_path / "a.jpg", grey16)  # JPEG holds 8 bits only
    assert read_image(tmp_path / "a.jpg").depth == 8
    floaty = Picture(np.full((4, 4), 1.5, np.float32), depth=32)
    write_image(tmp_path / "f.tif", floaty)
    assert read_image(tmp_path / "f.tif").pixels[0, 0] == np.float32(1.5)
    write_image(tmp_path / "f.png", floaty)  # float source -> 16-bit PNG
    assert read_image(tmp_path / "f.png").depth == 16
    write_image(tmp_path / "plain.png", np.zeros((2, 2)))
    assert read_image(tmp_path / "plain.png").depth == 8


@pytest.mark.parametrize("name, depth, channels", [
    ("x.jpg", 16, 3), ("x.webp", 16, 1), ("x.bmp", 16, 1), ("x.png", "float", 1),
    ("x.tif", "float", 3), ("x.png", 12, 1),
])
def test_depth_the_format_cannot_hold_is_refused(name, depth, channels, tmp_path):
    shape = (3, 3) if channels == 1 else (3, 3, channels)
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / name, np.zeros(shape), depth=depth)
    assert not (tmp_path / name).exists()


def test_float_tiff_and_npy_keep_values_exactly(tmp_path):
    grey = RNG.normal(0, 3, (9, 11)).astype(np.float32)
    write_image(tmp_path / "g.tif", grey, depth="float")
    picture = read_image(tmp_path / "g.tif")
    assert picture.depth == 32
    np.testing.assert_array_equal(picture.pixels, grey)
    colour = RNG.normal(0, 3, (9, 11, 4)).astype(np.float32)
    write_image(tmp_path / "c.npy", colour, depth="float")
    assert np.load(tmp_path / "c.npy").dtype == np.float32
    picture = read_image(tmp_path / "c.npy")
    assert picture.depth == 32 and picture.has_alpha and picture.format == "NPY"
    np.testing.assert_array_equal(picture.pixels, colour)


@pytest.mark.parametrize("depth, dtype", [(8, np.uint8), (16, np.uint16)])
def test_integer_npy(depth, dtype, tmp_path):
    pixels = RNG.random((5, 6, 3)).astype(np.float32)
    write_image(tmp_path / "i.npy", pixels, depth=depth)
    stored = np.load(tmp_path / "i.npy")
    assert stored.dtype == dtype
    np.testing.assert_array_equal(stored, to_integer(pixels, np.iinfo(dtype).max))
    assert read_image(tmp_path / "i.npy").depth == depth


def test_read_npy_takes_paths_and_files_and_refuses_from_the_header(tmp_path):
    from imgconv.errors import KernelError
    from imgconv.imageio import read_npy

    array = RNG.random((3, 4))
    np.save(tmp_path / "a.npy", array)
    np.testing.assert_array_equal(read_npy(tmp_path / "a.npy", ndims={2}), array)
    with open(tmp_path / "a.npy", "rb") as handle:
        np.testing.assert_array_equal(read_npy(handle, max_elements=12), array)
    with pytest.raises(KernelError, match="a.npy: a 2-D array \\(shape \\(3, 4\\)\\) where 1 or 3-D"):
        read_npy(tmp_path / "a.npy", ndims={1, 3}, error=KernelError)
    with pytest.raises(ImageReadError, match="too large \\(12 elements; at most 11\\)"):
        read_npy(tmp_path / "a.npy", max_elements=11)
    seen = []

    def check(shape, dtype):
        seen.append((shape, dtype))
        raise ImageReadError("refused by the caller", "k.npy")

    with pytest.raises(ImageReadError, match="refused by the caller"):
        read_npy(tmp_path / "a.npy", check=check)
    assert seen == [((3, 4), np.dtype(np.float64))]

    start = time.perf_counter()  # 80 GB declared, 8 bytes present: refused before any allocation
    with pytest.raises(ImageReadError, match="truncated .npy data \\(8 of the 80000000000 bytes"):
        read_npy(io.BytesIO(_npy_header("<f8", (100_000, 100_000)) + b"\x00" * 8))
    assert time.perf_counter() - start < 1.0
    with pytest.raises(ImageReadError, match="Python objects are refused"):
        read_npy(io.BytesIO(_npy_header("|O", (2, 2)) + b"\x80\x04N." * 4))
    with pytest.raises(ImageReadError, match="unsupported .npy format version 4.0"):
        read_npy(io.BytesIO(b"\x93NUMPY\x04\x00" + _npy_bytes(array)[8:]))
    with pytest.raises(ImageReadError, match="cannot read .npy"):
        read_npy(io.BytesIO(b"not an array at all"))
    with pytest.raises(ImageReadError, match="missing.npy: cannot open"):
        read_npy(tmp_path / "missing.npy")


# --------------------------------------------------------------------------- other formats


def test_jpeg_quality_changes_size_and_is_validated(tmp_path):
    pixels = read_image(SAMPLES / "coffee.png").pixels
    write_image(tmp_path / "low.jpg", pixels, quality=20)
    write_image(tmp_path / "high.jpg", pixels, quality=95)
    write_image(tmp_path / "default.jpg", pixels)
    low, high, default = (os.path.getsize(tmp_path / n) for n in ("low.jpg", "high.jpg", "default.jpg"))
    assert low < default < high
    error = np.abs(read_image(tmp_path / "high.jpg").pixels - pixels).mean()
    assert error < 0.01
    for bad in (0, 101, 50.5):
        with pytest.raises(ImageWriteError, match="quality"):
            write_image(tmp_path / "bad.jpg", pixels, quality=bad)


@pytest.mark.parametrize("extension", [".jpg", ".bmp"])
def test_alpha_is_dropped_for_jpeg_and_bmp(extension, tmp_path):
    rgba = read_image(SAMPLES / "chelsea_rgba.png").pixels
    write_image(tmp_path / ("x" + extension), rgba)
    assert read_image(tmp_path / ("x" + extension)).pixels.shape == rgba.shape[:2] + (3,)
    grey_alpha = RNG.random((6, 7, 2)).astype(np.float32)
    write_image(tmp_path / ("y" + extension), grey_alpha)
    back = read_image(tmp_path / ("y" + extension)).pixels
    assert back.shape == (6, 7)
    if extension == ".bmp":
        np.testing.assert_array_equal(to_integer(back, 255), to_integer(grey_alpha[:, :, 0], 255))


def test_gif_keeps_binary_transparency(tmp_path):
    pixels = np.zeros((4, 5, 2), np.float32)
    pixels[:, :, 0] = 0.5
    pixels[:2, :, 1] = 1.0
    write_image(tmp_path / "x.gif", pixels)
    back = read_image(tmp_path / "x.gif").pixels
    assert back.shape == (4, 5, 2)  # the palette is grey: grey + alpha again
    np.testing.assert_array_equal(back[:, :, 1], pixels[:, :, 1])
    np.testing.assert_array_equal(to_integer(back[:2, :, 0], 255), 128)


@pytest.mark.parametrize("extension", [".bmp", ".gif", ".tif", ".png"])
def test_lossless_8bit_grey_formats_are_exact(extension, tmp_path):
    pixels = RNG.random((10, 12)).astype(np.float32)
    write_image(tmp_path / ("x" + extension), pixels)
    back = read_image(tmp_path / ("x" + extension)).pixels
    np.testing.assert_array_equal(to_integer(back, 255), to_integer(pixels, 255))


def test_webp_round_trip_is_close(tmp_path):
    pixels = read_image(SAMPLES / "scene.png").pixels
    write_image(tmp_path / "x.webp", pixels, quality=95)
    picture = read_image(tmp_path / "x.webp")
    assert picture.format == "WEBP"
    assert np.abs(picture.pixels - pixels).mean() < 0.02


def test_unknown_extension_and_bad_arrays_are_refused(tmp_path):
    with pytest.raises(ImageWriteError, match="extension"):
        write_image(tmp_path / "x.xyz", np.zeros((2, 2)))
    with pytest.raises(ImageWriteError, match="shape"):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 5)))
    with pytest.raises(ImageWriteError, match="shape"):
        write_image(tmp_path / "x.png", np.zeros(4))
    with pytest.raises(ImageWriteError, match="float"):
        write_image(tmp_path / "x.png", np.zeros((2, 2), dtype=np.int64))
    assert os.listdir(tmp_path) == []


def test_nan_writes_as_zero(tmp_path):
    write_image(tmp_path / "n.png", np.array([[np.nan, 1.0]]))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "n.png")), [[0, 255]])


def test_write_does_not_modify_the_array(tmp_path):
    pixels = RNG.uniform(-1, 2, (5, 5, 4)).astype(np.float32)
    kept = pixels.copy()
    write_image(tmp_path / "x.jpg", pixels)
    write_image(tmp_path / "x.png", pixels, depth=16)
    np.testing.assert_array_equal(pixels, kept)


# --------------------------------------------------------------------------- orientation and metadata


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    image = Image.fromarray(RNG.integers(0, 256, (5, 8, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(image, "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    picture = read_image(data)
    np.testing.assert_array_equal(to_integer(picture.pixels, 255), expected)


def test_jpeg_orientation_tag_is_applied():
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    picture = read_image(encode(Image.fromarray(pixels), "JPEG", exif=exif.tobytes(), quality=95))
    assert picture.pixels.shape == (80, 40, 3)
    assert picture.pixels[:30].mean() > 0.9 and picture.pixels[50:].mean() < 0.1  # top is white


@pytest.mark.parametrize("name, depth", [("x.png", 8), ("x.jpg", 8), ("x.tif", 8), ("x.webp", 8),
                                         ("x.png", 16), ("x.tif", 16)])
def test_icc_profile_and_dpi_are_kept(name, depth, tmp_path):
    profile = srgb_profile()
    source = Picture(RNG.random((8, 9, 3)).astype(np.float32), depth=depth, icc_profile=profile,
                     dpi=(300.0, 150.0))
    write_image(tmp_path / name, source.pixels, like=source)
    picture = read_image(tmp_path / name)
    assert picture.icc_profile == profile
    if name != "x.webp":
        assert picture.dpi == pytest.approx((300, 150), abs=0.05)
    assert picture.depth == depth


def test_rgb_profile_is_not_put_on_a_grey_output(tmp_path):
    source = Picture(np.zeros((4, 4, 3), np.float32), icc_profile=srgb_profile())
    write_image(tmp_path / "grey.png", np.zeros((4, 4)), like=source)
    assert read_image(tmp_path / "grey.png").icc_profile is None


# --------------------------------------------------------------------------- streams


def test_read_from_bytes_file_objects_and_stdin(monkeypatch):
    data = (SAMPLES / "template.png").read_bytes()
    reference = read_image(SAMPLES / "template.png").pixels
    with open(SAMPLES / "template.png", "rb") as handle:
        np.testing.assert_array_equal(read_image(handle).pixels, reference)
    np.testing.assert_array_equal(read_image(io.BytesIO(data)).pixels, reference)
    np.testing.assert_array_equal(read_image(bytearray(data)).pixels, reference)

    class Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", Stdin)
    picture = read_image("-")
    assert picture.path == "-"
    np.testing.assert_array_equal(picture.pixels, reference)


def test_read_16bit_colour_from_a_stream():
    data = (SAMPLES / "astronaut16.png").read_bytes()
    np.testing.assert_array_equal(read_image(io.BytesIO(data)).pixels,
                                  read_image(SAMPLES / "astronaut16.png").pixels)


def test_write_to_stdout_and_file_objects(monkeypatch):
    pixels = RNG.random((6, 5, 3)).astype(np.float32)

    class Stdout:
        buffer = io.BytesIO()

    monkeypatch.setattr(sys, "stdout", Stdout)
    write_image("-", pixels, format="png")
    back = read_image(Stdout.buffer.getvalue())
    np.testing.assert_array_equal(to_integer(back.pixels, 255), to_integer(pixels, 255))

    sink = io.BytesIO()
    write_image(sink, Picture(pixels, depth=16, format="TIFF"))  # format from the Picture
    back = read_image(sink.getvalue())
    assert back.format == "TIFF" and back.depth == 16

    with pytest.raises(ImageWriteError, match="format"):
        write_image(io.BytesIO(), pixels)
    with pytest.raises(ImageWriteError, match="format"):
        write_image(io.BytesIO(), pixels, format="xyz")


def test_text_mode_file_object_is_refused(tmp_path):
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as handle, pytest.raises(ImageReadError, match="binary"):
        read_image(handle)


# --------------------------------------------------------------------------- bad input


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ImageReadError, match="no such file") as info:
        read_image(tmp_path / "nope.png")
    assert info.value.path == str(tmp_path / "nope.png")


def test_directory_is_refused(tmp_path):
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)


def test_permission_denied(monkeypatch, tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes((SAMPLES / "template.png").read_bytes())

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imageio.reading, "open", refuse, raising=False)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(target)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read files whatever their mode")
def test_permission_denied_for_real(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes((SAMPLES / "template.png").read_bytes())
    target.chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(target)


def _corrupt_inputs():
    png = (SAMPLES / "template.png").read_bytes()
    jpeg = (SAMPLES / "rocket.jpg").read_bytes()
    return {
        "empty": b"",
        "truncated png": png[: len(png) // 2],
        "truncated png header": png[:20],
        "truncated jpeg": jpeg[: len(jpeg) // 2],
        "random bytes": RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "text": b"this is not an image\n" * 10,
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "png signature only": b"\x89PNG\r\n\x1a\n",
        "npy object array": _npy_header("|O", (2, 2)) + b"\x80\x04N." * 4,
        "npy bad shape": _npy_bytes(np.zeros((2, 2, 7))),
        "npy truncated": _npy_bytes(np.zeros((20, 20)))[:200],
        "npy int64": _npy_bytes(np.zeros((2, 2), np.int64)),
    }


def _npy_header(descr, shape):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(_corrupt_inputs()))
def test_bad_input_gives_image_read_error(case, tmp_path):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = _corrupt_inputs()[case]
    target = tmp_path / "bad.bin"
    target.write_bytes(data)
    with pytest.raises(ImageReadError) as info:
        read_image(target)
    assert info.value.path == str(target)
    with pytest.raises(ImageReadError):
        read_image(data)


def test_pillow_warnings_become_notes():
    image = Image.fromarray(RNG.integers(0, 256, (4, 4), dtype=np.uint8))
    data = bytearray(encode(image, "PNG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00"))
    picture = read_image(bytes(data))
    assert picture.pixels.shape == (4, 4)
    assert any("EXIF" in note for note in picture.notes)


def test_unsupported_source_type_is_refused():
    with pytest.raises(ImageReadError):
        read_image(12345)


# --------------------------------------------------------------------------- decompression bombs


def test_png_claiming_huge_size_is_refused_fast():
    bomb = png_from_raw(100_000, 100_000, 8, 0, b"\x00" * 100)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match="too large"):
        read_image(bomb)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20 * 2**20


def test_size_limit_is_checked_before_decoding():
    # 12000 x 12000 = 144 M pixels: above DEFAULT_MAX_PIXELS, below Pillow's own refusal.
    assert 12000 * 12000 > DEFAULT_MAX_PIXELS
    bomb = png_from_raw(12000, 12000, 8, 0, zlib.compress(b"\x00" * 12001 * 8))
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(bomb)
    assert time.perf_counter() - start < 1.0
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(SAMPLES / "camera.png", max_pixels=512 * 511)
    assert read_image(SAMPLES / "camera.png", max_pixels=512 * 512).pixels.shape == (512, 512)


def test_npy_claiming_huge_shape_is_refused_before_loading():
    data = _npy_header("<f4", (100_000, 100_000))
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(data + b"\x00" * 64)


# --------------------------------------------------------------------------- multi-frame


def test_animated_gif_reads_first_frame_with_a_note():
    frames = [Image.new("L", (8, 6), value) for value in (10, 100, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    picture = read_image(buffer.getvalue())
    assert picture.notes == ["animated GIF: only the first of 3 frames was read"]
    assert to_integer(picture.pixels, 255).max() == 10


def test_multipage_tiff_reads_first_page_with_a_note():
    pages = [Image.new("L", (5, 4), value) for value in (7, 70)]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    picture = read_image(buffer.getvalue())
    assert picture.notes == ["multi-page TIFF: only the first of 2 pages was read"]
    assert np.all(to_integer(picture.pixels, 255) == 7)


# --------------------------------------------------------------------------- atomic writes


def test_failing_save_leaves_no_temporary_and_no_destination(monkeypatch, tmp_path):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial data")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageWriteError, match="No space left"):
        write_image(tmp_path / "x.png", np.zeros((4, 4)))
    assert os.listdir(tmp_path) == []


def test_failing_write_keeps_the_old_destination(monkeypatch, tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"old content")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ImageWriteError):
        write_image(target, np.zeros((4, 4, 3)), depth=16)
    assert target.read_bytes() == b"old content"
    assert no_temporaries(tmp_path)


def test_interrupt_during_write_cleans_up_and_propagates(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(imageio.writing, "png16_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3)), depth=16)
    assert os.listdir(tmp_path) == []


def test_unwritable_places_are_refused(monkeypatch, tmp_path):
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(tmp_path / "missing" / "x.png", np.zeros((2, 2)))
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageWriteError, match="directory"):
        write_image(tmp_path / "folder.png", np.zeros((2, 2)))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imageio.atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(ImageWriteError, match="Permission denied"):
        write_image(tmp_path / "x.png", np.zeros((2, 2)))


def test_written_file_has_ordinary_permissions_and_replaces_atomically(tmp_path):
    target = tmp_path / "x.png"
    write_image(target, np.zeros((2, 2)))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    write_image(target, np.ones((2, 2)))
    assert target.stat().st_mode & 0o777 == 0o640
    assert read_image(target).pixels.min() == 1
    assert os.listdir(tmp_path) == ["x.png"]


def test_reading_never_touches_the_input(tmp_path):
    target = tmp_path / "in.png"
    target.write_bytes((SAMPLES / "astronaut16.png").read_bytes())
    before = (target.read_bytes(), target.stat().st_mtime_ns)
    read_image(target)
    assert (target.read_bytes(), target.stat().st_mtime_ns) == before


# --------------------------------------------------------------------------- samples and API


@pytest.mark.parametrize("name, shape, depth", [
    ("coffee.png", (400, 600, 3), 8), ("camera.png", (512, 512), 8),
    ("chelsea_rgba.png", (300, 451, 4), 8), ("astronaut16.png", (256, 256, 3), 16),
    ("rocket.jpg", (427, 640, 3), 8), ("scene.png", (256, 256, 3), 8),
    ("template.png", (44, 40, 3), 8),
])
def test_samples_read(name, shape, depth):
    picture = read_image(SAMPLES / name)
    assert picture.pixels.shape == shape and picture.depth == depth
    assert picture.has_alpha == (name == "chelsea_rgba.png")


def test_template_is_a_crop_of_the_scene():
    scene = read_image(SAMPLES / "scene.png").pixels
    template = read_image(SAMPLES / "template.png").pixels
    np.testing.assert_array_equal(scene[170:214, 66:106], template)


def test_picture_converts_to_an_array():
    picture = read_image(SAMPLES / "template.png")
    assert np.asarray(picture) is picture.pixels
    assert np.asarray(picture, dtype=np.float64).dtype == np.float64
    copied = np.array(picture, copy=True)
    assert copied is not picture.pixels
    np.testing.assert_array_equal(copied, picture.pixels)


def test_supported_extensions():
    extensions = supported_extensions()
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".npy"} <= extensions
    assert ".eps" not in extensions and all(e == e.lower() for e in extensions)


# --------------------------------------------------------------------------- fuzzing


def _fuzz_bases():
    template = Image.open(SAMPLES / "template.png").convert("RGB")
    small16 = (read_image(SAMPLES / "astronaut16.png").pixels[:24, :24])
    buffer = io.BytesIO()
    write_image(buffer, small16, depth=16, format="png")
    return [
        (SAMPLES / "template.png").read_bytes(),
        buffer.getvalue(),
        encode(template, "JPEG", quality=80),
        encode(template, "BMP"),
        encode(template, "GIF"),
        encode(template, "TIFF"),
        encode(template.convert("L"), "TIFF", compression="tiff_lzw"),
        encode(template, "WEBP"),
        _npy_bytes(np.zeros((6, 5, 3), np.float32)),
    ]


FUZZ_BASES = _fuzz_bases()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.integers(0, len(FUZZ_BASES) - 1),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_fuzzed_real_images_give_a_picture_or_image_read_error(base, edits, cut):
    data = bytearray(FUZZ_BASES[base])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        picture = read_image(bytes(data), max_pixels=2**22)
    except ImageReadError:
        return
    assert isinstance(picture, Picture)
    assert picture.pixels.dtype == np.float32 and picture.pixels.ndim in (2, 3)
