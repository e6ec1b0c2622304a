"""Size limits: refusing decompression bombs from the header, before any pixel is decoded.

``DEFAULT_MAX_PIXELS`` = 2**27 (134 megapixels; a float32 RGBA copy of that is 2 GiB).
Pillow has a bomb check of its own (``PIL.Image.MAX_IMAGE_PIXELS``); it is raised to
the caller's ``max_pixels`` for the duration of a read when that is larger, so the
limit the caller passes is the one that counts, and Pillow refusing first (its error
limit is twice its warning limit) gives the same message as ours.

Examples
--------
>>> try:
...     check_size(100, 50, max_pixels=4999, label="big.png")
... except ImageReadError as error:
...     print(error.message)
image too large: 100 x 50 = 5000 pixels exceeds the limit of 4999 (possible decompression bomb)
"""

from __future__ import annotations

import contextlib
import re
import threading

from PIL import Image

from imgconv.errors import ImageReadError

DEFAULT_MAX_PIXELS = 2**27

_PILLOW_BOMB_SIZE = re.compile(r"Image size \((\d+) pixels\)")


def check_size(width, height, max_pixels, label):
    """Raise ImageReadError when the image has no pixels or ``width * height`` exceeds ``max_pixels``."""
    if width < 1 or height < 1:
        raise ImageReadError(f"empty image ({width} x {height} pixels)", label)
    if width * height > max_pixels:
        raise ImageReadError(
            f"image too large: {width} x {height} = {width * height} pixels exceeds "
            f"the limit of {max_pixels} (possible decompression bomb)", label)


def pillow_refusal(exc, max_pixels, label):
    """Our ImageReadError for Pillow's DecompressionBombError (Pillow refused first)."""
    size = _PILLOW_BOMB_SIZE.search(str(exc))
    claimed = f"{size.group(1)} pixels" if size else "its size"
    return ImageReadError(f"image too large: {claimed} exceeds the limit of {max_pixels} "
                          "(possible decompression bomb)", label)


class _SharedPillowLimit:
    """Pillow's process-wide bomb limit, raised while reads that need more are running.

    Pillow's check (in ``Image.open``, when loading and when seeking frames) reads one
    global, so it cannot be raised for one read alone.  Concurrent reads (threads of
    a Dask worker) share one raised limit, the largest asked for; each read still
    enforces its own ``max_pixels`` (:func:`check_size`).  The last read to finish
    restores Pillow's value.  The count of reads is the state this needs; only
    :meth:`at_least`, under the lock, changes it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._readers = 0
        self._saved = None

    @contextlib.contextmanager
    def at_least(self, max_pixels):
        with self._lock:
            if self._readers == 0:
                self._saved = Image.MAX_IMAGE_PIXELS
            self._readers += 1
            current = Image.MAX_IMAGE_PIXELS
            if current is not None and max_pixels > current:
                Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            with self._lock:
                self._readers -= 1
                if self._readers == 0:
                    Image.MAX_IMAGE_PIXELS = self._saved


#: ``with PILLOW_LIMIT.at_least(max_pixels):`` -- Pillow refuses nothing below ``max_pixels``.
PILLOW_LIMIT = _SharedPillowLimit()
