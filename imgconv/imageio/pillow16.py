"""Exact 16-bit colour samples out of Pillow, which would truncate them to 8 bits.

Why this exists: Pillow has no 16-bit colour mode, so it unpacks 16-bit RGB, RGBA and
grey+alpha PNG (and TIFF) to 8 bits a sample.  None of imgconv's other dependencies
decodes PNG, and a PNG decoder of our own (inflate, the five filters, Adam7
interlacing) would duplicate what Pillow does well.  So Pillow's decoder is run with a different *raw
mode* (the per-tile unpacking recipe, a private detail of Pillow's tiles):

* RGB and RGBA: once with the tile's own raw mode, which keeps each sample's high
  byte, then once more with the opposite byte order, which keeps the low byte;
  ``high * 256 + low`` is the exact sample.
* Grey+alpha (PNG ``LA;16B``, 4 bytes a pixel): one run with raw mode ``RGBA`` hands
  the four bytes over untouched.
* Planar TIFF (one plane per sample, ``PlanarConfiguration`` 2) read raw: Pillow's tiles
  unpack one 8-bit band each (``R``, ``G``, ...), reading every 16-bit sample as two
  pixels; the band raw modes ``R;16B`` and ``R;16L`` keep the high and the low byte.
  (Through libtiff, for a compression tifffile cannot decode alone, Pillow ignores the
  raw mode of planar files: they are not decoded here, and reading refuses them.)

All the decoding (inflate, filters, interlacing, TIFF compression) stays Pillow's.
Because tiles and raw modes are not Pillow's public API, a Pillow upgrade may break
this: ``tests/test_imageio.py::test_pillow_16bit_colour_trick_still_works`` fails
loudly, naming the Pillow version, when it does.  (TIFF is normally decoded by
tifffile; this is used for TIFFs tifffile cannot decode by itself, such as LZW.)

Examples
--------
>>> import io, numpy as np
>>> from PIL import Image
>>> from imgconv.imageio.png16 import png16_bytes
>>> data = png16_bytes(np.array([[[1, 258, 65535]]], np.uint16))
>>> with Image.open(io.BytesIO(data)) as im:
...     decode_16bit_colour(im, io.BytesIO(data))
array([[[    1,   258, 65535]]], dtype=uint16)
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

_OTHER_BYTE_ORDER = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}


def decode_16bit_colour(im, fp):
    """Exact uint16 H x W x C samples of a 16-bit colour image, or None for any other image.

    Parameters
    ----------
    im : PIL.Image.Image
        Opened, not yet loaded (Pillow mode ``RGB`` or ``RGBA``).
    fp : binary file object
        The seekable file ``im`` was opened from; it is opened a second time.

    Returns
    -------
    numpy.ndarray or None
        uint16 samples, C = 2, 3 or 4; a 16-bit RGB PNG with a transparent colour
        (``tRNS``) gains an alpha channel.  None when ``im`` is not 16-bit colour.
    """
    if im.mode not in ("RGB", "RGBA") or not im.tile:
        return None
    if im.format == "TIFF" and im.tag_v2.get(284) == 2:
        return _planar_16bit(im, fp)
    rawmode = _tile_rawmode(im.tile[0])
    base, _, bits = rawmode.partition(";")
    if rawmode == "LA;16B":
        im.tile = [_with_rawmode(tile, "RGBA") for tile in im.tile]
        im.load()
        raw = np.asarray(im, dtype=np.uint16)
        return raw[:, :, 0::2] * np.uint16(256) + raw[:, :, 1::2]
    if base not in ("RGB", "RGBA", "RGBX") or bits not in ("16B", "16L", "16N"):
        return None
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
    return samples


def _planar_16bit(im, fp):
    """Exact samples of a planar 16-bit TIFF whose planes Pillow reads raw, else None."""
    bits = im.tag_v2.get(258) or ()
    if not bits or any(b != 16 for b in bits) or any(tile.codec_name != "raw" for tile in im.tile):
        return None
    fp.seek(0)
    order = "B" if fp.read(2) == b"MM" else "L"

    def one_byte(image, byte_order):
        image.tile = [_with_rawmode(tile, _tile_rawmode(tile) + ";16" + byte_order) for tile in image.tile]
        image.load()
        return np.asarray(image, dtype=np.uint16)

    high = one_byte(im, order)
    fp.seek(0)
    with Image.open(fp) as low_im:
        low = one_byte(low_im, _OTHER_BYTE_ORDER[order])
    return high * np.uint16(256) + low


def _tile_rawmode(tile):
    return tile.args if isinstance(tile.args, str) else tile.args[0]


def _with_rawmode(tile, rawmode):
    args = rawmode if isinstance(tile.args, str) else (rawmode, *tile.args[1:])
    return tile._replace(args=args)
