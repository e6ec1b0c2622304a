"""How the library runs: its threads, its compiled loops, and what loading them costs.

One immutable :class:`Settings` value decides everything about *how* (never *what*) the
engine computes. It is read explicitly with :func:`current` and changed only for a block
with :func:`use`, so a call gives the same plan in any process, after any history. The
command line enters ``use(load_ms=LOAD_MS)`` (a one-off command pays for loading the
compiled loops, a notebook or a batch worker has paid already); batch workers enter their
share of the cores.

Examples
--------
>>> with use(threads=1, compiled=False):
...     current().threads, current().compiled
(1, False)
>>> current().load_ms
0.0
"""
import contextlib
import contextvars
import dataclasses
import importlib.util
import os

#: Measured cost of the first use of the compiled loops in a process: importing numba and
#: loading the cached machine code of the loops (``benchmarks/bench_startup.py``): 0.54-0.69 s
#: in a fresh process of the default install on the quiet 2-core reference machine (numba's
#: import about 0.25 s, its first cached function 0.25 s, its check of SciPy's BLAS the rest;
#: 0.3 s was measured in a process that had imported SciPy already).
LOAD_MS = 550.0
#: Measured cost of that first use while numba's cache is still empty (after an install):
#: compiling the 2-D loops, 2.6-3.7 s of CPU on a quiet machine, 4.5 s at a load of 4
#: (``benchmarks/bench_startup.py``; 17 s before the rewrite); the volume loops add 1.7 s.
#: The command line charges it then (:func:`imgconv.loopcache.loop_cost_ms`) and compiles
#: them in the background instead.
COMPILE_MS = 3000.0


def usable_cores():
    """The cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def numba_installed():
    """True when numba can be imported and ``IMGCONV_NO_NUMBA`` is not set."""
    return os.environ.get("IMGCONV_NO_NUMBA", "") == "" and importlib.util.find_spec("numba") is not None


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the engine runs.

    Attributes
    ----------
    threads : int
        Threads each engine call may use (FFT tiles, compiled loops, match, deconvolve).
    compiled : bool
        Whether the compiled loops (numba) may be used; False falls back to SciPy/NumPy.
    load_ms : float
        Milliseconds the planner charges once for loading the compiled loops: 0 for a
        library process (it loads them once and keeps them), ``LOAD_MS`` for a one-off command.
    """

    threads: int = dataclasses.field(default_factory=usable_cores)
    compiled: bool = dataclasses.field(default_factory=numba_installed)
    load_ms: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "threads", max(1, int(self.threads)))
        object.__setattr__(self, "compiled", bool(self.compiled) and numba_installed())
        object.__setattr__(self, "load_ms", max(0.0, float(self.load_ms)))


_DEFAULT = Settings()
_CURRENT = contextvars.ContextVar("imgconv_settings", default=_DEFAULT)


def current():
    """The :class:`Settings` in force in this context."""
    return _CURRENT.get()


@contextlib.contextmanager
def use(settings=None, **changes):
    """Run a block with other settings: ``with use(threads=1): ...``.

    ``settings`` (a :class:`Settings`) replaces the current ones; keyword ``changes``
    then replace single fields.
    """
    base = current() if settings is None else settings
    token = _CURRENT.set(dataclasses.replace(base, **changes) if changes else base)
    try:
        yield current()
    finally:
        _CURRENT.reset(token)


def enter(**changes):
    """Change the settings for the rest of this context: a worker process's initializer
    uses it for the whole life of the worker. Elsewhere prefer :func:`use`."""
    return _CURRENT.set(dataclasses.replace(current(), **changes))
