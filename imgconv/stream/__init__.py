"""Filtering in strips: bounded memory at any image size, results identical to the whole image.

``imgconv filter`` (:class:`imgconv.tasks.FilterTask`) runs every plain image through this
package (frames and volumes are :mod:`imgconv.stacks`'s): the header is read first and the
working set estimated (:mod:`~imgconv.stream.budget`, ``--max-memory``); the input becomes a
source of rows (:mod:`~imgconv.stream.sources`: a TIFF read strip by strip, a memory-mapped
``.npy``, other formats decoded whole to their 8- or 16-bit samples); the chain of kernels
computes the output a strip at a time, each strip with the halo its kernels need
(:mod:`~imgconv.stream.strips`, on :mod:`imgconv.engine.rows`); and each strip is quantised
and encoded as it comes (:mod:`~imgconv.stream.sinks`: PNG, TIFF/BigTIFF and ``.npy``
streamed, published by the one writer of :mod:`imgconv.imageio.destination`). The pixel
options (alpha, linear light, ``--abs``) and the output's finishing run per strip through the
very steps the whole image uses (:class:`imgconv.pixels.PixelSteps`,
:class:`imgconv.outputs.Finishing`). Filtering and encoding overlap in threads
(:mod:`~imgconv.stream.threads`); :mod:`~imgconv.stream.job` holds the one rule of what takes
the whole-image path instead (a ``--valid`` mask, missing pixels).

Examples
--------
>>> import numpy as np
>>> from imgconv import filter_image
>>> image = np.random.default_rng(0).random((40, 6), dtype=np.float32)
>>> chain = Chain(ArrayRows(image), ["sobel"], mode="mirror")
>>> rows = np.concatenate([pixels for _, _, pixels in chain.strips(9)])
>>> bool(np.array_equal(rows, filter_image(image, ["sobel"], mode="mirror")))
True
"""

from imgconv.stream.budget import default_budget, parse_size
from imgconv.stream.strips import ArrayRows, Chain

__all__ = ["ArrayRows", "Chain", "default_budget", "parse_size"]
