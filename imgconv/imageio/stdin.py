"""Standard input within limits: read whole, but stopped as soon as it cannot be an image.

An image from ``-`` must be held in memory before it can be decoded, so it is read with a
cap: once its header has arrived (the first 64 KiB, or up to 16 MiB for a long one) the
image's size bounds how long the file can be -- ``.npy`` exactly, other formats at twice their
largest raw size (8 bytes a pixel, every frame of an APNG or animated WebP, whose headers count
them) plus 64 MiB of metadata; GIF and TIFF, whose frames or pages are counted only at the end,
at that of ``max_pixels`` pixels -- and data that no reader recognises by then is refused at once.
``imgconv filter - < /dev/zero`` stops after 16 MiB with one line.

Examples
--------
>>> import io, numpy as np
>>> buffer = io.BytesIO(); np.save(buffer, np.zeros((2, 3), np.uint8))
>>> read_stdin(io.BytesIO(buffer.getvalue()), max_pixels=100).getbuffer().nbytes
134
>>> read_stdin(io.BytesIO(bytes(1 << 25)), max_pixels=100)
Traceback (most recent call last):
...
imgconv.errors.ImageReadError: -: not a recognised image format (the first 16.0 MiB of standard input)
"""

from __future__ import annotations

import io
import math

from imgconv.errors import ImageReadError
from imgconv.imageio.limits import check_size

CHUNK = 1 << 20
#: prefix lengths at which the header is looked for; unrecognised at the last one: refused
IDENTIFY_AT = (1 << 16, 1 << 20, 1 << 24)
#: what an image file may carry besides its pixels (ICC profiles, EXIF, text chunks)
METADATA_BYTES = 1 << 26
#: the most bytes a pixel takes in any format read (16-bit RGBA; float RGBA TIFF: 16, below)
PIXEL_BYTES = 8
#: Pillow formats whose frames the header does not count: bounded by ``max_pixels``
UNCOUNTED_FRAMES = frozenset({"GIF", "FLI", "DCX", "SPIDER", "IM", "PSD"})


def read_stdin(stream, *, max_pixels, max_bytes=None):
    """Read ``stream`` (standard input's binary buffer) to its end, within the limits.

    Returns a :class:`io.BytesIO` positioned at 0. Raises ImageReadError (label ``-``) as soon
    as the data cannot be an image of at most ``max_pixels`` pixels, or exceeds ``max_bytes``.
    """
    data = io.BytesIO()
    limit, why = math.inf, None
    if max_bytes is not None:
        limit, why = max_bytes, f"--max-memory allows {_mib(max_bytes)} for it"
    checkpoints = list(IDENTIFY_AT)
    while chunk := (stream.read1(CHUNK) if hasattr(stream, "read1") else stream.read(CHUNK)):
        data.write(chunk)
        size = data.tell()
        while checkpoints and size >= checkpoints[0]:
            largest = largest_file(data.getbuffer(), max_pixels)
            if largest is not None:
                checkpoints = []
                if largest < limit:
                    limit, why = largest, "no image its header describes is that large"
            elif len(checkpoints) == 1:
                raise ImageReadError(f"not a recognised image format (the first {_mib(checkpoints[0])} of "
                                     "standard input)", "-")
            else:
                checkpoints.pop(0)
        if size > limit:
            raise ImageReadError(f"standard input is longer than {_mib(limit)} ({why})", "-")
    data.seek(0)
    return data


def _mib(n):
    return f"{n / 2**20:.1f} MiB"


def largest_file(prefix, max_pixels):
    """The most bytes a file starting with ``prefix`` can take, or None when no reader
    recognises it. Raises ImageReadError when its header claims more than ``max_pixels``."""
    from imgconv.imageio import tiff
    from imgconv.imageio.npy import MAGIC as NPY_MAGIC

    head = bytes(prefix[:8])
    if head.startswith(NPY_MAGIC):
        return _npy_length(prefix)
    if head[:4] in tiff.SIGNATURES:  # its header may lie anywhere in the file
        return max_pixels * 2 * PIXEL_BYTES + METADATA_BYTES
    found = _pillow_size(prefix, max_pixels)
    if found is None:
        return None
    (width, height), frames = found
    check_size(width, height, max_pixels, "-")
    pixels = max_pixels if frames is None else width * height * frames
    return 2 * pixels * PIXEL_BYTES + METADATA_BYTES


def _npy_length(prefix):
    import numpy as np

    fp = io.BytesIO(prefix)
    try:
        version = np.lib.format.read_magic(fp)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fp)
    except Exception:  # noqa: BLE001 -- a mangled header: the reader will say what is wrong
        return METADATA_BYTES
    return fp.tell() + math.prod(shape) * dtype.itemsize


def _pillow_size(prefix, max_pixels):
    """``((width, height), frames)`` from the header, when Pillow recognises the prefix (frames
None when the header does not count them)."""
    import warnings

    from PIL import Image

    from imgconv.imageio.limits import PILLOW_LIMIT, pillow_refusal

    with warnings.catch_warnings(), PILLOW_LIMIT.at_least(max_pixels):
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(prefix)) as im:
                if im.format in UNCOUNTED_FRAMES:
                    return im.size, None
                return im.size, max(1, int(getattr(im, "n_frames", 1)))
        except Image.DecompressionBombError as exc:
            raise pillow_refusal(exc, max_pixels, "-") from None
        except Exception:  # noqa: BLE001 -- not (yet) recognised: perhaps with more data
            return None
