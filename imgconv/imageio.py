"""Reading and writing pictures: modes, bit depth, alpha, metadata, atomic writes.

Pixels are exchanged as float32 in [0, 1] (SPEC "Numeric semantics"): 8-bit values
are divided by 255, 16-bit values by 65535, and writing to an integer format uses
:func:`to_integer`, ``clip(rint(v * maxval), 0, maxval)``.  Float sources (Pillow
mode ``F``, float ``.npy``) are passed through as they are and may lie outside [0, 1].

Pillow does the decoding and encoding, with two exceptions where Pillow 13 would
lose bits:

* Reading 16-bit colour (RGB, RGBA, grey+alpha) PNG and TIFF: Pillow unpacks these
  to 8 bits.  Its decoder is run twice on the same data, once with the tile's raw
  mode (which keeps the high byte of each sample) and once with the opposite byte
  order (which keeps the low byte); ``high * 256 + low`` is the exact sample.  All
  the decoding (inflate, PNG filters, interlacing, TIFF compression) stays Pillow's.
* Writing 16-bit colour: Pillow has no 16-bit colour mode, so a short vectorised
  PNG writer (zlib, "Up" filter, iCCP and pHYs chunks) and an uncompressed
  baseline TIFF writer are used.  16-bit grey goes through Pillow (mode ``I;16``).

Limits and choices:

* ``DEFAULT_MAX_PIXELS`` = 2**27 (134 megapixels; a float32 RGBA copy of that is
  2 GiB).  The size is checked right after the header is parsed, before any pixel
  is decoded.  Pillow's own bomb check (``PIL.Image.MAX_IMAGE_PIXELS``) is raised
  to ``max_pixels`` for the duration of a read when that is larger, so the limit
  the caller passes is the one that counts; Pillow refusing first (its error limit
  is twice its warning limit) gives the same message as ours.
* Palette images give RGB, or grey when every palette entry is grey; with
  transparency they gain an alpha channel.
* Mode ``I`` (32-bit integer) is read as 16-bit when every value lies in
  0..65535; otherwise it is refused with :class:`ImageReadError`.
* CMYK, YCbCr, LAB and HSV are converted to RGB by Pillow (no colour
  management); an embedded ICC profile is then dropped, with a note.
* Alpha is dropped when writing JPEG and BMP (Pillow, like most readers, ignores
  the alpha of a 32-bit BMP); GIF transparency is Pillow's (one palette entry).
* EXIF orientation is applied; animated or multi-page files give their first frame
  and a note.
* Default JPEG/WebP quality is 92 (ImageMagick's default).  ``depth="float"`` writes float32 TIFF for grey pictures and
  ``.npy`` for any picture; float colour TIFF is refused (Pillow cannot write it).
* Writes are atomic: a dot-prefixed temporary file in the destination folder is
  written, fsynced and renamed onto the destination.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from imgconv.imageio import read_image, write_image
>>> path = os.path.join(tempfile.mkdtemp(), "ramp.png")
>>> write_image(path, np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), depth=16)
>>> pic = read_image(path)
>>> pic.depth, pic.pixels.shape, pic.has_alpha
(16, (3, 4), False)
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import tokenize
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFile

from imgconv.errors import ImageReadError, ImageWriteError, ImgconvError

DEFAULT_MAX_PIXELS = 2**27
DEFAULT_QUALITY = 92
#: zlib level for PNG output (lossless either way). 1 is OpenCV's default too: on photographs
#: it writes about 3.5x faster than Pillow's default 6 for files about 10% larger, and
#: writing dominates the time of a batch of PNGs.
PNG_COMPRESS_LEVEL = 1

# Output formats by extension, and what each one can store.
_FORMAT_BY_EXTENSION = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".npy": "NPY",
}
_DEPTHS = {"PNG": (8, 16), "TIFF": (8, 16, "float"), "NPY": (8, 16, "float")}
_ICC_FORMATS = {"PNG", "JPEG", "TIFF", "WEBP"}
_DPI_FORMATS = {"PNG", "JPEG", "TIFF", "BMP"}
_NPY_MAGIC = b"\x93NUMPY"

# What Pillow raises on corrupt or unsupported data (fuzzing found no others).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError)

_MULTI_FRAME_KIND = {"GIF": "animated GIF", "PNG": "animated PNG", "WEBP": "animated WebP",
                     "TIFF": "multi-page TIFF"}
# Formats Pillow identifies but cannot decode without outside programs.
_UNDECODABLE = {"EPS", "MPEG"}
_OTHER_BYTE_ORDER = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}


@dataclass
class Picture:
    """A decoded image with the facts about its source needed to write it back.

    Attributes
    ----------
    pixels : numpy.ndarray
        float32, H x W (grey) or H x W x C with C = 2 (grey+alpha), 3 (RGB) or 4 (RGBA);
        alpha, when present, is the last channel.  In [0, 1] except for float sources.
    depth : int
        Bit depth of the source samples: 8, 16, or 32 for float sources.
    has_alpha : bool
        Whether the last channel is alpha.
    format : str or None
        Pillow's format name of the source (``"PNG"``, ``"JPEG"``, ...; ``"NPY"``).
    icc_profile : bytes or None
        Embedded ICC profile, kept on output where the format allows.
    dpi : tuple of float or None
        Resolution in dots per inch, kept on output where the format allows.
    notes : list of str
        Non-fatal remarks for the user (first frame of an animation read, ...).
    path : str or None
        Where the picture was read from (``"-"`` for stdin).

    Examples
    --------
    >>> import numpy as np
    >>> pic = Picture(np.zeros((2, 3), np.float32), depth=8, has_alpha=False)
    >>> np.asarray(pic).shape
    (2, 3)
    """

    pixels: np.ndarray
    depth: int = 8
    has_alpha: bool = False
    format: str | None = None
    icc_profile: bytes | None = None
    dpi: tuple | None = None
    notes: list[str] = field(default_factory=list)
    path: str | None = None

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.pixels, dtype=dtype, copy=True)
        result = np.asarray(self.pixels, dtype=dtype)
        if copy is False and result is not self.pixels:
            raise ValueError("a copy is needed to convert the pixels to this dtype")
        return result


def supported_extensions():
    """Return the lower-case file extensions that :func:`read_image` can read.

    Returns
    -------
    set of str
        Extensions with the leading dot, e.g. ``{".png", ".jpg", ..., ".npy"}``.

    Examples
    --------
    >>> {".png", ".jpg", ".tif", ".npy"} <= supported_extensions()
    True
    """
    Image.init()
    readable = {ext.lower() for ext, fmt in Image.registered_extensions().items()
                if fmt in Image.OPEN and fmt not in _UNDECODABLE
                and not _is_stub(Image.OPEN[fmt][0])}
    return readable | {".npy"}


def _is_stub(factory):
    """Whether a Pillow plugin only identifies files (needs an outside handler)."""
    return isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)


def to_integer(pixels, maxval):
    """Quantise float pixels to integers: ``clip(rint(v * maxval), 0, maxval)``.

    Rounding is half to even (``numpy.rint``).  NaN becomes 0.

    Parameters
    ----------
    pixels : array_like
        Float values, nominally in [0, 1].
    maxval : int
        Full-scale integer value, e.g. 255 or 65535.

    Returns
    -------
    numpy.ndarray
        uint8 when ``maxval <= 255``, uint16 when ``<= 65535``, else uint32.

    Examples
    --------
    >>> to_integer([0.0, 0.5, 1.2, -1.0], 255)
    array([  0, 128, 255,   0], dtype=uint8)
    """
    values = np.asarray(pixels)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    scaled = np.multiply(values, maxval)  # one new array, then everything in place
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, maxval, out=scaled)
    scaled[np.isnan(scaled)] = 0  # (infinities were clipped already)
    dtype = np.uint8 if maxval <= 255 else np.uint16 if maxval <= 65535 else np.uint32
    return scaled.astype(dtype)


# --------------------------------------------------------------------------- reading


def probe_shape(path):
    """The ``pixels`` shape :func:`read_image` would give, from the header alone (no decoding).

    Alpha is not counted: ``(H, W)`` for grey, ``(H, W, 3)`` for colour.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "p.png")
    >>> write_image(path, np.zeros((3, 5, 4), np.float32))
    >>> probe_shape(path)
    (3, 5, 3)
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
            grey = im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;16")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image header ({exc})", path) from None
    return (height, width) if grey else (height, width, 3)


def read_image(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image into a :class:`Picture` of float32 pixels.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file object
        A path, ``"-"`` for standard input, the encoded bytes, or an open binary file.
    max_pixels : int, optional
        Largest accepted width * height, checked before decoding (decompression bombs).

    Returns
    -------
    Picture
        Pixels as float32 (see the module notes for modes and depths).

    Raises
    ------
    ImageReadError
        Missing, empty, truncated, corrupt, unsupported or too large input.

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image, ImageFile
    >>> buf = io.BytesIO(); Image.new("L", (2, 1), 51).save(buf, "PNG")
    >>> read_image(buf.getvalue()).pixels
    array([[0.2, 0.2]], dtype=float32)
    """
    label, fp = _open_source(source)
    with fp:
        head = fp.read(len(_NPY_MAGIC))
        if not head:
            raise ImageReadError("empty file (0 bytes)", label)
        fp.seek(0)
        if head == _NPY_MAGIC:
            return _read_npy(fp, label, max_pixels)
        return _read_with_pillow(fp, label, max_pixels)


def _open_source(source):
    """Return ``(label, seekable binary file)`` for any accepted source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, io.BytesIO(bytes(source))
    if isinstance(source, str) and source == "-":
        return "-", io.BytesIO(sys.stdin.buffer.read())
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes):
            raise ImageReadError("the file object must be opened in binary mode",
                                 getattr(source, "name", None))
        return getattr(source, "name", None), io.BytesIO(data)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageReadError(f"cannot read an image from a {type(source).__name__}")
    path = os.fspath(source)
    if os.path.isdir(path):
        raise ImageReadError("is a directory, not an image file", path)
    try:
        return path, open(path, "rb")
    except FileNotFoundError:
        raise ImageReadError("no such file", path) from None
    except PermissionError:
        raise ImageReadError("permission denied", path) from None
    except OSError as exc:
        raise ImageReadError(f"cannot open: {exc.strerror or exc}", path) from None


def _check_size(width, height, max_pixels, label):
    if width * height > max_pixels:
        raise ImageReadError(
            f"image too large: {width} x {height} = {width * height} pixels exceeds "
            f"the limit of {max_pixels} (possible decompression bomb)", label)


def _read_npy(fp, label, max_pixels):
    try:
        version = np.lib.format.read_magic(fp)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(fp)
        if dtype.hasobject:
            raise ImageReadError(".npy files holding Python objects are refused", label)
        if len(shape) not in (2, 3) or (len(shape) == 3 and not 1 <= shape[2] <= 4):
            raise ImageReadError(
                f".npy array of shape {shape} is not an image (H x W or H x W x C, C <= 4)",
                label)
        _check_size(shape[1], shape[0], max_pixels, label)
        fp.seek(0)
        array = np.load(fp, allow_pickle=False)
    except ImgconvError:
        raise
    except (*_DECODE_ERRORS, tokenize.TokenError) as exc:  # numpy tokenizes the header
        raise ImageReadError(f"cannot read .npy: {exc}", label) from None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == np.bool_:
        pixels, depth = array.astype(np.float32), 8
    elif array.dtype == np.uint8:
        pixels, depth = array.astype(np.float32) / np.float32(255), 8
    elif array.dtype == np.uint16:
        pixels, depth = array.astype(np.float32) / np.float32(65535), 16
    elif np.issubdtype(array.dtype, np.floating):
        pixels, depth = array.astype(np.float32), 32
    else:
        raise ImageReadError(f".npy dtype {array.dtype} is not supported "
                             "(use uint8, uint16 or float)", label)
    return Picture(np.ascontiguousarray(pixels), depth=depth,
                   has_alpha=pixels.ndim == 3 and pixels.shape[2] in (2, 4),
                   format="NPY", path=label)


@contextlib.contextmanager
def _pillow_pixel_limit(max_pixels):
    """Raise Pillow's global bomb limit to ``max_pixels`` while reading, if it is lower.

    Pillow's check (in ``Image.open`` and when seeking frames) would otherwise refuse
    pictures the caller allowed. Concurrent reads (threads of a Dask worker) share
    one raised limit, the largest asked for; each read still enforces its own
    ``max_pixels`` (``_check_size``). The last read to finish restores Pillow's value.
    """
    with _LIMIT_LOCK:
        if _LIMIT_STATE["readers"] == 0:
            _LIMIT_STATE["saved"] = Image.MAX_IMAGE_PIXELS
        _LIMIT_STATE["readers"] += 1
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and max_pixels > current:
            Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_STATE["readers"] -= 1
            if _LIMIT_STATE["readers"] == 0:
                Image.MAX_IMAGE_PIXELS = _LIMIT_STATE["saved"]


_LIMIT_LOCK = threading.Lock()
_LIMIT_STATE = {"readers": 0, "saved": None}


_PILLOW_BOMB_SIZE = re.compile(r"Image size \((\d+) pixels\)")


def _read_with_pillow(fp, label, max_pixels):
    try:
        with warnings.catch_warnings(record=True) as caught, _pillow_pixel_limit(max_pixels):
            warnings.simplefilter("always")
            with Image.open(fp) as im:
                _check_size(*im.size, max_pixels, label)
                picture = _decode(im, fp, label)
        # Pillow's remarks (corrupt EXIF, ...) become notes; our own size limit,
        # checked above before decoding, replaces its DecompressionBombWarning.
        picture.notes.extend(dict.fromkeys(
            str(w.message) for w in caught
            if not issubclass(w.category, Image.DecompressionBombWarning)))
        return picture
    except ImgconvError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refused in Image.open, before our check could run: same message as ours
        size = _PILLOW_BOMB_SIZE.search(str(exc))
        claimed = f"{size.group(1)} pixels" if size else "its size"
        raise ImageReadError(f"image too large: {claimed} exceeds the limit of {max_pixels} "
                             "(possible decompression bomb)", label) from None
    except Image.UnidentifiedImageError:
        raise ImageReadError("not a recognised image format", label) from None
    except MemoryError:
        raise ImageReadError("not enough memory to decode the image", label) from None
    except _DECODE_ERRORS as exc:
        raise ImageReadError(f"cannot decode image: {exc}", label) from None


def _decode(im, fp, label):
    """Decode the first frame of an opened Pillow image into a Picture."""
    notes = []
    source_format = im.format
    icc = im.info.get("icc_profile") or None
    pixels, depth = _decode_16bit_colour(im, fp)
    if pixels is None:
        im.load()
        pixels, depth, converted = _pixels_from_mode(im, label)
        if converted and icc:
            notes.append(f"{converted} converted to RGB without colour management; "
                         "its ICC profile was dropped")
            icc = None
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        kind = _MULTI_FRAME_KIND.get(source_format, f"multi-frame {source_format}")
        unit = "pages" if source_format == "TIFF" else "frames"
        notes.append(f"{kind}: only the first of {frames} {unit} was read")
    pixels = _apply_orientation(pixels, im.getexif().get(0x0112, 1))
    dpi = im.info.get("dpi")
    dpi = tuple(float(v) for v in dpi) if dpi and all(v > 0 for v in dpi) else None
    return Picture(np.ascontiguousarray(pixels), depth=depth,
                   has_alpha=pixels.ndim == 3 and pixels.shape[2] in (2, 4),
                   format=source_format, icc_profile=icc, dpi=dpi, notes=notes, path=label)


def _tile_rawmode(tile):
    return tile.args if isinstance(tile.args, str) else tile.args[0]


def _decode_16bit_colour(im, fp):
    """Exact 16-bit colour samples (Pillow truncates them), or ``(None, None)``.

    RGB and RGBA: Pillow's decoder runs twice, with the tile's raw mode, which keeps
    each sample's high byte, then with the opposite byte order, which keeps the low
    byte.  Grey+alpha (PNG ``LA;16B``, 4 bytes a pixel): one run with raw mode
    ``RGBA`` hands over the four bytes untouched.
    """
    if im.mode not in ("RGB", "RGBA") or not im.tile:
        return None, None
    rawmode = _tile_rawmode(im.tile[0])
    base, _, bits = rawmode.partition(";")
    if rawmode == "LA;16B":
        im.tile = [_with_rawmode(tile, "RGBA") for tile in im.tile]
        im.load()
        raw = np.asarray(im, dtype=np.uint16)
        samples = raw[:, :, 0::2] * np.uint16(256) + raw[:, :, 1::2]
        return samples.astype(np.float32) / np.float32(65535), 16
    if base not in ("RGB", "RGBA", "RGBX") or bits not in ("16B", "16L", "16N"):
        return None, None
    transparency = im.info.get("transparency")
    im.load()
    high = np.asarray(im, dtype=np.uint16)
    fp.seek(0)
    with Image.open(fp) as low_im:
        low_im.tile = [
            _with_rawmode(tile, _tile_rawmode(tile)[:-1] + _OTHER_BYTE_ORDER[bits[-1]])
            for tile in low_im.tile]
        low_im.load()
        low = np.asarray(low_im, dtype=np.uint16)
    samples = high * np.uint16(256) + low
    if base == "RGB" and isinstance(transparency, tuple) and len(transparency) == 3:
        alpha = np.where(np.all(samples == np.array(transparency, np.uint16), axis=2), 0, 65535)
        samples = np.dstack([samples, alpha.astype(np.uint16)])
    return samples.astype(np.float32) / np.float32(65535), 16


def _with_rawmode(tile, rawmode):
    args = rawmode if isinstance(tile.args, str) else (rawmode, *tile.args[1:])
    return tile._replace(args=args)


def _pixels_from_mode(im, label):
    """Return ``(pixels, depth, converted_from)`` for a loaded Pillow image."""
    mode = im.mode
    transparency = im.info.get("transparency") is not None
    converted = None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        samples = np.asarray(im).astype(np.uint16)
        value = im.info.get("transparency")
        if isinstance(value, int):
            samples = np.dstack([samples, np.where(samples == value, 0, 65535).astype(np.uint16)])
        return samples.astype(np.float32) / np.float32(65535), 16, None
    if mode == "I":
        samples = np.asarray(im)
        low, high = (int(samples.min()), int(samples.max())) if samples.size else (0, 0)
        if low < 0 or high > 65535:
            raise ImageReadError(f"32-bit integer pixels ({low}..{high}) outside 0..65535 "
                                 "are not supported", label)
        return samples.astype(np.float32) / np.float32(65535), 16, None
    if mode == "F":
        return np.asarray(im, dtype=np.float32).copy(), 32, None
    if mode == "1":
        target = "L"
    elif mode in ("L", "LA", "RGB", "RGBA"):
        target = {"L": "LA", "RGB": "RGBA"}.get(mode, mode) if transparency else mode
    elif mode == "La":
        target = "LA"
    elif mode in ("P", "PA"):
        palette = np.asarray(im.getpalette() or [0, 0, 0]).reshape(-1, 3)
        grey = bool(np.all(palette == palette[:, :1]))  # a grey palette gives grey pixels
        alpha = mode == "PA" or transparency
        target = ("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")
    elif mode in ("RGBa", "RGBX"):
        target = "RGBA" if mode == "RGBa" else "RGB"
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        target, converted = "RGB", mode
    else:
        raise ImageReadError(f"unsupported image mode {mode!r}", label)
    if target != mode:
        im = im.convert(target)
    samples = np.asarray(im, dtype=np.uint8)
    return samples.astype(np.float32) / np.float32(255), 8, converted


def _apply_orientation(pixels, orientation):
    """Rotate/flip as EXIF orientation 1..8 asks (same result as ``ImageOps.exif_transpose``)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, -1)
    if orientation == 7:
        return pixels.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(pixels, 1)
    return pixels


# --------------------------------------------------------------------------- writing


def write_image(dest, array, *, depth=None, like=None, quality=None, format=None):
    """Write pixels to an image file atomically (or to standard output).

    Parameters
    ----------
    dest : str, os.PathLike or binary file object
        Output path; ``"-"`` (or a file object) writes to standard output (that file).
    array : array_like or Picture
        float pixels in [0, 1], H x W or H x W x C with C in 1..4 (2 and 4 carry alpha
        last); uint8 and uint16 arrays are scaled by 255 and 65535.  A Picture also
        serves as ``like`` when ``like`` is not given.
    depth : {8, 16, "float"}, optional
        Sample depth.  Default: the depth of ``like`` (or 16 for a uint16 array) when
        the format can hold it (a float source falls back to 16, then 8), else 8.
    like : Picture, optional
        Source picture whose ICC profile and DPI are kept and whose depth is the default.
    quality : int, optional
        JPEG/WebP quality 1..100 (default 92); ignored by other formats.
    format : str, optional
        Output format (``"png"``, ``".tif"``, ``"JPEG"``, ...); default from the
        extension of ``dest``, or ``like.format`` when writing to a stream.

    Raises
    ------
    ImageWriteError
        Unknown format, depth the format cannot hold, bad array, or an OS error.
        No partial output is ever left at ``dest``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> write_image(path, np.full((2, 2), 0.5))
    >>> read_image(path).pixels[0, 0] * 255
    np.float32(128.0)
    """
    if isinstance(array, Picture):
        like = like if like is not None else array
        array = array.pixels
    to_stream = hasattr(dest, "write") or (isinstance(dest, str) and dest == "-")
    label = "-" if isinstance(dest, str) else getattr(dest, "name", None)
    if not to_stream:
        if not isinstance(dest, (str, os.PathLike)):
            raise ImageWriteError(f"cannot write an image to a {type(dest).__name__}")
        label = os.fspath(dest)
    fmt = _output_format(dest, format, like, to_stream, label)
    if like is not None:
        source_depth = like.depth
    else:
        source_depth = 16 if np.asarray(array).dtype == np.uint16 else 8
    pixels = _as_float_pixels(array, label)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    depth = _resolve_depth(fmt, depth, source_depth, channels, label)
    if quality is not None and not (isinstance(quality, (int, np.integer)) and 1 <= quality <= 100):
        raise ImageWriteError(f"quality must be an integer in 1..100, not {quality!r}", label)
    icc = like.icc_profile if like is not None else None
    dpi = like.dpi if like is not None else None

    def encode(fp):
        _encode(fp, fmt, pixels, depth, icc, dpi, quality or DEFAULT_QUALITY, label)

    if to_stream:
        buffer = io.BytesIO()
        _guard(encode, buffer, label)
        stream = sys.stdout.buffer if isinstance(dest, str) else dest
        try:
            stream.write(buffer.getvalue())
            stream.flush()
        except OSError as exc:
            raise ImageWriteError(f"cannot write output: {exc.strerror or exc}", label) from None
    else:
        _write_atomic(label, encode)


def _output_format(dest, format, like, to_stream, label):
    if format is not None:
        key = str(format).lower().lstrip(".")
        by_name = {v.lower(): v for v in _FORMAT_BY_EXTENSION.values()}
        fmt = by_name.get(key) or _FORMAT_BY_EXTENSION.get("." + key)
        if fmt is None:
            raise ImageWriteError(f"unsupported output format {format!r} "
                                  f"(use one of {_extension_list()})", label)
        return fmt
    if to_stream:
        source_format = {"MPO": "JPEG"}.get(like.format) if like is not None else None
        source_format = source_format or (like.format if like is not None else None)
        if source_format in set(_FORMAT_BY_EXTENSION.values()):
            return source_format
        raise ImageWriteError("an output format is needed to write to a stream "
                              "(give format=, e.g. 'png')", label)
    extension = os.path.splitext(label)[1].lower()
    fmt = _FORMAT_BY_EXTENSION.get(extension)
    if fmt is None:
        raise ImageWriteError(f"unsupported output extension {extension or '(none)'!r} "
                              f"(use one of {_extension_list()})", label)
    return fmt


def _extension_list():
    return " ".join(sorted(_FORMAT_BY_EXTENSION))


def _as_float_pixels(array, label):
    values = np.asarray(array)
    if values.dtype == np.uint8:
        values = values.astype(np.float32) / np.float32(255)
    elif values.dtype == np.uint16:
        values = values.astype(np.float32) / np.float32(65535)
    elif values.dtype == np.bool_:
        values = values.astype(np.float32)
    elif not np.issubdtype(values.dtype, np.floating):
        raise ImageWriteError(f"pixels must be float, uint8 or uint16, not {values.dtype}", label)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] > 4) or 0 in values.shape:
        raise ImageWriteError(f"pixels of shape {values.shape} are not an image "
                              "(H x W or H x W x C with C in 1..4)", label)
    return values


def _depth_allowed(fmt, depth, channels):
    if depth not in _DEPTHS.get(fmt, (8,)):
        return False
    if fmt == "TIFF" and depth == "float":
        return channels == 1  # Pillow writes float TIFF for grey only
    if fmt == "TIFF" and depth == 16:
        return channels != 2  # Pillow cannot read 16-bit grey+alpha TIFF back
    return True


def _resolve_depth(fmt, depth, source_depth, channels, label):
    if depth is None:  # keep the source's precision as far as the format allows
        candidates = {16: (16, 8), 32: ("float", 16, 8)}.get(source_depth, (8,))
        return next(c for c in candidates if _depth_allowed(fmt, c, channels))
    normalised = {"8": 8, "16": 16, "32": "float", 32: "float", "float": "float"}.get(depth, depth)
    if normalised not in (8, 16, "float"):
        raise ImageWriteError(f"depth must be 8, 16 or 'float', not {depth!r}", label)
    if not _depth_allowed(fmt, normalised, channels):
        what = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}[channels]
        hint = " (use .npy)" if normalised == "float" else " (use .png or .tif)"
        raise ImageWriteError(f"{fmt} cannot store {what} at depth {normalised}{hint}", label)
    return normalised


def _icc_fits(icc, channels):
    """Whether an ICC profile's colour space matches grey (1-2) or RGB (3-4) channels."""
    space = icc[16:20] if icc and len(icc) >= 20 else b""
    return space == (b"GRAY" if channels <= 2 else b"RGB ")


def _encode(fp, fmt, pixels, depth, icc, dpi, quality, label):
    """Encode ``pixels`` (validated float array) into the open binary file ``fp``."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if fmt == "NPY":
        data = pixels.astype(np.float32) if depth == "float" else to_integer(
            pixels, 255 if depth == 8 else 65535)
        np.save(fp, np.ascontiguousarray(data), allow_pickle=False)
        return
    if fmt in ("JPEG", "BMP") and channels in (2, 4):  # no alpha (BMP readers ignore it)
        pixels = pixels[:, :, 0] if channels == 2 else pixels[:, :, :3]
        channels -= 1
    if fmt == "GIF" and channels == 2:  # no grey+alpha: expand to RGBA
        pixels = pixels[:, :, [0, 0, 0, 1]]
        channels = 4
    icc = icc if fmt in _ICC_FORMATS and _icc_fits(icc, channels) else None
    dpi = dpi if fmt in _DPI_FORMATS else None
    if depth == 16 and channels > 1:
        samples = to_integer(pixels, 65535)
        if fmt == "PNG":
            fp.write(_png16_bytes(samples, icc, dpi))
        else:
            fp.write(_tiff16_bytes(samples, icc, dpi))
        return
    if depth == "float":
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32))
    elif depth == 16:
        image = Image.fromarray(to_integer(pixels, 65535))
    else:
        image = Image.fromarray(to_integer(pixels, 255))
    options = {}
    if icc:
        options["icc_profile"] = icc
    if dpi:
        options["dpi"] = tuple(float(v) for v in dpi)
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    if fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
    image.save(fp, format=fmt, **options)


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png16_bytes(samples, icc=None, dpi=None):
    """Encode uint16 H x W x C samples (C = 2, 3, 4) as a 16-bit PNG.

    Every row uses the "Up" filter (difference from the byte above, modulo 256;
    on photographs it compressed best of None, Sub and Up), computed at once.
    """
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    parts = [b"\x89PNG\r\n\x1a\n",
             _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))]
    if icc:
        parts.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if dpi:
        per_metre = [int(float(v) / 0.0254 + 0.5) for v in dpi]
        parts.append(_png_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    parts.append(_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), PNG_COMPRESS_LEVEL)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _tiff16_bytes(samples, icc=None, dpi=None):
    """Encode uint16 H x W x C samples (C = 3 or 4, alpha unassociated) as a baseline
    little-endian, uncompressed, single-strip TIFF."""
    height, width, channels = samples.shape
    pixel_data = np.ascontiguousarray(samples, dtype="<u2").tobytes()
    entries = []  # (tag, type, values); types: 3 SHORT, 4 LONG, 5 RATIONAL, 7 UNDEFINED

    def add(tag, kind, values):
        entries.append((tag, kind, values))

    add(256, 4, [width])
    add(257, 4, [height])
    add(258, 3, [16] * channels)
    add(259, 3, [1])
    add(262, 3, [2])
    add(273, 4, [0])  # strip offset, patched below
    add(277, 3, [channels])
    add(278, 4, [height])
    add(279, 4, [len(pixel_data)])
    if dpi:
        add(282, 5, [_rational(dpi[0])])
        add(283, 5, [_rational(dpi[1])])
    add(284, 3, [1])
    if dpi:
        add(296, 3, [2])
    if channels == 4:
        add(338, 3, [2])
    add(339, 3, [1] * channels)
    if icc:
        add(34675, 7, icc)
    ifd_size = 2 + 12 * len(entries) + 4
    extra_offset = 8 + ifd_size
    extra = bytearray()
    encoded = []
    for tag, kind, values in entries:
        if kind == 7:
            payload = bytes(values)
        elif kind == 5:
            payload = b"".join(struct.pack("<II", *v) for v in values)
        else:
            payload = struct.pack("<" + ("H" if kind == 3 else "I") * len(values), *values)
        count = len(values)
        if len(payload) <= 4:
            encoded.append([tag, kind, count, payload.ljust(4, b"\x00"), None])
        else:
            if len(extra) % 2:
                extra += b"\x00"
            encoded.append([tag, kind, count, None, extra_offset + len(extra)])
            extra += payload
    data_offset = extra_offset + len(extra)
    data_offset += data_offset % 2
    ifd = bytearray(struct.pack("<H", len(encoded)))
    for tag, kind, count, inline, offset in encoded:
        if tag == 273:
            inline = struct.pack("<I", data_offset)
        value = inline if inline is not None else struct.pack("<I", offset)
        ifd += struct.pack("<HHI", tag, kind, count) + value
    ifd += struct.pack("<I", 0)
    header = b"II*\x00" + struct.pack("<I", 8)
    body = header + bytes(ifd) + bytes(extra)
    return body.ljust(data_offset, b"\x00") + pixel_data


def _rational(value):
    value = float(value)
    return (int(round(value * 1000)), 1000) if value != int(value) else (int(value), 1)


# --------------------------------------------------------------------------- atomic writes


def _guard(encode, fp, label):
    """Run ``encode(fp)``, turning encoder failures into ImageWriteError."""
    try:
        encode(fp)
    except ImgconvError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ImageWriteError(f"cannot write image: {reason}", label) from None


@functools.cache
def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask can only be read by setting it, a race in threads


def _umask():
    return _UMASK


def _write_atomic(path, encode):
    """Write through a temporary file in the same folder, fsync, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ImageWriteError("is a directory", path)
    try:
        existing = os.stat(path).st_mode
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing):
        # the rename would replace a device, pipe or socket (e.g. /dev/null) by a file
        raise ImageWriteError("exists and is not a regular file (a device, pipe or socket); "
                              "write to standard output with '-' instead", path)
    if not os.path.isdir(folder):
        raise ImageWriteError(f"folder {folder} does not exist", path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                                             suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ImageWriteError(f"cannot create a file in {folder}: {exc.strerror or exc}",
                              path) from None
    try:
        with os.fdopen(handle, "wb") as fp:
            _guard(encode, fp, path)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ImageWriteError(f"cannot write image: {exc.strerror or exc}", path) from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
