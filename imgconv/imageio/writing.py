"""Writing images: output format and depth, encoding, atomic replacement or a stream.

:func:`write_image` takes float pixels (or uint8/uint16 samples, or a Picture) and
writes them by the destination's extension.  Integer formats get
:func:`~imgconv.imageio.to_integer` samples.

* Depth: the source's precision is kept as far as the format allows (16-bit PNG and
  TIFF, float32 TIFF for grey, float ``.npy``), else 8 bits.  Float colour TIFF and
  16-bit grey+alpha TIFF are refused: Pillow, and many viewers, cannot open them.
* Pillow encodes, except 16-bit colour PNG (:mod:`~imgconv.imageio.png16`: Pillow has
  no 16-bit colour mode), TIFF (tifffile) and ``.npy`` (NumPy).
* Alpha is dropped when writing JPEG and BMP (Pillow, like most readers, ignores
  the alpha of a 32-bit BMP); GIF transparency is Pillow's (one palette entry).
* Default JPEG/WebP quality is 92 (ImageMagick's default).
* ICC profiles and DPI of ``like`` are kept where the format stores them (an RGB
  profile is not put on a grey output, nor the reverse); a resolution or profile the
  format cannot hold is dropped with a note, and an image larger than the format holds
  is refused before encoding (:mod:`~imgconv.imageio.capacity`).
* Files are written atomically (:mod:`~imgconv.imageio.atomic`); with
  ``overwrite=False`` an existing file is never replaced, even one created meanwhile.

Examples
--------
>>> import io, numpy as np
>>> buffer = io.BytesIO()
>>> write_image(buffer, np.full((2, 3, 3), 0.5), format="tif", depth=16)
>>> from imgconv.imageio import read_image
>>> picture = read_image(buffer.getvalue())
>>> picture.format, picture.depth, float(picture.pixels[0, 0, 0] * 65535)
('TIFF', 16, 32768.0)
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from imgconv.errors import ImageWriteError
from imgconv.imageio.capacity import check_size, storable_metadata
from imgconv.imageio.picture import Picture, scale_integers, to_integer
from imgconv.imageio.png16 import PNG_COMPRESS_LEVEL, png16_bytes
from imgconv.imageio.tiff import write_tiff

DEFAULT_QUALITY = 92

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


def write_image(dest, array, *, depth=None, like=None, quality=None, format=None, overwrite=True, notes=None):
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
    overwrite : bool
        Replace an existing file at ``dest`` (atomically). False: an existing file, even
        one created by another process while this one was encoding, is left as it is and
        ImageWriteError ("output exists") is raised.
    notes : list, optional
        Receives a note (str) for each piece of metadata the format cannot store (dropped).

    Raises
    ------
    ImageWriteError
        Unknown format, depth the format cannot hold, an image larger than the format
        holds, bad array, an existing file with ``overwrite=False``, or an OS error.
        No partial output is ever left at ``dest``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from imgconv.imageio import read_image
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
    fmt = _output_format(format, like, to_stream, label)
    if like is not None:
        source_depth = like.depth
    else:
        source_depth = 16 if np.asarray(array).dtype.newbyteorder("=") == np.uint16 else 8
    pixels = _as_float_pixels(array, label)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    depth = _resolve_depth(fmt, depth, source_depth, channels, label)
    if quality is not None and not (isinstance(quality, (int, np.integer)) and 1 <= quality <= 100):
        raise ImageWriteError(f"quality must be an integer in 1..100, not {quality!r}", label)
    check_size(fmt, pixels.shape[0], pixels.shape[1], channels, label)
    icc = like.icc_profile if like is not None else None
    icc = icc if fmt in _ICC_FORMATS and _icc_fits(icc, channels) else None
    dpi = like.dpi if like is not None and fmt in _DPI_FORMATS else None
    icc, dpi, dropped = storable_metadata(fmt, icc, dpi)
    if notes is not None:
        notes.extend(dropped)

    def encode(fp):
        _encode(fp, fmt, pixels, depth, icc, dpi, quality or DEFAULT_QUALITY, label)

    from imgconv.imageio.destination import write_encoded

    write_encoded(dest, encode, replace=overwrite)


def check_output(dest=None, *, format=None, depth=None):
    """Refuse, before any work, an output that cannot be written whatever the pixels.

    ``dest`` is a path (its extension names the format) or None with ``format``; ``depth``
    is refused only when the format holds it for no channel layout at all (float TIFF
    holds grey only: that is known per image).  Returns the format's name.

    Examples
    --------
    >>> check_output("out.png", depth=16)
    'PNG'
    >>> check_output(format="gif", depth=16)
    Traceback (most recent call last):
    ...
    imgconv.errors.ImageWriteError: GIF cannot store depth 16 (use .png or .tif)
    """
    label = None if dest is None else os.fspath(dest)
    fmt = _output_format(format, None, dest is None, label)
    if depth is not None:
        wanted = _normal_depth(depth, label)
        if not any(_depth_allowed(fmt, wanted, channels) for channels in (1, 2, 3, 4)):
            hint = " (use .npy)" if wanted == "float" else " (use .png or .tif)"
            raise ImageWriteError(f"{fmt} cannot store depth {wanted}{hint}", label)
    return fmt


def _output_format(format, like, to_stream, label):
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
    scaled = scale_integers(values)
    if scaled is not None:
        values = scaled
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
        return channels == 1  # Pillow cannot open float colour TIFF
    if fmt == "TIFF" and depth == 16:
        return channels != 2  # Pillow cannot open 16-bit grey+alpha TIFF
    return True


def _normal_depth(depth, label):
    normalised = {"8": 8, "16": 16, "32": "float", 32: "float", "float": "float"}.get(depth, depth)
    if normalised not in (8, 16, "float"):
        raise ImageWriteError(f"depth must be 8, 16 or 'float', not {depth!r}", label)
    return normalised


def _resolve_depth(fmt, depth, source_depth, channels, label):
    if depth is None:  # keep the source's precision as far as the format allows
        candidates = {16: (16, 8), 32: ("float", 16, 8)}.get(source_depth, (8,))
        return next(c for c in candidates if _depth_allowed(fmt, c, channels))
    normalised = _normal_depth(depth, label)
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
    """Encode ``pixels`` (validated float array) into the open binary file ``fp``, with the
    ``icc`` and ``dpi`` the format can store (checked by the caller)."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if depth == "float":
        samples = np.ascontiguousarray(pixels, dtype=np.float32)
    else:
        samples = to_integer(pixels, 255 if depth == 8 else 65535)
    if fmt == "NPY":
        np.save(fp, np.ascontiguousarray(samples), allow_pickle=False)
        return
    if fmt == "TIFF":
        write_tiff(fp, samples, icc, dpi)
        return
    if fmt == "PNG" and depth == 16 and channels > 1:
        fp.write(png16_bytes(samples, icc, dpi))
        return
    if fmt in ("JPEG", "BMP") and channels in (2, 4):  # no alpha (BMP readers ignore it)
        samples = samples[:, :, 0] if channels == 2 else samples[:, :, :3]
    if fmt == "GIF" and channels == 2:  # no grey+alpha: expand to RGBA
        samples = samples[:, :, [0, 0, 0, 1]]
    image = Image.fromarray(np.ascontiguousarray(samples))
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
