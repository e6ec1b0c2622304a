"""Where image bytes come from: a path, ``"-"`` (standard input), bytes or a file object.

:func:`open_source` gives a label (the path, ``"-"`` or None) and a seekable binary file
for each.  A path that is not a regular file (a pipe, a shell's ``<(...)``, a device)
is read into memory, at most :func:`stream_limit` bytes for the size limit in force, so
every reader can seek.

Examples
--------
>>> label, fp = open_source(b"abc")
>>> label, fp.read()
(None, b'abc')
"""
import io
import os
import stat
import sys

from imgconv.errors import ImageReadError
from imgconv.imageio.limits import DEFAULT_MAX_PIXELS


def open_source(source, max_pixels=DEFAULT_MAX_PIXELS):
    """Return ``(label, seekable binary file)`` for any accepted source.

    A path that is not a regular file (a pipe, ``<(...)`` of a shell, a character device) is
    read into memory, at most :func:`stream_limit` bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, io.BytesIO(bytes(source))
    if isinstance(source, str) and source == "-":  # within the limits its header sets
        from imgconv.imageio.stdin import read_stdin

        return "-", read_stdin(sys.stdin.buffer, max_pixels=max_pixels)
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes):
            raise ImageReadError("the file object must be opened in binary mode",
                                 getattr(source, "name", None))
        return getattr(source, "name", None), io.BytesIO(data)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageReadError(f"cannot read an image from a {type(source).__name__}")
    path = os.fspath(source)
    if os.path.isdir(path):
        raise ImageReadError("is a directory, not an image file", path)
    try:
        fp = open(path, "rb")
    except OSError as exc:
        raise open_failure(exc, path) from None
    if is_regular(fp):
        return path, fp
    with fp:
        return path, read_stream(fp, path, stream_limit(max_pixels))


def is_regular(fp):
    """Whether the open file ``fp`` is a regular file (seekable, of a known size): not a pipe or a device."""
    try:
        return fp.seekable() and stat.S_ISREG(os.fstat(fp.fileno()).st_mode)
    except (OSError, ValueError):
        return False


#: Bytes per pixel that no image format needs more of (a float64 RGBA ``.npy``), and room
#: for metadata, headers and frames beyond the first.
_BYTES_PER_PIXEL, _METADATA_BYTES = 32, 64 * 2**20


def stream_limit(max_pixels):
    """The most bytes read from a pipe for an image of at most ``max_pixels`` pixels.

    Examples
    --------
    >>> stream_limit(1000) // 2**20
    64
    """
    return max_pixels * _BYTES_PER_PIXEL + _METADATA_BYTES


def read_stream(fp, label, limit):
    """All bytes of a non-seekable stream in a BytesIO, refused past ``limit`` bytes."""
    data = io.BytesIO()
    try:
        while chunk := fp.read(min(2**20, limit + 1 - data.tell())):
            data.write(chunk)
            if data.tell() > limit:
                raise ImageReadError(f"more than {limit} bytes from a pipe: larger than any image within the "
                                     "size limit (see --max-pixels)", label)
    except OSError as exc:
        raise ImageReadError(f"cannot read: {exc.strerror or exc}", label) from None
    data.seek(0)
    return data


def open_failure(exc, path):
    """The ImageReadError for an OSError from opening ``path``."""
    if isinstance(exc, FileNotFoundError):
        return ImageReadError("no such file", path)
    if isinstance(exc, PermissionError):
        return ImageReadError("permission denied", path)
    return ImageReadError(f"cannot open: {exc.strerror or exc}", path)
