"""Whether the compiled loops (the optional numba extra) can be used, and loading them.

``AVAILABLE`` is known without importing numba; :func:`loops` imports the
compiled module on first use. Set ``IMGCONV_NO_NUMBA=1`` to use SciPy only.

Examples
--------
>>> isinstance(AVAILABLE, bool)
True
"""
import importlib.util
import os

AVAILABLE = importlib.util.find_spec("numba") is not None and os.environ.get("IMGCONV_NO_NUMBA", "") == ""
#: measured cost of the first use in a process: importing numba (~0.3 s) and loading the cached
#: machine code of both loops (ms; the very first run on a machine compiles for ~20 s)
LOAD_MS = 800.0

_loaded = []


def loaded():
    """True once the compiled loops have been imported in this process."""
    return bool(_loaded)


def loops():
    """The compiled-loop module (imports numba on first call)."""
    if not _loaded:
        from imgconv.engine import _loops

        _loaded.append(_loops)
    return _loaded[0]
