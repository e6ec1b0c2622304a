"""Atomic writes: a dot-prefixed temporary file beside the destination, fsynced, renamed.

A reader of the destination sees the old file or the whole new one, never a part;
on any failure (or an interrupt) the temporary file is removed and the destination
is left as it was.  A new file gets the permissions ``open()`` would give it
(``0o666`` less the umask); a replaced file keeps its own.  Without ``replace``, an
existing file is never replaced, not even one that appears while the temporary file is
being written: the final name is created with no-replace semantics (a hard link).

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
import errno
import functools
import os
import stat
import tempfile
import threading

from imgconv.errors import ImageWriteError, ImgconvError
from imgconv.paths import exists, name_max, stat_problem

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


#: what ``tempfile.mkstemp`` adds after the prefix: 8 random characters, then our suffix
_RANDOM_AND_SUFFIX = "abcdefgh.tmp"


#: The message for an output that exists where it must not be replaced.
EXISTS = "output exists (written by another process after this run checked?); use --overwrite to replace it"


def temporary_prefix(path):
    """The start of the name of every temporary file written for ``path``: ``.<name>.``,
    the name cut so that the whole temporary name fits the file system (a 250-byte name
    is a valid output, its temporary must be too).

    Examples
    --------
    >>> temporary_prefix("/out/photo.png")
    '.photo.png.'
    >>> len(temporary_prefix("x" * 250 + ".png")) + len("abcdefgh.tmp") <= 255
    True
    """
    name = os.fsencode(os.path.basename(path))
    budget = name_max(os.path.dirname(os.path.abspath(path))) - len(_RANDOM_AND_SUFFIX) - 2
    if len(name) > budget:
        name = name[:max(budget, 1)]
    return "." + os.fsdecode(name) + "."


def check_new(path, *, overwrite=False):
    """Refuse early (before any work) an output that exists (unless ``overwrite``), is a folder
    or not a regular file, or has no folder. :func:`write_atomic` checks again when it writes."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ImageWriteError("is a directory", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ImageWriteError(f"folder {folder} does not exist", path)
    if os.path.lexists(path):
        if not overwrite:
            raise ImageWriteError("output exists (use --overwrite to replace it)", path)
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ImageWriteError("exists and is not a regular file", path)


def write_atomic(path, encode, *, replace=True):
    """Write ``path`` by ``encode(fp)`` into a temporary file in the same folder, fsync, rename.

    With ``replace=False`` the file appears under its name only if no file has that name:
    the temporary file is hard-linked to it (which fails if the name exists, atomically),
    so a file that another process wrote after our caller checked is never replaced.

    Raises
    ------
    ImageWriteError
        ``path`` is a folder or not a regular file, cannot be looked at (a link loop), its
        folder is missing or unwritable, writing fails (disk full, ...), or (without
        ``replace``) it exists.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ImageWriteError("is a directory", path)
    problem = stat_problem(path)
    if problem is not None:  # a link loop, a name too long: renaming over it would hide the problem
        raise ImageWriteError(f"cannot write: {problem}", path)
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
    if not replace and exists(path):
        raise ImageWriteError(EXISTS, path)
    mode = existing & 0o7777 if existing is not None else 0o666 & ~umask()
    try:
        handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ImageWriteError(f"cannot create a file in {folder}: {exc.strerror or exc}",
                              path) from None
    try:
        with os.fdopen(handle, "wb") as fp:
            guard(encode, fp, path)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(temporary, mode)
        if replace:
            os.replace(temporary, path)
        else:
            _publish_new(temporary, path)
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


def _publish_new(temporary, path):
    """Give ``temporary`` the name ``path`` only if nothing has that name, then drop the temporary name.

    A hard link fails atomically when the name exists.  Where the file system has no hard
    links, the name is first claimed by creating it exclusively, then replaced.
    """
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise ImageWriteError(EXISTS, path) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise ImageWriteError(EXISTS, path) from None
        os.replace(temporary, path)
        return
    with contextlib.suppress(OSError):  # the output is complete under its name already
        os.unlink(temporary)
