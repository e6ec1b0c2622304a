"""Atomic, no-clobber creation of one output file (kernel files, plots).

The content is written to a temporary file in the destination's folder, then linked to
the destination name, which fails if it exists (so a file another process created in the
meantime is never replaced), or renamed over it with ``overwrite``.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "k.txt")
>>> publish_bytes(path, b"1 2 1\\n")
>>> open(path).read()
'1 2 1\\n'
>>> publish_bytes(path, b"0\\n")
Traceback (most recent call last):
...
imgconv.errors.ImageWriteError: ...k.txt: output exists (use --overwrite to replace it)
"""
import contextlib
import errno
import os
import stat
import tempfile

from imgconv.errors import ImageWriteError

__all__ = ["publish", "publish_bytes", "check_new"]


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # once, at import: reading it means setting it


def check_new(dest, *, overwrite=False):
    """Refuse early (before any work) an output that exists, is a folder or has no folder."""
    dest = os.fspath(dest)
    if os.path.isdir(dest):
        raise ImageWriteError("is a directory", dest)
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise ImageWriteError(f"folder {folder} does not exist", dest)
    if os.path.lexists(dest):
        if not overwrite:
            raise ImageWriteError("output exists (use --overwrite to replace it)", dest)
        if not stat.S_ISREG(os.stat(dest).st_mode):
            raise ImageWriteError("exists and is not a regular file", dest)


def publish(dest, write, *, overwrite=False):
    """Create ``dest`` from ``write(temporary_path)``, atomically and (by default) without clobbering.

    ``write`` must leave a complete file at the path it is given (which ends with the
    destination's extension, so writers that choose a format by extension work).
    """
    dest = os.fspath(dest)
    check_new(dest, overwrite=overwrite)
    folder = os.path.dirname(os.path.abspath(dest))
    name = os.path.basename(dest)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp" + os.path.splitext(name)[1],
                                             dir=folder)
        os.close(handle)
    except OSError as exc:
        raise ImageWriteError(f"cannot create a file in {folder}: {exc.strerror or exc}", dest) from None
    try:
        write(temporary)
        try:
            mode = os.stat(dest).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_UMASK
        os.chmod(temporary, mode)
        if overwrite:
            os.replace(temporary, dest)
        else:
            _link_new(temporary, dest)
    except FileExistsError:
        raise ImageWriteError("output exists (use --overwrite to replace it)", dest) from None
    except OSError as exc:
        raise ImageWriteError(f"cannot write: {exc.strerror or exc}", dest) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    with contextlib.suppress(OSError):  # make the new name durable (POSIX)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _link_new(temporary, dest):
    """Give ``temporary`` the name ``dest`` unless that name exists (FileExistsError)."""
    try:
        os.link(temporary, dest)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(dest):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "exists", dest) from None
        os.replace(temporary, dest)


def publish_bytes(dest, data, *, overwrite=False):
    """:func:`publish` a bytes object (flushed and fsynced before the rename)."""

    def write(path):
        with open(path, "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())

    publish(dest, write, overwrite=overwrite)
