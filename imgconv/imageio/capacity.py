"""What each output format can hold: image sizes, resolutions and ICC profiles, checked before encoding.

An encoder handed more than its format holds fails in its own way: GIF raises
``OverflowError`` past 65535 pixels, libjpeg prints a line of its own and fails past 65500,
WebP stops at 16383; a resolution too large for PNG's ``pHYs`` chunk or BMP's header
overflows, JPEG silently wraps 65536 dpi to 0.  So:

* :func:`check_size` refuses an image larger than its format holds, with one message
  naming the limit, before any byte is encoded;
* :func:`storable_metadata` drops a resolution or ICC profile the format cannot store,
  with a note saying so (the pixels are what matters; the note says what was lost).

Examples
--------
>>> icc, dpi, notes = storable_metadata("PNG", None, (4294967295.0, 4294967295.0))
>>> dpi, notes[0]
(None, 'a resolution of 4294967295 x 4294967295 dpi cannot be stored in PNG (at most 54546085 dpi); written without it')
>>> storable_metadata("JPEG", None, (300.0, 300.0))
(None, (300.0, 300.0), [])
>>> try:
...     check_size("GIF", 1, 100000, 1, "w.gif")
... except ImageWriteError as error:
...     print(error.message)
GIF cannot store an image of 100000 x 1 pixels (at most 65535 x 65535; use .png or .tif)
"""

from __future__ import annotations

import math

from imgconv.errors import ImageWriteError

#: Largest width and height each format stores (PNG's are 2**31 - 1; TIFF and .npy: no limit).
MAX_SIDE = {"GIF": 65535, "JPEG": 65500, "WEBP": 16383, "PNG": 2**31 - 1, "BMP": 2**31 - 1}
#: BMP records its file size in 32 bits.
MAX_BMP_BYTES = 2**32 - 1
#: Resolutions each format stores, in dots per inch: PNG's pHYs holds whole dots per metre
#: below 2**31, BMP's header the same in a signed 32-bit field, JFIF whole dots per inch in 16
#: bits, TIFF a ratio of 32-bit integers.
DPI_RANGE = {
    "PNG": (0.5 * 0.0254, (2**31 - 1) * 0.0254),
    "BMP": (0.5 / 39.3701, (2**31 - 1) / 39.3701),
    "JPEG": (0.5, 65535.0),
    "TIFF": (1 / (2**32 - 1), float(2**32 - 1)),
}
#: JPEG carries an ICC profile in at most 255 APP2 segments of 65519 bytes.
MAX_JPEG_ICC_BYTES = 255 * 65519


def check_size(fmt, height, width, channels, label):
    """Raise ImageWriteError when ``fmt`` cannot store an image of this size."""
    side = MAX_SIDE.get(fmt)
    if side is not None and (width > side or height > side):
        raise ImageWriteError(f"{fmt} cannot store an image of {width} x {height} pixels "
                              f"(at most {side} x {side}; use .png or .tif)", label)
    if fmt == "BMP":
        bits = 8 if channels <= 2 else 24  # alpha is not written to BMP
        size = 54 + (1024 if bits == 8 else 0) + (width * bits + 31) // 32 * 4 * height
        if size > MAX_BMP_BYTES:
            raise ImageWriteError(f"BMP cannot store {width} x {height} pixels ({size} bytes; "
                                  f"a BMP file is at most {MAX_BMP_BYTES} bytes; use .png or .tif)", label)


def storable_metadata(fmt, icc, dpi):
    """``(icc, dpi, notes)``: what of ``icc`` and ``dpi`` ``fmt`` can store, and a note per drop.

    ``icc`` and ``dpi`` are those the format would otherwise be given (None for none).
    """
    notes = []
    if dpi is not None and fmt in DPI_RANGE:
        low, high = DPI_RANGE[fmt]
        if not all(math.isfinite(v) and low <= v <= high for v in dpi):
            shown = " x ".join(f"{v:.10g}" for v in dpi)
            too_large = any(not math.isfinite(v) or v > high for v in dpi)
            bound = f"at most {high:.0f} dpi" if too_large else f"at least {low:.3g} dpi"
            notes.append(f"a resolution of {shown} dpi cannot be stored in {fmt} ({bound}); written without it")
            dpi = None
    if icc is not None and fmt == "JPEG" and len(icc) > MAX_JPEG_ICC_BYTES:
        notes.append(f"an ICC profile of {len(icc)} bytes cannot be stored in JPEG (at most "
                     f"{MAX_JPEG_ICC_BYTES}); written without it")
        icc = None
    return icc, dpi, notes
