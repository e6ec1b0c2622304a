"""The files of a folder: an iterative walk (any depth), and ``--glob`` patterns kept inside it.

A pattern is matched name by name (``fnmatch`` per path component, ``**`` for any number
of folders), as ``pathlib``'s ``glob`` does, but never outside the folder: absolute
patterns and ``..`` are refused.  The walk keeps its own stack instead of recursing, so a
tree 1000 folders deep is walked like a flat one, and it does not follow symbolic links
to folders (as ``pathlib.Path.rglob`` and ``find`` do not), so a link cycle cannot trap it.

Examples
--------
>>> pattern_parts("*.png", recursive=True)
('**', '*.png')
>>> matches(("a", "b", "x.png"), ("**", "*.png")), matches(("x.tif",), ("*.png",))
(True, False)
>>> pattern_parts("../other/*.png")
Traceback (most recent call last):
...
imgconv.errors.ImgconvError: --glob '../other/*.png': patterns must stay inside the folder (no '..')
"""

from __future__ import annotations

import os
from fnmatch import fnmatch

from imgconv.errors import ImgconvError

ANY_FOLDERS = "**"


def pattern_parts(pattern=None, *, recursive=False):
    """The components of a ``--glob`` pattern (default ``*``); ``recursive`` puts ``**`` first.

    Raises
    ------
    ImgconvError
        An absolute pattern, or one with a ``..`` component.
    """
    text = "*" if pattern is None else str(pattern)
    if text.startswith(("/", os.sep)) or os.path.isabs(text) or os.path.splitdrive(text)[0]:
        raise ImgconvError(f"--glob {text!r}: patterns are relative to each input folder (not absolute)")
    parts = tuple(p for p in text.replace(os.sep, "/").split("/") if p not in ("", "."))
    if ".." in parts:
        raise ImgconvError(f"--glob {text!r}: patterns must stay inside the folder (no '..')")
    if not parts:
        raise ImgconvError(f"--glob {text!r}: an empty pattern matches nothing")
    return ((ANY_FOLDERS,) if recursive else ()) + parts


def matches(parts, pattern):
    """Whether the relative path ``parts`` matches the pattern components ``pattern``.

    ``**`` stands for zero or more folder names; other components are ``fnmatch``
    patterns for one name.  Linear in ``len(parts) * len(pattern)``, without recursion.
    """
    m = len(pattern)

    def closure(states):
        for j in range(m):  # states only grow rightwards, so one pass suffices
            if j in states and pattern[j] == ANY_FOLDERS:
                states.add(j + 1)
        return states

    states = closure({0})
    for part in parts:
        step = set()
        for j in states:
            if j < m and pattern[j] == ANY_FOLDERS:
                step.add(j)
            elif j < m and fnmatch(part, pattern[j]):
                step.add(j + 1)
        states = closure(step)
        if not states:
            return False
    return m in states


def walk_files(folder, pattern):
    """Relative paths (tuples of names) of the files under ``folder`` matching ``pattern``, sorted.

    Files include symbolic links to files; unreadable folders and entries that cannot be
    looked at (a link loop) are passed over, as ``pathlib``'s glob passes over them.
    """
    found = []
    stack = [()]
    bounded = ANY_FOLDERS not in pattern
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(folder, *rel)) as entries:
                listing = list(entries)
        except OSError:
            continue
        for entry in listing:
            path = rel + (entry.name,)
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
                is_file = not is_folder and entry.is_file()
            except OSError:
                continue
            if is_folder and (not bounded or (len(path) < len(pattern) and fnmatch(entry.name, pattern[len(rel)]))):
                stack.append(path)
            elif is_file and matches(path, pattern):
                found.append(path)
    return sorted(found)
