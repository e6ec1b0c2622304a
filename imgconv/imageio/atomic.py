"""Atomic writes: a dot-prefixed temporary file beside the destination, fsynced, renamed.

A reader of the destination sees the old file or the whole new one, never a part;
on any failure (or an interrupt) the temporary file is removed and the destination
is left as it was.  A new file gets the permissions ``open()`` would give it
(``0o666`` less the umask); a replaced file keeps its own.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
>>> write_atomic(path, lambda fp: fp.write(b"hello"))
>>> open(path, "rb").read(), os.listdir(os.path.dirname(path))
(b'hello', ['note.txt'])
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
import threading

from imgconv.errors import ImageWriteError, ImgconvError

_UMASK_LOCK = threading.Lock()


def guard(encode, fp, label):
    """Run ``encode(fp)``, turning encoder failures into ImageWriteError."""
    try:
        encode(fp)
    except ImgconvError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ImageWriteError(f"cannot write image: {reason}", label) from None


@functools.cache
def umask():
    """The process umask, read once (it can only be read by setting it, so under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path, encode):
    """Write ``path`` by ``encode(fp)`` into a temporary file in the same folder, fsync, rename.

    Raises
    ------
    ImageWriteError
        ``path`` is a folder or not a regular file, its folder is missing or
        unwritable, or writing fails (disk full, ...).
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ImageWriteError("is a directory", path)
    try:
        existing = os.stat(path).st_mode
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing):
        # the rename would replace a device, pipe or socket (e.g. /dev/null) by a file
        raise ImageWriteError("exists and is not a regular file (a device, pipe or socket); "
                              "write to standard output with '-' instead", path)
    if not os.path.isdir(folder):
        raise ImageWriteError(f"folder {folder} does not exist", path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~umask()
    try:
        handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                                             suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ImageWriteError(f"cannot create a file in {folder}: {exc.strerror or exc}",
                              path) from None
    try:
        with os.fdopen(handle, "wb") as fp:
            guard(encode, fp, path)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ImageWriteError(f"cannot write image: {exc.strerror or exc}", path) from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
