"""3-D kernels in kernel files: text planes separated by ``---``, TOML nested 3-D lists.

A 3-D kernel (for volumes, Z x Y x X) is a stack of equally large planes:

* in a text file (``.txt``, ``.csv``, ``.kernel``), planes in the text format of
  :func:`imgconv.kernels.parsing.parse_matrix_text`, separated by a line ``---``
  (comments after ``#`` allowed on it), the first plane first (z = 0);
* in TOML, ``matrix`` (or a ``[[kernels]]`` matrix) as a list of planes, each a list of rows;
* in ``.npy``, a 3-D array (read by :mod:`imgconv.kernels.files`).

Examples
--------
>>> parse_planes_text("1 2\\n3 4\\n---\\n5 6\\n7 8\\n").shape
(2, 2, 2)
>>> has_plane_separator("1 2 1\\n"), has_plane_separator("1\\n--- # next plane\\n2\\n")
(False, True)
"""

from __future__ import annotations

import re

import numpy as np

from imgconv.errors import KernelError
from imgconv.kernels.model import MAX_KERNEL_SIDE, _check_volume_shape

_SEPARATOR_RE = re.compile(r"^[ \t]*---[ \t]*(?:#[^\n\r]*)?$", re.MULTILINE)


def has_plane_separator(text):
    """Whether ``text`` holds a line ``---`` (a 3-D kernel's plane separator)."""
    return _SEPARATOR_RE.search(text) is not None


def _stack_planes(planes, what, path):
    """Stack equally large 2-D planes into a Z x Y x X array, checking sizes."""
    first = planes[0].shape
    for i, plane in enumerate(planes[1:], 2):
        if plane.shape != first:
            raise KernelError(f"{what}: plane {i} is {plane.shape[1]}x{plane.shape[0]} but plane 1 is "
                              f"{first[1]}x{first[0]} (planes must be equally large)", path=path)
    _check_volume_shape((len(planes),) + first, what, path)
    return np.stack(planes)


def parse_planes_text(text, source=None):
    """Parse a 3-D kernel written as text planes separated by ``---`` lines.

    Raises
    ------
    KernelError
        An empty plane, planes of different sizes, more than ``MAX_KERNEL_SIDE`` planes,
        or any error of a plane's text (with the plane's number).
    """
    from imgconv.kernels.parsing import parse_matrix_text

    pieces, start = [], 0
    for match in _SEPARATOR_RE.finditer(text):
        pieces.append(text[start:match.start()])
        start = match.end()
        if len(pieces) > MAX_KERNEL_SIDE:
            raise KernelError(f"kernel too large (more than {MAX_KERNEL_SIDE} planes)", path=source)
    pieces.append(text[start:])
    planes = []
    for i, piece in enumerate(pieces, 1):
        try:
            planes.append(parse_matrix_text(piece, source))
        except KernelError as exc:
            raise KernelError(f"plane {i}: {exc.message}", path=source) from None
    return _stack_planes(planes, "3-D kernel", source)


def is_nested_3d(value):
    """Whether a parsed TOML ``matrix`` is a list of planes (lists of lists of lists)."""
    return (isinstance(value, list) and bool(value) and isinstance(value[0], list) and bool(value[0])
            and isinstance(value[0][0], list))


def toml_volume(value, where, path, toml_matrix):
    """A TOML list of planes as a Z x Y x X array; each plane checked by ``toml_matrix``."""
    if not all(isinstance(plane, list) for plane in value):
        raise KernelError(f"{where} must be a list of planes, each a list of rows", path=path)
    if len(value) > MAX_KERNEL_SIDE:
        raise KernelError(f"{where}: kernel too large ({len(value)} planes; at most {MAX_KERNEL_SIDE})", path=path)
    planes = [toml_matrix(plane, f"{where} plane {i}", path) for i, plane in enumerate(value, 1)]
    return _stack_planes(planes, where, path)
