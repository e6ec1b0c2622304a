"""The one safe ``.npy`` reader: no pickle, the header checked before any data is read.

:func:`read_npy` parses the header with NumPy's own parser, refuses arrays of Python
objects (which NumPy would unpickle), lets the caller refuse a shape, size or dtype,
refuses data shorter than the header declares, and only then reads the array.  Every failure,
including NumPy's own, is one error of the caller's type.

Examples
--------
>>> import io, numpy as np
>>> buffer = io.BytesIO()
>>> np.save(buffer, np.eye(2))
>>> _ = buffer.seek(0)
>>> read_npy(buffer, ndims={2})
array([[1., 0.],
       [0., 1.]])
>>> read_npy(io.BytesIO(buffer.getvalue()), label="eye.npy", ndims={3})
Traceback (most recent call last):
...
imgconv.errors.ImageReadError: eye.npy: a 2-D array (shape (2, 2)) where 3-D is expected
"""

from __future__ import annotations

import math
import os
import struct
import tokenize

import numpy as np

from imgconv.errors import ImageReadError

MAGIC = b"\x93NUMPY"

# What NumPy raises on a mangled header or short data (it tokenizes some headers).
_NUMPY_ERRORS = (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError,
                 struct.error, tokenize.TokenError)


def read_npy(source, *, label=None, ndims=None, max_elements=None, check=None, error=ImageReadError,
             mmap=False):
    """Read one array from ``.npy`` data, safely.

    Parameters
    ----------
    source : str, os.PathLike or seekable binary file object
        A path, or a file positioned at the start of the ``.npy`` data (read to its end).
    label : str, optional
        Name used in error messages; default: the path, or the file object's ``name``.
    ndims : collection of int, optional
        Accepted numbers of dimensions, e.g. ``{2}``; default: any.
    max_elements : int, optional
        Largest accepted number of elements, checked from the header.
    check : callable, optional
        ``check(shape, dtype)``, called after the checks above and before any data is
        read; it refuses an array by raising.
    error : type, optional
        Exception raised for every failure as ``error(message, label)``;
        default :class:`~imgconv.errors.ImageReadError`.
    mmap : bool, optional
        For a path: map the data read-only (``numpy.load(mmap_mode="r")``) instead of
        reading it, after the same checks; the rows are read as they are used.

    Returns
    -------
    numpy.ndarray
        The array, as :func:`numpy.load` gives it (never an object array).

    Raises
    ------
    error
        Not ``.npy`` data, an unsupported version, objects, a refused shape or size,
        truncated or corrupt data, or an unreadable file.
    """
    if not isinstance(source, (str, os.PathLike)):
        label = getattr(source, "name", None) if label is None else label
        return _read(source, label, ndims, max_elements, check, error)
    label = os.fspath(source) if label is None else label
    try:
        with open(source, "rb") as fp:
            array = _read(fp, label, ndims, max_elements, check, error, load=not mmap)
    except OSError as exc:  # _read turns its own OSErrors into ``error``: this is open's
        raise error(f"cannot open: {exc.strerror or exc}", label) from None
    if not mmap:
        return array
    try:
        return np.load(source, mmap_mode="r", allow_pickle=False)
    except _NUMPY_ERRORS as exc:
        raise error(f"cannot read .npy: {exc}", label) from None


def _read(fp, label, ndims, max_elements, check, error, load=True):
    try:
        start = fp.tell()
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise error(f"unsupported .npy format version {version[0]}.{version[1]}", label)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(fp)
        if dtype.hasobject:
            raise error(".npy files holding Python objects are refused", label)
        if ndims is not None and len(shape) not in ndims:
            expected = " or ".join(str(n) for n in sorted(ndims))
            raise error(f"a {len(shape)}-D array (shape {shape}) where {expected}-D is expected", label)
        elements = math.prod(shape)
        if max_elements is not None and elements > max_elements:
            raise error(f"array of shape {shape} too large ({elements} elements; "
                        f"at most {max_elements})", label)
        if check is not None:
            check(shape, dtype)
        data_start = fp.tell()
        declared, available = elements * dtype.itemsize, fp.seek(0, os.SEEK_END) - data_start
        if available < declared:
            raise error(f"truncated .npy data ({available} of the {declared} bytes "
                        "its header declares)", label)
        fp.seek(start)
        return np.load(fp, allow_pickle=False) if load else None
    except _NUMPY_ERRORS as exc:
        raise error(f"cannot read .npy: {exc}", label) from None
