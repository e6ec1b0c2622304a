"""TIFF through tifffile: every TIFF written, and the plain TIFFs read.

Writing: uncompressed, little-endian, one page: 8-bit, 16-bit or float32 samples, grey,
grey+alpha, RGB or RGBA (alpha unassociated), with the ICC profile (tag 34675) and
the resolution in dots per inch when given.

Reading: :func:`read_tiff` decodes the first page when it is plain -- grey or RGB,
optionally with one unassociated alpha, of 8/16/32-bit unsigned or signed, or
floating-point samples, contiguous or planar, in a compression tifffile decodes by
itself -- and otherwise answers None, leaving the file to Pillow (palette, CMYK,
YCbCr, bilevel, LZW, JPEG, ..., and files tifffile finds fault with).  The metadata
is read from the tags as Pillow reads them, so a file Pillow could also read gives
the same :class:`~imgconv.imageio.Picture` either way.

tifffile is imported on first use, so that importing imgconv stays light.

Examples
--------
>>> import io, numpy as np
>>> buffer = io.BytesIO()
>>> write_tiff(buffer, np.array([[[0, 30000, 65535]]], np.uint16), dpi=(300.0, 300.0))
>>> page = read_tiff(io.BytesIO(buffer.getvalue()), check_size=lambda width, height: None)
>>> page.samples, page.dpi
(array([[[    0, 30000, 65535]]], dtype=uint16), (300.0, 300.0))
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import NamedTuple

import numpy as np

SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF


class FirstPage(NamedTuple):
    """The first page of a TIFF as :func:`read_tiff` decodes it."""

    samples: np.ndarray  # H x W or H x W x C, the file's own dtype
    icc_profile: bytes | None
    dpi: tuple | None  # as Pillow reads the resolution tags (not yet checked for > 0)
    orientation: int
    pages: int


def write_tiff(fp, samples, icc=None, dpi=None):
    """Write uint8, uint16 or float32 samples (H x W or H x W x C, C in 1..4) as a TIFF."""
    import tifffile

    # a named handle: tifffile takes the name of a stream (an int for os.fdopen's) apart
    with tifffile.FileHandle(fp, mode="wb", name="image.tif") as handle:
        tifffile.imwrite(handle, samples, byteorder="<", **page_options(samples, icc, dpi))


def page_options(samples, icc=None, dpi=None):
    """The keyword arguments of tifffile's writers for one uncompressed page of ``samples``
    (H x W or H x W x C): photometric, planar layout, alpha, ICC profile, resolution."""
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    options = {"photometric": "minisblack" if channels <= 2 else "rgb",
               "planarconfig": "contig" if channels > 1 else None,
               "compression": None, "metadata": None, "software": False}
    if channels in (2, 4):
        options["extrasamples"] = ("unassalpha",)
    if dpi:
        options["resolution"] = tuple(float(v) for v in dpi)
        options["resolutionunit"] = "inch"
    if icc:  # InterColorProfile, UNDEFINED bytes (imwrite's iccprofile= is newer than 2024.1)
        options["extratags"] = [(34675, 7, len(icc), icc, True)]
    return options


def read_tiff(fp, check_size):
    """Decode the first page of a plain TIFF, or return None to leave the file to Pillow.

    A file tifffile finds fault with -- it cannot parse the header or decode the data,
    or it remarks on anything (a broken tag, a bad page offset) -- also answers None:
    Pillow then reads it as it always did, or explains why it cannot.

    Parameters
    ----------
    fp : seekable binary file object
        The TIFF data.
    check_size : callable
        ``check_size(width, height)``, called before any pixel is decoded; it refuses
        a page by raising.

    Returns
    -------
    FirstPage or None
    """

    with parsed(fp) as (tif, remarks):
        if tif is None:
            return None
        try:
            page = tif.pages[0]
            plain = is_plain(page) and not remarks
        except Exception:  # noqa: BLE001 -- a page tifffile cannot describe
            return None
        if not plain:
            return None
        check_size(page.imagewidth, page.imagelength)
        try:
            samples = _contiguous_samples(page.asarray(maxworkers=1), page.shaped)
            pages = len(tif.pages)
        except Exception:  # noqa: BLE001 -- whatever the decoder raises on bad data
            return None
        if remarks:
            return None
        tags = page.tags
        icc = tags.valueof(34675)
        orientation = tags.valueof(274, 1)
        return FirstPage(samples, icc if isinstance(icc, bytes) and icc else None, resolution_dpi(tags),
                         orientation if isinstance(orientation, int) else 1, pages)


#: Pillow modes of 8 bits a sample (what it makes of samples it cannot hold exactly).
_EIGHT_BIT_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV"}


@contextlib.contextmanager
def parsed(fp):
    """``(tif, remarks)`` for a block: tifffile's TiffFile of ``fp`` (None when tifffile cannot
    parse it) and the list that tifffile's log remarks go to meanwhile."""
    import tifffile

    with tifffile_log() as remarks:
        try:
            tif = tifffile.TiffFile(fp)
        except Exception:  # noqa: BLE001 -- whatever tifffile raises on a file it cannot parse
            yield None, remarks
            return
        with tif:
            yield tif, remarks


def pillow_shortfall(im):
    """What Pillow's reading of an opened TIFF would get wrong: ``(refusal, note)``, each a message or None.

    For TIFFs left to Pillow (:func:`read_tiff` declined them), when the 16-bit decoding
    of :mod:`~imgconv.imageio.pillow16` did not apply.  Signed 8-bit samples would be read
    as unsigned, and uncompressed planar samples of more than 8 bits as pairs of 8-bit
    pixels: garbage, so refused.  Otherwise (libtiff decodes) samples of more than 8 bits
    keep their high byte: the image is right but coarser, so a note says so.
    """
    tags = im.tag_v2
    bits = max(tuple(tags.get(258) or (1,)))
    if im.mode not in _EIGHT_BIT_MODES or bits <= 8 and 2 not in tuple(tags.get(339) or (1,)):
        return None, None
    why = _why_not_tifffile(tags.get(259))
    if 2 in tuple(tags.get(339) or (1,)):
        return f"signed {bits}-bit samples cannot be read exactly (Pillow would read them as unsigned){why}", None
    if tags.get(284) == 2 and any(tile.codec_name == "raw" for tile in im.tile):
        return f"planar {bits}-bit samples cannot be read exactly (Pillow misreads them){why}", None
    return None, f"{bits}-bit samples were read with 8 bits each (Pillow keeps the high byte){why}"


def _why_not_tifffile(compression):
    """Why tifffile did not read the file, when it is the compression it cannot decode alone."""
    import tifffile
    from tifffile import TIFF

    try:
        known = compression in TIFF.DECOMPRESSORS
    except Exception:  # noqa: BLE001 -- an odd code that tifffile's table cannot even look up
        known = False
    if known:
        return ""
    try:
        name = tifffile.COMPRESSION(compression).name
    except Exception:  # noqa: BLE001 -- a code tifffile does not know
        name = str(compression)
    return f"; tifffile would read them exactly, but needs the imagecodecs package for {name} compression"


def probe_tiff(fp):
    """``(height, width, grey, orientation)`` of the first page from its header, or None."""
    import tifffile

    with tifffile_log(), contextlib.suppress(Exception), tifffile.TiffFile(fp) as tif:
        page = tif.pages[0]
        orientation = page.tags.valueof(274, 1)
        return (page.imagelength, page.imagewidth, page.photometric in (0, 1),
                orientation if isinstance(orientation, int) else 1)
    return None


def is_plain(page):
    """Whether tifffile alone gives exactly the samples Pillow would (were it able to)."""
    from tifffile import TIFF

    dtype = page.dtype
    sizes = (page.imagewidth, page.imagelength, page.imagedepth)
    if not all(isinstance(size, int) and size > 0 for size in sizes) or page.imagedepth != 1:
        return False
    if dtype is None or page.bitspersample != dtype.itemsize * 8:
        return False
    if not (dtype.kind == "f" or (dtype.kind in "ui" and dtype.itemsize in (1, 2, 4))):
        return False  # complex, 64-bit integers: nobody
    alpha = page.extrasamples == (2,)  # one unassociated alpha
    layout = (page.photometric, page.samplesperpixel - alpha, len(page.extrasamples) - alpha)
    return (layout in ((1, 1, 0), (2, 3, 0)) and page.fillorder == 1
            and page.compression in TIFF.DECOMPRESSORS and page.predictor in TIFF.UNPREDICTORS)


def _contiguous_samples(data, shaped):
    """H x W (one sample) or H x W x C samples from a page's (planes, 1, H, W, contiguous) data."""
    planes, _, height, width, contiguous = shaped
    samples = np.moveaxis(data.reshape(shaped)[:, 0], 0, -1).reshape(
        height, width, planes * contiguous)
    return samples[:, :, 0] if samples.shape[2] == 1 else samples


def resolution_dpi(tags):
    """The resolution as dots per inch, read as Pillow reads it (a missing unit means inches)."""
    def value(code):  # a RATIONAL is (numerator, denominator); of several, Pillow takes the first
        number = tags.valueof(code, (1, 1))
        if isinstance(number, (int, float)):
            return float(number)
        if isinstance(number, tuple) and len(number) >= 2 and all(isinstance(n, int) for n in number[:2]):
            return number[0] / number[1] if number[1] else float("nan")
        return float("nan")

    x, y = value(282), value(283)
    if not (x and y):
        return None
    unit = tags.valueof(296)
    return (x, y) if unit in (None, 2) else (x * 2.54, y * 2.54) if unit == 3 else None


@contextlib.contextmanager
def tifffile_log():
    """Collect what tifffile logs from this thread (its remarks on odd files) instead of printing it."""
    remarks = []
    thread = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record):
            if record.thread == thread:
                remarks.append(record.getMessage())

    handler = Collect(logging.WARNING)
    log = logging.getLogger("tifffile")
    log.addHandler(handler)
    try:
        yield remarks
    finally:
        log.removeHandler(handler)
