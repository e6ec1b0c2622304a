"""A 16-bit colour PNG writer (Pillow has no 16-bit colour mode, so it cannot write one).

The samples are packed big-endian and every row uses the "Up" filter (difference
from the byte above, modulo 256; on photographs it compressed best of None, Sub and
Up), computed for the whole image at once; then zlib.  An ICC profile goes into an
``iCCP`` chunk and a resolution into ``pHYs``.

Examples
--------
>>> import io, numpy as np
>>> from PIL import Image
>>> samples = np.array([[[0, 1000, 65535]]], np.uint16)
>>> data = png16_bytes(samples)
>>> Image.open(io.BytesIO(data)).size
(1, 1)
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

#: zlib level for PNG output (lossless either way). 1 is OpenCV's default too: on photographs
#: it writes about 3.5x faster than Pillow's default 6 for files about 10% larger, and
#: writing dominates the time of a batch of PNGs.
PNG_COMPRESS_LEVEL = 1


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png16_bytes(samples, icc=None, dpi=None):
    """Encode uint16 H x W x C samples (C = 2, 3, 4; alpha last) as a 16-bit PNG.

    Parameters
    ----------
    samples : numpy.ndarray
        uint16, H x W x C.
    icc : bytes, optional
        ICC profile to embed.
    dpi : tuple of float, optional
        Horizontal and vertical resolution in dots per inch.

    Returns
    -------
    bytes
        The whole PNG file.
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
