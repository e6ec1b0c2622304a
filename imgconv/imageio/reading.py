"""Reading images: sources, then decoding through Pillow (or tifffile, or ``.npy``).

:func:`read_image` accepts a path, ``"-"`` (standard input), encoded bytes or a binary
file object, and gives a :class:`~imgconv.imageio.Picture`; the size is checked from
the header first (:mod:`~imgconv.imageio.limits`).

* Palette images give RGB, or grey when every palette entry is grey; with
  transparency they gain an alpha channel.
* 32-bit integer samples are read as 16-bit when every value lies in 0..65535;
  otherwise they are refused with :class:`~imgconv.errors.ImageReadError`.
* CMYK, YCbCr, LAB and HSV are converted to RGB by Pillow (no colour management);
  an embedded ICC profile is then dropped, with a note.
* EXIF orientation is applied; animated or multi-page files give their first frame
  and a note; Pillow's warnings (corrupt EXIF, ...) become notes.

Examples
--------
>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO(); Image.new("LA", (3, 1), (51, 255)).save(buffer, "PNG")
>>> picture = read_image(buffer.getvalue())
>>> picture.pixels.shape, picture.depth, picture.has_alpha, picture.format
((1, 3, 2), 8, True, 'PNG')
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageFile, ImageOps

from imgconv.errors import ImageReadError, ImgconvError
from imgconv.imageio import tiff
from imgconv.imageio.limits import DEFAULT_MAX_PIXELS, PILLOW_LIMIT, check_size, pillow_refusal
from imgconv.imageio.npy import MAGIC as NPY_MAGIC
from imgconv.imageio.npy import read_npy
from imgconv.imageio.picture import Picture, decoded_picture, native_samples, pixels_from_samples
from imgconv.imageio.pillow16 import decode_16bit_colour
from imgconv.imageio.sources import open_source

# What Pillow raises on corrupt or unsupported data (fuzzing found no others).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError)

_MULTI_FRAME_KIND = {"GIF": "animated GIF", "PNG": "animated PNG", "WEBP": "animated WebP",
                     "TIFF": "multi-page TIFF"}
# Formats Pillow identifies but cannot decode without outside programs.
_UNDECODABLE = {"EPS", "MPEG"}


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


def read_image(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image into a :class:`~imgconv.imageio.Picture` of float32 pixels.

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
    picture = read_samples(source, max_pixels=max_pixels)
    picture.pixels = pixels_from_samples(picture.pixels, picture.path)[0]
    return picture


def read_samples(source, *, max_pixels=DEFAULT_MAX_PIXELS, mmap=False):
    """:func:`read_image` without the conversion to float: the Picture's ``pixels`` are the
    decoded samples (bool, uint8, uint16 or float; oriented), its ``depth`` theirs.

    :func:`~imgconv.imageio.picture.pixels_from_samples` of any rows of them gives those rows
    of :func:`read_image`'s pixels, so a strip pipeline keeps one integer copy, not a float one.
    With ``mmap``, a ``.npy`` file (a path) is memory-mapped instead: its samples as stored
    (any byte order; bool, uint8, uint16 or float), read as they are used.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (2, 1), 51).save(buf, "PNG")
    >>> read_samples(buf.getvalue()).pixels
    array([[51, 51]], dtype=uint8)
    """
    mapped = mmap and isinstance(source, (str, os.PathLike)) and os.path.isfile(source)  # not a pipe

    def npy(fp, label, max_pixels):
        return _read_npy(fp, label, max_pixels, mmap=mapped)

    return read_by_kind(source, max_pixels, npy=npy, tiff=_read_tiff, other=_read_with_pillow)


def read_by_kind(source, max_pixels, *, npy, tiff, other):
    """Open ``source`` and call the reader for what its first bytes say, as ``reader(fp, label,
    max_pixels)``: ``npy``, else ``tiff`` (None from it means not for it), else ``other``."""
    label, fp = open_source(source, max_pixels)
    with fp:
        kind = sniff(fp, label)
        if kind == "npy":
            return npy(fp, label, max_pixels)
        if kind == "tiff":
            result = tiff(fp, label, max_pixels)
            if result is not None:
                return result
        fp.seek(0)
        return other(fp, label, max_pixels)


def sniff(fp, label):
    """``"npy"``, ``"tiff"`` or None (a format for Pillow) from the first bytes of ``fp``, which is
    left at its start; an empty file is refused."""
    head = fp.read(len(NPY_MAGIC))
    if not head:
        raise ImageReadError("empty file (0 bytes)", label)
    fp.seek(0)
    if head == NPY_MAGIC:
        return "npy"
    return "tiff" if head[:4] in tiff.SIGNATURES else None


def _read_npy(fp, label, max_pixels, mmap=False):
    def check(shape, dtype):
        if len(shape) not in (2, 3) or (len(shape) == 3 and not 1 <= shape[2] <= 4):
            raise ImageReadError(
                f".npy array of shape {shape} is not an image (H x W or H x W x C, C <= 4)",
                label)
        check_size(shape[1], shape[0], max_pixels, label)
        native = dtype.newbyteorder("=")  # either byte order (pixels_from_samples converts)
        if native not in (np.bool_, np.uint8, np.uint16) and not np.issubdtype(native, np.floating):
            raise ImageReadError(f".npy dtype {dtype} is not supported "
                                 "(use uint8, uint16 or float)", label)

    array = read_npy(label if mmap else fp, label=label, check=check, mmap=mmap)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if mmap:  # kept as stored, converted row by row (native_samples of no rows tells the depth)
        depth = native_samples(array[:0], label)[1]
        return Picture(array, depth, has_alpha=array.ndim == 3 and array.shape[2] in (2, 4), format="NPY",
                       path=label)
    samples, depth = native_samples(array, label)
    return decoded_picture(samples, depth, format="NPY", path=label)


def _read_tiff(fp, label, max_pixels):
    """A Picture of a plain TIFF's first page decoded by tifffile, or None (Pillow's turn)."""
    page = tiff.read_tiff(fp, lambda width, height: check_size(width, height, max_pixels, label))
    if page is None:
        return None
    samples, depth = native_samples(page.samples, label)
    return decoded_picture(orient(samples, page.orientation), depth, format="TIFF",
                           icc_profile=page.icc_profile, dpi=positive_dpi(page.dpi),
                           notes=frames_note("TIFF", page.pages), path=label)


def _read_with_pillow(fp, label, max_pixels):
    try:
        with warnings.catch_warnings(record=True) as caught, PILLOW_LIMIT.at_least(max_pixels):
            warnings.simplefilter("always")
            with Image.open(fp) as im:
                check_size(*im.size, max_pixels, label)
                picture = _decode(im, fp, label)
        # Pillow's remarks (corrupt EXIF, ...) become notes; our own size limit,
        # checked above before decoding, replaces its DecompressionBombWarning.
        picture.notes.extend(dict.fromkeys(
            str(w.message) for w in caught
            if not issubclass(w.category, Image.DecompressionBombWarning)))
        return picture
    except Exception as exc:  # noqa: BLE001 -- mapped to one message, or raised again
        raise decoding_failure(exc, label, max_pixels, "image") from None


def decoding_failure(exc, label, max_pixels, what):
    """The exception to raise for ``exc`` from Pillow decoding ``what`` ("image", "frame") of
    ``label``: an ImageReadError with one clear message, or ``exc`` itself (our own errors, bugs)."""
    if isinstance(exc, ImgconvError):
        return exc
    if isinstance(exc, Image.DecompressionBombError):
        # Pillow refused in Image.open, before our check could run: same message as ours
        return pillow_refusal(exc, max_pixels, label)
    if isinstance(exc, Image.UnidentifiedImageError):
        return ImageReadError("not a recognised image format", label)
    if isinstance(exc, MemoryError):
        return ImageReadError(f"not enough memory to decode the {what}", label)
    if isinstance(exc, _DECODE_ERRORS):
        return ImageReadError(f"cannot decode {what}: {exc}", label)
    return exc


def _decode(im, fp, label):
    """Decode the first frame of an opened Pillow image into a Picture."""
    notes = []
    source_format = im.format
    icc = im.info.get("icc_profile") or None
    samples = decode_16bit_colour(im, fp)
    if samples is not None:
        samples, depth = native_samples(samples, label)
        samples = orient(samples, im.getexif().get(0x0112, 1))
    else:
        if source_format == "TIFF":  # tifffile declined it: would Pillow get it wrong?
            refusal, note = tiff.pillow_shortfall(im)
            if refusal:
                raise ImageReadError(refusal, label)
            notes += [note] if note else []
        ImageOps.exif_transpose(im, in_place=True)  # loads the image
        samples, depth, converted = _samples_from_mode(im, label)
        if converted and icc:
            notes.append(f"{converted} converted to RGB without colour management; "
                         "its ICC profile was dropped")
            icc = None
    notes += frames_note(source_format, getattr(im, "n_frames", 1))
    return decoded_picture(samples, depth, format=source_format, icc_profile=icc,
                           dpi=positive_dpi(im.info.get("dpi")), notes=notes, path=label)


def frames_note(source_format, frames):
    if frames <= 1:
        return []
    kind = _MULTI_FRAME_KIND.get(source_format, f"multi-frame {source_format}")
    unit = "pages" if source_format == "TIFF" else "frames"
    return [f"{kind}: only the first of {frames} {unit} was read"]


def positive_dpi(dpi):
    """``dpi`` as floats when both values are positive, else None."""
    return tuple(float(v) for v in dpi) if dpi and all(v > 0 for v in dpi) else None


def _pixels_from_mode(im, label):
    """Return ``(float32 pixels, depth, converted_from)`` for a loaded Pillow image."""
    samples, depth, converted = _samples_from_mode(im, label)
    return pixels_from_samples(samples, label)[0], depth, converted


def _samples_from_mode(im, label):
    """Return ``(samples, depth, converted_from)`` for a loaded Pillow image (see :func:`read_samples`)."""
    mode = im.mode
    transparency = im.info.get("transparency") is not None
    converted = None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        samples = np.asarray(im).astype(np.uint16)
        value = im.info.get("transparency")
        if isinstance(value, int):
            samples = np.dstack([samples, np.where(samples == value, 0, 65535).astype(np.uint16)])
        return samples, 16, None
    if mode in ("I", "F"):
        return *native_samples(np.asarray(im), label), None
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
    return np.asarray(im, dtype=np.uint8), 8, converted


def orient(pixels, orientation):
    """Rotate/flip an array as EXIF orientation 1..8 asks, as ``ImageOps.exif_transpose`` would.

    For pixels that have no Pillow image (16-bit colour, TIFFs decoded by tifffile).

    Examples
    --------
    >>> import numpy as np
    >>> orient(np.array([[1, 2], [3, 4]]), 6)  # rotate 90 degrees clockwise
    array([[3, 1],
           [4, 2]])
    """
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
