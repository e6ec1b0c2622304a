"""Image sizes from headers alone: what :func:`imgconv.imageio.read_image` would give, without
decoding (``imgconv filter --explain`` plans every input by it).

Examples
--------
>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "g.npy")
>>> np.save(path, np.zeros((4, 6), np.float32))
>>> probe_shape(path)
(4, 6)
"""
import contextlib
import warnings

from PIL import Image

from imgconv.errors import ImageReadError
from imgconv.imageio import tiff
from imgconv.imageio.limits import PILLOW_LIMIT
from imgconv.imageio.npy import MAGIC as NPY_MAGIC
from imgconv.imageio.npy import read_npy


def probe_shape(path):
    """The ``pixels`` shape :func:`read_image` would give, from the header alone (no decoding).

    Alpha is not counted: ``(H, W)`` for grey, ``(H, W, 3)`` for colour. EXIF orientations
    5-8 (a quarter turn) swap H and W, as reading does. (A PNG whose eXIf chunk follows the
    pixel data counts as unrotated: finding it would mean decoding.)

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from imgconv.imageio import write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "p.png")
    >>> write_image(path, np.zeros((3, 5, 4), np.float32))
    >>> probe_shape(path)
    (3, 5, 3)
    """
    found = _probe_npy(path)
    if found is not None:
        return found
    try:  # a header says nothing dangerous: Pillow's bomb warning is for decoding, not done here
        with warnings.catch_warnings(), PILLOW_LIMIT.at_least(2**62):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            width, height = im.size
            if im.format == "TIFF":  # the stored size: newer Pillows report the rotated one
                width, height = im.tag_v2.get(256, width), im.tag_v2.get(257, height)
            grey = im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;16")
            orientation = _header_orientation(im)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        found = _probe_tiff(path)  # a TIFF that only tifffile reads?
        if found is None:
            raise ImageReadError(f"cannot read image header ({exc})", path) from None
        height, width, grey, orientation = found
    if orientation in (5, 6, 7, 8):
        height, width = width, height
    return (height, width) if grey else (height, width, 3)


def _header_orientation(im):
    """The EXIF orientation of an opened image, without decoding it (PNG: only an eXIf
    chunk before the pixel data; Pillow would decode the image to look further)."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    orientation = im.getexif().get(0x0112, 1)
    return orientation if isinstance(orientation, int) else 1


class _HeaderRead(Exception):
    """Raised by :func:`_probe_npy` to stop reading a ``.npy`` after its header."""


def _probe_npy(path):
    """``probe_shape`` of a ``.npy`` file from its header (the one safe reader, stopped once it
    has checked it), or None when it is not one."""
    with contextlib.suppress(OSError), open(path, "rb") as fp:
        if fp.read(len(NPY_MAGIC)) != NPY_MAGIC:
            return None
        fp.seek(0)
        found = []

        def shape_only(shape, dtype):
            if len(shape) not in (2, 3):
                raise ImageReadError(f".npy array of shape {shape} is not an image (H x W or H x W x C, C <= 4)",
                                     path)
            found.append(tuple(shape))
            raise _HeaderRead

        try:
            read_npy(fp, label=str(path), check=shape_only)
        except _HeaderRead:
            shape = found[0]
            return shape[:2] if len(shape) == 2 or shape[2] < 3 else (shape[0], shape[1], 3)
    return None


def _probe_tiff(path):
    with contextlib.suppress(OSError), open(path, "rb") as fp:
        if fp.read(4) in tiff.SIGNATURES:
            fp.seek(0)
            return tiff.probe_tiff(fp)
    return None
