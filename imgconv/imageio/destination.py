"""Where an encoded file goes: a path, written atomically, or a stream (``"-"`` is standard output).

Used by the writers of frame stacks and volumes (:mod:`~imgconv.imageio.frames`,
:mod:`~imgconv.imageio.volume`), which encode several images into one file.

Examples
--------
>>> import io
>>> buffer = io.BytesIO()
>>> write_encoded(buffer, lambda fp: fp.write(b"II*\\x00"))
>>> buffer.getvalue()
b'II*\\x00'
"""

from __future__ import annotations

import io
import os
import sys

from imgconv.errors import ImageWriteError
from imgconv.imageio.atomic import guard, write_atomic


def is_stream(dest):
    """Whether ``dest`` is standard output (``"-"``) or an open file object."""
    return hasattr(dest, "write") or (isinstance(dest, str) and dest == "-")


def label_of(dest):
    """The name of ``dest`` for messages."""
    if is_stream(dest):
        return "-" if isinstance(dest, str) else getattr(dest, "name", None)
    if not isinstance(dest, (str, os.PathLike)):
        raise ImageWriteError(f"cannot write an image to a {type(dest).__name__}")
    return os.fspath(dest)


def write_encoded(dest, encode, *, replace=True):
    """Run ``encode(fp)`` into ``dest``: atomically for a path (never over an existing file
    unless ``replace``), through a buffer for a stream."""
    label = label_of(dest)
    if not is_stream(dest):
        write_atomic(label, encode, replace=replace)
        return
    buffer = io.BytesIO()
    guard(encode, buffer, label)
    stream = sys.stdout.buffer if isinstance(dest, str) else dest
    try:
        stream.write(buffer.getvalue())
        stream.flush()
    except OSError as exc:
        raise ImageWriteError(f"cannot write output: {exc.strerror or exc}", label) from None


def output_extension(dest, format=None):
    """The lower-case extension (with the dot) naming the output format: ``format`` when given
    (``"tif"``, ``".npy"``, ``"GIF"``), else the extension of ``dest``; ``""`` for none."""
    if format is not None:
        return "." + str(format).lower().lstrip(".")
    if is_stream(dest):
        return ""
    return os.path.splitext(os.fspath(dest))[1].lower()
