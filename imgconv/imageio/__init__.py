"""Reading and writing pictures: modes, bit depth, alpha, metadata, atomic writes.

Pixels are exchanged as float32 in [0, 1]: 8-bit values are divided by 255, 16-bit
values by 65535, and writing to an integer format uses :func:`to_integer`,
``clip(rint(v * maxval), 0, maxval)``.  Float sources (Pillow mode ``F``, float TIFF,
float ``.npy``) are passed through as they are and may lie outside [0, 1].

Pillow decodes and encodes, except where it would lose bits or cannot go:

* TIFF is written by tifffile, and read by it when the first page is a plain grey or
  RGB(A) layout (16-bit colour, float colour and planar TIFFs included); other TIFFs
  are Pillow's (:mod:`~imgconv.imageio.tiff`).
* 16-bit colour PNG is read through Pillow's decoder run twice
  (:mod:`~imgconv.imageio.pillow16`) and written by :mod:`~imgconv.imageio.png16`.
* ``.npy`` is read by :func:`read_npy` (never unpickling) and written by NumPy.

Modules: :mod:`~imgconv.imageio.picture` (the :class:`Picture` model and the numeric
rule), :mod:`~imgconv.imageio.reading`, :mod:`~imgconv.imageio.limits` (decompression
bombs), :mod:`~imgconv.imageio.writing`, :mod:`~imgconv.imageio.atomic`,
:mod:`~imgconv.imageio.npy` and the format modules named above.

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

from imgconv.imageio.npy import read_npy
from imgconv.imageio.picture import Picture, to_integer
from imgconv.imageio.png16 import PNG_COMPRESS_LEVEL
from imgconv.imageio.probe import probe_shape
from imgconv.imageio.reading import DEFAULT_MAX_PIXELS, read_image, supported_extensions
from imgconv.imageio.writing import DEFAULT_QUALITY, check_output, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_QUALITY",
    "PNG_COMPRESS_LEVEL",
    "Picture",
    "check_output",
    "probe_shape",
    "read_image",
    "read_npy",
    "supported_extensions",
    "to_integer",
    "write_image",
]
