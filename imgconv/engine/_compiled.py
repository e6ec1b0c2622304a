"""The one loader of the compiled loops (numba), kept out of import time.

Whether they may be used is :attr:`imgconv.settings.Settings.compiled` (False without
numba or with ``IMGCONV_NO_NUMBA=1``); :func:`loops` imports them on first use, which
costs about :data:`imgconv.settings.LOAD_MS`.

Compiling a loop (the first call with new argument types, or loading it from numba's
cache) runs in a helper thread while the caller waits: numba and LLVM swallow a
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
import threading

from imgconv.settings import current

#: how often a caller waiting for a compilation looks for an interrupt, in seconds
_POLL_SECONDS = 0.05


def enabled():
    """True when the current settings allow the compiled loops."""
    return current().compiled


def loops():
    """The compiled loops of :mod:`imgconv.engine._loops` (imports numba on first call), with
    their thread count set to the current settings' share; each compiles interruptibly."""
    module = importlib.import_module("imgconv.engine._loops")
    module.set_threads(current().threads)
    return _InterruptibleLoops(module)


def loops3d():
    """The compiled loops for volumes, :mod:`imgconv.engine._loops3d` (imports numba on first
    call), with its thread count set to the current settings' share; each compiles interruptibly."""
    module = importlib.import_module("imgconv.engine._loops3d")
    module.set_threads(current().threads)
    return _InterruptibleLoops(module)


class _InterruptibleLoops:
    """The loops module, its numba functions wrapped by :func:`_compile_then_call`."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if not hasattr(value, "overloads"):  # not a numba dispatcher
            return value
        return lambda *args: _compile_then_call(value, args)


def _compile_then_call(dispatcher, args):
    """``dispatcher(*args)``, compiling first (in a helper thread) when these types are new."""
    signature = tuple(dispatcher.typeof_pyval(a) for a in args)
    if signature not in dispatcher.overloads:
        outcome = {}

        def compile_it():
            try:
                dispatcher.compile(signature)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                outcome["error"] = exc

        worker = threading.Thread(target=compile_it, name="imgconv-compile", daemon=True)
        worker.start()
        while worker.is_alive():  # a signal handler's KeyboardInterrupt arrives here
            worker.join(_POLL_SECONDS)
        if "error" in outcome:
            raise outcome["error"]
    return dispatcher(*args)
