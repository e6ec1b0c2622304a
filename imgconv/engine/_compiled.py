"""The one loader of the compiled loops (numba), kept out of import time.

Whether they may be used is :attr:`imgconv.settings.Settings.compiled` (False without
numba or with ``IMGCONV_NO_NUMBA=1``); :func:`loops` imports them on first use, which
costs about :data:`imgconv.settings.LOAD_MS`.

Examples
--------
>>> from imgconv.settings import use
>>> with use(compiled=False):
...     enabled()
False
"""
import importlib

from imgconv.settings import current


def enabled():
    """True when the current settings allow the compiled loops."""
    return current().compiled


def loops():
    """The compiled-loop module :mod:`imgconv.engine._loops` (imports numba on first call;
    its wrappers use the current settings' threads)."""
    return importlib.import_module("imgconv.engine._loops")


def loops3d():
    """The compiled loops for volumes, :mod:`imgconv.engine._loops3d` (imports numba and the
    2-D loops on first call; its wrappers use the current settings' threads)."""
    return importlib.import_module("imgconv.engine._loops3d")
