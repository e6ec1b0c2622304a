"""The one loader of the compiled loops (numba), kept out of import time.

Whether they may be used is :attr:`imgconv.settings.Settings.compiled` (False without
numba or with ``IMGCONV_NO_NUMBA=1``); :func:`loops` imports them on first use, which
costs about :data:`imgconv.settings.LOAD_MS`.

Compiling the loops (numba compiles each module's loops, or loads them from its cache,
when the module is first imported) runs in a helper thread while the caller waits: numba and LLVM swallow a
KeyboardInterrupt raised inside their callbacks (Ctrl-C or SIGTERM during the first
compilation went unnoticed, or broke the compiler), whereas a waiting caller receives
it at once. The compilation then finishes, or dies with the process, in the background.

Examples
--------
>>> from imgconv.settings import use
>>> with use(compiled=False):
...     enabled()
False
"""
import importlib
import sys
import threading

from imgconv.settings import current

#: how often a caller waiting for a compilation looks for an interrupt, in seconds
_POLL_SECONDS = 0.05


def enabled():
    """True when the current settings allow the compiled loops."""
    return current().compiled


def loops():
    """The compiled-loop module :mod:`imgconv.engine._loops`, imported interruptibly on first
    call (its wrappers use the current settings' threads)."""
    return _import_interruptibly("imgconv.engine._loops")


def loops3d():
    """The compiled loops for volumes, :mod:`imgconv.engine._loops3d` (the 2-D loops, then the
    volume loops, on first call), imported interruptibly."""
    return _import_interruptibly("imgconv.engine._loops3d")


def _import_interruptibly(name):
    """``importlib.import_module(name)``; a first import (where numba compiles the module's
    loops, or loads them from its cache) runs in a helper thread while the caller waits."""
    module = sys.modules.get(name)
    if module is not None and not getattr(module.__spec__, "_initializing", False):
        return module
    outcome = {}

    def import_it():
        try:
            outcome["module"] = importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            outcome["error"] = exc

    worker = threading.Thread(target=import_it, name="imgconv-compile", daemon=True)
    worker.start()
    while worker.is_alive():  # a signal handler's KeyboardInterrupt arrives here
        worker.join(_POLL_SECONDS)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["module"]
