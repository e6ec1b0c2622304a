"""Boundary handling for volumes: a Z x Y x X x C volume padded along its three spatial axes.

The same rule as :func:`imgconv.engine.boundary.pad` (scipy.ndimage's modes, pads longer
than an axis included), one axis at a time: the interior is copied once, then the last
spatial axis is extended inside the interior of the axes before it, then the next, so
every border voxel is written once.

Examples
--------
>>> v = np.arange(8.0).reshape(2, 2, 2, 1)
>>> pad_volume(v, (1, 0, 0), (0, 0, 1), "reflect")[..., 0].tolist()
[[[0.0, 1.0, 1.0], [2.0, 3.0, 3.0]], [[0.0, 1.0, 1.0], [2.0, 3.0, 3.0]], [[4.0, 5.0, 5.0], [6.0, 7.0, 7.0]]]
"""
import numpy as np

from imgconv.engine.boundary import source_index


def pad_volume(volume, before, after, mode, cval=0.0, dtype=None):
    """Pad the first three axes of ``volume`` (Z x Y x X x C) by ``before``/``after`` voxels per axis.

    ``dtype`` converts on the way (default: the input's). Matches ``numpy.pad`` with the
    mode table of :mod:`imgconv.engine.boundary`, and scipy.ndimage for every mode.
    """
    spatial = volume.shape[:3]
    shape = tuple(n + b + a for n, b, a in zip(spatial, before, after)) + volume.shape[3:]
    out = np.empty(shape, dtype or volume.dtype)
    inner = tuple(slice(b, b + n) for b, n in zip(before, spatial))
    out[inner] = volume
    for axis in (2, 1, 0):
        b, n, a = before[axis], spatial[axis], after[axis]
        lead = inner[:axis]  # the interior of the earlier axes; later axes are complete already
        low, high = lead + (slice(0, b),), lead + (slice(b + n, b + n + a),)
        if mode == "constant":
            out[low] = cval
            out[high] = cval
            continue
        index = source_index(n, b, a, mode) + b
        if b:
            out[low] = out[lead + (index[:b],)]
        if a:
            out[high] = out[lead + (index[b + n:],)]
    return out


def volume_maps(shape, kernel_shape, anchor, mode):
    """The index maps of the border along Z, Y and X (``-1`` = cval) for a kernel at ``anchor``.

    Examples
    --------
    >>> [m.tolist() for m in volume_maps((2, 3, 1), (3, 1, 1), (1, 0, 0), "nearest")]
    [[0, 0, 1, 1], [0, 1, 2], [0]]
    """
    return [source_index(n, a, k - 1 - a, mode) for n, k, a in zip(shape, kernel_shape, anchor)]
