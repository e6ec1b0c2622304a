"""Questions about paths that a hostile name cannot crash: what is there, where it really is,
whether its names fit, and making folders at any depth.

``pathlib`` raises on such names: ``Path.exists`` on a name over 255 bytes
(``ENAMETOOLONG``), ``Path.resolve`` on a symbolic-link loop (``RuntimeError`` on
Python 3.11), ``Path.mkdir(parents=True)`` recurses once per missing folder
(``RecursionError`` near 1000 levels).  These helpers answer instead, so that the
caller can name the file and the problem in one line.

Examples
--------
>>> kind("/"), kind("/no/such/file"), kind("x" * 300)
('folder', 'missing', 'unusable')
>>> name_problem("x" * 300 + ".png")
'file name too long (304 bytes; the file system allows 255)'
>>> name_problem("short.png") is None
True
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Longest name (one path component) assumed where the file system does not say.
DEFAULT_NAME_MAX = 255


def kind(path):
    """What ``path`` names, following symbolic links, without ever raising.

    Returns
    -------
    str
        ``"file"``, ``"folder"``, ``"other"`` (a device, pipe or socket), ``"missing"``
        (nothing there, or a link to nothing), or ``"unusable"`` (a symbolic-link loop, a
        name too long, a folder that cannot be searched, ...: asking failed).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except (OSError, ValueError):
        return "unusable"
    if stat.S_ISREG(mode):
        return "file"
    return "folder" if stat.S_ISDIR(mode) else "other"


def stat_problem(path):
    """Why ``path`` cannot even be looked at (a link loop, a name too long, ...), or None.

    None also when nothing is there: creating it is then the caller's business.

    Examples
    --------
    >>> stat_problem("/"), stat_problem("/no/such/file")
    (None, None)
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError as exc:  # an embedded NUL byte
        return str(exc)
    return None


def real_path(path):
    """The absolute path with every symbolic link followed as far as it goes; never raises.

    A link loop or a name too long stops the resolution where it fails (the rest is kept
    as written), as ``os.path.realpath`` does; ``Path.resolve`` would raise.

    Examples
    --------
    >>> real_path("/tmp/../tmp") == real_path("/tmp")
    True
    """
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def exists(path):
    """Whether anything at all is at ``path``, a dangling or looping symbolic link included."""
    return os.path.lexists(path)


def name_max(folder):
    """The longest file name the file system of ``folder`` (or its nearest existing ancestor) allows."""
    probe = Path(os.path.abspath(folder))
    while kind(probe) != "folder" and probe.parent != probe:
        probe = probe.parent
    try:
        return int(os.pathconf(probe, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def name_problem(path):
    """A message when a name in ``path`` is longer than its file system allows, else None."""
    parts = Path(path).parts
    if not parts:
        return None
    limit = name_max(Path(path).parent)
    longest = max(parts, key=lambda part: len(os.fsencode(part)))
    size = len(os.fsencode(longest))
    if size <= limit:
        return None
    what = "file name" if longest == parts[-1] else f"folder name {longest[:20]}..."
    return f"{what} too long ({size} bytes; the file system allows {limit})"


def make_folders(folder):
    """``mkdir -p folder`` without recursion: any depth works (raises OSError on failure)."""
    missing = []
    probe = Path(folder)
    while kind(probe) != "folder":
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for each in reversed(missing):
        try:
            os.mkdir(each)
        except FileExistsError:
            if kind(each) != "folder":
                raise
